"""The whole way over real HTTP with a real ``superflow worker`` process on the real
Redis: create a flow through the API, start it, post events, watch participants
advance, read the report."""

from __future__ import annotations

import os
import subprocess
import time

from superflow.processes import SUPERFLOW
from superflow.testing import email_step
from superflow.testing import flow_doc


def test_flow_created_started_and_driven_by_events_through_the_api(api, people, sf_config):
    env = dict(
        os.environ,
        REDIS_URL=sf_config.redis_url,
        SUPERFLOW_DATA_DIR=str(sf_config.data_dir),
        SUPERFLOW_SECRET_KEY="test-secret",
        SUPERFLOW_TICK_SECONDS="0.2",
    )
    worker = subprocess.Popen(
        [*SUPERFLOW, "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        doc = flow_doc(
            [
                email_step("hello"),
                {"id": "wait_webinar", "type": "wait", "settings": {"amount": 3, "unit": "days"}},
            ],
            name="Webinar follow-up",
            success={"criteria": [{"type": "api_event", "settings": {"name": "webinar.attended"}}]},
        )
        flow = api.ok("POST", "/flows", 201, json=doc)
        api.ok("POST", f"/flows/{flow['id']}/start")
        api.ok("POST", "/events", 202, json={"type": "signed_up", "person_id": people[0]})
        batch = [{"type": "signed_up", "email": f"{name}@example.com"} for name in ("dag", "eva")]
        api.ok("POST", "/events/batch", 202, json={"events": batch})

        def participants():
            return api.ok("GET", f"/flows/{flow['id']}/participants")["participants"]

        waiting = wait_for(lambda: [p for p in participants() if p["step"] == "wait_webinar"], 3)
        assert {p["person_id"] for p in waiting} == {people[0], people[3], people[4]}
        assert all(p["last_sending"]["step"] == "hello" for p in waiting)

        api.ok("POST", "/events", 202, json={"type": "webinar.attended", "email": "eva@example.com"})
        done = wait_for(lambda: [p for p in participants() if p["status"] == "succeeded"], 1)
        assert done[0]["person_id"] == people[4]

        report = api.ok("GET", f"/flows/{flow['id']}/report")
        assert report["totals"]["enrolled"] == 3 and report["totals"]["succeeded"] == 1
        assert report["steps"][0]["passed"] == 3 and report["steps"][1]["at"] == 2
        assert report["success_rate"] == 1 / 3
        assert worker.poll() is None, worker.stderr.read().decode()
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def wait_for(find, count, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {count}; have {find()}")
