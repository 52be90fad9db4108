"""The API keys screen over real HTTP: a key made there is shown once and works
against /api/v1, the list shows only its first characters, revoking it makes the
API refuse it, and only flow administrators reach the screen."""

from __future__ import annotations

import re

import requests

from superflow import apikeys
from superflow.testing import csrf_token

SECRET = re.compile(r'id="new-key-secret" value="(sf_[A-Za-z0-9_-]+)"')


def make_key(admin, name="Website", role="viewer"):
    page = admin.get(admin.base + "/api-keys", timeout=10)
    return admin.post(
        admin.base + "/api-keys",
        data={"name": name, "role": role, "csrf_token": csrf_token(page.text)},
        timeout=10,
    )


def api_flows(base, secret):
    return requests.get(base + "/api/v1/flows", headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def test_a_key_is_shown_once_works_and_stops_working_when_revoked(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    made = make_key(admin)
    assert made.status_code == 201
    assert "it will not be shown again" in made.text
    assert made.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(made.text).group(1)
    assert api_flows(admin.base, secret).status_code == 200

    listing = admin.get(admin.base + "/api-keys", timeout=10).text
    assert secret not in listing and "new-key-secret" not in listing
    row = listing.split('data-key="Website"')[1].split("</tr>")[0]
    assert f"<code>{secret[:7]}…</code>" in row and "Read only" in row

    [key] = apikeys.list_keys(sf_runtime.redis)
    confirm = admin.get(f"{admin.base}/api-keys/{key.id}/revoke", timeout=10)
    assert "Revoke the key “Website”?" in confirm.text
    revoked = admin.post(
        f"{admin.base}/api-keys/{key.id}/revoke", data={"csrf_token": csrf_token(confirm.text)}, timeout=10
    )
    assert "The key &#39;Website&#39; was revoked" in revoked.text
    assert api_flows(admin.base, secret).status_code == 401
    assert apikeys.list_keys(sf_runtime.redis) == []


def test_a_key_without_a_name_or_with_a_taken_name_is_refused_in_words(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    refused = make_key(admin, name="  ")
    assert refused.status_code == 400 and "Give the key a name (who or what uses it)." in refused.text
    assert make_key(admin, name="Website").status_code == 201
    taken = make_key(admin, name="Website")
    assert taken.status_code == 400 and "A key named &#39;Website&#39; exists" in taken.text
    assert not SECRET.search(taken.text)
    assert [k.name for k in apikeys.list_keys(sf_runtime.redis)] == ["Website"]


def test_only_flow_administrators_reach_the_screen(sf_runtime, sf_signed_in):
    secret, key = apikeys.create(sf_runtime.redis, "Reports", "viewer")
    for role in ("content_editor", "viewer"):
        other = sf_signed_in(role, over_http=True)
        assert other.get(other.base + "/api-keys", timeout=10).status_code == 403
        token = other.headers["X-CSRF-Token"]
        made = other.post(
            other.base + "/api-keys", data={"name": "Mine", "role": "admin", "csrf_token": token}
        )
        assert made.status_code == 403
        gone = other.post(f"{other.base}/api-keys/{key.id}/revoke", data={"csrf_token": token}, timeout=10)
        assert gone.status_code == 403
        assert "API keys" not in other.get(other.base + "/", timeout=10).text.split("</nav>")[0]
    assert [k.name for k in apikeys.list_keys(sf_runtime.redis)] == ["Reports"]
    assert api_flows(other.base, secret).status_code == 200
