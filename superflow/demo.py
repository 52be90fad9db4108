"""``superflow demo``: embedded Redis, a seeded local CRM, example flows, workers
and the web app, in one command; Ctrl-C stops them all."""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import click

from superflow import flows
from superflow import users
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.processes import SUPERFLOW
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime

EXAMPLES = ("welcome-series.json", "webinar-follow-up.json", "re-engagement.json")


def example_flows() -> list[str]:
    """The example flow documents (``examples/``, installed as ``superflow.examples``)."""
    package = resources.files("superflow.examples")
    return [(package / name).read_text() for name in EXAMPLES]


def prepare(rt: Runtime, persons: int) -> dict[str, Any]:
    """Seed an empty CRM and import and start the example flows once."""
    from superflow.plugins.local_crm.seed import seed_demo

    summary: dict[str, Any] = {}
    if rt.crm.count_persons() == 0:
        summary = seed_demo(rt.crm, persons=persons)
    if not users.list_users(rt.redis):
        password = os.environ.get("SUPERFLOW_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        users.create(rt.redis, "admin", password, "flow_admin")
        summary["login"] = ("admin", password)
    if not rt.store.flow_ids():
        for text in example_flows():
            flow = flows.create(rt, text, by="demo")
            flows.start(rt, flow.id)
    return summary


class Traffic(threading.Thread):
    """Adds a person to the newsletter now and then, as marketers' forms would."""

    def __init__(self, rt: Runtime, every: float = 4.0) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.rt = rt
        self.every = every
        self.stopping = threading.Event()
        self.rng = random.Random(42)
        crm = rt.crm
        self.newsletter = crm.list_selections()[0]["id"]
        members = set(crm.selection_members(self.newsletter))
        self.candidates = [str(i) for i in range(1, crm.count_persons() + 1) if str(i) not in members]
        self.rng.shuffle(self.candidates)

    def plan(self) -> str:
        """What the demo's traffic will do, in a line for the start-up banner."""
        if not self.candidates:
            return (
                "  every demo person is in the newsletter already, so no one joins: add one with "
                "'superflow crm person add --set email=...' and 'superflow crm add-to-selection', "
                "or start afresh with an empty SUPERFLOW_DATA_DIR"
            )
        return (
            f"  a person joins the newsletter every few seconds ({len(self.candidates)} to go); "
            "watch 'Welcome series' move"
        )

    def run(self) -> None:
        if not self.candidates:
            return
        crm = self.rt.crm
        first, rest = self.candidates[:12], self.candidates[12:]
        crm.add_to_selection(self.newsletter, first)
        for person_id in rest:
            if self.stopping.wait(self.every):
                return
            crm.add_to_selection(self.newsletter, [person_id])
        if not self.stopping.wait(self.every):
            click.echo("  every demo person has joined the newsletter now; no more are added")


def wait_for_web(web: subprocess.Popen[bytes], host: str, port: int, seconds: float = 60) -> None:
    """Wait until ``superflow web`` (gunicorn) answers, so the address printed next
    works at once; a web that exits first stops the demo with its exit code."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise click.ClickException(f"the web app exited with code {web.returncode} at start")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise click.ClickException(f"the web app did not listen on {host}:{port} within {seconds:.0f} s")


def run_demo(config: Config, host: str, port: int, persons: int, workers: int) -> None:
    data = Path(config.data_dir).absolute()
    redis_server = EmbeddedRedis(data)
    url = config.redis_url or redis_server.start()
    config = replace(config, redis_url=url, data_dir=data, base_url=f"http://{host}:{port}")
    env = dict(os.environ, REDIS_URL=url, SUPERFLOW_DATA_DIR=str(data), SUPERFLOW_BASE_URL=config.base_url)
    children = []
    traffic = None
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rt = Runtime(config)
    try:
        summary = prepare(rt, persons)
        command = list(SUPERFLOW)
        for n in range(workers):
            children.append(spawn([*command, "worker", "--name", f"demo-{os.getpid()}-{n}"], env=env))
        web = spawn([*command, "web", "--host", host, "--port", str(port)], env=env)
        children.append(web)
        wait_for_web(web, host, port)
        traffic = Traffic(rt)
        traffic.start()
        click.echo(f"superflow demo running at {config.base_url}/")
        if "login" in summary:
            click.echo(f"  sign in as {summary['login'][0]} with password {summary['login'][1]}")
        if "persons" in summary:
            click.echo(f"  demo CRM: {summary['persons']} persons in {data / 'crm.sqlite'}")
        click.echo(f"  Redis: embedded, {url}")
        click.echo(traffic.plan())
        click.echo(
            f"  JSON API: {config.base_url}/api/v1/docs (key: superflow apikeys create NAME --role admin)"
        )
        click.echo("  press Ctrl-C to stop")
        while not stopping.wait(0.5):
            dead = [c for c in children if c.poll() is not None]
            if dead:
                click.echo(f"error: a demo process exited with code {dead[0].returncode}; stopping", err=True)
                break
    finally:
        if traffic is not None:
            traffic.stopping.set()
        for child in children:
            stop(child)
        rt.close()
        redis_server.stop()
        click.echo("superflow demo stopped")
