"""The roster: pages of a flow's participants by status and step, from indexes the
engine keeps as participants move (enrol, steps, waits, removal, moves, end), and
their rebuilding from the participants themselves."""

from __future__ import annotations

import os
import subprocess

import pytest

from superflow import keys
from superflow import participation
from superflow import roster
from superflow.keys import participant_seq
from superflow.processes import SUPERFLOW
from superflow.store import Changes
from superflow.store import Participant
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import signed_up
from superflow.testing import started

DAY = 86400
STEPS = [
    {"id": "w1", "type": "wait", "settings": {"amount": 1, "unit": "days"}},
    email_step("mail"),
    {"id": "w2", "type": "wait", "settings": {"amount": 2, "unit": "days"}},
]


@pytest.fixture
def flow(sf_runtime, sf_run_jobs, crm, people):
    """STEPS running with all five people signed up and the queue worked empty; the
    first of them gave no email consent."""
    crm.set_consent(people[0], "emarketing", False)
    flow = started(sf_runtime, flow_doc(STEPS))
    signed_up(sf_runtime, *people)
    sf_run_jobs()
    return flow


def rows(rt, flow_id, **filters):
    """The participant ids a page shows, loaded as a screen would load them."""
    found = roster.page(rt.redis, flow_id, limit=500, **filters)
    loaded = rt.store.participants(found.ids)
    return [pid for pid in found.ids if pid in loaded]


def test_participants_leave_one_index_for_the_next_as_they_move(sf_runtime, sf_run_jobs, people, flow):
    rt = sf_runtime
    pid = {person: participant_of(rt, flow, person).id for person in people}
    newest_first = [pid[p] for p in reversed(people)]
    assert rows(rt, flow.id, step="w1") == newest_first
    assert rows(rt, flow.id, status="active") == newest_first
    assert roster.counts(rt.redis, flow.id) == {
        "status": {"active": 5, "completed": 0, "succeeded": 0, "exited": 0, "cancelled": 0},
        "step": {"w1": 5},
    }

    participation.remove(rt, pid[people[4]], "removed by a test")
    participation.move_to_step(rt, pid[people[3]], "w2")
    sf_run_jobs()
    assert rows(rt, flow.id, status="cancelled") == [pid[people[4]]]
    assert rows(rt, flow.id, step="w2") == [pid[people[3]]]
    assert rows(rt, flow.id, step="w1") == [pid[people[2]], pid[people[1]], pid[people[0]]]

    rt.clock.advance(DAY + 1)
    sf_run_jobs()
    assert rows(rt, flow.id, status="exited") == [pid[people[0]]]
    assert rows(rt, flow.id, step="w1") == []
    assert rows(rt, flow.id, step="mail") == []
    assert rows(rt, flow.id, step="w2", sort="enrolled", descending=False) == [
        pid[people[1]],
        pid[people[2]],
        pid[people[3]],
    ]
    assert rows(rt, flow.id, status="exited", step="w2") == []

    rt.clock.advance(2 * DAY + 1)
    sf_run_jobs()
    assert rows(rt, flow.id, status="completed") == [pid[people[3]], pid[people[2]], pid[people[1]]]
    assert rows(rt, flow.id, status="active") == []
    assert roster.counts(rt.redis, flow.id) == {
        "status": {"active": 0, "completed": 3, "succeeded": 0, "exited": 1, "cancelled": 1},
        "step": {},
    }


def test_ending_a_flow_moves_its_active_participants_to_cancelled(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    flow = started(rt, flow_doc(STEPS))
    signed_up(rt, *people[:3])
    sf_run_jobs()
    assert rt.engine.end(flow.id) == 3
    sf_run_jobs()
    page = roster.page(rt.redis, flow.id, status="cancelled")
    assert page.total == 3 and sorted(page.ids) == sorted(f"{flow.id}.{n}" for n in (1, 2, 3))
    assert rows(rt, flow.id, step="w1") == []
    assert roster.counts(rt.redis, flow.id)["status"]["active"] == 0


def test_ending_a_flow_whose_participants_predate_the_indexes_still_cancels_them_all(
    sf_runtime, sf_run_jobs, people
):
    rt = sf_runtime
    flow = started(rt, flow_doc(STEPS))
    signed_up(rt, *people[:3])
    sf_run_jobs()
    rt.redis.delete(*rt.redis.keys(keys.flow_index(flow.id, "*")))  # as data written before indexes existed
    assert rt.engine.end(flow.id) == 3
    assert {p.status for p in rt.store.participants(f"{flow.id}.{n}" for n in (1, 2, 3)).values()} == {
        "cancelled"
    }


def test_restarting_a_participation_exits_the_old_one(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    flow = started(rt, flow_doc(STEPS[:1], reenrollment="restart"))
    signed_up(rt, people[0])
    sf_run_jobs()
    signed_up(rt, people[0])
    sf_run_jobs()
    assert rows(rt, flow.id, status="exited") == [f"{flow.id}.1"]
    assert rows(rt, flow.id, status="active") == [f"{flow.id}.2"]


STATES = [
    ("active", "a"),
    ("completed", None),
    ("active", "c"),
    ("exited", "b"),
    ("active", "b"),
    ("cancelled", "a"),
    ("succeeded", "c"),
    ("active", "a"),
    ("active", "zz"),
]


def store_flow(rt, flow_id: str, n: int) -> list[tuple[str, str, str | None]]:
    """``n`` participants stored through :class:`Changes` as the engine stores them,
    their states cycling through ``STATES``; returns ``(pid, status, step)``."""
    made = []
    changes = Changes()
    for i in range(1, n + 1):
        status, step = STATES[i % len(STATES)]
        p = Participant(f"{flow_id}.{i}", flow_id, str(i), 1, status, step, 1000.0 + i, 1000.0 + i)
        changes.save(p, p.enrolled)
        made.append((p.id, status, step))
    pipe = rt.redis.pipeline()
    pipe.multi()
    changes.commit(pipe, lambda pids, pipe: None)
    pipe.execute()
    rt.redis.set(participant_seq(flow_id), n)
    return made


def walk(rt, flow_id: str, size: int, **filters) -> tuple[list[str], int]:
    """Every id, page by page, following ``next_offset``."""
    seen: list[str] = []
    offset: int | None = 0
    total = -1
    while offset is not None:
        page = roster.page(rt.redis, flow_id, offset=offset, limit=size, **filters)
        assert len(page.ids) == min(size, page.total - offset)
        seen += page.ids
        total, offset = page.total, page.next_offset
    return seen, total


STATUS_RANK = {s: i for i, s in enumerate(roster.STATUSES)}


def number(pid: str) -> int:
    return int(pid.split(".")[1])


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 4, 7, 50])
def test_pages_by_status_and_step_have_no_gaps_or_duplicates(sf_runtime, descending, size):
    made = store_flow(sf_runtime, "7", 40)
    by_status = [pid for pid, _, _ in sorted(made, key=lambda m: (STATUS_RANK[m[1]], number(m[0])))]
    step_rank = {"c": 0, "a": 1, "b": 2, "zz": 3}  # "b" and "zz" are not listed: they follow, by id
    by_step = [
        pid
        for pid, _, _ in sorted(
            made,
            key=lambda m: (
                (0, step_rank[m[2]]) if m[1] == "active" else (1, STATUS_RANK[m[1]]),
                number(m[0]),
            ),
        )
    ]
    active = [pid for pid, status, _ in made if status == "active"]
    expected = {"status": by_status, "step": by_step, "active": active}
    if descending:
        expected = {k: v[::-1] for k, v in expected.items()}

    assert walk(sf_runtime, "7", size, sort="status", descending=descending) == (expected["status"], 40)
    assert walk(sf_runtime, "7", size, sort="step", steps=["c", "a"], descending=descending) == (
        expected["step"],
        40,
    )
    for sort in roster.SORTS:
        got = walk(sf_runtime, "7", size, status="active", sort=sort, steps=["c", "a"], descending=descending)
        if sort == "step":
            assert got == ([pid for pid in expected["step"] if pid in active], len(active))
        else:
            assert got == (expected["active"], len(active))
    everyone = [pid for pid, _, _ in made]
    assert walk(sf_runtime, "7", size, descending=descending)[0] == (
        everyone[::-1] if descending else everyone
    )


def test_a_page_deep_in_the_active_participants_starts_at_the_right_one(sf_runtime):
    made = store_flow(sf_runtime, "8", 900)
    active = [pid for pid, status, _ in made if status == "active"]
    page = roster.page(sf_runtime.redis, "8", status="active", offset=333, limit=5)
    assert page.ids == active[::-1][333:338] and page.total == len(active)
    page = roster.page(
        sf_runtime.redis, "8", sort="status", descending=False, offset=len(active) - 2, limit=4
    )
    completed = [pid for pid, status, _ in made if status == "completed"]
    assert page.ids == active[-2:] + completed[:2]
    assert roster.page(sf_runtime.redis, "8", status="active", offset=len(active)).ids == []


def test_a_commit_moves_a_loaded_participant_out_of_its_old_index(sf_runtime):
    rt = sf_runtime
    store_flow(rt, "9", 9)
    moved, ended = rt.store.participant("9.2"), rt.store.participant("9.4")
    assert (moved.status, moved.step, ended.status, ended.step) == ("active", "c", "active", "b")
    moved.step = "b"
    ended.status = "cancelled"
    changes = Changes()
    changes.save(moved, 2000.0)
    changes.save(ended, 2000.0)
    pipe = rt.redis.pipeline()
    pipe.multi()
    changes.commit(pipe, lambda pids, pipe: None)
    pipe.execute()
    assert rows(rt, "9", step="c") == []
    assert rows(rt, "9", step="b") == ["9.2"]
    assert rows(rt, "9", status="cancelled") == ["9.5", "9.4"]
    assert "9.4" not in rows(rt, "9", status="active")


def test_reindex_rebuilds_lost_indexes_and_drops_stale_entries(sf_runtime, sf_run_jobs, people, flow):
    rt = sf_runtime
    participation.remove(rt, participant_of(rt, flow, people[4]).id)
    rt.clock.advance(DAY + 1)
    sf_run_jobs()
    before = {sort: rows(rt, flow.id, sort=sort, steps=["w1", "mail", "w2"]) for sort in roster.SORTS}
    counts = roster.counts(rt.redis, flow.id)
    assert len(before["status"]) == 5

    rt.redis.delete(*rt.redis.keys(keys.flow_index(flow.id, "*")))
    rt.redis.zadd(keys.step_index(flow.id, "w1"), {f"{flow.id}.2": 2})  # stale: it is at w2
    assert rows(rt, flow.id, sort="status") == [] and rows(rt, flow.id, step="w1") == [f"{flow.id}.2"]

    assert roster.reindex(rt.redis, flow.id, chunk=2) == 5
    assert {sort: rows(rt, flow.id, sort=sort, steps=["w1", "mail", "w2"]) for sort in roster.SORTS} == before
    assert roster.counts(rt.redis, flow.id) == counts
    assert rows(rt, flow.id, step="w1") == []
    assert roster.reindex(rt.redis, flow.id) == 5


def test_cli_reindexes_a_flow_and_still_lists_it(sf_runtime, sf_config, sf_run_jobs, people):
    rt = sf_runtime
    flow = started(rt, flow_doc(STEPS))
    signed_up(rt, *people[:2])
    sf_run_jobs()
    rt.redis.delete(*rt.redis.keys(keys.flow_index(flow.id, "*")))
    env = dict(
        os.environ,
        REDIS_URL=sf_config.redis_url,
        SUPERFLOW_DATA_DIR=str(sf_config.data_dir),
        SUPERFLOW_SECRET_KEY="test-secret",
    )

    def sf(*args: str) -> str:
        done = subprocess.run([*SUPERFLOW, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"flow {flow.id}: 2 participants indexed" in sf("participants", "reindex", flow.id)
    listed = sf("participants", "--status", "active", flow.id).splitlines()[1:]
    assert [line.split()[0] for line in listed] == [f"{flow.id}.2", f"{flow.id}.1"]
