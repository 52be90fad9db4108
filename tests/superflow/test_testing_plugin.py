"""superflow.testing as a pytest plugin: it costs other projects' sessions nothing
at import, names its fixtures ``sf_``, and signs in through the real form."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from superflow.testing import csrf_token

HEAVY = ("superflow.", "flask", "werkzeug", "rq", "redis", "aiosmtpd", "requests")
SUPERFLOW_FIXTURES = {
    "sf_app",
    "sf_client",
    "sf_config",
    "sf_live_server",
    "sf_plugin",
    "sf_redis_server",
    "sf_run_jobs",
    "sf_runtime",
    "sf_signed_in",
    "sf_smtp_server",
}


def loaded_by(module: str) -> list[str]:
    """What importing ``module`` in a fresh interpreter loads of superflow and its heavy dependencies."""
    code = f"import {module}, sys; print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out)


def test_importing_the_plugin_loads_nothing_of_the_runtime():
    assert loaded_by("superflow.testing") == ["superflow.testing", "superflow.testing.fixtures"]


def test_another_project_gets_only_sf_fixtures_from_superflow(tmp_path: Path):
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    section = listing.split("fixtures defined from superflow.testing.fixtures", 1)[1].split("\n---", 1)[0]
    names = {found.group(1) for line in section.splitlines() if (found := re.match(r"(\w+)", line))}
    assert names == SUPERFLOW_FIXTURES


def test_a_client_and_a_session_sign_in_through_the_form(sf_signed_in, sf_live_server):
    client = sf_signed_in("viewer")
    assert client.get("/").status_code == 200
    session = sf_signed_in("flow_admin", over_http=True)
    home = session.get(sf_live_server + "/", timeout=10)
    assert home.status_code == 200 and csrf_token(home.text) == session.headers["X-CSRF-Token"]
