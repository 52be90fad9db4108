"""Merge tags: what a recipient sees, and what is refused before anything is sent."""

from __future__ import annotations

import pytest

from superflow import merge
from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import started

ADA = {
    "id": "7",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "full_name": "Ada Lovelace",
    "email": "ada@example.com",
    "birth_date": "1815-12-10",
    "company": {"id": "3", "name": "Engines & Co", "category": "Customer"},
    "fields": {"score": 12},
}


def test_jinja_and_superoffice_tags_fill_the_same_names():
    scope = merge.scope(ADA, flow={"name": "Welcome"})
    text = "[[person.firstname]] {{ person.last_name }} ({{ person.score }}) of {{ company.name }}"
    text += " in {{ flow.name }}"
    assert merge.render(text, scope) == "Ada Lovelace (12) of Engines & Co in Welcome"


def test_fallbacks_dates_and_empty_values():
    scope = merge.scope({"first_name": None, "birth_date": "1815-12-10"})
    assert merge.render('Hi {{ person.first_name | default("there", true) }}!', scope) == "Hi there!"
    assert merge.render('{{ person.birth_date | date("%d.%m.%Y") }}', scope) == "10.12.1815"
    assert merge.render("[{{ company.name }}]", scope) == "[]"


def test_html_bodies_escape_values_but_not_the_template():
    scope = merge.scope(ADA)
    assert merge.render("<b>{{ company.name }}</b>", scope, html=True) == "<b>Engines &amp; Co</b>"


def test_the_sandbox_refuses_to_reach_python_internals():
    with pytest.raises(merge.MergeError):
        merge.render("{{ person.__class__.__mro__ }}", merge.scope(ADA))


def test_check_names_unknown_tags_and_bad_syntax():
    names = merge.known_names()
    assert (
        merge.check("{{ person.first_name }} {% for i in event.items %}{{ i.name }}{% endfor %}", names) == []
    )
    assert merge.check("{{ person.shoe_size }} {{ wallet }}", names) == [
        "unknown merge tag {{ wallet }}",
        "unknown merge tag {{ person.shoe_size }}",
    ]
    assert merge.check("{% if %}", names)[0].startswith("merge tags: ")


def test_event_data_of_the_enrolling_event_reaches_the_email(sf_runtime, sf_run_jobs, people):
    body = "<ul>{% for item in event.cart %}<li>{{ item.name }} × {{ item.qty }}</li>{% endfor %}</ul>"
    flow = started(
        sf_runtime,
        flow_doc(
            [
                email_step(
                    "cart", subject="You left {{ event.cart | length }} items", html=body, tracking=False
                )
            ],
            trigger={"type": "api_event", "settings": {"name": "signed_up", "sample": '{"cart": []}'}},
        ),
    )
    cart = [{"name": "Kettle", "qty": 1}, {"name": "Mugs <set of 4>", "qty": 2}]
    sf_runtime.emit([Event("api.event", people[0], {"name": "signed_up", "cart": cart})])
    sf_run_jobs()
    (mail,) = Outbox(sf_runtime.config).messages("email")
    assert mail["subject"] == "You left 2 items"
    assert mail["html"] == "<ul><li>Kettle × 1</li><li>Mugs &lt;set of 4&gt; × 2</li></ul>"
    assert "Kettle × 1" in mail["text"]
    assert sf_runtime.store.participant(f"{flow.id}.1").event["cart"] == cart
