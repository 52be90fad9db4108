"""The web app over real HTTP: the flows list, a flow's page, health."""

from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server

from conftest import email_step, flow_doc, started
from superflow.events import Event
from superflow.webapp import create_app


@pytest.fixture
def base_url(sf_runtime):
    server = make_server("127.0.0.1", 0, create_app(runtime=sf_runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_flows_list_and_flow_page_show_status_and_counts(sf_runtime, run_jobs, people, base_url):
    flow = started(
        sf_runtime,
        flow_doc(
            [email_step("hello"), {"id": "w", "type": "wait", "settings": {"amount": 1}}],
            name="Spring campaign",
        ),
    )
    sf_runtime.emit([Event("api.event", pid, {"name": "signed_up"}) for pid in people[:3]])
    run_jobs()

    home = requests.get(base_url + "/", timeout=5)
    assert home.status_code == 200
    assert "Spring campaign" in home.text and "status-running" in home.text and "API event" in home.text
    assert home.headers["X-Content-Type-Options"] == "nosniff"

    page = requests.get(f"{base_url}/flows/{flow.id}", timeout=5).text
    assert "enrolled</span><b>3</b>" in page
    assert "Step 1 &#39;Send email&#39;" in page
    assert "email to ada@example.com" in page


def test_unknown_flow_is_404(base_url):
    assert requests.get(base_url + "/flows/999", timeout=5).status_code == 404


def test_health_reports_redis_and_queue(base_url):
    body = requests.get(base_url + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["redis"] == "ok" and body["queued_jobs"] == 0
