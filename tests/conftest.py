"""Fixtures of superflow's own tests (the ``sf_`` ones come from superflow.testing)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from api_client import Api
from api_client import fields_of

from superflow.config import Config
from superflow.processes import SUPERFLOW
from superflow.runtime import Runtime


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
def sf(sf_config: Config, sf_runtime: Runtime) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``superflow ...`` in a subprocess on the test's Redis and data folder."""
    env = dict(
        os.environ,
        REDIS_URL=sf_config.redis_url,
        SUPERFLOW_DATA_DIR=str(sf_config.data_dir),
        SUPERFLOW_SECRET_KEY="test-secret",
    )

    def run(
        *args: str, ok: bool = True, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
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


@pytest.fixture
def api(sf_runtime: Runtime, sf_live_server: str) -> Api:
    """The REST API of ``sf_live_server`` with an admin key."""
    return Api(sf_live_server, sf_runtime)


@pytest.fixture
def error_fields() -> Callable[[Any], list[str]]:
    """``error_fields(response)``: the fields its errors name, checking the shape."""
    return fields_of


@pytest.fixture
def serve() -> Any:
    """``serve(runtime)`` serves the web app on that runtime over real HTTP for the
    test (several may run at once); gives its base URL."""
    from contextlib import ExitStack

    from superflow.testing import LiveServer
    from superflow.webapp import create_app

    with ExitStack() as servers:
        yield lambda rt: servers.enter_context(LiveServer(create_app(runtime=rt)))
