"""The Forms screen over real HTTP on a real Redis: build a form from the builder's
post, see the schema's errors beside their fields in plain words, edit it, who may
change it, the hosted address and snippet, and the guard against deleting a form a
flow uses."""

from __future__ import annotations

import re

import requests

from superflow import forms
from superflow.testing import csrf_token
from superflow.testing import flow_doc

BUILT = {
    "name": "Webinar sign-up",
    "title": "Join our webinar",
    "fields-0-label": "Your email",
    "fields-0-type": "email",
    "fields-0-maps_to": "email",
    "fields-0-required": "on",
    "fields-1-label": "First name",
    "fields-1-type": "text",
    "fields-1-maps_to": "first_name",
    "fields-2-label": "Send me the newsletter",
    "fields-2-type": "checkbox",
    "fields-2-subscribes": "newsletter",
    "fields-3-label": "",
    "fields-3-type": "text",
    "consents": "emarketing",
    "redirect_url": "https://www.example.com/thanks",
    "submit_label": "Sign me up",
}


def page_token(session, base, path):
    return csrf_token(session.get(base + path, timeout=10).text)


def build(session, base, changes=None, path="/site-forms/new"):
    data = {**BUILT, **(changes or {}), "csrf_token": page_token(session, base, path)}
    return session.post(base + path, data=data, timeout=10)


def test_a_built_form_is_saved_as_the_definition_and_listed(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    reply = build(admin, admin.base)
    assert reply.status_code == 200 and "was saved" in reply.text
    [form] = forms.list_forms(sf_runtime.redis)
    assert form["name"] == "Webinar sign-up"
    assert [(f["name"], f["label"], f["maps_to"], f["required"]) for f in form["fields"]] == [
        ("email", "Your email", "email", True),
        ("first_name", "First name", "first_name", False),
        ("send_me_the_newsletter", "Send me the newsletter", None, False),
    ]
    assert form["fields"][2]["subscribes"] == "newsletter"
    assert form["consents"] == ["emarketing"] and form["redirect_url"] == "https://www.example.com/thanks"
    hosted = f"{sf_runtime.config.base_url.rstrip('/')}/forms/{form['id']}"
    assert hosted in reply.text and 'id="embed-snippet"' in reply.text
    listing = admin.get(admin.base + "/site-forms", timeout=10).text
    assert "Webinar sign-up" in listing and hosted in listing


def test_errors_are_shown_beside_their_field_in_plain_words_and_nothing_is_saved(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    reply = build(
        admin,
        admin.base,
        {"name": "", "fields-0-maps_to": "", "redirect_url": "javascript:alert(1)"},
    )
    assert reply.status_code == 400
    text = reply.text
    assert re.search(r'id="name"[^>]*>\s*<div class="field-error" role="alert">This is required\.', text)
    assert re.search(
        r'id="redirect_url"[^>]*><div class="field-error"[^>]*>Enter a web address starting', text
    )
    assert 'value="Your email"' in text, "what was typed stays in the builder"
    reply = build(admin, admin.base, {"fields-0-maps_to": ""})
    assert reply.status_code == 400
    shown = re.findall(r'<div class="field-error" role="alert">([^<]*)<', reply.text)
    assert shown == ["One field must fill the CRM field Email"]
    assert forms.list_forms(sf_runtime.redis) == []


def test_a_field_the_crm_does_not_have_is_refused_naming_the_field(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    reply = build(admin, admin.base, {"fields-1-maps_to": "shoe_size"})
    assert reply.status_code == 400
    assert "“First name”: the CRM has no person field &#39;shoe_size&#39;" in reply.text
    assert forms.list_forms(sf_runtime.redis) == []


def test_editing_reorders_and_removes_fields_and_keeps_the_id(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    build(admin, admin.base)
    [form] = forms.list_forms(sf_runtime.redis)
    path = f"/site-forms/{form['id']}"
    changed = {
        "fields-0-label": "First name",
        "fields-0-type": "text",
        "fields-0-maps_to": "first_name",
        "fields-0-required": "on",
        "fields-0-name": "first_name",
        "fields-1-label": "Your email",
        "fields-1-type": "email",
        "fields-1-maps_to": "email",
        "fields-1-required": "on",
        "fields-1-name": "email",
        "fields-2-label": "",
    }
    reply = build(admin, admin.base, changed, path=path)
    assert reply.status_code == 200 and "was saved" in reply.text
    saved = forms.get(sf_runtime.redis, form["id"])
    assert [(f["name"], f["required"]) for f in saved["fields"]] == [("first_name", True), ("email", True)]
    assert saved["created_at"] == form["created_at"]


def test_content_editors_build_forms_viewers_only_look(sf_runtime, sf_signed_in):
    editor = sf_signed_in("content_editor", over_http=True)
    assert build(editor, editor.base).status_code == 200
    [form] = forms.list_forms(sf_runtime.redis)
    viewer = sf_signed_in("viewer", over_http=True)
    page = viewer.get(f"{viewer.base}/site-forms/{form['id']}", timeout=10)
    assert page.status_code == 200 and "You can look at this form" in page.text
    assert 'id="save-form"' not in page.text
    token = csrf_token(page.text)
    refused = viewer.post(
        f"{viewer.base}/site-forms/{form['id']}",
        data={**BUILT, "name": "Hacked", "csrf_token": token},
        timeout=10,
    )
    assert refused.status_code == 403
    assert (
        viewer.post(
            f"{viewer.base}/site-forms/new", data={**BUILT, "csrf_token": token}, timeout=10
        ).status_code
        == 403
    )
    assert (
        viewer.post(
            f"{viewer.base}/site-forms/{form['id']}/delete", data={"csrf_token": token}, timeout=10
        ).status_code
        == 403
    )
    assert forms.get(sf_runtime.redis, form["id"])["name"] == "Webinar sign-up"


def test_a_post_without_the_sessions_token_is_refused(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    bare = requests.Session()
    bare.cookies.update(admin.cookies)
    reply = bare.post(admin.base + "/site-forms/new", data=BUILT, timeout=10)
    assert reply.status_code == 400 and forms.list_forms(sf_runtime.redis) == []


def test_a_form_a_flow_uses_cannot_be_deleted_then_can(sf_runtime, sf_signed_in):
    from superflow import flows

    admin = sf_signed_in("flow_admin", over_http=True)
    build(admin, admin.base)
    [form] = forms.list_forms(sf_runtime.redis)
    trigger = {"type": "form_submitted", "settings": {"form": form["id"]}}
    flow = flows.create(sf_runtime, flow_doc([], name="Webinar follow-up", trigger=trigger))
    path = f"/site-forms/{form['id']}/delete"
    page = admin.get(admin.base + path, timeout=10)
    assert "cannot be deleted" in page.text and "Webinar follow-up" in page.text
    reply = admin.post(admin.base + path, data={"csrf_token": csrf_token(page.text)}, timeout=10)
    assert "is used by &#39;Webinar follow-up&#39;" in reply.text
    assert forms.get(sf_runtime.redis, form["id"])
    listing = admin.get(admin.base + "/site-forms", timeout=10).text
    assert "Webinar follow-up" in listing

    flows.delete(sf_runtime, flow.id)
    page = admin.get(admin.base + path, timeout=10)
    reply = admin.post(admin.base + path, data={"csrf_token": csrf_token(page.text)}, timeout=10)
    assert "was deleted" in reply.text
    assert forms.list_forms(sf_runtime.redis) == []


def test_a_flow_naming_a_deleted_form_cannot_start_and_says_which(sf_runtime):
    from superflow import flows

    form = forms.create(sf_runtime.redis, {"name": "Webinar sign-up", **_email_only()})
    trigger = {"type": "form_submitted", "settings": {"form": form["id"]}}
    flow = flows.create(sf_runtime, flow_doc([], trigger=trigger))
    assert not any("deleted" in p for p in flows.not_ready(sf_runtime, flows.get(sf_runtime, flow.id)))
    forms.delete(sf_runtime.redis, form["id"])
    problems = flows.not_ready(sf_runtime, flows.get(sf_runtime, flow.id))
    assert "Trigger 'Form submitted': the form 'Webinar sign-up' was deleted; choose another form" in problems


def test_flow_content_lists_the_forms_of_trigger_and_criteria(sf_runtime, sf_signed_in):
    from superflow import flows

    signup = forms.create(sf_runtime.redis, {"name": "Webinar sign-up", **_email_only()})
    survey = forms.create(sf_runtime.redis, {"name": "Feedback survey", **_email_only()})
    doc = flow_doc(
        [],
        trigger={"type": "form_submitted", "settings": {"form": signup["id"]}},
        success={
            "criteria": [{"type": "form_submitted", "settings": {"form": survey["id"]}}],
            "on_success": "stop",
            "move_to_flow": None,
        },
    )
    flow = flows.create(sf_runtime, doc)
    admin = sf_signed_in("viewer", over_http=True)
    page = admin.get(f"{admin.base}/flows/{flow.id}/content", timeout=10).text
    section = page.split('id="flow-forms"')[1].split("</section>")[0]
    assert f'href="/site-forms/{signup["id"]}">Webinar sign-up</a>' in section
    assert f'href="/site-forms/{survey["id"]}">Feedback survey</a>' in section
    assert "Trigger &#39;Form submitted&#39;" in section and "Success criterion" in section


def _email_only():
    return {
        "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}]
    }


def test_a_form_without_fields_is_refused_in_words(sf_runtime, sf_signed_in):
    admin = sf_signed_in("flow_admin", over_http=True)
    blank = {key: "" for key in BUILT if key.endswith("-label")}
    reply = build(admin, admin.base, blank)
    assert reply.status_code == 400
    assert "Give the form at least one field (and at most 50)." in reply.text
    assert forms.list_forms(sf_runtime.redis) == []
