"""API keys: roles, revocation, hashing, rate limits; the admin's session is no key."""

from __future__ import annotations

import os
import subprocess

import requests

from superflow import apikeys
from superflow import keys
from superflow.processes import SUPERFLOW
from superflow.testing import flow_doc


def test_no_key_or_unknown_key_is_401_in_the_error_shape(api, error_fields):
    for key in ("", "sf_not-a-real-key", "Basic abc"):
        r = (
            api("GET", "/flows", key=key)
            if key != "Basic abc"
            else api("GET", "/flows", key="", headers={"Authorization": key})
        )
        assert r.status_code == 401
        assert error_fields(r) == ["(auth)"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_admin_session_cookie_does_not_authorise_the_api(api):
    http = requests.Session()
    http.cookies.set("session", "anything-the-admin-would-set")
    r = http.get(api.base + "/api/v1/flows", timeout=5)
    assert r.status_code == 401


def test_roles_allow_what_they_say(api, people):
    viewer, editor, events = api.make_key("viewer"), api.make_key("editor"), api.make_key("events")
    doc = flow_doc([{"id": "w", "type": "wait", "settings": {"amount": 1}}])
    assert api("GET", "/flows", key=viewer).status_code == 200
    r = api("POST", "/flows", key=viewer, json=doc)
    assert r.status_code == 403 and "viewer role" in r.json()["errors"][0]["message"]
    created = api("POST", "/flows", key=editor, json=doc)
    assert created.status_code == 201
    flow_id = created.json()["id"]
    assert api("POST", f"/flows/{flow_id}/start", key=editor).status_code == 403
    assert api("POST", "/events", key=editor, json={"type": "x", "person_id": people[0]}).status_code == 403
    assert api("GET", "/flows", key=events).status_code == 403
    assert api("POST", "/events", key=events, json={"type": "x", "person_id": people[0]}).status_code == 202
    assert api("POST", f"/flows/{flow_id}/start").status_code == 200


def test_keys_are_stored_hashed_and_revocation_is_immediate(api, sf_runtime):
    secret = api.make_key("viewer", name="partner")
    assert secret.startswith("sf_")
    dump = " ".join(
        str(sf_runtime.redis.hgetall(k)) for k in [keys.APIKEYS, *sf_runtime.redis.keys(keys.apikey("*"))]
    )
    assert secret not in dump and apikeys.digest_of(secret) in dump
    assert api("GET", "/plugins", key=secret).status_code == 200
    apikeys.revoke(sf_runtime.redis, "partner")
    assert api("GET", "/plugins", key=secret).status_code == 401


def test_rate_limit_gives_429_with_retry_after(api, error_fields):
    key = api.make_key("viewer", limit=3, window=60)
    answers = [api("GET", "/plugins", key=key) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert error_fields(answers[3]) == ["(rate)"]
    assert api("GET", "/plugins").status_code == 200  # other keys are not affected


def test_api_keys_do_not_open_anything_outside_the_api(api):
    r = requests.get(api.base + "/api/v1/openapi.json", timeout=5)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
    docs = requests.get(api.base + "/api/v1/docs", timeout=5)
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text
    assert requests.get(api.base + "/nowhere", timeout=5).headers["Content-Type"].startswith("text/html")


def test_cli_creates_lists_and_revokes_keys(sf_config, sf_runtime):
    env = dict(os.environ, REDIS_URL=sf_config.redis_url, SUPERFLOW_DATA_DIR=str(sf_config.data_dir))

    def sf(*args):
        return subprocess.run(
            [*SUPERFLOW, "apikeys", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = sf("create", "website", "--role", "events", "--rate", "100/10")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("sf_") and "not shown again" in made.stderr
    assert apikeys.authenticate(sf_runtime.redis, secret).role == "events"
    listed = sf("list").stdout
    assert "website" in listed and "events" in listed and "100/10s" in listed and secret not in listed
    assert sf("create", "website").returncode == 1
    assert sf("revoke", "website").returncode == 0
    assert apikeys.authenticate(sf_runtime.redis, secret) is None
    assert "no API key" in sf("revoke", "website").stderr
