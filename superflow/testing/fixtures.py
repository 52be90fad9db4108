"""The ``sf_`` fixtures that superflow.testing, superflow's pytest plugin, provides (listed in its docstring).

Loaded into every pytest session where superflow is installed, so it imports only
pytest at import time; superflow's runtime, Flask, aiosmtpd and requests load when a
fixture that needs them runs.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from superflow.config import Config
    from superflow.runtime import Runtime
    from superflow.testing.smtp import Inbox


@pytest.fixture(scope="session")
def sf_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from superflow.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def sf_config(tmp_path: Path, sf_redis_server: str) -> Config:
    from superflow.config import Config

    return Config(
        data_dir=tmp_path / "data",
        redis_url=sf_redis_server,
        secret_key="test-secret",
        controllable_clock=True,
        base_url="http://superflow.test",
        batch_size=100,
    )


def _runtime(config: Config, extra: tuple[Any, ...] = ()) -> Runtime:
    """A runtime on an emptied Redis, made the current one."""
    from superflow.registry import load_registry
    from superflow.runtime import Runtime
    from superflow.runtime import set_current

    runtime = Runtime(config, registry=load_registry(config.plugins, extra=extra))
    runtime.redis.flushall()
    set_current(runtime)
    return runtime


@pytest.fixture
def sf_runtime(sf_config: Config) -> Iterator[Runtime]:
    from superflow.runtime import set_current

    runtime = _runtime(sf_config)
    yield runtime
    set_current(None)
    runtime.close()


@pytest.fixture
def sf_plugin(sf_config: Config) -> Iterator[Callable[..., Runtime]]:
    from superflow.runtime import set_current

    made: list[Runtime] = []

    def register(*plugins: Any, **config_changes: Any) -> Runtime:
        runtime = _runtime(replace(sf_config, **config_changes), extra=plugins)
        made.append(runtime)
        return runtime

    yield register
    set_current(None)
    for runtime in made:
        runtime.close()


@pytest.fixture
def sf_run_jobs(sf_runtime: Runtime) -> Callable[..., int]:
    from superflow.testing.jobs import drain

    def run(runtime: Runtime | None = None) -> int:
        return drain(runtime or sf_runtime)

    return run


@pytest.fixture
def sf_smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    from superflow.processes import free_port
    from superflow.testing.smtp import Inbox

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def sf_app(sf_runtime: Runtime) -> Flask:
    from superflow.webapp import create_app

    return create_app(runtime=sf_runtime)


@pytest.fixture
def sf_client(sf_app: Flask) -> FlaskClient:
    return sf_app.test_client()


@pytest.fixture
def sf_live_server(sf_app: Flask) -> Iterator[str]:
    """``sf_app`` over real HTTP on a free port; its base URL (``http://127.0.0.1:<port>``)."""
    from superflow.testing.live import LiveServer

    with LiveServer(sf_app) as url:
        yield url


@pytest.fixture
def sf_signed_in(sf_runtime: Runtime, sf_app: Flask, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``sf_signed_in(role)``: a new user ``<role>-user`` and a test client signed in as it
    through the sign-in form; with ``over_http=True`` a ``SignedInSession`` on
    ``sf_live_server`` (started then, if the test did not ask for it)."""
    from superflow import users
    from superflow.testing.signing_in import PASSWORD
    from superflow.testing.signing_in import SignedInSession
    from superflow.testing.signing_in import sign_in

    def signed_in(role: str = "flow_admin", *, over_http: bool = False) -> Any:
        if over_http:
            return SignedInSession(sf_runtime, request.getfixturevalue("sf_live_server"), role)
        users.create(sf_runtime.redis, f"{role}-user", PASSWORD, role)
        client = sf_app.test_client()
        sign_in(client, f"{role}-user")
        return client

    return signed_in
