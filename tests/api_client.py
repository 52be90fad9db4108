"""A ``requests`` client of the REST API (``/api/v1``) with API keys, for the ``api`` fixture."""

from __future__ import annotations

from typing import Any

import requests

from superflow import apikeys
from superflow.runtime import Runtime


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


def fields_of(response: requests.Response) -> list[str]:
    """The fields an error reply's errors name, checking the reply's shape."""
    body = response.json()
    assert set(body) == {"errors"} and body["errors"], body
    for item in body["errors"]:
        assert item["field"] and item["message"], body
    return [item["field"] for item in body["errors"]]
