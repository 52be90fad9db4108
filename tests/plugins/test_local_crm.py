"""The ``local`` CRM backend, against a real SQLite file."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest

from superflow.config import Config
from superflow.crm import CrmError
from superflow.crm import UnknownField
from superflow.events import Event
from superflow.plugins import local_crm
from superflow.plugins.local_crm.backend import LocalCrm
from superflow.plugins.local_crm.seed import seed_demo
from superflow.plugins.local_crm.seed import seed_persons

PERSON_KEYS = {
    "id", "first_name", "last_name", "full_name", "email", "mobile", "language",
    "birth_date", "timezone", "email_blocked", "company", "fields", "consents",
    "subscriptions", "selections", "projects",
}  # fmt: skip
COMPANY_KEYS = {"id", "name", "category", "business", "our_contact", "our_service_contact"}


class Recorder:
    """An ``emit`` that keeps each call's batch of events."""

    def __init__(self) -> None:
        self.calls: list[list[Event]] = []

    def __call__(self, events: list[Event]) -> None:
        self.calls.append(list(events))

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.calls for event in batch]

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def emitted() -> Recorder:
    return Recorder()


@pytest.fixture
def crm(tmp_path: Path, emitted: Recorder):
    backend = LocalCrm(Config(data_dir=tmp_path), emitted)
    yield backend
    backend.close()


@pytest.fixture
def demo(crm: LocalCrm) -> dict:
    return seed_demo(crm, persons=300)


@pytest.fixture
def ada(crm: LocalCrm, emitted: Recorder) -> dict:
    """A person at a customer company, with the demo fields defined."""
    crm.define_field("score", "Score", "number")
    associate = crm.create_associate("Kari Nordmann", email="kari@superflow-demo.example")
    company = crm.create_company("Analytical Engines AS", category="Customer", business="IT")
    person = crm.create_person(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        company_id=company["id"],
        score=10,
    )
    emitted.clear()
    return {"person": person, "company": company, "associate": associate}


def test_plugin_registers_the_local_backend() -> None:
    registered = []
    local_crm.superflow_register_crm_backends(register=registered.append)
    assert registered == [LocalCrm]
    assert LocalCrm.name == "local"


def test_seed_demo_gives_the_promised_crm(crm: LocalCrm, emitted: Recorder) -> None:
    summary = seed_demo(crm, persons=300)

    assert (summary["associates"], summary["companies"], summary["persons"]) == (5, 40, 300)
    assert crm.count_persons() == 300
    assert len(crm.list_associates()) == 5
    names = {s["name"]: s["id"] for s in crm.list_selections()}
    assert names == summary["selections"]
    assert set(names) == {"Newsletter subscribers", "Webinar attendees", "Dormant customers"}
    for name, selection_id in names.items():
        assert len(crm.selection_members(selection_id)) == summary["selection_sizes"][name] > 0
    assert [p["name"] for p in crm.list_projects()] == ["Autumn campaign"]
    assert emitted.calls == []

    persons = list(crm.get_persons(str(i) for i in range(1, 301)).values())
    assert all(re.fullmatch(r"[a-z0-9.]+@example\.(com|org|net)", p["email"]) for p in persons)
    assert len({p["email"] for p in persons}) == 300
    assert all(re.fullmatch(r"\+479\d{7}", p["mobile"]) for p in persons)
    assert {p["language"] for p in persons} == {"en", "no", "sv", "da"}
    assert sum(p["timezone"] == "Europe/Oslo" for p in persons) > 200
    granted = sum(p["consents"]["emarketing"] for p in persons)
    assert 240 <= granted < 300
    newsletter = summary["selections"]["Newsletter subscribers"]
    project = summary["projects"]["Autumn campaign"]
    assert sum(project in p["projects"] for p in persons) == summary["project_size"] > 0
    for person in persons:
        subscribed = person["subscriptions"]["newsletter"]
        assert (newsletter in person["selections"]) == subscribed
        assert not subscribed or person["consents"]["emarketing"]


def test_seeding_is_deterministic(tmp_path: Path) -> None:
    def seeded_persons(folder: str) -> dict:
        backend = LocalCrm(Config(data_dir=tmp_path / folder), Recorder())
        seed_demo(backend, persons=50, seed=3)
        persons = backend.get_persons(str(i) for i in range(1, 51))
        backend.close()
        return persons

    assert seeded_persons("one") == seeded_persons("two")


def test_seed_persons_adds_persons_fast_without_events(crm: LocalCrm, demo: dict, emitted: Recorder) -> None:
    ids = seed_persons(crm, 2000, seed=11)

    assert len(ids) == len(set(ids)) == 2000
    assert crm.count_persons() == 2300
    persons = crm.get_persons(ids)
    assert list(persons) == ids
    assert len({p["email"] for p in persons.values()}) == 2000
    assert emitted.calls == []


def test_get_persons_returns_the_documented_shape(crm: LocalCrm, demo: dict) -> None:
    ids = [str(i) for i in range(1, 301)]
    persons = crm.get_persons([*ids, "999999", "not-an-id"])

    assert list(persons) == ids
    with_company = [p for p in persons.values() if p["company"]]
    assert with_company
    for person in persons.values():
        assert set(person) == PERSON_KEYS
        assert person["full_name"] == f"{person['first_name']} {person['last_name']}"
        assert set(person["fields"]) == {"score", "segment"}
        assert set(person["consents"]) == {"emarketing", "store"}
        assert isinstance(person["email_blocked"], bool)
    for person in with_company:
        assert set(person["company"]) == COMPANY_KEYS
        assert person["company"]["category"] in {"Customer", "Prospect", "Partner"}
        assert person["company"]["our_contact"] in {a["id"] for a in crm.list_associates()}
    assert crm.get_person("999999") is None


def test_get_persons_costs_a_handful_of_queries(crm: LocalCrm, demo: dict) -> None:
    ids = seed_persons(crm, 500)
    statements: list[str] = []
    crm._connection().set_trace_callback(statements.append)

    assert len(crm.get_persons(ids)) == 500

    assert len(statements) <= 8


def test_a_person_without_company_has_none(crm: LocalCrm) -> None:
    person = crm.create_person(first_name="Solo", email="solo@example.com")
    assert person["company"] is None
    assert person["full_name"] == "Solo"
    assert crm.find_person_by_email("SOLO@example.com")["id"] == person["id"]


def test_list_fields_lists_builtins_company_fields_then_extras(crm: LocalCrm, demo: dict) -> None:
    fields = crm.list_fields()
    keys = [f.key for f in fields]

    assert keys[:8] == [
        "first_name", "last_name", "email", "mobile",
        "language", "birth_date", "timezone", "email_blocked",
    ]  # fmt: skip
    assert keys[8:13] == [
        "company.name", "company.category", "company.business",
        "company.our_contact", "company.our_service_contact",
    ]  # fmt: skip
    assert keys[13:] == ["score", "segment"]
    by_key = {f.key: f for f in fields}
    assert by_key["company.category"].entity == "company"
    assert by_key["score"].type == "number"
    assert by_key["birth_date"].type == "date"


def test_update_persons_applies_changes_and_reports_them(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    ada_id = ada["person"]["id"]
    grace = crm.create_person(first_name="Grace", last_name="Hopper", email="grace@example.org")
    emitted.clear()

    results = crm.update_persons(
        [
            (ada_id, {"score": 20, "company.category": "Partner", "language": None}, "k1"),
            (grace["id"], {"timezone": "America/New_York", "first_name": "Grace"}, "k2"),
        ]
    )

    assert results == [
        {"score": [10, 20], "company.category": ["Customer", "Partner"]},
        {"timezone": [None, "America/New_York"]},
    ]
    persons = crm.get_persons([ada_id, grace["id"]])
    assert persons[ada_id]["fields"]["score"] == 20
    assert persons[ada_id]["company"]["category"] == "Partner"
    assert persons[grace["id"]]["timezone"] == "America/New_York"
    assert len(emitted.calls) == 1
    assert [(e.type, e.person_id, e.data) for e in emitted.events] == [
        ("person.updated", ada_id, {"changes": results[0]}),
        ("person.updated", grace["id"], {"changes": results[1]}),
    ]
    assert all(e.source == "local_crm" for e in emitted.events)


def test_update_without_a_change_emits_nothing(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    assert crm.update_person(ada["person"]["id"], {"first_name": "Ada", "score": 10}) == {}
    assert emitted.calls == []


@pytest.mark.parametrize(
    ("changes", "error", "named"),
    [
        ({"shoe_size": 42}, UnknownField, ["shoe_size", "person"]),
        ({"score": "high"}, CrmError, ["score", "'high'", "number"]),
        ({"birth_date": "yesterday"}, CrmError, ["birth_date", "'yesterday'", "date"]),
        ({"email_blocked": "yes"}, CrmError, ["email_blocked", "'yes'", "bool"]),
        ({"timezone": "Mars/Olympus"}, CrmError, ["timezone", "Mars/Olympus"]),
    ],
)
def test_update_persons_rejects_bad_changes_and_writes_nothing(
    crm: LocalCrm,
    ada: dict,
    emitted: Recorder,
    changes: dict,
    error: type[Exception],
    named: list[str],
) -> None:
    other = crm.create_person(first_name="Grace", email="grace@example.org")
    emitted.clear()
    before = crm.get_persons([ada["person"]["id"], other["id"]])

    with pytest.raises(error) as raised:
        crm.update_persons(
            [
                (ada["person"]["id"], {"score": 99, "company.category": "Partner"}, "k1"),
                (other["id"], changes, "k2"),
            ]
        )

    for text in named:
        assert text in str(raised.value)
    assert other["id"] in str(raised.value)
    assert crm.get_persons([ada["person"]["id"], other["id"]]) == before
    assert emitted.calls == []
    crm.update_persons([(ada["person"]["id"], {"score": 11}, "k1")])
    assert crm.get_person(ada["person"]["id"])["fields"]["score"] == 11


def test_a_failure_during_the_write_rolls_the_whole_batch_back(
    crm: LocalCrm, ada: dict, emitted: Recorder
) -> None:
    loner = crm.create_person(first_name="Solo", email="solo@example.com")
    emitted.clear()

    with pytest.raises(CrmError, match=f"person {loner['id']} has no company"):
        crm.update_persons(
            [
                (ada["person"]["id"], {"score": 99}, "k1"),
                (loner["id"], {"company.category": "Partner"}, "k2"),
            ]
        )

    assert crm.get_person(ada["person"]["id"])["fields"]["score"] == 10
    assert emitted.calls == []
    assert crm.update_persons([(ada["person"]["id"], {"score": 99}, "k1")]) == [{"score": [10, 99]}]


def test_an_idempotency_key_applies_a_change_once(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    ada_id = ada["person"]["id"]

    def add_ten() -> list[dict]:
        score = crm.get_person(ada_id)["fields"]["score"]
        return crm.update_persons([(ada_id, {"score": score + 10}, "flow-1:step-3:p1")])

    first = add_ten()
    second = add_ten()

    assert first == second == [{"score": [10, 20]}]
    assert crm.get_person(ada_id)["fields"]["score"] == 20
    assert emitted.types() == ["person.updated"]


def test_create_sale_twice_with_one_key_makes_one_sale(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    first = crm.create_sale(ada["person"]["id"], "Difference engine", 1200, idempotency_key="s")
    second = crm.create_sale(ada["person"]["id"], "Difference engine", 1200, idempotency_key="s")

    assert first == second
    assert emitted.types() == ["sale.created"]
    with sqlite3.connect(crm.path) as conn:
        assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 1


def test_selection_membership_and_its_events(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    ada_id = ada["person"]["id"]
    grace_id = crm.create_person(first_name="Grace", email="grace@example.org")["id"]
    selection = crm.create_selection("Webinar attendees")
    sid = selection["id"]
    emitted.clear()

    crm.add_to_selection(sid, [ada_id, grace_id, "424242"])
    crm.add_to_selection(sid, [ada_id])

    assert len(emitted.calls) == 1
    assert [(e.type, e.person_id, e.data) for e in emitted.events] == [
        ("selection.member_added", ada_id, {"selection_id": sid}),
        ("selection.member_added", grace_id, {"selection_id": sid}),
    ]
    assert crm.members_of(sid, [ada_id, grace_id, "424242"]) == {ada_id, grace_id}
    assert crm.get_person(ada_id)["selections"] == [sid]

    emitted.clear()
    crm.remove_from_selection(sid, [grace_id, "424242"], idempotency_key="r1")
    crm.remove_from_selection(sid, [grace_id], idempotency_key="r1")

    assert emitted.types() == ["selection.member_removed"]
    assert emitted.events[0].data == {"selection_id": sid}
    assert crm.selection_members(sid) == [ada_id]
    assert {"id": sid, "name": "Webinar attendees"} in crm.list_selections()
    with pytest.raises(CrmError, match="selection 999 does not exist"):
        crm.add_to_selection("999", [ada_id])


def test_created_records_emit_their_events(crm: LocalCrm, ada: dict, emitted: Recorder) -> None:
    pid, owner = ada["person"]["id"], ada["associate"]["id"]

    person = crm.create_person(first_name="Grace", email="grace@example.org")
    sale = crm.create_sale(pid, "Engine", 500.0, stage="proposal", owner=owner)
    follow_up = crm.create_follow_up(
        pid, "Demo meeting", "appointment", starts_at="2024-10-01T10:00:00+02:00", owner=owner
    )
    request = crm.create_request(pid, "Invoice question", category="Billing")
    crm.set_consent(pid, "emarketing", True, legal_basis="consent")
    crm.set_consent(pid, "emarketing", True, legal_basis="consent")
    crm.set_subscription(pid, "newsletter", True)
    project = crm.create_project("Autumn campaign")
    crm.add_to_project(project["id"], [pid], member_type="Participant", status="Invited")
    crm.remove_from_project(project["id"], [pid])

    assert sale["company_id"] == ada["company"]["id"]
    assert sale["owner"] == owner
    assert follow_up["starts_at"] == "2024-10-01T10:00:00+02:00"
    assert [(e.type, e.person_id, e.data) for e in emitted.events] == [
        ("person.created", person["id"], {}),
        ("sale.created", pid, sale),
        ("follow_up.created", pid, follow_up),
        ("request.created", pid, request),
        ("consent.changed", pid, {"purpose": "emarketing", "granted": True}),
        ("subscription.changed", pid, {"name": "newsletter", "subscribed": True}),
        (
            "project.member_added",
            pid,
            {"project_id": project["id"], "member_type": "Participant", "status": "Invited"},
        ),
        ("project.member_removed", pid, {"project_id": project["id"]}),
    ]
    assert len(emitted.calls) == len(emitted.events)
    consented = crm.get_person(pid)
    assert consented["consents"] == {"emarketing": True}
    assert consented["subscriptions"] == {"newsletter": True}


def test_create_calls_name_what_is_wrong(crm: LocalCrm, ada: dict) -> None:
    pid = ada["person"]["id"]
    with pytest.raises(CrmError, match="create_sale: person 77 does not exist"):
        crm.create_sale("77", "Engine")
    with pytest.raises(CrmError, match="owner: associate 9 does not exist"):
        crm.create_follow_up(pid, "Call", owner="9")
    with pytest.raises(CrmError, match="'amount'.*'lots'"):
        crm.create_sale(pid, "Engine", "lots")
    with pytest.raises(UnknownField, match="shoe_size"):
        crm.create_person(first_name="X", shoe_size=44)


def test_company_extra_fields_live_on_the_company(crm: LocalCrm, ada: dict) -> None:
    crm.define_field("tier", "Tier", "list", entity="company", choices=["gold", "silver"])
    pid = ada["person"]["id"]

    assert crm.update_person(pid, {"company.tier": "gold"}) == {"company.tier": [None, "gold"]}
    assert crm.get_person(pid)["company"]["tier"] == "gold"
    with pytest.raises(CrmError, match="'bronze'"):
        crm.update_person(pid, {"company.tier": "bronze"})


def test_two_backends_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    first_events, second_events = Recorder(), Recorder()
    first = LocalCrm(Config(data_dir=tmp_path), first_events)
    second = LocalCrm(Config(data_dir=tmp_path), second_events)

    person = first.create_person(first_name="Ada", email="ada@example.com")
    assert second.get_person(person["id"])["first_name"] == "Ada"
    second.update_person(person["id"], {"last_name": "Lovelace"}, idempotency_key="k")
    assert first.get_person(person["id"])["full_name"] == "Ada Lovelace"
    assert first.update_person(person["id"], {"last_name": "Byron"}, idempotency_key="k") == {
        "last_name": [None, "Lovelace"]
    }
    assert first_events.types() == ["person.created"]
    assert second_events.types() == ["person.updated"]
    with sqlite3.connect(first.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first.close()
    second.close()


def test_threads_share_one_backend(crm: LocalCrm, demo: dict) -> None:
    selection = crm.create_selection("Threads")
    batches = [[str(i) for i in range(start, start + 25)] for start in range(1, 101, 25)]
    threads = [
        threading.Thread(target=crm.add_to_selection, args=(selection["id"], batch)) for batch in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert crm.selection_members(selection["id"]) == [str(i) for i in range(1, 101)]


def test_local_crm_path_setting_moves_the_database(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "my-crm.sqlite"
    config = Config(data_dir=tmp_path / "data", extra={"local_crm_path": str(path)})
    backend = LocalCrm(config, Recorder())

    backend.create_person(first_name="Ada")

    assert path.exists()
    assert not (tmp_path / "data" / "crm.sqlite").exists()
    backend.close()


def test_project_memberships_appear_on_the_person(crm: LocalCrm, ada: dict) -> None:
    pid = ada["person"]["id"]
    autumn, spring = crm.create_project("Autumn campaign")["id"], crm.create_project("Spring fair")["id"]
    selection = crm.create_selection("Newsletter")["id"]
    crm.add_to_project(spring, [pid])
    crm.add_to_project(autumn, [pid], member_type="Participant")
    crm.add_to_selection(selection, [pid])

    person = crm.get_person(pid)
    assert person["projects"] == sorted([autumn, spring], key=int)
    assert person["selections"] == [selection]
    assert crm.project_members(autumn) == [{"person_id": pid, "member_type": "Participant", "status": None}]
    crm.remove_from_project(spring, [pid])
    assert crm.get_person(pid)["projects"] == [autumn]


def test_list_follow_ups_is_an_associates_calendar(crm: LocalCrm, ada: dict) -> None:
    pid, kari = ada["person"]["id"], ada["associate"]["id"]
    ola = crm.create_associate("Ola Hansen")["id"]
    crm.create_follow_up(
        pid, "Morning", "meeting", owner=kari,
        starts_at="2024-10-01T09:00:00+02:00", ends_at="2024-10-01T10:00:00+02:00",
    )  # fmt: skip
    crm.create_follow_up(
        pid, "Lunch (UTC)", "meeting", owner=kari,
        starts_at="2024-10-01T10:00:00+00:00", ends_at="2024-10-01T11:00:00+00:00",
    )  # fmt: skip
    crm.create_follow_up(pid, "No end", "task", owner=kari, starts_at="2024-10-01T09:30:00+02:00")
    crm.create_follow_up(
        pid, "Ola's", "meeting", owner=ola,
        starts_at="2024-10-01T09:00:00+02:00", ends_at="2024-10-01T10:00:00+02:00",
    )  # fmt: skip

    day = crm.list_follow_ups(kari, "2024-10-01T00:00:00+02:00", "2024-10-02T00:00:00+02:00")
    assert [f["title"] for f in day] == ["Morning", "Lunch (UTC)"]
    # 11:30-12:00 in Oslo is 09:30-10:00 UTC: between the two meetings (07-08 and 10-11 UTC).
    assert crm.list_follow_ups(kari, "2024-10-01T11:30:00+02:00", "2024-10-01T12:00:00+02:00") == []
    # 12:30 Oslo is 10:30 UTC, inside "Lunch (UTC)".
    later = crm.list_follow_ups(kari, "2024-10-01T12:30:00+02:00", "2024-10-01T12:45:00+02:00")
    assert [f["title"] for f in later] == ["Lunch (UTC)"]
    assert crm.list_follow_ups("999", "2024-10-01T00:00:00+02:00", "2024-10-02T00:00:00+02:00") == []
    with pytest.raises(CrmError, match="list_follow_ups.*'start'"):
        crm.list_follow_ups(kari, "tomorrow", "2024-10-02T00:00:00+02:00")


def test_request_categories_have_default_owners(crm: LocalCrm, ada: dict) -> None:
    kari = ada["associate"]["id"]
    billing = crm.create_request_category("Billing", default_owner=kari, idempotency_key="c1")
    again = crm.create_request_category("Billing", default_owner=kari, idempotency_key="c1")
    support = crm.create_request_category("Support")

    assert billing == again == {"id": billing["id"], "name": "Billing", "default_owner": kari}
    assert crm.list_request_categories() == [billing, support]
    assert support["default_owner"] is None
    with pytest.raises(CrmError, match="already a category named 'Billing'"):
        crm.create_request_category("Billing")
    with pytest.raises(CrmError, match="default_owner: associate 99 does not exist"):
        crm.create_request_category("Sales", default_owner="99")


def test_list_sales_and_requests_give_a_persons_records(crm: LocalCrm, ada: dict) -> None:
    pid = ada["person"]["id"]
    grace = crm.create_person(first_name="Grace")["id"]
    first = crm.create_sale(pid, "Engine", 100)
    second = crm.create_sale(pid, "Loom", 50, stage="won")
    crm.create_sale(grace, "Compiler", 10)

    assert crm.list_sales(pid) == [first, second]
    assert crm.list_sales("424242") == crm.list_sales("nope") == []
    request = crm.create_request(pid, "Invoice question", category="Billing")
    crm.create_request(grace, "Password", category="Support")
    assert crm.list_requests(pid) == [request]
    assert crm.list_requests("nope") == []


def test_the_local_crm_gives_scripts(crm: LocalCrm, ada: dict) -> None:
    registered = []
    local_crm.superflow_register_scripts(register=registered.append)
    scripts = {script.name: script for script in registered}
    assert set(scripts) == {"recalculate_score", "total_sales"}
    assert all(script.label and script.description for script in registered)

    class Services:
        pass

    services = Services()
    services.crm = crm
    pid = ada["person"]["id"]
    crm.define_field("sales_total", "Sales total", "number")
    crm.create_sale(pid, "Engine", 100.5)
    crm.create_sale(pid, "Loom", 50, stage="won")
    person = crm.get_person(pid)

    assert scripts["recalculate_score"].run(person, None, services, {}) == "score set to 20 (2 sales)"
    assert scripts["recalculate_score"].run(person, None, services, {}) == "score already 20 (2 sales)"
    won = {"stages": ["won"], "points_per_sale": 5}
    assert scripts["recalculate_score"].run(person, None, services, won) == "score set to 5 (1 sale)"
    assert scripts["total_sales"].run(person, None, services, {}) == "sales_total set to 150.5 (2 sales)"
    assert crm.get_person(pid)["fields"] == {"score": 5, "sales_total": 150.5}
    missing = scripts["total_sales"].run(person, None, services, {"field": "revenue"})
    assert missing == "not written: the CRM has no number field 'revenue' (2 sales)"
    with pytest.raises(ValueError, match="'points_per_sale' must be a number"):
        scripts["recalculate_score"].run(person, None, services, {"points_per_sale": "ten"})


def test_a_company_change_tells_every_colleague(tmp_path):
    from superflow.config import Config
    from superflow.plugins.local_crm.backend import LocalCrm

    emitted = []
    crm = LocalCrm(Config(data_dir=tmp_path), emitted.extend)
    company = crm.create_company(name="Fjord AS", category="Prospect")
    ada = crm.create_person(first_name="Ada", company_id=company["id"])
    bo = crm.create_person(first_name="Bo", company_id=company["id"])
    emitted.clear()
    crm.update_person(ada["id"], {"company.category": "Customer"})
    kinds = sorted((e.type, e.person_id) for e in emitted)
    assert kinds == [("company.updated", bo["id"]), ("person.updated", ada["id"])]
    company_event = next(e for e in emitted if e.type == "company.updated")
    assert company_event.data == {
        "company_id": company["id"],
        "changes": {"company.category": ["Prospect", "Customer"]},
    }


def test_shared_addresses_names_only_addresses_two_persons_have(tmp_path):
    from superflow.config import Config
    from superflow.plugins.local_crm.backend import LocalCrm

    crm = LocalCrm(Config(data_dir=tmp_path), lambda events: None)
    crm.create_person(first_name="Ada", email="Family@example.com")
    crm.create_person(first_name="Bo", email="family@example.com")
    crm.create_person(first_name="Cy", email="cy@example.com")
    assert crm.shared_addresses(["FAMILY@example.com", "cy@example.com", "nobody@example.com"]) == {
        "family@example.com"
    }


def test_existing_persons_names_the_ids_that_exist(crm: LocalCrm, demo: dict) -> None:
    ids = ["1", "150", "300"]
    assert crm.existing_persons([*ids, "999999", "not-an-id", ids[0]]) == set(ids)
    assert crm.existing_persons([]) == set()
