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

What the test modules import (``AdminSite``, ``wait_for`` ...) is in ``browser.site``;
``tests/browser/__init__.py`` makes this folder the package ``browser``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import sync_playwright

from browser.site import CHROMIUM
from browser.site import CHROMIUM_ARGS
from browser.site import PERSONS
from browser.site import REDIS_DB
from browser.site import SECRET_KEY
from browser.site import USERS
from browser.site import AdminSite
from browser.site import child_env
from browser.site import fill_sign_in
from browser.site import new_context
from browser.site import port_open
from browser.site import wait_until
from browser.site import with_db
from superflow import users
from superflow.config import Config
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.runtime import Runtime


@pytest.fixture(scope="module")
def site_pythonpath() -> list[Path]:
    """Folders put in front of the children's ``PYTHONPATH``: a test module overrides
    this fixture to install plugins (a folder with a package and its ``*.dist-info``)."""
    return []


@pytest.fixture(scope="module")
def site_settings() -> dict[str, str]:
    """``SUPERFLOW_*`` variables the children get on top of the defaults: a test module
    overrides this fixture for a site that sends through SMTP, or has a sender address."""
    return {}


@pytest.fixture(scope="module")
def admin_site(
    tmp_path_factory: pytest.TempPathFactory,
    sf_redis_server: str,
    site_pythonpath: list[Path],
    site_settings: dict[str, str],
) -> Iterator[AdminSite]:
    """``superflow web`` and one ``superflow worker`` on a free port, a seeded local
    CRM and the users of ``USERS``; one per test module."""
    from rq import Worker

    from superflow.plugins.local_crm.seed import seed_demo

    data = tmp_path_factory.mktemp("browser-site") / "data"
    port = free_port()
    config = Config(
        data_dir=data,
        redis_url=with_db(sf_redis_server, REDIS_DB),
        secret_key=SECRET_KEY,
        controllable_clock=True,
        base_url=f"http://127.0.0.1:{port}",
    )
    env = {**child_env(config, site_pythonpath), **site_settings}
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
        wait_until(lambda: port_open(port), "the web app's port", processes, logs)
        wait_until(lambda: Worker.count(connection=runtime.rq_redis) > 0, "the worker", processes, logs)
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


@pytest.fixture
def context(browser: Browser, admin_site: AdminSite) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose relative URLs go to ``admin_site``."""
    context = new_context(browser, admin_site)
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
        context = new_context(browser, admin_site)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        fill_sign_in(page, username, admin_site.users[username][0])
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
