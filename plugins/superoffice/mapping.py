"""SuperOffice's shapes ↔ superflow's: archive rows to person dicts, person fields to
PersonEntity/ContactEntity properties, and the differences a change made.

Column names are those of SuperOffice's ``Person`` archive provider (``personId``,
``email/emailAddress``, ``personContact/name``, ``personUdef/SuperOffice:1`` ...), checked
against docs/en/api/archive-providers/reference/person.md; entity properties those of
``PersonEntity`` and ``ContactEntity`` (``Firstname``, ``Emails``, ``UserDefinedFields``),
checked against docs/en/api/reference/restful/rest/Person/v1PersonEntity_PutPersonEntity.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from superflow import CrmError
from superflow import FieldInfo

PERSON_COLUMNS = [
    "personId",
    "firstName",
    "lastName",
    "fullName",
    "email/emailAddress",
    "email/emailHasBounced",
    "personMobilePhone/formattedNumber",
    "birthYear",
    "birthMonth",
    "birthDay",
    "personNoMail",
    "supportLanguage",
    "contactId",
    "personContact/name",
    "personContact/category",
    "personContact/business",
    "personContact/associateId",
    "supportAssociate",
]
# The ConsentPurpose archive joined to the person's consents
# (docs/en/api/archive-providers/reference/consentpurpose.md): one row per consent.
CONSENT_PERSON = "consentPerson/person/personId"
CONSENT_COLUMNS = ["key", CONSENT_PERSON, "consentPerson/active", "consentPerson/legalBase"]
# The ShipmentTypeReservation table through the Dynamic archive provider: a row means the
# person has opted OUT of that shipment type (docs/en/database/tables/shipmenttypereservation.md).
RESERVATION_PERSON = "shipmenttypereservation.person_id"
RESERVATION_TYPE = "shipmenttypereservation.shipmenttype_id"
WITHDRAWN = "WITHDRAWN"

BUILT_IN: tuple[FieldInfo, ...] = (
    FieldInfo("first_name", "First name", "text"),
    FieldInfo("last_name", "Last name", "text"),
    FieldInfo("email", "Email", "text"),
    FieldInfo("mobile", "Mobile", "text"),
    FieldInfo("language", "Language", "text", writable=False),
    FieldInfo("birth_date", "Birth date", "date"),
    FieldInfo("timezone", "Time zone", "text", writable=False),
    FieldInfo("email_blocked", "Email blocked (No mailings)", "bool"),
    FieldInfo("company.name", "Company name", "text", entity="company"),
    FieldInfo("company.category", "Company category", "text", entity="company"),
    FieldInfo("company.business", "Company business", "text", entity="company"),
    FieldInfo("company.our_contact", "Our contact", "text", entity="company"),
    FieldInfo("company.our_service_contact", "Our service contact", "text", entity="company", writable=False),
)
FIELD_TYPES = ("text", "number", "date", "datetime", "bool", "list")


@dataclass(frozen=True)
class UserField:
    """A user-defined (or extra) person field superflow may use: our key, its type and
    the ProgId SuperOffice knows it by (``SuperOffice:3`` or ``x_person_score``)."""

    key: str
    type: str
    prog_id: str

    @property
    def column(self) -> str:
        prefix = "personExtra" if self.prog_id.startswith("x_") else "personUdef"
        return f"{prefix}/{self.prog_id}"


def parse_user_fields(raw: str) -> list[UserField]:
    """``score:number=SuperOffice:3, segment=SuperOffice:1`` → fields (type defaults to text)."""
    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        left, sep, prog_id = part.partition("=")
        key, _, type_ = left.strip().partition(":")
        type_ = type_.strip() or "text"
        if not sep or not key.strip().isidentifier() or not prog_id.strip() or type_ not in FIELD_TYPES:
            raise CrmError(
                f"SUPERFLOW_SUPEROFFICE_PERSON_FIELDS: {part!r} is not key[:type]=ProgId"
                f" (type one of {', '.join(FIELD_TYPES)}), e.g. score:number=SuperOffice:3"
            )
        found.append(UserField(key.strip(), type_, prog_id.strip()))
    return found


def list_value(value: Any) -> str | None:
    """An archive list column's display value (it may come as text or as ``{"Name": ...}``)."""
    if isinstance(value, dict):
        return value.get("Name") or value.get("Value")
    return None if value in (None, "") else str(value)


def id_value(value: Any) -> str | None:
    """An id column: ``0``/empty mean none; ``"[I:12]"`` style keys are unwrapped."""
    if value in (None, "", 0, "0"):
        return None
    text = str(value)
    if text.startswith("[I:") and text.endswith("]"):
        text = text[3:-1]
    return None if text in ("", "0") else text


def birth_date(row: dict[str, Any]) -> str | None:
    year, month, day = (int(row.get(k) or 0) for k in ("birthYear", "birthMonth", "birthDay"))
    if not (month and day):
        return None
    return f"{year or 1900:04d}-{month:02d}-{day:02d}"


def user_value(field: UserField, value: Any) -> Any:
    if value in (None, ""):
        return None
    if field.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return int(number) if number.is_integer() else number
    if field.type == "bool":
        return value in (True, 1, "1", "True", "true")
    if field.type == "date":
        return str(value)[:10]
    return value if isinstance(value, str) else str(value)


def person_from_row(row: dict[str, Any], user_fields: list[UserField]) -> dict[str, Any]:
    """A ``Person`` archive row as superflow's person dict (consents, subscriptions,
    selections and projects are filled in by the caller)."""
    contact_id = id_value(row.get("contactId"))
    company = None
    if contact_id:
        company = {
            "id": contact_id,
            "name": row.get("personContact/name") or None,
            "category": list_value(row.get("personContact/category")),
            "business": list_value(row.get("personContact/business")),
            "our_contact": id_value(row.get("personContact/associateId")),
            "our_service_contact": id_value(row.get("supportAssociate")),
        }
    first, last = row.get("firstName") or None, row.get("lastName") or None
    return {
        "id": str(row["personId"]),
        "first_name": first,
        "last_name": last,
        "full_name": row.get("fullName") or " ".join(n for n in (first, last) if n),
        "email": row.get("email/emailAddress") or None,
        "mobile": row.get("personMobilePhone/formattedNumber") or None,
        "language": list_value(row.get("supportLanguage")),
        "birth_date": birth_date(row),
        "timezone": None,
        "email_blocked": bool(row.get("personNoMail")) or bool(row.get("email/emailHasBounced")),
        "company": company,
        "fields": {f.key: user_value(f, row.get(f.column)) for f in user_fields},
        "consents": {},
        "subscriptions": {},
        "selections": [],
        "projects": [],
    }


def truthy(value: Any) -> bool:
    """An archive bool (``$output=Logical`` gives true/false; be lenient with 1/"1"/"[I:1]")."""
    if isinstance(value, str):
        return id_value(value) not in (None, "False", "false")
    return bool(value)


def consent_row_granted(row: dict[str, Any]) -> bool:
    """A ``ConsentPurpose`` archive row: given when ``consentPerson/active`` is set; a row
    without that column counts as given unless its legal basis reads "withdrawn"."""
    if "consentPerson/active" in row and row["consentPerson/active"] is not None:
        return truthy(row["consentPerson/active"])
    return "withdrawn" not in str(list_value(row.get("consentPerson/legalBase")) or "").lower()


def flat(person: dict[str, Any]) -> dict[str, Any]:
    """A person dict as ``{field key: value}`` for the fields ``changes`` speak of."""
    values = {f.key: person.get(f.key) for f in BUILT_IN if f.entity == "person"}
    for key, value in (person.get("company") or {}).items():
        if key != "id":
            values[f"company.{key}"] = value
    values.update(person.get("fields") or {})
    return values


def entity_ref(kind: str, value: Any) -> dict[str, Any] | None:
    """``{"PersonId": 5}`` style references of entity bodies (None for no value)."""
    return None if value in (None, "") else {f"{kind}Id": int(value)}
