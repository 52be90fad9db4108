"""``superflow web`` as operators run it: gunicorn with several worker processes, on
the embedded Redis its master starts.  A sign-in made on one set of workers holds
on workers forked after it (one secret key, sessions in Redis), secrets stay out of
gunicorn's access log, a chunked body over the limit gets 413, gunicorn's own limits
answer 414/431, SIGTERM stops master, workers and Redis, and behind a proxy
``SUPERFLOW_PROXY_FIX`` lets the sign-in throttle tell clients apart."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sample_forms import NEWSLETTER

from superflow import forms
from superflow import users
from superflow.config import Config
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.processes import wait_for_port
from superflow.runtime import Runtime
from superflow.testing import csrf_token
from superflow.testing import until
from superflow.webserver import build_app

SMS_SECRET = "sms-hook-secret-in-the-query"
PASSWORD = "web-server-password-1"


@dataclass
class Web:
    process: subprocess.Popen[bytes]
    url: str
    data: Path
    log: Path
    runtime: Runtime

    def children(self) -> list[int]:
        """The master's child processes: gunicorn's workers and the embedded Redis."""
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def workers(self) -> list[int]:
        return [p for p in self.children() if "superflow.cli" in command_of(p)]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    return bool(command_of(pid)) and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def start_web(data: Path, *options: str) -> Web:
    """``superflow web`` with no ``REDIS_URL``: its master starts the embedded Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERFLOW_") and k != "REDIS_URL"}
    env.update(
        SUPERFLOW_DATA_DIR=str(data),
        SUPERFLOW_SMS_PROVIDER="outbox",
        SUPERFLOW_SMS_GATEWAY_WEBHOOK_SECRET=SMS_SECRET,
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    log = data.parent / f"web-{port}.log"
    data.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = spawn(
            [*SUPERFLOW, "web", "--port", str(port), *options], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, seconds=60)
        url = f"http://127.0.0.1:{port}"
        assert until(lambda: _answers(url), 60), log.read_text()
        runtime = Runtime(Config(data_dir=data, redis_url=f"unix://{data.absolute()}/redis/redis.sock"))
    except BaseException:
        stop(process)
        raise
    return Web(process, url, data, log, runtime)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    site = start_web(tmp_path_factory.mktemp("web-server") / "data", "--workers", "3", "--threads", "2")
    users.create(site.runtime.redis, "admin", PASSWORD, "flow_admin")
    forms.create(site.runtime.redis, NEWSLETTER)
    try:
        yield site
    finally:
        site.runtime.close()
        stop(site.process)


def fresh_connection_get(session: requests.Session, url: str) -> requests.Response:
    """A GET on a new connection, so that any worker may take it."""
    return session.get(url, headers={"Connection": "close"}, timeout=10, allow_redirects=False)


def test_it_answers_through_gunicorn_with_the_workers_asked_for(web):
    answer = requests.get(web.url + "/login", timeout=10)
    assert answer.status_code == 200 and "Sign in" in answer.text
    assert answer.headers["Server"] == "gunicorn"
    assert len(web.workers()) == 3, web.output()
    redis_servers = [p for p in web.children() if "redis-server" in command_of(p)]
    assert len(redis_servers) == 1, "the master starts the embedded Redis, once"
    assert "(gunicorn, 3 workers x 2 threads)" in web.output()


def test_a_sign_in_and_its_csrf_token_hold_on_workers_forked_after_it(web):
    browser = requests.Session()
    token = csrf_token(fresh_connection_get(browser, web.url + "/login").text)
    signed_in = browser.post(
        web.url + "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        headers={"Connection": "close"},
        timeout=10,
        allow_redirects=False,
    )
    assert signed_in.status_code == 302, signed_in.text
    page = fresh_connection_get(browser, web.url + "/")
    assert page.status_code == 200 and "Sign out" in page.text
    token = csrf_token(page.text)

    # SIGHUP: gunicorn forks new workers and retires the old ones — none of the
    # processes that answer from now on saw the sign-in.
    old = set(web.workers())
    web.process.send_signal(signal.SIGHUP)
    assert until(lambda: not old & set(web.workers()) and len(web.workers()) == 3), web.output()

    for _ in range(6):
        page = fresh_connection_get(browser, web.url + "/")
        assert page.status_code == 200 and "Sign out" in page.text
    refused = browser.post(
        web.url + "/logout", data={"csrf_token": "x" * len(token)}, timeout=10, allow_redirects=False
    )
    assert refused.status_code == 400 and "did not come from this site" in refused.text
    out = browser.post(web.url + "/logout", data={"csrf_token": token}, timeout=10, allow_redirects=False)
    assert out.status_code == 302
    assert fresh_connection_get(browser, web.url + "/").status_code == 302, "signed out everywhere"


def test_the_sms_gateway_secret_stays_out_of_gunicorns_access_log(web):
    answer = requests.post(
        f"{web.url}/hooks/sms-gateway/receipts?secret={SMS_SECRET}&x=1",
        json={"status": "queued"},
        headers={"Referer": f"https://example.test/page?token={SMS_SECRET}"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert until(lambda: "/hooks/sms-gateway/receipts" in web.output(), 10)
    logged = [line for line in web.output().splitlines() if "/hooks/sms-gateway/receipts" in line]
    assert logged and "secret=[redacted]&x=1" in logged[0], logged
    assert "token=[redacted]" in logged[0], logged
    assert SMS_SECRET not in web.output()


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON body sent chunked (no Content-Length), ``total`` bytes long."""
    yield b'{"email": "'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"}'


def test_a_chunked_body_over_the_limit_gets_413_through_gunicorn(web):
    headers = {"Content-Type": "application/json"}
    form = requests.post(
        web.url + "/forms/newsletter", data=chunks(3 * 1024 * 1024), headers=headers, timeout=30
    )
    hook = requests.post(
        web.url + "/hooks/superoffice", data=chunks(3 * 1024 * 1024), headers=headers, timeout=30
    )
    assert form.status_code == 413 and "1.0 MB" in form.json()["errors"][0]["message"]
    assert hook.status_code == 413
    assert web.runtime.queue.count == 0
    assert web.runtime.crm.count_persons() == 0, "nothing of the body was taken"


def test_gunicorns_own_limits_answer_414_and_431(web):
    too_long = requests.get(web.url + "/login?q=" + "a" * 9000, timeout=10)
    assert too_long.status_code == 414
    many = {f"X-Header-{i}": "x" for i in range(120)}
    assert requests.get(web.url + "/login", headers=many, timeout=10).status_code == 431
    assert requests.get(web.url + "/login", timeout=10).status_code == 200, "the worker is still there"


def test_sigterm_stops_the_master_its_workers_and_the_embedded_redis(tmp_path):
    site = start_web(tmp_path / "data", "--workers", "2", "--threads", "1")
    try:
        children = site.children()
        assert len(children) == 3, site.output()
        site.process.send_signal(signal.SIGTERM)
        assert site.process.wait(timeout=60) == 0, site.output()
        assert until(lambda: not any(alive(p) for p in children), 10), [command_of(p) for p in children]
        assert "Shutting down: Master" in site.output()
        assert not (tmp_path / "data" / "redis" / "redis.sock").exists() or not _redis_answers(site)
    finally:
        site.runtime.close()
        stop(site.process)


def _redis_answers(site: Web) -> bool:
    try:
        return bool(site.runtime.redis.ping())
    except Exception:
        return False


def failed_sign_in(client, username: str, address: str) -> int:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/login",
        data={"username": username, "password": "wrong-password", "csrf_token": token},
        headers={"X-Forwarded-For": address},
    )
    return answer.status_code


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_the_sign_in_throttle_counts_each_client_with_proxy_fix(sf_config, proxies):
    app = build_app(replace(sf_config, proxy_fix=proxies, signin_ip_limit=2))
    client = app.test_client()
    try:
        assert [failed_sign_in(client, f"user{i}", "203.0.113.7") for i in range(3)] == [401, 401, 429]
        other_client = failed_sign_in(client, "user9", "198.51.100.2")
    finally:
        app.extensions["superflow"].close()
    if proxies:
        assert other_client == 401, "another client behind the proxy is not throttled"
    else:
        assert other_client == 429, "without SUPERFLOW_PROXY_FIX no forwarded address is believed"
