"""The admin site the browser tests drive: its users and settings, the children's
environment, and waiting for what its processes do."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page

from superflow.config import Config
from superflow.processes import wait_for_port
from superflow.runtime import Runtime

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
SECRET_KEY = "browser-test-secret"
REDIS_DB = 9  # not the db the other tests flush and fill
PERSONS = 40
TIMEOUT_MS = 10_000
USERS = {
    "admin": ("admin-password-1", "flow_admin"),
    "editor": ("editor-password-1", "content_editor"),
    "viewer": ("viewer-password-1", "viewer"),
}


@dataclass
class AdminSite:
    """The running admin: its URL, a runtime on the same Redis and data folder (to
    create flows and send events), and the environment its processes got."""

    url: str
    runtime: Runtime
    env: dict[str, str]
    logs: Path
    """``web.log`` and ``worker.log``: the children's output, for a failing test."""
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(USERS))


def with_db(url: str, db: int) -> str:
    """``url`` on database ``db`` (for ``redis://host:port/0`` and ``unix:///path``)."""
    if url.startswith("unix://"):
        return f"{url.split('?', 1)[0]}?db={db}"
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


def child_env(config: Config, pythonpath: list[Path] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERFLOW_") and k != "REDIS_URL"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    env.update(
        REDIS_URL=config.redis_url,
        SUPERFLOW_DATA_DIR=str(config.data_dir),
        SUPERFLOW_SECRET_KEY=config.secret_key,
        SUPERFLOW_BASE_URL=config.base_url,
        SUPERFLOW_CRM="local",
        SUPERFLOW_EMAIL_TRANSPORT="outbox",
        SUPERFLOW_SMS_PROVIDER="outbox",
        SUPERFLOW_CONTROLLABLE_CLOCK="1",
        SUPERFLOW_TICK_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_until(
    ready: Callable[[], bool],
    what: str,
    processes: dict[str, subprocess.Popen[bytes]],
    logs: Path,
    seconds: float = 20,
) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        dead = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
        if dead or time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted(logs.glob("*.log"))
            )
            reason = f"exited: {dead}" if dead else f"not ready after {seconds}s"
            raise RuntimeError(f"admin site: waiting for {what}, {reason}\n{tails}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    try:
        wait_for_port(port, seconds=0)
    except OSError:
        return False
    return True


def new_context(browser: Browser, site: AdminSite) -> BrowserContext:
    """A fresh browser profile (no cookies) whose relative URLs go to ``site``."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def fill_sign_in(page: Page, username: str, password: str) -> None:
    """Fill in the sign-in form ``page`` shows and send it, as a person would (Enter)."""
    page.fill("[name=username]", username)
    page.fill("[name=password]", password)
    with page.expect_navigation():
        page.press("[name=password]", "Enter")


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    """Poll ``check`` until it returns something true (and return that): for what the
    worker does in its own process."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.1)
    return found
