"""People: the admin's People screen, the persons API and ``superflow crm person``,
over real HTTP and a real subprocess, on the local CRM and a real Redis."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from superflow.demo import wait_for_web
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import stop
from superflow.testing import SignedInSession
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started


@pytest.fixture
def in_flow(sf_runtime, people, sf_run_jobs):
    """Ada in a running flow, past its welcome email and waiting for a day."""
    wait = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}
    flow = started(sf_runtime, flow_doc([email_step("hello"), wait], name="Welcome series"))
    signed_up(sf_runtime, people[0])
    sf_run_jobs()
    return flow


def token_of(page: str) -> str:
    return re.search(r'name="edit_key" value="([^"]+)"', page).group(1)


def form_of(page: str) -> dict[str, str]:
    """The person form as the browser would send it (inputs and selected options)."""
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', page))
    for name, options in re.findall(r'<select id="f-[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        form[name] = chosen.group(1) if chosen else ""
    form["edit_key"] = token_of(page)
    return form


# -- the People screen --------------------------------------------------------
def test_find_a_person_by_name_open_her_and_see_her_flows(sf_runtime, sf_live_server, people, in_flow):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    home = admin.call("/").text
    assert 'href="/people"' in home and ">People</a>" in home
    found = admin.call("/people?q=ada").text
    assert "Ada Test" in found and "ada@example.com" in found and "Bjørn" not in found
    assert admin.call("/people?q=nobody-like-this").text.count("No one found") == 1

    page = admin.call(f"/people/{people[0]}").text
    assert "Fjord Analytics AS" in page and "Email marketing</dt><dd>Given" in page
    assert 'name="birth_date"' in page and 'type="date"' in page
    assert "Welcome series" in page
    participant = sf_runtime.store.person_participations([people[0]])[people[0]][in_flow.id]
    assert f'href="/flows/{in_flow.id}/participants/{participant}"' in page
    assert "EMAIL to ada@example.com" in page  # the last sending


def test_a_flow_administrator_gives_ada_a_birthday(sf_runtime, sf_live_server, people, crm):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    page = admin.call(f"/people/{people[0]}").text
    form = dict(form_of(page), birth_date="2026-12-03", mobile="+47 900 11 222", csrf_token="")
    form["csrf_token"] = admin.headers["X-CSRF-Token"]
    saved = admin.post(f"{sf_live_server}/people/{people[0]}", data=form, timeout=10)
    assert saved.status_code == 200 and saved.url.endswith(f"/people/{people[0]}")
    assert "Saved: Mobile, Birth date." in saved.text
    person = crm.get_person(people[0])
    assert person["birth_date"] == "2026-12-03" and person["mobile"] == "+47 900 11 222"
    assert 'value="2026-12-03"' in saved.text

    again = admin.post(
        f"{sf_live_server}/people/{people[0]}", data=dict(form, mobile="+4712345678"), timeout=10
    )
    assert "This form had been saved already, so it was not saved again" in again.text
    assert crm.get_person(people[0])["mobile"] == "+47 900 11 222", "the same form sent twice applies once"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("birth_date", "3rd of December", "Birth date: '3rd of December' is not a date"),
        ("email", "ada at example", "Email: 'ada at example' is not an email address"),
        ("timezone", "Mars/Olympus", "Time zone: 'Mars/Olympus' is not a time zone"),
    ],
)
def test_a_bad_value_shows_the_form_again_naming_the_field(
    sf_runtime, sf_live_server, people, crm, field, value, words
):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    form = dict(form_of(admin.call(f"/people/{people[0]}").text), first_name="Augusta", **{field: value})
    form["csrf_token"] = admin.headers["X-CSRF-Token"]
    shown = admin.post(f"{sf_live_server}/people/{people[0]}", data=form, timeout=10)
    assert shown.status_code == 422
    assert "Not saved. " + words in shown.text.replace("&#39;", "'")
    assert f'name="{field}" value="{value}"' in shown.text.replace("&#39;", "'")  # what was typed is kept
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', shown.text, re.S)
    assert crm.get_person(people[0])["first_name"] == "Ada", "nothing is written"


def test_content_editors_and_viewers_look_only_administrators_edit(sf_runtime, sf_live_server, people, crm):
    for role in ("content_editor", "viewer"):
        user = SignedInSession(sf_runtime, sf_live_server, role)
        page = user.call(f"/people/{people[0]}").text
        assert "Ada Test" in page and "<form" not in page.split('id="fields"')[1].split("</section>")[0]
        assert "Only a flow administrator can change a person's details." in page
        refused = user.post(
            f"{sf_live_server}/people/{people[0]}",
            data={"first_name": "Eve", "csrf_token": user.headers["X-CSRF-Token"]},
            timeout=10,
        )
        assert refused.status_code == 403
    assert crm.get_person(people[0])["first_name"] == "Ada"


def test_edits_need_the_csrf_token_and_an_existing_person(sf_runtime, sf_live_server, people, crm):
    admin = SignedInSession(sf_runtime, sf_live_server, "flow_admin")
    del admin.headers["X-CSRF-Token"]
    forged = admin.post(f"{sf_live_server}/people/{people[0]}", data={"first_name": "Eve"}, timeout=10)
    assert forged.status_code == 400 and "reload the page" in forged.text
    assert crm.get_person(people[0])["first_name"] == "Ada"
    missing = admin.call("/people/99999")
    assert missing.status_code == 404 and "There is no person 99999 in the CRM." in missing.text
    assert admin.call("/people?q=a&page=x").status_code == 400


def test_the_search_is_paged(sf_runtime, sf_live_server, crm):
    for i in range(30):
        crm.create_person(first_name="Pat", last_name=f"Number {i:02}", email=f"pat{i}@example.com")
    admin = SignedInSession(sf_runtime, sf_live_server, "viewer")
    first = admin.call("/people?q=pat").text
    assert first.count('data-person="') == 25 and 'rel="next"' in first
    second = admin.call("/people?q=pat&page=2").text
    assert second.count('data-person="') == 5 and 'rel="next"' not in second and 'rel="prev"' in second


# -- the API ------------------------------------------------------------------
def test_api_search_read_and_change_a_person(api, people, in_flow, crm, error_fields):
    found = api.ok("GET", "/persons", params={"q": "ada"})
    assert [p["full_name"] for p in found["persons"]] == ["Ada Test"] and found["next_offset"] is None
    assert found["persons"][0]["company"] == "Fjord Analytics AS"
    one = api.ok("GET", f"/persons/{people[0]}")
    assert one["fields"]["email"] == "ada@example.com" and one["consents"] == {"emarketing": True}
    assert [f["flow_name"] for f in one["flows"]] == ["Welcome series"]
    assert (
        one["flows"][0]["status"] == "active" and one["flows"][0]["last_sending"]["to"] == "ada@example.com"
    )

    changed = api.ok("PATCH", f"/persons/{people[0]}", json={"fields": {"birth_date": "2026-12-03"}})
    assert changed["changed"] == {"birth_date": [None, "2026-12-03"]}
    assert changed["fields"]["birth_date"] == "2026-12-03" == crm.get_person(people[0])["birth_date"]

    bad = api("PATCH", f"/persons/{people[0]}", json={"fields": {"first_name": "Eve", "birth_date": "soon"}})
    assert bad.status_code == 422 and error_fields(bad) == ["fields.birth_date"]
    assert "Birth date" in bad.json()["errors"][0]["message"]
    unknown = api("PATCH", f"/persons/{people[0]}", json={"fields": {"shoe_size": 44}})
    assert unknown.status_code == 422 and error_fields(unknown) == ["fields.shoe_size"]
    assert crm.get_person(people[0])["first_name"] == "Ada"
    missing = api("GET", "/persons/99999")
    assert missing.status_code == 404 and error_fields(missing) == ["person_id"]
    assert api("PATCH", "/persons/99999", json={"fields": {"first_name": "X"}}).status_code == 404
    assert error_fields(api("GET", "/persons")) == ["q"]


def test_api_retried_patch_applies_once_and_needs_an_admin_key(api, people, crm):
    headers = {"Idempotency-Key": "birthday-1"}
    api.ok("PATCH", f"/persons/{people[0]}", json={"fields": {"mobile": "+4790000001"}}, headers=headers)
    crm.update_person(people[0], {"mobile": "+4799999999"})
    retried = api.ok(
        "PATCH", f"/persons/{people[0]}", json={"fields": {"mobile": "+4790000001"}}, headers=headers
    )
    assert retried["fields"]["mobile"] == "+4799999999", "a retried call is not applied a second time"

    editor, viewer = api.make_key("editor"), api.make_key("viewer")
    assert api("GET", f"/persons/{people[0]}", key=viewer).status_code == 200
    refused = api("PATCH", f"/persons/{people[0]}", key=editor, json={"fields": {"first_name": "Eve"}})
    assert refused.status_code == 403 and crm.get_person(people[0])["first_name"] == "Ada"


# -- the command line ---------------------------------------------------------
def test_cli_person_add_update_and_show(sf, people, in_flow, crm):
    added = sf("crm", "person", "add", "--set", "first_name=Grace", "--set", "email=grace@example.com")
    assert re.fullmatch(r"added person (\d+): Grace\n", added.stdout)
    new_id = added.stdout.split()[2].rstrip(":")
    assert crm.get_person(new_id)["email"] == "grace@example.com"

    updated = sf("crm", "person", "update", people[0], "--set", "birth_date=2026-12-03")
    assert updated.stdout == "Birth date: (empty) -> 2026-12-03\n"
    assert crm.get_person(people[0])["birth_date"] == "2026-12-03"
    assert (
        "nothing changed" in sf("crm", "person", "update", people[0], "--set", "birth_date=2026-12-03").stdout
    )

    shown = sf("crm", "person", "show", people[0]).stdout
    assert "Ada Test (person" in shown and "Birth date:" in shown and "2026-12-03" in shown
    assert "company: Fjord Analytics AS" in shown and "consents: emarketing given" in shown
    assert "Welcome series: active at Step 2 'Wait'" in shown


def test_cli_person_errors_name_the_field(sf, people, crm):
    bad = sf("crm", "person", "update", people[0], "--set", "birth_date=03.12.2026", ok=False)
    assert bad.returncode == 1 and "Birth date: '03.12.2026' is not a date" in bad.stderr
    unknown = sf("crm", "person", "update", people[0], "--set", "shoe=44", ok=False)
    assert "A person has no field 'shoe'" in unknown.stderr
    shape = sf("crm", "person", "update", people[0], "--set", "birth_date", ok=False)
    assert shape.returncode == 2 and "FIELD=VALUE" in shape.stderr
    missing = sf("crm", "person", "show", "99999", ok=False)
    assert missing.returncode == 1 and "There is no person 99999 in the CRM." in missing.stderr
    assert crm.get_person(people[0])["birth_date"] is None


def test_forms_create_prints_the_address_the_web_app_serves(sf, sf_config):
    env = {k: v for k, v in os.environ.items() if k != "SUPERFLOW_BASE_URL"}
    env.update(REDIS_URL=sf_config.redis_url, SUPERFLOW_DATA_DIR=str(sf_config.data_dir))
    port = free_port()
    web = subprocess.Popen(
        [*SUPERFLOW, "web", "--dev", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_web(web, "127.0.0.1", port)
        created = sf("forms", "create", "examples/forms/newsletter-signup.json")
        assert created.stdout.strip() == f"http://127.0.0.1:{port}/forms/newsletter"
        assert f"http://127.0.0.1:{port}/forms/newsletter" in sf("forms", "list").stdout
    finally:
        stop(web)
    told = sf("forms", "list", extra_env={"SUPERFLOW_BASE_URL": "https://news.example.com"}).stdout
    assert "https://news.example.com/forms/newsletter" in told


def test_a_command_in_a_folder_without_data_says_so_and_makes_none(tmp_path, sf_config):
    env = {
        k: v for k, v in os.environ.items() if k not in ("SUPERFLOW_DATA_DIR", "SUPERFLOW_DATA", "REDIS_URL")
    }
    result = subprocess.run(
        [*SUPERFLOW, "flows", "list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"no data folder at {tmp_path / 'superflow-data'}" in result.stderr
    assert "SUPERFLOW_DATA_DIR" in result.stderr
    assert not (tmp_path / "superflow-data").exists()


def demo_until(env: dict[str, str], words: str) -> str:
    """Run ``superflow demo`` until its output says ``words`` (or a minute passed);
    stop it and return all it printed."""
    demo = subprocess.Popen(
        [*SUPERFLOW, "demo", "--port", str(free_port()), "--persons", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and demo.poll() is None and words not in "".join(lines):
        time.sleep(0.2)
    demo.send_signal(signal.SIGTERM)
    demo.wait(timeout=60)
    reader.join(timeout=10)
    return "".join(lines)


def test_the_demo_says_when_every_person_is_in_already(tmp_path):
    data = str(tmp_path / "demo-data")
    env = dict(os.environ, SUPERFLOW_DATA_DIR=data, SUPERFLOW_DEMO_PASSWORD="demo-pw-12345")
    env.pop("REDIS_URL", None)
    env.pop("SUPERFLOW_BASE_URL", None)
    first = demo_until(env, "every demo person has joined the newsletter now")
    assert re.search(r"a person joins the newsletter every few seconds \(\d+ to go\)", first)
    assert "every demo person has joined the newsletter now; no more are added" in first
    again = demo_until(env, "superflow demo running at")
    assert "every demo person is in the newsletter already, so no one joins" in again
    assert "a person joins the newsletter every few seconds" not in again
