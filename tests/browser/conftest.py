"""Browser tests: Playwright (sync API) in Debian's headless Chromium against the
real admin — ``superflow web`` and ``superflow worker`` as child processes on the
test Redis, a data folder with a seeded local CRM, and three users.

- ``admin_site`` (module): the running site; ``.url``, ``.runtime``, ``.env``,
  ``.logs`` (the children's output) and ``.users`` (``{username: (password, role)}``);
- ``browser`` (session): the Chromium; ``context`` and ``page`` are fresh per test;
- ``signed_in(who)``: a new Page signed in through the real login form, ``who``
  being a username (``admin``, ``editor``, ``viewer``) or a role
  (``flow_admin``, ``content_editor``, ``viewer``);
- ``screenshot(page, name)``: a full-page PNG in ``build/screenshots/<name>.png``.

``tests/browser/__init__.py`` exists so this file is imported as
``browser.conftest`` and does not shadow ``tests/conftest.py``, which other test
modules import as ``conftest``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from superflow import users
from superflow.config import Config
from superflow.processes import SUPERFLOW, free_port, spawn, stop, wait_for_port
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


def _with_db(url: str, db: int) -> str:
    """``url`` on database ``db`` (for ``redis://host:port/0`` and ``unix:///path``)."""
    if url.startswith("unix://"):
        return f"{url.split('?', 1)[0]}?db={db}"
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


def _child_env(config: Config, pythonpath: list[Path] | None = None) -> dict[str, str]:
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


def _wait_until(
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


def _port_open(port: int) -> bool:
    try:
        wait_for_port(port, seconds=0)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def site_pythonpath() -> list[Path]:
    """Folders put in front of the children's ``PYTHONPATH``: a test module overrides
    this fixture to install plugins (a folder with a package and its ``*.dist-info``)."""
    return []


@pytest.fixture(scope="module")
def admin_site(
    tmp_path_factory: pytest.TempPathFactory, sf_redis_server: str, site_pythonpath: list[Path]
) -> Iterator[AdminSite]:
    """``superflow web`` and one ``superflow worker`` on a free port, a seeded local
    CRM and the users of ``USERS``; one per test module."""
    from rq import Worker

    from superflow.plugins.local_crm.seed import seed_demo

    data = tmp_path_factory.mktemp("browser-site") / "data"
    port = free_port()
    config = Config(
        data_dir=data,
        redis_url=_with_db(sf_redis_server, REDIS_DB),
        secret_key=SECRET_KEY,
        controllable_clock=True,
        base_url=f"http://127.0.0.1:{port}",
    )
    env = _child_env(config, site_pythonpath)
    logs = data / "logs"
    runtime = Runtime(config)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        runtime.redis.flushdb()
        seed_demo(runtime.crm, persons=PERSONS)
        for name, (password, role) in USERS.items():
            users.create(runtime.redis, name, password, role)
        logs.mkdir(parents=True)
        for name, args in (
            ("web", ["web", "--host", "127.0.0.1", "--port", str(port)]),
            ("worker", ["worker", "--name", f"browser-{os.getpid()}-{port}"]),
        ):
            with open(logs / f"{name}.log", "wb") as out:
                processes[name] = spawn([*SUPERFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_until(lambda: _port_open(port), "the web app's port", processes, logs)
        _wait_until(lambda: Worker.count(connection=runtime.rq_redis) > 0, "the worker", processes, logs)
        yield AdminSite(url=config.base_url, runtime=runtime, env=env, logs=logs)
    finally:
        for process in processes.values():
            stop(process)
        runtime.redis.flushdb()
        runtime.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed browser test shows the end of the web app's and worker's output."""
    report: pytest.TestReport = yield
    site = getattr(item, "funcargs", {}).get("admin_site")
    if report.failed and isinstance(site, AdminSite):
        for log in sorted(site.logs.glob("*.log")):
            report.sections.append((f"superflow {log.stem} (last lines)", log.read_text()[-3000:]))
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (Playwright's own browser download is not used)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: run `sudo apt-get install chromium` "
            "(Debian's package; .ci/run installs it)",
            pytrace=False,
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _new_context(browser: Browser, site: AdminSite) -> BrowserContext:
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser: Browser, admin_site: AdminSite) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose relative URLs go to ``admin_site``."""
    context = _new_context(browser, admin_site)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def signed_in(browser: Browser, admin_site: AdminSite) -> Iterator[Callable[[str], Page]]:
    """``signed_in("admin")`` or ``signed_in("flow_admin")``: a Page in a context of
    its own, signed in through the login form and showing the flows list."""
    contexts: list[BrowserContext] = []

    def sign_in(who: str) -> Page:
        by_role = {role: name for name, (_, role) in admin_site.users.items()}
        username = who if who in admin_site.users else by_role.get(who, "")
        if not username:
            raise ValueError(f"no test user or role {who!r}; known: {sorted(admin_site.users)}")
        context = _new_context(browser, admin_site)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill("[name=username]", username)
        page.fill("[name=password]", admin_site.users[username][0])
        with page.expect_navigation():
            page.press("[name=password]", "Enter")
        if not page.url.startswith(admin_site.url + "/") or "/login" in page.url:
            raise AssertionError(f"signing in as {username} ended at {page.url}")
        return page

    yield sign_in
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``screenshot(page, "login")`` saves ``build/screenshots/login.png`` (full page)."""
    folder = request.config.rootpath / "build" / "screenshots"

    def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    """Poll ``check`` until it returns something true (and return that): for what the
    worker does in its own process."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.1)
    return found
