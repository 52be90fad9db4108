"""The contract every CRM backend fulfils.

A CRM backend plugin registers a subclass of :class:`CrmBackend` through the
``superflow_register_crm_backends`` hook.  The core builds one instance per process
with the configuration, an ``emit`` callable and the services; the backend calls ``emit`` with the
events its changes cause (the same events a real CRM's webhooks would send), and the
core routes them to the engine.

Persons travel as plain dicts (JSON-serialisable) of this shape::

    {
        "id": "17", "first_name": "Ada", "last_name": "Lovelace",
        "full_name": "Ada Lovelace", "email": "ada@example.com",
        "mobile": "+4791234567", "language": "en", "birth_date": "1980-04-02",
        "timezone": "Europe/Oslo", "email_blocked": False,
        "company": {"id": "3", "name": "Analytical Engines AS", "category": "Customer",
                    "business": "IT", "our_contact": "2", "our_service_contact": "4"},
        "fields": {"score": 10, ...},            # extra / user-defined fields
        "consents": {"emarketing": True, "store": True},
        "subscriptions": {"newsletter": True},
        "selections": ["1", "4"],
        "projects": ["2"],
    }

Every write takes an ``idempotency_key``: the engine passes one per participation and
step, and a backend that sees a key again must not apply the change a second time
(it returns what the first call returned).  That is what lets a job that is run again
after a crash leave the CRM as if it had run once.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from superflow.events import Event

if TYPE_CHECKING:
    from superflow.services import Services

Emit = Callable[[list[Event]], None]


class CrmError(Exception):
    """A CRM call failed; the message names the call and the CRM's own reason."""


class UnknownField(CrmError):
    """A field key that the CRM does not have."""


@dataclass(frozen=True)
class FieldInfo:
    """A field of a person or company that flows may read, filter on or change."""

    key: str
    label: str
    type: str  # "text", "number", "date", "datetime", "bool", "list"
    entity: str = "person"  # "person" or "company"
    choices: tuple[str, ...] = ()
    writable: bool = True


class CrmBackend:
    """Base class of CRM backends.  Subclasses set ``name`` and ``label``."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(self, config: Any, emit: Emit, services: Services | None = None) -> None:
        """``services`` is the process's :class:`superflow.services.Services` (a
        backend keeps what it must remember in ``services.plugin_store(name)``); ``None``
        for a backend built alone, as a CRM's own tests do."""
        self.config = config
        self.emit = emit
        self.services = services

    # -- reading -----------------------------------------------------------
    def get_persons(self, person_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the persons that exist among ``person_ids``, keyed by id."""
        raise NotImplementedError

    def existing_persons(self, person_ids: Iterable[str]) -> set[str]:
        """Which of ``person_ids`` exist: all the event API asks before it queues an
        event.  This default reads the persons whole; a backend overrides it with a
        lookup of ids alone."""
        return set(self.get_persons(person_ids))

    def get_person(self, person_id: str) -> dict[str, Any] | None:
        return self.get_persons([person_id]).get(str(person_id))

    def list_fields(self) -> list[FieldInfo]:
        raise NotImplementedError

    def get_company(self, company_id: str) -> dict[str, Any] | None:
        """The company (``{"id", "name", ...}`` as in a person's ``company``) with
        ``person_ids``, the ids of its persons in id order, or ``None`` if there is no
        such company.  The company panel (a CRM's company card) reads it; a backend that
        cannot read companies leaves it unimplemented and the panel says so."""
        raise NotImplementedError

    def find_person_by_email(self, email: str) -> dict[str, Any] | None:
        """The person with this address (ignoring case), for forms and the API."""
        raise NotImplementedError

    def find_person(self, text: str) -> dict[str, Any] | None:
        """The person a marketer means by ``text``: an email address or a person id
        (what the admin's "find" and "add a person" fields take)."""
        text = text.strip()
        if not text:
            return None
        return self.find_person_by_email(text) if "@" in text else self.get_person(text)

    def create_person(self, idempotency_key: str | None = None, **fields: Any) -> dict[str, Any]:
        """A new person from field keys (and ``company_id``); emits ``person.created``."""
        raise NotImplementedError

    def set_consent(
        self, person_id: str, purpose: str, granted: bool, legal_basis: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Give or withdraw consent for a purpose (``emarketing``, ``sms``, …);
        emits ``consent.changed`` when it changes."""
        raise NotImplementedError

    def set_subscription(self, person_id: str, name: str, subscribed: bool, **extra: Any) -> dict[str, Any]:
        """Start or stop an email subscription; emits ``subscription.changed``."""
        raise NotImplementedError

    def list_associates(self) -> list[dict[str, Any]]:
        """Our users: ``[{"id": "2", "name": ..., "email": ..., "mobile": ...}, ...]``"""
        raise NotImplementedError

    def list_selections(self) -> list[dict[str, Any]]:
        """``[{"id": "1", "name": "Newsletter"}, ...]``"""
        raise NotImplementedError

    def person_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        """Up to ``limit`` person ids in a stable order, starting after ``after``: the
        designer counts how many persons its filters match by walking them.  A backend
        that cannot list its persons leaves this unimplemented (no count is shown)."""
        raise NotImplementedError

    def selection_members(self, selection_id: str) -> list[str]:
        raise NotImplementedError

    def members_of(self, selection_id: str, person_ids: Iterable[str]) -> set[str]:
        """Which of ``person_ids`` are members of the selection."""
        raise NotImplementedError

    def shared_addresses(self, addresses: Iterable[str]) -> set[str]:
        """Which of these (lower-cased) email addresses belong to more than one person.
        The send email step keeps its duplicate check for those only; this default
        says "all of them", which is correct but costs Redis memory per message."""
        return {a.strip().lower() for a in addresses if a}

    def persons_on_dates(self, field: str, dates: Iterable[str], yearly: bool) -> dict[str, str]:
        """Persons whose date ``field`` is one of ``dates`` (``YYYY-MM-DD``), or —
        ``yearly`` — falls on the same month and day in any year (birthdays):
        ``{person_id: the field's value}``.  Date triggers call this for the days of
        a scan window, so it must cost the persons found, not all persons."""
        raise NotImplementedError

    # -- writing -----------------------------------------------------------
    def update_persons(self, updates: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
        """Apply ``(person_id, changes, idempotency_key)`` updates; return the changes
        applied to each, as ``{field: [old, new]}``.

        ``changes`` maps a field key (see :meth:`list_fields`) to its new value.
        Unknown keys raise :class:`UnknownField` before anything is written.
        """
        raise NotImplementedError

    def add_to_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        raise NotImplementedError

    def remove_from_selection(
        self, selection_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        raise NotImplementedError

    def add_to_project(
        self,
        project_id: str,
        person_ids: list[str],
        member_type: str | None = None,
        status: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        raise NotImplementedError

    def remove_from_project(
        self, project_id: str, person_ids: list[str], idempotency_key: str | None = None
    ) -> None:
        raise NotImplementedError

    def create_sale(self, person_id: str, title: str, amount: float = 0.0, **details: Any) -> dict[str, Any]:
        """A sale for the person (``sale_type``, ``stage``, ``probability``,
        ``expected_date``, ``owner``, ``idempotency_key``); emits ``sale.created``."""
        raise NotImplementedError

    def create_follow_up(
        self, person_id: str, title: str, type: str = "task", **details: Any
    ) -> dict[str, Any]:
        """An appointment/task/call (``starts_at``, ``ends_at``, ``owner``,
        ``description``, ``idempotency_key``); emits ``follow_up.created``."""
        raise NotImplementedError

    def create_request(self, person_id: str, title: str, **details: Any) -> dict[str, Any]:
        """A customer-service request (``category``, ``status``, ``priority``,
        ``owner``, ``first_message``, ``idempotency_key``); emits ``request.created``."""
        raise NotImplementedError

    def list_projects(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def list_follow_ups(self, associate_id: str, start: float, end: float) -> list[dict[str, Any]]:
        """An associate's follow-ups overlapping ``[start, end)`` (their calendar)."""
        raise NotImplementedError

    def list_request_categories(self) -> list[dict[str, Any]]:
        """``[{"id", "name", "default_owner"}]``: who gets a request of each category."""
        raise NotImplementedError

    def list_sales(self, person_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def list_requests(self, person_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called when the process stops.

        Optional: ``run_script(name, person_id, arguments, idempotency_key=None)``
        and ``list_scripts()`` for a CRM that runs scripts of its own (the run
        script step uses them when no registered script has the name)."""


def person_value(person: dict[str, Any], key: str) -> Any:
    """A field's value from a person dict: ``email``, ``company.category`` or an
    extra field's key."""
    if key.startswith("company."):
        return (person.get("company") or {}).get(key[len("company.") :])
    if key in person and key not in ("fields", "company"):
        return person[key]
    return (person.get("fields") or {}).get(key)
