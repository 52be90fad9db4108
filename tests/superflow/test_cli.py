"""The ``superflow`` command, run as a real process against a real Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import requests

from superflow import keys
from superflow.processes import SUPERFLOW
from superflow.testing import csrf_token


def test_validate_import_export_round_trip(sf, tmp_path):
    checked = sf("flows", "validate", "examples/welcome-series.json")
    assert "valid flow 'Welcome series' with 5 steps" in checked.stdout
    assert "ready to start" in checked.stdout
    flow_id = sf("flows", "import", "examples/welcome-series.json").stdout.strip()
    out = tmp_path / "exported.json"
    sf("flows", "export", flow_id, "-o", str(out))
    again = sf("flows", "import", str(out)).stdout.strip()
    assert json.loads(sf("flows", "export", again).stdout) == json.loads(out.read_text())


def test_bad_input_gets_a_one_line_error(sf, tmp_path, crm):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "steps": [{"id": "a", "type": "send_fax"}]')
    result = sf("flows", "validate", str(broken), ok=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: the flow is not valid:\n  (document): not valid JSON")
    assert "Traceback" not in result.stderr

    broken.write_text(json.dumps({"name": "x", "steps": [{"id": "a", "type": "send_fax"}]}))
    result = sf("flows", "import", str(broken), ok=False)
    assert "steps[0].type: unknown step type 'send_fax' (installed: " in result.stderr

    result = sf("events", "send", "api.event", "--person", "424242", ok=False)
    assert result.stderr.strip() == "Error: no person 424242 in the local CRM"

    result = sf("flows", "list", ok=False, extra_env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach Redis at redis://127.0.0.1:1/0:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_flow_that_is_not_ready_is_refused_with_the_list(sf, tmp_path):
    draft = tmp_path / "draft.json"
    draft.write_text(
        json.dumps({"name": "Draft", "steps": [{"id": "a", "type": "send_sms", "settings": {}}]})
    )
    flow_id = sf("flows", "import", str(draft)).stdout.strip()
    result = sf("flows", "start", flow_id, ok=False)
    assert result.stderr.splitlines() == [
        "error: the flow cannot start yet:",
        "  Trigger: choose what starts the flow",
        "  Step 1 'Send SMS': Sender is required",
        "  Step 1 'Send SMS': Text is required",
    ]


def test_run_enrol_and_watch_participants_through_a_worker(sf, crm, people):
    crm.define_field("score", "Score", "number")
    flow_id = sf("flows", "import", "--start", "examples/welcome-series.json").stdout.strip()
    assert "running" in sf("flows", "list").stdout
    sf("enroll", flow_id, "--person", people[0], "--person", people[1])
    sf("worker", "--burst")
    listing = sf("participants", flow_id).stdout
    assert f"{flow_id}.1" in listing and "pause" in listing and "waiting until" in listing
    history = sf("history", f"{flow_id}.1").stdout
    assert "enrolled" in history and "sent to" in history

    assert "paused" in sf("flows", "pause", flow_id).stdout
    assert "2 active participants cancelled" in sf("flows", "end", flow_id).stdout
    assert "cancelled" in sf("participants", flow_id).stdout


def test_plugins_list_shows_what_each_plugin_registered(sf):
    out = sf("plugins", "list").stdout
    assert "superflow.plugins.flow_control\n  step_types: split, wait, wait_for_action" in out
    assert "superflow.plugins.local_crm\n  crm_backends: local" in out
    verbose = sf("plugins", "list", "--verbose").stdout
    assert "    send_email: Send email [Messages]" in verbose
    assert "    wait_for_action: Wait for action [Flow control]" in verbose
    rows = json.loads(sf("plugins", "list", "--json").stdout)
    assert {r["name"] for r in rows} >= {"superflow.plugins.email", "superflow.plugins.sms"}


def test_demo_starts_everything_and_stops_without_orphans(tmp_path):
    env = dict(
        os.environ, SUPERFLOW_DATA_DIR=str(tmp_path / "demo-data"), SUPERFLOW_DEMO_PASSWORD="demo-password-1"
    )
    env.pop("REDIS_URL", None)
    port = "5391"
    demo = subprocess.Popen(
        [*SUPERFLOW, "demo", "--port", port, "--persons", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        enrolled, health = 0, {}
        browser = requests.Session()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (enrolled and health.get("workers")):
            time.sleep(0.3)
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                page = browser.get(f"http://127.0.0.1:{port}/flows/1", timeout=2).text
                if "Sign in" in page:
                    token = csrf_token(page)
                    login = {"username": "admin", "password": "demo-password-1", "csrf_token": token}
                    page = browser.post(
                        f"http://127.0.0.1:{port}/login?next=/flows/1", data=login, timeout=2
                    ).text
            except requests.RequestException:
                continue
            found = re.search(r'data-stat="enrolled">(\d+)<', page)
            enrolled = int(found.group(1)) if found else 0
        assert health.get("status") == "ok" and health.get("workers") == 1
        assert enrolled > 0, "the demo flow should have participants moving"
        assert "Welcome series" in browser.get(f"http://127.0.0.1:{port}/", timeout=2).text
    finally:
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    assert "superflow demo running at http://127.0.0.1:5391/" in output
    assert "sign in as admin with password demo-password-1" in output
    assert output.rstrip().endswith("superflow demo stopped")
    for pattern in (str(tmp_path), f"demo-{demo.pid}-", f"--port {port}"):
        leftovers = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
        assert leftovers.strip() == "", f"left running: {pattern}"


def test_forms_are_made_listed_and_deleted_from_the_command_line(sf, crm, tmp_path):
    created = sf("forms", "create", "examples/forms/newsletter-signup.json").stdout.strip()
    assert created == "http://127.0.0.1:5000/forms/newsletter"
    assert "newsletter        Newsletter sign-up" in sf("forms", "list").stdout
    again = sf("forms", "create", "examples/forms/newsletter-signup.json", ok=False)
    assert again.stderr.strip() == "Error: a form with the id 'newsletter' already exists"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "No fields"}))
    assert "fields: Missing data for required field." in sf("forms", "create", str(bad), ok=False).stderr
    assert sf("forms", "delete", "newsletter").stdout.strip() == "form newsletter deleted"


def test_users_are_made_with_a_role_and_a_hashed_password(sf, sf_runtime):
    made = sf("users", "create", "kari", "--role", "flow_admin").stdout.strip()
    assert made.startswith("user kari (flow_admin) created; password: ")
    password = made.rsplit(" ", 1)[1]
    stored = sf_runtime.redis.hget(keys.user("kari"), "password")
    assert password not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert "kari                      flow_admin" in sf("users", "list").stdout
    assert sf("users", "set-role", "kari", "viewer").stdout.strip() == "kari is now viewer"
    short = sf("users", "create", "ola", "--password", "short", ok=False)
    assert short.stderr.strip() == "Error: a password needs at least 10 characters"
    assert "already a user 'kari'" in sf("users", "create", "kari", ok=False).stderr


PLUGIN_COMMANDS = '''
import click

from superflow import hookimpl


@hookimpl
def superflow_register_commands(cli):
    @cli.command()
    @click.pass_obj
    def acme(context):
        """Check the Acme integration."""
        click.echo(f"acme ready on the {context.config.crm} CRM")

    @cli.command("web")
    def not_the_web_app():
        """Would take the built-in command's name."""
'''

FAILING_COMMANDS = """
from superflow import hookimpl


@hookimpl
def superflow_register_commands(cli):
    raise RuntimeError("the acme_broken plugin cannot add its commands")
"""


def test_plugin_commands_join_the_built_in_ones_and_a_failing_plugin_is_left_out(sf, tmp_path):
    site = tmp_path / "site"
    for name, source in (("acme_cmds", PLUGIN_COMMANDS), ("acme_broken", FAILING_COMMANDS)):
        dist = site / f"{name}-0.1.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text(f"[superflow]\n{name} = {name}\n")
        (site / f"{name}.py").write_text(source)
    env = {"PYTHONPATH": str(site)}

    listed = sf("--help", extra_env=env)
    commands = [line.split()[0] for line in listed.stdout.split("Commands:\n")[1].splitlines()]
    assert commands == [
        "acme",
        "apikeys",
        "crm",
        "demo",
        "enroll",
        "events",
        "flows",
        "forms",
        "history",
        "participants",
        "plugins",
        "stuck",
        "superoffice",
        "users",
        "web",
        "worker",
    ]
    assert "plugin acme_broken failed to add its commands" in listed.stderr
    assert "the acme_broken plugin cannot add its commands" in listed.stderr
    assert "plugin acme_cmds: a command 'web' exists already; the plugin's is left out" in listed.stderr
    assert sf("acme", extra_env=env).stdout == "acme ready on the local CRM\n"
    assert "Serve the web app with gunicorn" in sf("web", "--help", extra_env=env).stdout


def test_importing_the_cli_loads_no_plugin():
    code = (
        "import sys, superflow.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('superflow.plugins', 'superflow.registry'))))"
    )
    loaded = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_local_crm_commands_start_a_data_folder_only_when_adding(tmp_path, sf_config):
    env = {
        k: v for k, v in os.environ.items() if k not in ("SUPERFLOW_DATA_DIR", "SUPERFLOW_DATA", "REDIS_URL")
    }
    env.update(REDIS_URL=sf_config.redis_url, SUPERFLOW_SECRET_KEY="test-secret")

    def run(*args):
        return subprocess.run([*SUPERFLOW, *args], cwd=tmp_path, env=env, capture_output=True, text=True)

    shown = run("crm", "person", "show", "1")
    assert shown.returncode == 1
    assert f"no data folder at {tmp_path / 'superflow-data'}" in shown.stderr
    assert not (tmp_path / "superflow-data").exists()
    added = run("crm", "person", "add", "--set", "first_name=Grace", "--set", "email=grace@example.com")
    assert added.returncode == 0, added.stderr
    assert f"note: no data folder here; starting a new one at {tmp_path / 'superflow-data'}" in added.stderr
    assert added.stdout.startswith("added person ")
    assert "grace@example.com" in run("crm", "person", "show", added.stdout.split()[2].rstrip(":")).stdout
