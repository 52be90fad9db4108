"""The engine's rules, end to end through a worker on a real Redis."""

from __future__ import annotations

import pytest

from superflow import flows
from superflow import keys
from superflow.events import Event
from superflow.flows import FlowStateError
from superflow.plugins.outbox import Outbox
from superflow.testing import email_action_branch
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import split_step
from superflow.testing import started


def test_filters_let_in_only_matching_persons(sf_runtime, sf_run_jobs, crm, people):
    crm.update_person(people[1], {"language": "no"})
    doc = flow_doc(
        [email_step("e1")],
        filters={
            "op": "or",
            "conditions": [
                {"type": "field", "settings": {"field": "language", "operator": "equals", "value": "no"}},
                {"type": "field", "settings": {"field": "email", "operator": "contains", "value": "eva@"}},
            ],
        },
    )
    flow = started(sf_runtime, doc)
    signed_up(sf_runtime, *people)
    sf_run_jobs()
    enrolled = {pid for pid in people if participant_of(sf_runtime, flow, pid)}
    assert enrolled == {people[1], people[4]}


@pytest.mark.parametrize(
    ("rule", "second_time", "total"),
    [
        ("once", "after the first ended", 1),
        ("after_end", "after the first ended", 2),
        ("after_end", "while active", 1),
        ("restart", "while active", 2),
    ],
)
def test_reenrolment_rules(sf_runtime, sf_run_jobs, people, rule, second_time, total):
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}]
    flow = started(sf_runtime, flow_doc(steps, reenrollment=rule))
    signed_up(sf_runtime, people[0])
    sf_run_jobs()
    if second_time == "after the first ended":
        sf_runtime.clock.advance(86400 + 1)
        sf_run_jobs()
    signed_up(sf_runtime, people[0])
    sf_run_jobs()
    stats = sf_runtime.store.stats(flow.id)
    assert stats["enrolled"] == total
    if rule == "restart":
        first = sf_runtime.store.participant(f"{flow.id}.1")
        assert first.status == "exited" and first.reason == "enrolled again"


def test_exclusion_selection_keeps_members_out_and_exits_them_later(sf_runtime, sf_run_jobs, crm, people):
    blocked = crm.create_selection("Do not contact")["id"]
    crm.add_to_selection(blocked, [people[0]])
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}, email_step("e1")]
    flow = started(sf_runtime, flow_doc(steps, exclusion_selection=blocked))
    signed_up(sf_runtime, people[0], people[1])
    sf_run_jobs()
    assert participant_of(sf_runtime, flow, people[0]) is None
    crm.add_to_selection(blocked, [people[1]])
    sf_runtime.clock.advance(86401)
    sf_run_jobs()
    p = participant_of(sf_runtime, flow, people[1])
    assert p.status == "exited" and p.reason == "in the exclusion selection"
    assert Outbox(sf_runtime.config).count("email") == 0


def test_exit_reasons_for_persons_who_cannot_get_email(sf_runtime, sf_run_jobs, crm, people):
    crm.set_consent(people[0], "emarketing", False)
    crm.update_person(people[1], {"email": None})
    crm.update_person(people[2], {"email_blocked": True})
    flow = started(sf_runtime, flow_doc([email_step("e1")]))
    signed_up(sf_runtime, *people[:4])
    sf_run_jobs()
    reasons = [participant_of(sf_runtime, flow, pid).reason for pid in people[:4]]
    assert reasons == ["no e-marketing consent", "no email address", "email address blocked or bounced", ""]
    stats = sf_runtime.store.stats(flow.id)
    assert stats["exited"] == 3 and stats["completed"] == 1
    assert stats["exit:no e-marketing consent"] == 1


def webinar_doc(**extra):
    return flow_doc(
        [
            email_step("invite", subject="Join our webinar"),
            {
                "id": "wait_open",
                "type": "wait_for_action",
                "settings": {
                    "action": "email.opened",
                    "step": "invite",
                    "timeout_days": 2,
                    "on_timeout": "goto",
                    "timeout_step": "reminder",
                },
            },
            split_step(
                "split",
                [
                    email_action_branch(
                        "Clicked",
                        "link.clicked",
                        "invite",
                        [email_step("thanks", subject="Thanks for clicking")],
                    )
                ],
                everyone_else=[email_step("nudge", subject="Did you see it?")],
            ),
            email_step("reminder", subject="Last chance"),
        ],
        **extra,
    )


def tracked(rt, flow, person_id, event_type, step_id):
    p = participant_of(rt, flow, person_id)
    rt.emit([Event(event_type, person_id, {"participant_id": p.id, "step_id": step_id})])


def test_wait_for_action_hit_split_and_timeout(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    flow = started(rt, webinar_doc())
    signed_up(rt, *people[:3])
    sf_run_jobs()
    assert rt.store.stats(flow.id)["at:wait_open"] == 3

    tracked(rt, flow, people[0], "email.opened", "invite")
    tracked(rt, flow, people[0], "link.clicked", "invite")
    tracked(rt, flow, people[1], "email.opened", "invite")
    sf_run_jobs()
    rt.clock.advance(2 * 86400 + 1)
    sf_run_jobs()

    subjects = {}
    for m in Outbox(rt.config).messages("email", limit=50):
        subjects.setdefault(m["recipient"], []).append(m["subject"])
    assert sorted(subjects["ada@example.com"]) == ["Join our webinar", "Last chance", "Thanks for clicking"]
    assert sorted(subjects["bjørn@example.com"]) == ["Did you see it?", "Join our webinar", "Last chance"]
    assert sorted(subjects["cecilie@example.com"]) == ["Join our webinar", "Last chance"]
    stats = rt.store.stats(flow.id)
    assert stats["branch:split:0"] == 1 and stats["branch:split:1"] == 1
    assert stats["completed"] == 3
    timed_out = rt.store.history(participant_of(rt, flow, people[2]).id)
    assert any(h["step"] == "wait_open" and h["note"] == "timed out" for h in timed_out)


@pytest.mark.parametrize("on_success", ["stop", "continue", "move_to"])
def test_success_criteria(sf_runtime, sf_run_jobs, people, on_success):
    rt = sf_runtime
    follow_up = started(
        rt,
        flow_doc(
            [email_step("f1", subject="Welcome aboard")],
            trigger={"type": "manual", "settings": {}},
            name="Onboarding",
        ),
    )
    steps = [
        email_step("e1", subject="Buy now"),
        {"id": "w", "type": "wait", "settings": {"amount": 3, "unit": "days"}},
        email_step("e2", subject="Still thinking?"),
    ]
    success = {
        "criteria": [{"type": "api_event", "settings": {"name": "purchased"}}],
        "on_success": on_success,
    }
    if on_success == "move_to":
        success["move_to_flow"] = follow_up.id
    flow = started(rt, flow_doc(steps, success=success))
    signed_up(rt, people[0], people[1])
    sf_run_jobs()
    signed_up(rt, people[0], name="purchased")
    sf_run_jobs()
    rt.clock.advance(3 * 86400 + 1)
    sf_run_jobs()

    buyer = participant_of(rt, flow, people[0])
    other = participant_of(rt, flow, people[1])
    assert other.status == "completed"
    sent_to_buyer = [
        m["subject"] for m in Outbox(rt.config).messages("email") if m["recipient"] == "ada@example.com"
    ]
    stats = rt.store.stats(flow.id)
    assert stats["succeeded"] == 1
    if on_success == "continue":
        assert buyer.status == "completed" and buyer.succeeded
        assert "Still thinking?" in sent_to_buyer
    else:
        assert buyer.status == "succeeded"
        assert "Still thinking?" not in sent_to_buyer
    moved = participant_of(rt, follow_up, people[0])
    if on_success == "move_to":
        assert moved.status == "completed" and moved.source == f"moved from flow {flow.id}"
        assert "Welcome aboard" in sent_to_buyer
    else:
        assert moved is None


def test_success_state_checked_before_each_step(sf_runtime, sf_run_jobs, crm, people):
    crm.define_field("customer", "Customer", "bool")
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}, email_step("e1")]
    success = {
        "criteria": [
            {"type": "field_value", "settings": {"field": "customer", "operator": "equals", "value": True}}
        ]
    }
    flow = started(sf_runtime, flow_doc(steps, success=success))
    signed_up(sf_runtime, people[0])
    sf_run_jobs()
    crm.update_person(people[0], {"customer": True})
    sf_run_jobs()
    p = participant_of(sf_runtime, flow, people[0])
    assert p.status == "succeeded"
    assert Outbox(sf_runtime.config).count("email") == 0


def test_pause_parks_and_queues_resume_releases_end_cancels(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [
        {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
        email_step("e1"),
        {"id": "w2", "type": "wait", "settings": {"amount": 5, "unit": "days"}},
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, people[0], people[1])
    sf_run_jobs()
    rt.engine.pause(flow.id)
    signed_up(rt, people[2])
    rt.clock.advance(86401)
    sf_run_jobs()
    outbox = Outbox(rt.config)
    assert outbox.count("email") == 0
    assert participant_of(rt, flow, people[2]) is None
    assert participant_of(rt, flow, people[0]).step == "w"

    assert rt.engine.resume(flow.id) == 2
    sf_run_jobs()
    assert outbox.count("email") == 2
    assert participant_of(rt, flow, people[2]).step == "w"

    assert rt.engine.end(flow.id) == 3
    sf_run_jobs()
    statuses = {participant_of(rt, flow, pid).status for pid in people[:3]}
    assert statuses == {"cancelled"}
    stats = rt.store.stats(flow.id)
    assert stats["cancelled"] == 3 and stats["active"] == 0
    assert len(rt.store.history(participant_of(rt, flow, people[0]).id)) >= 3
    signed_up(rt, people[3])
    sf_run_jobs()
    assert participant_of(rt, flow, people[3]) is None


def test_editing_a_running_flow_needs_a_pause_and_keeps_versions(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [
        {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
        email_step("e1", subject="Version one"),
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, people[0])
    sf_run_jobs()
    longer = flow_doc([{**steps[0], "settings": {"amount": 2, "unit": "days"}}, steps[1]])
    with pytest.raises(FlowStateError, match="pause it"):
        flows.update(rt, flow.id, longer)
    changed = flow_doc([steps[0], email_step("e1", subject="Version two")])
    rt.engine.pause(flow.id)
    flows.update(rt, flow.id, changed)
    rt.engine.resume(flow.id)
    rt.clock.advance(86401)
    sf_run_jobs()
    assert [m["subject"] for m in Outbox(rt.config).messages("email")] == ["Version two"]
    assert rt.store.flow_versions(flow.id) == [1, 2]
    assert flows.get(rt, flow.id, version=1).doc["steps"][1]["settings"]["subject"] == "Version one"


def test_send_window_holds_messages_until_it_opens(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    window = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "09:01"}
    flow = started(rt, flow_doc([email_step("e1")], send_window=window, timezone="Europe/Oslo"))
    import datetime as dt
    import zoneinfo

    now = dt.datetime.fromtimestamp(rt.clock.now(), zoneinfo.ZoneInfo("Europe/Oslo"))
    if now.hour == 9 and now.minute == 0:
        rt.clock.advance(120)
    signed_up(rt, people[0])
    sf_run_jobs()
    p = participant_of(rt, flow, people[0])
    assert Outbox(rt.config).count("email") == 0
    assert p.wait["k"] == "window"
    opens = dt.datetime.fromtimestamp(p.wait["u"], zoneinfo.ZoneInfo("Europe/Oslo"))
    assert (opens.hour, opens.minute) == (9, 0)
    rt.clock.advance(p.wait["u"] - rt.clock.now() + 1)
    sf_run_jobs()
    assert Outbox(rt.config).count("email") == 1


def test_an_event_for_a_busy_participant_is_applied_once_it_is_free(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}, email_step("e1")]
    success = {"criteria": [{"type": "api_event", "settings": {"name": "signed_up"}}]}
    flow = started(rt, flow_doc(steps, success=success, reenrollment="restart"))
    signed_up(rt, people[0])
    sf_run_jobs()
    p = participant_of(rt, flow, people[0])
    rt.redis.set(keys.lease(p.id), "another-job", px=60_000)
    signed_up(rt, people[0])
    sf_run_jobs()
    assert participant_of(rt, flow, people[0]).status == "active"
    assert rt.redis.zcard(keys.DEFERRED_EVENTS) == 1

    rt.redis.delete(keys.lease(p.id))
    for entry in rt.redis.zrange(keys.DEFERRED_EVENTS, 0, -1):
        rt.redis.zadd(keys.DEFERRED_EVENTS, {entry: 0})
    sf_run_jobs()
    assert participant_of(rt, flow, people[0]).status == "succeeded"
    assert rt.store.stats(flow.id)["enrolled"] == 1, "a retried event must not trigger the flow again"


def add_to_score(value: int) -> dict:
    """An ``update_contact`` step (id ``add``) that adds ``value`` to the number field ``score``."""
    return {
        "id": "add",
        "type": "update_contact",
        "settings": {"changes": [{"field": "score", "action": "add", "value": value}]},
    }


def test_one_person_in_two_flows_in_one_batch_keeps_both_updates(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    crm.define_field("score", "Score", "number")
    add_five = [add_to_score(5)]
    first = started(rt, flow_doc(add_five, name="A"))
    second = started(rt, flow_doc(add_five, name="B"))
    a = rt.engine.enrol(first.id, [people[0]], "test")
    b = rt.engine.enrol(second.id, [people[0]], "test")
    rt.engine.advance(a + b)
    sf_run_jobs()
    assert crm.get_person(people[0])["fields"]["score"] == 10


def test_a_step_visited_twice_has_its_effect_twice(sf_runtime, sf_run_jobs, crm, people):
    rt = sf_runtime
    crm.define_field("score", "Score", "number")
    steps = [
        add_to_score(1),
        {
            "id": "nudge",
            "type": "wait_for_action",
            "settings": {
                "action": "api.event",
                "name": "replied",
                "timeout_days": 1,
                "on_timeout": "goto",
                "timeout_step": "add",
            },
        },
    ]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, people[0])
    sf_run_jobs()
    for _ in range(2):
        rt.clock.advance(86401)
        sf_run_jobs()
    assert crm.get_person(people[0])["fields"]["score"] == 3
    assert rt.store.stats(flow.id)["passed:add"] == 3


def test_a_failing_hook_does_not_stop_follow_ups(sf_plugin, sf_run_jobs):
    import types

    from superflow import hookimpl

    def finished(participant, status, reason):
        raise RuntimeError("observer is broken")

    observer = types.ModuleType("broken_observer")
    observer.superflow_participant_finished = hookimpl(finished)
    rt = sf_plugin(observer)
    person = rt.crm.create_person(first_name="Ada", email="ada@example.com")
    rt.crm.set_consent(person["id"], "emarketing", True)
    target = started(
        rt, flow_doc([email_step("t1")], trigger={"type": "manual", "settings": {}}, name="Next")
    )
    success = {
        "criteria": [{"type": "api_event", "settings": {"name": "bought"}}],
        "on_success": "move_to",
        "move_to_flow": target.id,
    }
    flow = started(rt, flow_doc([{"id": "w", "type": "wait", "settings": {"amount": 1}}], success=success))
    rt.emit([Event("api.event", person["id"], {"name": "signed_up"})])
    sf_run_jobs(rt)
    rt.emit([Event("api.event", person["id"], {"name": "bought"})])
    sf_run_jobs(rt)
    assert rt.store.participant(f"{flow.id}.1").status == "succeeded"
    assert rt.store.participant(f"{target.id}.1").status == "completed"


def test_wait_until_a_date_and_time(sf_runtime, sf_run_jobs, people):
    import datetime as dt

    rt = sf_runtime
    until = dt.datetime.fromtimestamp(rt.clock.now() + 2 * 86400, dt.UTC).replace(microsecond=0)
    steps = [{"id": "w", "type": "wait", "settings": {"until": until.isoformat()}}, email_step("e1")]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, people[0])
    sf_run_jobs()
    p = participant_of(rt, flow, people[0])
    assert p.wait == {"k": "time", "u": until.timestamp()}
    rt.clock.advance(86400)
    sf_run_jobs()
    assert Outbox(rt.config).count("email") == 0
    rt.clock.advance(86401)
    sf_run_jobs()
    assert Outbox(rt.config).count("email") == 1
    assert participant_of(rt, flow, people[0]).status == "completed"


def test_a_scanning_trigger_enrols_each_person_once_per_occasion(sf_plugin, sf_run_jobs):
    import datetime as dt
    import types

    from superflow import hookimpl
    from superflow.components import Trigger

    class RenewalDue(Trigger):
        name = "renewal_due"
        label = "Renewal date reached"
        scans = True

        def scan(self, settings, services, start, end):
            due = []
            for person in services.crm.get_persons([str(i) for i in range(1, 20)]).values():
                when = (
                    dt.datetime.fromisoformat(person["fields"]["renewal"]).replace(tzinfo=dt.UTC).timestamp()
                )
                if start < when <= end:
                    occasion = f"renewal:{person['fields']['renewal']}"
                    due.append(Event("date.reached", person["id"], {"occasion": occasion}))
            return due

    module = types.ModuleType("renewals")
    module.superflow_register_triggers = hookimpl(lambda register: register(RenewalDue()))
    rt = sf_plugin(module)
    rt.crm.define_field("renewal", "Renewal", "date")
    today = dt.datetime.fromtimestamp(rt.clock.now(), dt.UTC).date()
    soon = rt.crm.create_person(first_name="Soon", renewal=(today + dt.timedelta(days=2)).isoformat())
    later = rt.crm.create_person(first_name="Later", renewal=(today + dt.timedelta(days=40)).isoformat())
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 100, "unit": "days"}}]
    flow = started(
        rt, flow_doc(steps, trigger={"type": "renewal_due", "settings": {}}, reenrollment="after_end")
    )

    rt.clock.advance(3 * 86400)
    sf_run_jobs(rt)
    assert rt.redis.hget(keys.person(soon["id"]), flow.id) == f"{flow.id}.1"
    assert rt.redis.hget(keys.person(later["id"]), flow.id) is None
    assert rt.store.participant(f"{flow.id}.1").event["occasion"].startswith("renewal:")

    rt.engine.end(flow.id)
    rt.redis.hset(keys.flow(flow.id), mapping={"status": "running", "scanned_to": 0})
    rt.redis.sadd(keys.SCANNING, flow.id)
    rt.redis.delete(keys.SCAN_NEXT)
    sf_run_jobs(rt)
    assert rt.store.stats(flow.id)["enrolled"] == 1, "the same occasion never enrols twice"


def test_a_scan_that_failed_is_scanned_again(sf_plugin, sf_run_jobs):
    import types

    from superflow import hookimpl
    from superflow.components import Trigger

    class Flaky(Trigger):
        name = "flaky_dates"
        label = "Flaky dates"
        scans = True
        calls = 0

        def scan(self, settings, services, start, end):
            Flaky.calls += 1
            if Flaky.calls <= 6:  # the job and all its RQ retries
                raise RuntimeError("CRM answered 503")
            return [Event("date.reached", "1", {"occasion": "x"})]

    module = types.ModuleType("flaky")
    module.superflow_register_triggers = hookimpl(lambda register: register(Flaky()))
    rt = sf_plugin(module)
    rt.crm.create_person(first_name="Ada")
    steps = [{"id": "w", "type": "wait", "settings": {"amount": 1}}]
    flow = started(rt, flow_doc(steps, trigger={"type": "flaky_dates", "settings": {}}))
    rt.clock.advance(120)
    with pytest.raises(RuntimeError, match=r"job\(s\) failed; the first: superflow.jobs.scan"):
        sf_run_jobs(rt)
    assert rt.store.stats(flow.id).get("enrolled", 0) == 0
    rt.clock.advance(120)
    sf_run_jobs(rt)
    assert rt.store.stats(flow.id)["enrolled"] == 1


def test_an_unsubscribe_ends_the_flows_that_email_the_person(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    wait = {"id": "w", "type": "wait", "settings": {"amount": 2, "unit": "days"}}
    text = {"id": "t", "type": "send_sms", "settings": {"sender": "Shop", "text": "Hi"}}
    emailing = started(rt, flow_doc([wait, email_step("e1")], name="Newsletter"))
    texting = started(rt, flow_doc([wait, text], name="Texts"))
    signed_up(rt, people[0])
    sf_run_jobs()
    rt.emit([Event("email.unsubscribed", people[0], {"purpose": "emarketing"})])
    sf_run_jobs()
    assert participant_of(rt, emailing, people[0]).reason == "email.unsubscribed"
    assert participant_of(rt, texting, people[0]).status == "active"
    rt.emit([Event("sms.stopped", people[0], {})])
    sf_run_jobs()
    assert participant_of(rt, texting, people[0]).reason == "sms.stopped"
