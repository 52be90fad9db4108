"""What a stranger may send: bodies over the size limit (with and without a length)
get 413 and go no further, the webhooks check size, signature, content type and
``EventId`` before they queue anything, deep JSON is a 400 naming the nesting on
every JSON path, a long upload name still uploads, and the SMS gateway's secret
stays out of the access log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sample_forms import NEWSLETTER

from superflow import apikeys
from superflow import forms
from superflow import keys
from superflow import users
from superflow.plugins.email import attachments_dir
from superflow.plugins.superoffice.webhooks import signature
from superflow.runtime import Runtime
from superflow.testing import PASSWORD
from superflow.testing import LiveServer
from superflow.testing import sign_in
from superflow.webapp import create_app

SECRET = "so-webhook-secret"
SMS_SECRET = "sms-hook-secret"
SETTINGS = {"superoffice_webhook_secret": SECRET, "sms_gateway_webhook_secret": SMS_SECRET}
DEEP = ("[" * 10_000 + "]" * 10_000).encode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def rt(sf_plugin) -> Runtime:
    runtime = sf_plugin(extra=dict(SETTINGS))
    forms.create(runtime.redis, NEWSLETTER)
    return runtime


@pytest.fixture
def client(rt):
    return create_app(runtime=rt).test_client()


def served(rt: Runtime) -> LiveServer:
    return LiveServer(create_app(runtime=rt))


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): a JSON string ``total`` bytes long."""
    yield b'{"email": "'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"}'


def signed(body: bytes, content_type: str = "application/json; charset=utf-8") -> dict[str, str]:
    return {"Content-Type": content_type, "X-SuperOffice-Signature": signature(SECRET, body)}


def webhook(**fields: Any) -> bytes:
    payload = {
        "EventId": "5d7e1a0c-2f4b-4c55-9a41-0b6c1c0e9a11",
        "Event": "contact.changed",
        "PrimaryKey": 18,
    }
    return json.dumps({**payload, **fields}).encode()


def nothing_queued(rt: Runtime) -> bool:
    return rt.queue.count == 0 and not rt.redis.keys(keys.plugin_namespace("superoffice") + ":event:*")


def message_of(response: Any) -> str:
    body = response.get_json()
    return body["error"] if "error" in body else body["errors"][0]["message"]


# -- sizes ---------------------------------------------------------------------------------
def test_a_body_over_the_limit_on_a_public_form_gets_413(client):
    body = json.dumps({"email": "a" * (2 * 1024 * 1024)})
    answer = client.post("/forms/newsletter", data=body, headers=JSON)
    assert answer.status_code == 413
    assert "1.0 MB" in message_of(answer)


def test_a_chunked_body_over_the_limit_gets_413_on_a_real_server(rt):
    with served(rt) as base:
        form = requests.post(
            base + "/forms/newsletter", data=chunks(3 * 1024 * 1024), headers=JSON, timeout=30
        )
        hook = requests.post(
            base + "/hooks/superoffice", data=chunks(3 * 1024 * 1024), headers=JSON, timeout=30
        )
    assert form.status_code == 413 and "1.0 MB" in form.json()["errors"][0]["message"]
    assert hook.status_code == 413, "the size is checked before the signature"
    assert nothing_queued(rt)


def test_an_unsigned_webhook_over_the_limit_gets_413_before_its_signature(client, rt):
    answer = client.post("/hooks/superoffice", data=webhook(Changes=["x" * (2 * 1024 * 1024)]), headers=JSON)
    assert answer.status_code == 413
    assert nothing_queued(rt)


def test_a_signed_30_mb_webhook_is_refused_and_nothing_is_queued(client, rt):
    body = webhook(Changes=["x" * (30 * 1024 * 1024)])
    answer = client.post("/hooks/superoffice", data=body, headers=signed(body))
    assert answer.status_code == 413
    assert nothing_queued(rt)


# -- the SuperOffice webhook's input -------------------------------------------------------
def test_a_webhook_that_is_not_json_gets_415(client, rt):
    body = webhook()
    answer = client.post("/hooks/superoffice", data=body, headers=signed(body, "text/plain"))
    assert answer.status_code == 415 and "application/json" in message_of(answer)
    assert nothing_queued(rt)


@pytest.mark.parametrize(
    "event_id",
    [12345, ["5d7e1a0c"], {"id": 1}, "a" * 65, "two words", "ü-1", ""],
    ids=["number", "list", "object", "too-long", "space", "non-ascii", "empty"],
)
def test_an_event_id_of_the_wrong_type_or_shape_gets_400(client, rt, event_id):
    body = webhook(EventId=event_id)
    answer = client.post("/hooks/superoffice", data=body, headers=signed(body))
    assert answer.status_code == 400 and "EventId" in message_of(answer)
    assert nothing_queued(rt)


@pytest.mark.parametrize(
    "fields",
    [{"Event": 7}, {"PrimaryKey": "eighteen"}, {"Changes": "name"}, {"FieldValues": [1]}],
    ids=["Event", "PrimaryKey", "Changes", "FieldValues"],
)
def test_other_webhook_fields_of_the_wrong_type_get_400_naming_them(client, rt, fields):
    body = webhook(**fields)
    answer = client.post("/hooks/superoffice", data=body, headers=signed(body))
    assert answer.status_code == 400 and next(iter(fields)) in message_of(answer)
    assert nothing_queued(rt)


@pytest.mark.parametrize(
    "given", ["ü" * 44, "not base64 at all!", "x" * 5000], ids=["non-ascii", "junk", "long"]
)
def test_a_non_ascii_or_malformed_signature_gets_400(client, rt, given):
    answer = client.post(
        "/hooks/superoffice", data=webhook(), headers={**JSON, "X-SuperOffice-Signature": given}
    )
    assert answer.status_code == 400 and "X-SuperOffice-Signature" in message_of(answer)
    assert nothing_queued(rt)


# -- nesting -------------------------------------------------------------------------------
def api_key(rt: Runtime) -> dict[str, str]:
    secret, _ = apikeys.create(rt.redis, "fuzz", "admin")
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events",
        "/api/v1/flows",
        "/forms/newsletter",
        "/hooks/sms-gateway/receipts",
        "/hooks/superoffice",
    ],
)
def test_deeply_nested_json_gets_400_naming_the_nesting(client, rt, path):
    headers = dict(JSON)
    if path.startswith("/api/"):
        headers.update(api_key(rt))
    if path.startswith("/hooks/sms"):
        headers["X-Webhook-Secret"] = SMS_SECRET
    if path == "/hooks/superoffice":
        headers = signed(DEEP)
    answer = client.post(path, data=DEEP, headers=headers)
    assert answer.status_code == 400
    assert "nested" in message_of(answer) and "32" in message_of(answer)
    if path.startswith("/api/"):
        assert answer.get_json()["errors"][0]["field"] == "(request)"


def test_json_just_over_the_depth_limit_gets_400_on_a_form(client):
    body = {"email": "ada@example.com", "extra": json.loads("[" * 32 + "]" * 32)}
    answer = client.post("/forms/newsletter", json=body)
    assert answer.status_code == 400 and "nested" in message_of(answer)


def test_json_with_too_many_values_gets_400_before_any_schema_sees_it(client, rt):
    answer = client.post("/api/v1/events/batch", json={"events": [{}] * 60_000}, headers=api_key(rt))
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == [
        {"field": "(request)", "message": "The JSON body has too many values: at most 50,000 are taken."}
    ]


@pytest.mark.parametrize("host", ["h" * 20_000, "a" * 64 + ".example", "ü.example", "bad host"])
def test_a_host_header_that_is_no_host_name_gets_400(client, host):
    page = client.get("/login", headers={"Host": host})
    api = client.get("/api/v1/flows", headers={"Host": host})
    assert page.status_code == 400 and "Host header" in page.text
    assert api.status_code == 400 and api.get_json()["errors"][0]["field"] == "Host"


def test_a_query_string_over_the_limit_gets_414(client):
    page = client.get("/login?" + "&".join(f"p{i}=1" for i in range(3000)))
    assert page.status_code == 414 and "8,192 characters" in page.text


# -- uploads -------------------------------------------------------------------------------
def signed_in(client: Any, rt: Runtime, role: str = "flow_admin") -> str:
    """Sign ``client`` in as a new user; the CSRF token its pages carry."""
    users.create(rt.redis, "uploader", PASSWORD, role)
    return sign_in(client, "uploader")


def test_a_300_character_upload_name_is_shortened_and_kept(client, rt):
    import io

    token = signed_in(client, rt)
    name = "q" * 296 + ".pdf"
    answer = client.post(
        "/email/attachments",
        data={"file": (io.BytesIO(b"%PDF-1.4 tiny"), name)},
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.text
    kept = answer.get_json()["path"]
    assert kept.endswith(".pdf") and len(kept.encode()) <= 255
    assert (attachments_dir(rt.config) / kept).read_bytes() == b"%PDF-1.4 tiny"


# -- the access log ------------------------------------------------------------------------
def test_the_sms_gateway_secret_in_the_query_stays_out_of_the_access_log(rt, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    with served(rt) as base:
        answer = requests.post(
            f"{base}/hooks/sms-gateway/receipts?secret={SMS_SECRET}&x=1",
            json={"status": "queued"},
            timeout=10,
        )
    assert answer.status_code == 200
    logged = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/hooks/sms-gateway/receipts" in line for line in logged), logged
    assert not any(SMS_SECRET in line for line in logged), logged
