"""schemathesis against the live API's own OpenAPI document: for every operation,
valid and invalid requests (bounded in examples and time) must never get a 5xx, and
every 4xx must say which field or cause is at fault in the one error shape."""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from superflow.testing import email_step
from superflow.testing import flow_doc

EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
BUDGET_SECONDS = 90


def fresh_flow(api, people, sf_run_jobs) -> str:
    """A running flow with one participant waiting at its second step."""
    wait = {"id": "w", "type": "wait", "settings": {"amount": 1}}
    flow = api.ok("POST", "/flows", 201, json=flow_doc([email_step("hello"), wait]))
    api.ok("POST", f"/flows/{flow['id']}/start")
    api.ok("POST", "/events", 202, json={"type": "signed_up", "person_id": people[0]})
    sf_run_jobs()
    return flow["id"]


def test_no_5xx_and_every_4xx_names_its_field(api, people, sf_run_jobs):
    key = api.make_key("admin", name="schemathesis", limit=100_000, window=60)

    schema = schemathesis.openapi.from_url(api.base + "/api/v1/openapi.json")
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        fid = fresh_flow(api, people, sf_run_jobs)
        real = {"flow_id": fid, "participant_id": f"{fid}.1", "version": 1}
        for mode, examples in EXAMPLES.items():
            with contextlib.suppress(Unsatisfiable):
                exercise(api.base, key, operation, mode, examples, real, statuses, problems)
        if time.monotonic() - started > BUDGET_SECONDS:
            pytest.fail(f"schemathesis run over {BUDGET_SECONDS} s; reduce EXAMPLES")

    total = sum(statuses.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} requests, statuses {dict(statuses)}")
    assert not problems, "\n".join(problems[:20])
    assert sum(statuses.values()) > 200


def exercise(base, key, operation, mode, examples, real, statuses, problems):
    """Run ``examples`` generated requests of one operation; note 5xx and badly
    shaped 4xx.  Every other request with path parameters goes to objects that exist."""
    turn = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        turn["n"] += 1
        if case.path_parameters and turn["n"] % 2:
            case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        statuses[response.status_code] += 1
        label = f"{case.method} {case.formatted_path} ({mode.value}) -> {response.status_code}"
        if response.status_code >= 500:
            problems.append(f"{label}: {response.text[:300]}")
        elif response.status_code >= 400:
            body = response.json()
            errors = body.get("errors") if isinstance(body, dict) else None
            if not errors or not all(e.get("field") and e.get("message") for e in errors):
                problems.append(f"{label}: not the error shape: {response.text[:300]}")
        elif mode is GenerationMode.POSITIVE:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except AssertionError as exc:
                problems.append(f"{label}: answer does not match the document: {str(exc)[:300]}")

    run()
