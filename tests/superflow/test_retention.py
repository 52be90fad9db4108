"""SUPERFLOW_KEEP_FINISHED_DAYS: finished participations are deleted once they are
older than that, while reports, the "take part once" rule and the participants
grid stay right."""

from __future__ import annotations

from superflow import keys
from superflow import roster
from superflow.testing import drain
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

DAY = 86400


def test_finished_participations_are_purged_after_the_kept_days(sf_plugin, people):
    rt = sf_plugin(keep_finished_days=30)
    rt.crm.set_consent(people[2], "emarketing", False)
    once = started(rt, flow_doc([email_step("hello")], name="Once"))
    again = started(rt, flow_doc([email_step("hello")], name="Again", reenrollment="after_end"))
    waiting = started(
        rt,
        flow_doc([{"id": "long", "type": "wait", "settings": {"amount": 90, "unit": "days"}}], name="Long"),
    )
    signed_up(rt, *people[:3])
    drain(rt)
    before = rt.store.stats(once.id)
    assert before["completed"] == 2 and before["exited"] == 1

    rt.clock.advance(29 * DAY)
    assert rt.engine.tick().get("purged") == 0, "not yet 30 days"
    rt.clock.advance(2 * DAY)
    assert rt.engine.tick()["purged"] == 6, "three finished in each of the two flows"
    assert rt.engine.tick()["purged"] == 0

    assert rt.store.participants(f"{once.id}.{n}" for n in (1, 2, 3)) == {}
    assert not rt.redis.exists(keys.FINISHED)
    after = rt.store.stats(once.id)
    assert {k: after[k] for k in before} == before, "the reports keep their counts"
    assert after["purged"] == 3
    everyone = roster.page(rt.redis, once.id)
    assert everyone.ids == [] and everyone.total == 0, "the grid shows no holes"
    assert roster.page(rt.redis, once.id, status="completed").total == 0

    assert {p.status for p in rt.store.participants(f"{waiting.id}.{n}" for n in (1, 2, 3)).values()} == {
        "active"
    }, "active participants are never purged"
    assert roster.page(rt.redis, waiting.id).total == 3

    signed_up(rt, people[0])
    drain(rt)
    assert rt.store.stats(once.id)["enrolled"] == 3, "'take part once' still holds after the purge"
    assert participant_of(rt, again, people[0]).status == "completed", "after_end lets them in again"
    assert rt.store.stats(again.id)["enrolled"] == 4
    page = roster.page(rt.redis, again.id)
    assert page.total == 1 and page.ids == [participant_of(rt, again, people[0]).id]

    assert rt.engine.end(waiting.id) == 3


def test_nothing_is_purged_by_default(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    flow = started(rt, flow_doc([email_step("hello")]))
    signed_up(rt, people[0])
    sf_run_jobs()
    rt.clock.advance(3650 * DAY)
    assert rt.engine.tick().get("purged") == 0
    assert participant_of(rt, flow, people[0]).status == "completed"
