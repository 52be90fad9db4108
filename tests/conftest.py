"""Shared helpers for superflow's own tests (fixtures come from superflow.testing)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from superflow import flows, users
from superflow.events import Event
from superflow.flow import Flow
from superflow.processes import SUPERFLOW
from superflow.runtime import Runtime
from superflow.store import Participant
from superflow.webapp import create_app


def email_step(step_id: str, subject: str = "Hello {{person.first_name}}", **settings: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "from_name": "Superflow News",
            "subject": subject,
            "html": "<p>Hi {{person.first_name}}, welcome from {{company.name}}.</p>",
            **settings,
        },
    }


def flow_doc(
    steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "format_version": 1,
        "name": extra.pop("name", "Test flow"),
        "trigger": trigger or {"type": "api_event", "settings": {"name": "signed_up"}},
        "steps": steps,
        **extra,
    }


def signed_up(rt: Runtime, *person_ids: str, name: str = "signed_up") -> None:
    """What a sign-up form would send: an API event per person."""
    rt.emit([Event("api.event", pid, {"name": name}) for pid in person_ids])


def participant_of(rt: Runtime, flow: Flow, person_id: str) -> Participant | None:
    """The person's latest participation in the flow, if any."""
    pid = rt.redis.hget(f"sf:person:{person_id}", flow.id)
    return rt.store.participant(pid) if pid else None


def started(rt: Runtime, doc: dict[str, Any]) -> Flow:
    flow = flows.create(rt, doc)
    return flows.start(rt, flow.id)


@pytest.fixture
def crm(sf_runtime: Runtime) -> Any:
    return sf_runtime.crm


@pytest.fixture
def people(crm: Any) -> list[str]:
    """Five persons with email, mobile and consent, in one company."""
    company = crm.create_company(name="Fjord Analytics AS", category="Customer")
    ids = []
    for i, first in enumerate(["Ada", "Bjørn", "Cecilie", "Dag", "Eva"]):
        person = crm.create_person(
            first_name=first,
            last_name="Test",
            email=f"{first.lower()}@example.com",
            mobile=f"+479000000{i}",
            company_id=company["id"],
        )
        crm.set_consent(person["id"], "emarketing", True)
        ids.append(person["id"])
    return ids


@pytest.fixture
def base_url(sf_runtime: Runtime) -> Iterator[str]:
    """The web app on ``sf_runtime``, served over real HTTP on a free port."""
    server = make_server("127.0.0.1", 0, create_app(runtime=sf_runtime), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def sf(sf_config, sf_runtime):
    """Run ``superflow ...`` in a subprocess on the test's Redis and data folder."""
    env = dict(
        os.environ,
        REDIS_URL=sf_config.redis_url,
        SUPERFLOW_DATA_DIR=str(sf_config.data_dir),
        SUPERFLOW_SECRET_KEY="test-secret",
    )

    def run(*args, ok=True, extra_env=None):
        result = subprocess.run(
            [*SUPERFLOW, *args],
            env=dict(env, **(extra_env or {})),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if ok and result.returncode != 0:
            raise AssertionError(f"superflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    return run


class AdminSession(requests.Session):
    """A signed-in browser session that sends the CSRF token as the designer does."""

    def __init__(self, rt, base_url: str, role: str) -> None:
        super().__init__()
        self.base = base_url
        users.create(rt.redis, f"{role}-user", "correct horse battery", role)
        page = self.get(base_url + "/login", timeout=5).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = {"username": f"{role}-user", "password": "correct horse battery", "csrf_token": token}
        home = self.post(base_url + "/login", data=form, timeout=5)
        assert home.status_code == 200
        self.headers["X-CSRF-Token"] = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)

    def call(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is None and "files" not in kwargs:
            return self.get(self.base + path, timeout=10, **kwargs)
        return self.post(self.base + path, json=body, timeout=10, **kwargs)
