"""``GET /metrics``: what Prometheus sees, read from Redis at every scrape, counted
in the transactions of the work it counts, and who may scrape it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from superflow import flows
from superflow import heartbeat
from superflow import keys
from superflow import metrics
from superflow import outages
from superflow.components import StepResult
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.events import Event
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime
from superflow.store import Changes
from superflow.store import MessageLedger
from superflow.testing import until
from superflow.webapp import create_app

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "examples" / "prometheus" / "alerts.yml"


def samples_of(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client, **kwargs) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return samples_of(response.get_data(as_text=True))


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def client(sf_runtime: Runtime):
    return create_app(runtime=sf_runtime).test_client()


def one_email_flow(rt: Runtime, event_name: str = "signed_up"):
    doc = {
        "format_version": 1,
        "name": "Welcome",
        "trigger": {"type": "api_event", "settings": {"name": event_name}},
        "steps": [
            {
                "id": "hello",
                "type": "send_email",
                "settings": {
                    "from_address": "news@superflow.test",
                    "subject": "Hello {{person.first_name}}",
                    "html": "<p>Hi {{person.first_name}}</p>",
                },
            }
        ],
    }
    return flows.start(rt, flows.create(rt, doc).id)


def person(rt: Runtime, first: str) -> str:
    p = rt.crm.create_person(first_name=first, email=f"{first.lower()}@example.com")
    rt.crm.set_consent(p["id"], "emarketing", True)
    return p["id"]


# -- the format ----------------------------------------------------------------
def test_a_scrape_is_prometheus_text_naming_every_metric_and_openmetrics_when_asked(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "superflow_queue_jobs",
        "superflow_queue_oldest_job_age_seconds",
        "superflow_events",
        "superflow_events_handled",
        "superflow_step_executions",
        "superflow_event_to_step_seconds",
        "superflow_messages_sent",
        "superflow_messages_failed",
        "superflow_messages_in_doubt",
        "superflow_participants_in_flight",
        "superflow_participants_stuck",
        "superflow_channel_down",
        "superflow_workers",
        "superflow_inbox_items",
    } <= names

    open_metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert open_metrics.content_type.startswith("application/openmetrics-text")
    parsed = {f.name for f in openmetrics_families(open_metrics.get_data(as_text=True))}
    assert "superflow_events" in parsed and "superflow_event_to_step_seconds" in parsed


def test_an_empty_installation_shows_zeros_for_the_series_alerts_divide_by(client):
    samples = scrape(client)
    for channel in ("email", "sms"):
        assert value(samples, "superflow_messages_sent_total", channel=channel) == 0
        assert value(samples, "superflow_messages_failed_total", channel=channel, kind="temporary") == 0
        assert value(samples, "superflow_messages_in_doubt_total", channel=channel, decision="resent") == 0
        assert value(samples, "superflow_channel_down", channel=channel) == 0
    assert value(samples, "superflow_events_total") == 0
    assert value(samples, "superflow_event_to_step_seconds_count") == 0
    assert value(samples, "superflow_workers") == 0


# -- counters and the histogram, written in the caller's transaction ---------------
def test_step_executions_and_messages_by_channel_count_once_the_rounds_transaction_runs(
    client, sf_runtime: Runtime
):
    tally = metrics.Tally()
    for _ in range(3):
        tally.step("send_email", StepResult.advance("sent", counters={"email.sent": 1}))
    tally.step("send_email", StepResult.retry(60, "451 greylisted", counters={"email.failed": 1}))
    tally.step("send_email", StepResult.exit("550 no such user", counters={"email.bounced": 1}))
    tally.step("send_sms", StepResult.exit("sms refused", counters={"sms.failed": 1}))
    tally.step("send_sms", StepResult.advance("sent", counters={"sms.sent": 1, "sms.segments": 2}))
    tally.step("notify_by_email", StepResult.advance("notified", counters={"notify.email.sent": 1}))
    tally.step("wait", StepResult.wait(time.time() + 60))
    tally.events_handled(4)

    # The engine's commit: a MULTI/EXEC on the connection RQ uses.
    pipe = sf_runtime.rq_redis.pipeline()
    pipe.multi()
    metrics.count_events(pipe, 4)
    tally.write(pipe)
    before = scrape(client)
    assert value(before, "superflow_events_total") == 0, "nothing counts before EXEC"
    pipe.execute()

    samples = scrape(client)
    assert value(samples, "superflow_events_total") == 4
    assert value(samples, "superflow_events_handled_total") == 4
    executions = "superflow_step_executions_total"
    assert value(samples, executions, step_type="send_email", result="advance") == 3
    assert value(samples, executions, step_type="send_email", result="retry") == 1
    assert value(samples, executions, step_type="send_email", result="exit") == 1
    assert value(samples, executions, step_type="wait", result="wait") == 1
    assert value(samples, "superflow_messages_sent_total", channel="email") == 4
    assert value(samples, "superflow_messages_sent_total", channel="sms") == 1
    assert value(samples, "superflow_messages_failed_total", channel="email", kind="temporary") == 1
    assert value(samples, "superflow_messages_failed_total", channel="email", kind="permanent") == 1
    assert value(samples, "superflow_messages_failed_total", channel="sms", kind="permanent") == 1


def test_a_round_whose_transaction_is_dropped_counts_nothing(client, sf_runtime: Runtime):
    tally = metrics.Tally()
    tally.step("send_email", StepResult.advance("sent", counters={"email.sent": 1}))
    pipe = sf_runtime.rq_redis.pipeline()
    pipe.multi()
    tally.write(pipe)
    pipe.reset()  # LeaseLost: the round writes nothing
    assert value(scrape(client), "superflow_messages_sent_total", channel="email") == 0


def test_event_to_step_latency_is_a_histogram_with_fixed_buckets(client, sf_runtime: Runtime):
    first, second = metrics.Tally(), metrics.Tally()
    for seconds in (0.01, 0.3, 0.7):
        first.event_to_step(seconds)
    for seconds in (2.0, 400.0):
        second.event_to_step(seconds)
    # Two workers' rounds add up in Redis.
    for tally in (first, second):
        pipe = sf_runtime.rq_redis.pipeline()
        tally.write(pipe)
        pipe.execute()

    samples = scrape(client)
    bucket = "superflow_event_to_step_seconds_bucket"
    assert value(samples, bucket, le="0.05") == 1
    assert value(samples, bucket, le="0.25") == 1
    assert value(samples, bucket, le="0.5") == 2
    assert value(samples, bucket, le="1.0") == 3
    assert value(samples, bucket, le="2.5") == 4
    assert value(samples, bucket, le="300.0") == 4
    assert value(samples, bucket, le="+Inf") == 5
    assert value(samples, "superflow_event_to_step_seconds_count") == 5
    assert value(samples, "superflow_event_to_step_seconds_sum") == pytest.approx(403.01)


# -- gauges computed at the scrape -------------------------------------------------
def test_queue_depth_and_the_oldest_jobs_age_while_no_worker_runs(client, sf_runtime: Runtime):
    for _ in range(3):
        sf_runtime.queue.enqueue("os.getpid")
    sf_runtime.emit([Event("api.event", "1", {"name": "signed_up"}) for _ in range(5)])
    time.sleep(0.3)
    samples = scrape(client)
    assert value(samples, "superflow_queue_jobs", queue="superflow") >= 3
    assert value(samples, "superflow_queue_oldest_job_age_seconds", queue="superflow") >= 0.3
    assert value(samples, "superflow_inbox_items", inbox="events") == 5

    sf_runtime.queue.empty()
    samples = scrape(client)
    assert value(samples, "superflow_queue_jobs", queue="superflow") == 0
    assert value(samples, "superflow_queue_oldest_job_age_seconds", queue="superflow") == 0


def test_the_oldest_events_wait_counts_from_when_it_was_emitted(client, sf_runtime: Runtime):
    from superflow import inbox

    event = dict(Event("api.event", "1", {"name": "signed_up"}).to_dict(), emitted_at=time.time() - 42)
    inbox.put(sf_runtime.redis, inbox.EVENTS, [metrics.json.dumps(event)])
    assert value(scrape(client), "superflow_inbox_oldest_event_age_seconds") >= 42


def test_a_channel_marked_down_shows_1_with_the_participants_waiting_for_it(client, sf_runtime: Runtime):
    pipe = sf_runtime.redis.pipeline()
    outages.record(pipe, "email", ["1.1", "1.2"], "connection refused")
    pipe.execute()
    samples = scrape(client)
    assert value(samples, "superflow_channel_down", channel="email") == 1
    assert value(samples, "superflow_channel_down", channel="sms") == 0
    assert value(samples, "superflow_channel_waiting_participants", channel="email") == 2
    assert value(samples, "superflow_channel_down_seconds", channel="email") >= 0

    outages.ended(sf_runtime.redis, "email", lambda pipe, pids: None)
    samples = scrape(client)
    assert value(samples, "superflow_channel_down", channel="email") == 0
    assert value(samples, "superflow_channel_waiting_participants", channel="email") == 0


def test_participants_in_flight_and_stuck(client, sf_runtime: Runtime):
    changes = Changes()
    for pid in ("1.1", "1.2", "1.3"):
        changes.in_flight(pid, True)
    pipe = sf_runtime.redis.pipeline()
    changes.commit(pipe, lambda pids, pipe: None)
    pipe.execute()
    # One was handed to a job that died long ago.
    long_ago = time.time() - sf_runtime.config.stuck_after_seconds - 60
    sf_runtime.redis.zadd(keys.INFLIGHT, {"1.3": long_ago})
    samples = scrape(client)
    assert value(samples, "superflow_participants_in_flight") == 3
    assert value(samples, "superflow_participants_stuck") == 1


def test_due_wakeups_the_tick_has_not_taken_yet(client, sf_runtime: Runtime):
    changes = Changes()
    now = sf_runtime.clock.now()
    changes.wake_at("1.1", now - 120)
    changes.wake_at("1.2", now + 3600)
    pipe = sf_runtime.redis.pipeline()
    changes.commit(pipe, lambda pids, pipe: None)
    pipe.execute()
    samples = scrape(client)
    assert value(samples, "superflow_participants_waiting") == 2
    assert value(samples, "superflow_wakeups_due") == 1
    assert value(samples, "superflow_wakeups_oldest_due_age_seconds") >= 120


def test_live_workers_are_counted_by_their_heartbeats(client, sf_runtime: Runtime):
    alive, killed = heartbeat.Heartbeat(sf_runtime.redis, 5), heartbeat.Heartbeat(sf_runtime.redis, 5)
    alive.beat()
    killed.beat()
    assert value(scrape(client), "superflow_workers") == 2
    killed.retire()
    assert value(scrape(client), "superflow_workers") == 1
    alive.stop()
    assert value(scrape(client), "superflow_workers") == 0


def test_a_real_worker_shows_up_and_works_the_queue_scraped_over_http(
    sf_runtime: Runtime, sf_live_server: str
):
    config = sf_runtime.config
    env = dict(
        os.environ,
        REDIS_URL=sf_runtime.redis_url,
        SUPERFLOW_DATA_DIR=str(Path(config.data_dir).absolute()),
        SUPERFLOW_SECRET_KEY=config.secret_key,
        SUPERFLOW_TICK_SECONDS="0.2",
    )

    def http_scrape():
        response = requests.get(f"{sf_live_server}/metrics", timeout=10)
        assert response.status_code == 200
        return samples_of(response.text)

    for _ in range(3):
        sf_runtime.queue.enqueue("os.getpid")
    assert value(http_scrape(), "superflow_queue_jobs", queue="superflow") == 3
    assert value(http_scrape(), "superflow_workers") == 0
    worker = spawn([*SUPERFLOW, "worker"], env=env)
    try:
        assert until(lambda: value(http_scrape(), "superflow_workers") == 1, timeout=60)
        assert until(lambda: value(http_scrape(), "superflow_queue_jobs", queue="superflow") == 0, timeout=60)
    finally:
        stop(worker)
    assert until(lambda: value(http_scrape(), "superflow_workers") == 0, timeout=60), (
        "a clean stop leaves no heartbeat"
    )


# -- in doubt (channels.deliver counts it) ---------------------------------------
def test_an_email_in_doubt_after_a_killed_attempt_is_counted_as_resent(
    sf_plugin, sf_run_jobs, sf_smtp_server
):
    inbox, port = sf_smtp_server
    rt = sf_plugin(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port)
    bo = person(rt, "Bo")
    flow = one_email_flow(rt)
    # A worker claimed Bo's email in the ledger and died before recording it.
    assert MessageLedger(rt.redis).claim(f"{flow.id}.1:hello") == ("new", "")
    rt.emit([Event("api.event", bo, {"name": "signed_up"})])
    sf_run_jobs(rt)
    assert inbox.to() == ["bo@example.com"]
    samples = scrape(create_app(runtime=rt).test_client())
    assert value(samples, "superflow_messages_in_doubt_total", channel="email", decision="resent") == 1
    assert value(samples, "superflow_messages_in_doubt_total", channel="sms", decision="resent") == 0


# -- who may scrape ----------------------------------------------------------------
def test_with_a_token_configured_a_scrape_without_it_gets_401(sf_plugin):
    rt = sf_plugin(metrics_token="scrape-me-7f3a")
    client = create_app(runtime=rt).test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "SUPERFLOW_METRICS_TOKEN" in missing.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic scrape-me-7f3a"}).status_code == 401
    # From anywhere, through a proxy or not, with the token: no admin session needed.
    ok = client.get(
        "/metrics",
        headers={"Authorization": "Bearer scrape-me-7f3a", "X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert ok.status_code == 200 and "superflow_queue_jobs" in ok.get_data(as_text=True)


def test_without_a_token_only_this_machine_may_scrape(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403 and "SUPERFLOW_METRICS_TOKEN" in remote.get_data(as_text=True)
    # A proxy on this machine passing on someone else's request.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403


def test_a_scrape_while_redis_is_away_answers_503(tmp_path: Path):
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    rt = Runtime(Config(data_dir=tmp_path / "data", redis_url=url, secret_key="x"))
    try:
        client = create_app(runtime=rt).test_client()
        assert client.get("/metrics").status_code == 200
        server.stop()
        response = client.get("/metrics")
        assert response.status_code == 503
        assert "Redis" in response.get_data(as_text=True)
    finally:
        rt.embedded = None
        rt.close()
        server.stop()


# -- the documented alert set --------------------------------------------------------
def test_the_alert_rules_parse_and_use_only_metrics_a_scrape_shows(client):
    yaml = pytest.importorskip("yaml")
    rules = yaml.safe_load(ALERTS.read_text())
    [group] = rules["groups"]
    assert group["name"] == "superflow"
    exposed = {name for name, _ in scrape(client)}
    names = set()
    for rule in group["rules"]:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        assert "for" not in rule or re.fullmatch(r"\d+[smh]", rule["for"])
        for used in re.findall(r"\bsuperflow_[a-z_]+", rule["expr"]):
            assert used in exposed, f"{rule['alert']} uses {used}, which no scrape shows"
            names.add(used)
    assert len(group["rules"]) >= 8 and len(names) >= 8


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_rules_and_a_scrape(client):
    checked = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    scraped = client.get("/metrics").get_data(as_text=True)
    linted = subprocess.run(["promtool", "check", "metrics"], input=scraped, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_every_metric_is_documented_for_operators(client):
    text = (ROOT / "docs" / "operators.md").read_text()
    start = text.index("\n## Metrics\n")
    section = text[start : text.index("\n## ", start + 1)]
    families = {f.name for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    for name in families:
        documented = name + "_total" if f"{name}_total" in section else name
        assert f"`{documented}" in section, f"{name} is not in docs/operators.md's Metrics section"


# -- needs the engine's calls (see superflow/metrics.py's Tally) -------------------
def test_events_through_a_flow_count_events_steps_sends_and_their_latency(client, sf_runtime, sf_run_jobs):
    flow = one_email_flow(sf_runtime)
    persons = [person(sf_runtime, name) for name in ("Ada", "Bo", "Cy")]
    sf_run_jobs(sf_runtime)  # the CRM's own events about the new persons
    before = scrape(client)
    sf_runtime.emit([Event("api.event", p, {"name": "signed_up"}) for p in persons])
    sf_run_jobs(sf_runtime)
    assert sf_runtime.store.stats(flow.id)["completed"] == 3
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - before.get((name, frozenset(labels.items())), 0)

    assert grew("superflow_events_total") == 3
    assert grew("superflow_events_handled_total") == 3
    assert grew("superflow_step_executions_total", step_type="send_email", result="advance") == 3
    assert grew("superflow_messages_sent_total", channel="email") == 3
    assert grew("superflow_event_to_step_seconds_count") == 3
