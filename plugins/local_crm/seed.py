"""A believable demo CRM, made deterministically and fast.

Seeding is bulk import: it writes in one transaction with ``executemany`` and emits
no events (a real CRM's import does not fire a webhook per person either), so 100,000
persons take seconds.  The same ``seed`` always gives the same CRM.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import db
from .backend import LocalCrm

DEMO_EMAIL_DOMAIN = "superflow-demo.example"
PERSON_DOMAINS = ("example.com", "example.org", "example.net")
LANGUAGES = ("no", "en", "sv", "da")
LANGUAGE_WEIGHTS = (55, 20, 15, 10)
OTHER_TIMEZONES = (
    "Europe/Stockholm",
    "Europe/Copenhagen",
    "Europe/London",
    "America/New_York",
    "Asia/Singapore",
)
CATEGORIES = ("Customer", "Prospect", "Partner")
CATEGORY_WEIGHTS = (50, 35, 15)
SEGMENTS = ("SMB", "Enterprise", "Public sector", "Consumer")
NEWSLETTER = "newsletter"

ASSOCIATES = (
    ("Kari Nordmann", "kari"),
    ("Ola Hansen", "ola"),
    ("Emma Clarke", "emma"),
    ("Ingrid Solberg", "ingrid"),
    ("James Whitfield", "james"),
)
FIRST_NAMES = {
    "no": ("Ola", "Kari", "Lars", "Ingrid", "Jonas", "Sofie", "Magnus", "Nora", "Eirik", "Maja",
           "Henrik", "Thea", "Sindre", "Ida", "Håkon", "Solveig", "Øystein", "Marte"),
    "en": ("James", "Emma", "Oliver", "Amelia", "Harry", "Olivia", "George", "Isla", "Jack",
           "Grace", "Thomas", "Charlotte", "William", "Lucy"),
    "sv": ("Erik", "Astrid", "Johan", "Elsa", "Anders", "Linnea", "Oskar", "Maja", "Gustav",
           "Wilma", "Karl", "Freja"),
    "da": ("Mads", "Freja", "Rasmus", "Ida", "Mikkel", "Sofie", "Frederik", "Clara", "Søren",
           "Anna", "Christian", "Emma"),
}  # fmt: skip
LAST_NAMES = {
    "no": ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Berg",
           "Haugen", "Hagen", "Solberg", "Bakke", "Strand", "Lunde", "Dahl", "Brekke", "Sæther",
           "Løken", "Aasen", "Moen"),
    "en": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Clarke",
           "Walker", "Wright", "Hughes", "Turner", "Whitfield", "Hall"),
    "sv": ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Lindberg",
           "Svensson", "Lundqvist", "Holm", "Sjöberg", "Ekström"),
    "da": ("Jensen", "Nielsen", "Hansen", "Pedersen", "Christensen", "Rasmussen", "Sørensen",
           "Kristensen", "Madsen", "Møller", "Poulsen", "Thomsen"),
}  # fmt: skip
COMPANY_STEMS = (
    "Fjord", "Nordlys", "Havblikk", "Granitt", "Lofoten", "Polar", "Tinde", "Bryggen",
    "Aurora", "Viken", "Skog", "Brattli", "Solhøgda", "Kystlinje", "Midnattsol", "Fonna",
    "Stavanger", "Trondheim", "Oslofjord", "Hardanger",
)  # fmt: skip
COMPANY_KINDS = (
    ("Analytics", "IT"),
    ("Software", "IT"),
    ("Consulting", "Consulting"),
    ("Marine", "Shipping"),
    ("Logistikk", "Transport"),
    ("Bakeri", "Food"),
    ("Eiendom", "Real estate"),
    ("Energi", "Energy"),
    ("Media", "Media"),
    ("Helse", "Health"),
    ("Regnskap", "Finance"),
    ("Bygg", "Construction"),
)
DEMO_FIELDS = (
    ("score", "Score", "number", ()),
    ("segment", "Segment", "list", SEGMENTS),
)
SELECTIONS = ("Newsletter subscribers", "Webinar attendees", "Dormant customers")
PROJECT = "Autumn campaign"

_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ö": "o", "ä": "a", "é": "e"})
_BIRTH_FIRST = date(1950, 1, 1).toordinal()
_BIRTH_SPAN = date(2004, 1, 1).toordinal() - _BIRTH_FIRST


@dataclass(frozen=True)
class _Seeded:
    """What the selections and the project are chosen from."""

    person_id: int
    category: str | None
    newsletter: bool


def seed_demo(crm: LocalCrm, persons: int = 300, seed: int = 7) -> dict[str, Any]:
    """Fill ``crm`` with a demo CRM: 5 associates, 40 companies, ``persons`` persons
    with consents and a newsletter subscription, the extra fields ``score`` and
    ``segment``, three selections and the project "Autumn campaign".

    Adds to whatever the CRM already holds.  Returns counts and the new ids.
    """
    rng = random.Random(seed)
    with crm.import_transaction() as conn:
        _define_demo_fields(conn)
        associates = _insert_associates(conn, rng)
        companies = _insert_companies(conn, rng, associates, count=40)
        seeded = _insert_persons(conn, rng, persons, companies)
        selections = _insert_selections(conn, rng, seeded)
        project_id, project_size = _insert_project(conn, rng, seeded)
    return {
        "associates": len(associates),
        "companies": len(companies),
        "persons": len(seeded),
        "selections": {name: str(sid) for name, (sid, _) in selections.items()},
        "selection_sizes": {name: size for name, (_, size) in selections.items()},
        "projects": {PROJECT: str(project_id)},
        "project_size": project_size,
    }


def seed_persons(crm: LocalCrm, n: int, seed: int = 7) -> list[str]:
    """Add ``n`` demo persons (spread over the existing companies, with consents and
    the newsletter subscription) in one transaction, without events; return their ids."""
    rng = random.Random(seed)
    with crm.import_transaction() as conn:
        _define_demo_fields(conn)
        companies = [tuple(row) for row in conn.execute("SELECT id, category FROM companies")]
        seeded = _insert_persons(conn, rng, n, companies)
    return [str(person.person_id) for person in seeded]


def _define_demo_fields(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO field_definitions (key, label, type, entity, choices, position)"
        " VALUES (?, ?, ?, 'person', ?, ?)",
        [
            (key, label, type, json.dumps(list(choices)), position)
            for position, (key, label, type, choices) in enumerate(DEMO_FIELDS, start=1)
        ],
    )


def _insert_associates(conn: sqlite3.Connection, rng: random.Random) -> list[int]:
    first = _next_id(conn, "associates")
    rows = [
        (first + i, name, f"{handle}@{DEMO_EMAIL_DOMAIN}", _mobile(rng))
        for i, (name, handle) in enumerate(ASSOCIATES)
    ]
    conn.executemany("INSERT INTO associates (id, name, email, mobile) VALUES (?, ?, ?, ?)", rows)
    return [row[0] for row in rows]


def _insert_companies(
    conn: sqlite3.Connection, rng: random.Random, associates: list[int], count: int
) -> list[tuple[int, str]]:
    """``count`` companies with distinct names; returns ``(id, category)`` pairs."""
    names = rng.sample([(s, k) for s in COMPANY_STEMS for k in COMPANY_KINDS], count)
    first = _next_id(conn, "companies")
    rows = [
        (
            first + i,
            f"{stem} {kind} AS",
            rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0],
            business,
            rng.choice(associates),
            rng.choice(associates),
        )
        for i, (stem, (kind, business)) in enumerate(names)
    ]
    conn.executemany(
        "INSERT INTO companies (id, name, category, business, our_contact, our_service_contact)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return [(row[0], row[2]) for row in rows]


def _insert_persons(
    conn: sqlite3.Connection,
    rng: random.Random,
    count: int,
    companies: list[tuple[int, str]],
) -> list[_Seeded]:
    """Insert ``count`` persons with their consents and newsletter subscription."""
    first = _next_id(conn, "persons")
    stamp = db.now()
    emails = _Emails({row[0] for row in conn.execute("SELECT lower(email) FROM persons")})
    persons, consents, subscriptions, seeded = [], [], [], []
    for person_id in range(first, first + count):
        company = rng.choice(companies) if companies and rng.random() < 0.9 else (None, None)
        language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        first_name = rng.choice(FIRST_NAMES[language])
        last_name = rng.choice(LAST_NAMES[language])
        fields = {
            "score": rng.randrange(101),
            "segment": rng.choice(SEGMENTS[:3]) if company[0] else "Consumer",
        }
        persons.append(
            (
                person_id,
                first_name,
                last_name,
                emails.make(rng, first_name, last_name),
                _mobile(rng),
                language,
                _birth_date(rng),
                _timezone(rng),
                rng.random() < 0.02,
                company[0],
                json.dumps(fields),
                stamp,
                stamp,
            )
        )
        emarketing = rng.random() < 0.9
        newsletter = emarketing and rng.random() < 0.7
        consents.append((person_id, "emarketing", emarketing, "consent", stamp))
        consents.append((person_id, "store", True, "legitimate_interest", stamp))
        subscriptions.append((person_id, NEWSLETTER, newsletter, stamp))
        seeded.append(_Seeded(person_id, company[1], newsletter))
    conn.executemany(
        "INSERT INTO persons (id, first_name, last_name, email, mobile, language, birth_date,"
        " timezone, email_blocked, company_id, fields, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        persons,
    )
    conn.executemany(
        "INSERT INTO consents (person_id, purpose, granted, legal_basis, updated_at) VALUES (?, ?, ?, ?, ?)",
        consents,
    )
    conn.executemany(
        "INSERT INTO subscriptions (person_id, name, subscribed, updated_at) VALUES (?, ?, ?, ?)",
        subscriptions,
    )
    return seeded


def _insert_selections(
    conn: sqlite3.Connection, rng: random.Random, seeded: list[_Seeded]
) -> dict[str, tuple[int, int]]:
    """The demo selections; returns ``{name: (id, member count)}``."""
    members = {
        "Newsletter subscribers": [p.person_id for p in seeded if p.newsletter],
        "Webinar attendees": [p.person_id for p in seeded if rng.random() < 0.12],
        "Dormant customers": [
            p.person_id for p in seeded if p.category == "Customer" and rng.random() < 0.25
        ],
    }
    first = _next_id(conn, "selections")
    created = {}
    for offset, name in enumerate(SELECTIONS):
        selection_id = first + offset
        conn.execute("INSERT INTO selections (id, name) VALUES (?, ?)", (selection_id, name))
        conn.executemany(
            "INSERT INTO selection_members (selection_id, person_id) VALUES (?, ?)",
            [(selection_id, person_id) for person_id in members[name]],
        )
        created[name] = (selection_id, len(members[name]))
    return created


def _insert_project(conn: sqlite3.Connection, rng: random.Random, seeded: list[_Seeded]) -> tuple[int, int]:
    """The "Autumn campaign" project with prospects invited; returns ``(id, size)``."""
    prospects = [p.person_id for p in seeded if p.category == "Prospect"]
    invited = sorted(rng.sample(prospects, min(25, len(prospects))))
    project_id = db.insert(conn, "projects", {"name": PROJECT})
    conn.executemany(
        "INSERT INTO project_members (project_id, person_id, member_type, status)"
        " VALUES (?, ?, 'Participant', 'Invited')",
        [(project_id, person_id) for person_id in invited],
    )
    return project_id, len(invited)


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    """The first free id; safe because the import transaction holds the write lock."""
    return conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]


class _Emails:
    """Unique addresses at the reserved example domains: ``ola.hansen@example.com``,
    then ``ola.hansen2@example.com``... without retrying every number each time."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.counters: dict[str, int] = {}

    def make(self, rng: random.Random, first_name: str, last_name: str) -> str:
        local = f"{first_name}.{last_name}".lower().translate(_ASCII)
        domain = rng.choice(PERSON_DOMAINS)
        key = f"{local}@{domain}"
        while True:
            number = self.counters[key] = self.counters.get(key, 0) + 1
            email = key if number == 1 else f"{local}{number}@{domain}"
            if email not in self.taken:
                self.taken.add(email)
                return email


def _mobile(rng: random.Random) -> str:
    return f"+479{rng.randrange(10**7):07d}"


def _birth_date(rng: random.Random) -> str | None:
    if rng.random() < 0.4:
        return None
    return date.fromordinal(_BIRTH_FIRST + rng.randrange(_BIRTH_SPAN)).isoformat()


def _timezone(rng: random.Random) -> str | None:
    draw = rng.random()
    if draw < 0.85:
        return "Europe/Oslo"
    return rng.choice(OTHER_TIMEZONES) if draw < 0.98 else None
