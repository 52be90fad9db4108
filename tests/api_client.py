"""A live web app on a real port and API keys for the ``test_api_*`` modules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from superflow import apikeys
from superflow.runtime import Runtime
from superflow.webapp import create_app


class Api:
    """``requests`` against ``/api/v1`` with a key (admin unless told)."""

    def __init__(self, base: str, rt: Runtime) -> None:
        self.base = base
        self.rt = rt
        self.http = requests.Session()
        self.key = self.make_key("admin")

    def make_key(self, role: str, name: str = "", **limits: Any) -> str:
        secret, _ = apikeys.create(
            self.rt.redis, name or f"test-{role}-{len(apikeys.list_keys(self.rt.redis))}", role, **limits
        )
        return secret

    def __call__(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key != "":
            headers.setdefault("Authorization", f"Bearer {key or self.key}")
        return self.http.request(method, self.base + "/api/v1" + path, headers=headers, timeout=10, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = self(method, path, **kwargs)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


@pytest.fixture
def api(sf_runtime: Runtime) -> Iterator[Api]:
    server = make_server("127.0.0.1", 0, create_app(runtime=sf_runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Api(f"http://127.0.0.1:{server.server_port}", sf_runtime)
    server.shutdown()


@pytest.fixture
def error_fields() -> Any:
    """``error_fields(response)``: the fields its errors name, checking the shape."""
    return fields_of


def fields_of(response: requests.Response) -> list[str]:
    body = response.json()
    assert set(body) == {"errors"} and body["errors"], body
    for item in body["errors"]:
        assert item["field"] and item["message"], body
    return [item["field"] for item in body["errors"]]
