"""Email designs of blocks: the schema's errors name the block and field, rendering
through MJML escapes every value and keeps merge tags, a designed email is sent with
its links tracked (or not, per link) and its unsubscribe link and postal address, and
a marketing email without its lawful footer cannot start."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

import pytest
from marshmallow import ValidationError

from superflow.plugins.email.design import load_design
from superflow.plugins.email.rendering import render_design
from superflow.plugins.email.starters import starters
from superflow.plugins.outbox import Outbox
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started

ADDRESS = "Nordlys AS, Storgata 1, 0155 Oslo"
FOOTER = {"type": "footer", "address": "", "text": "", "unsubscribe_label": "Unsubscribe"}


@pytest.fixture
def sf_config(sf_config):
    return replace(sf_config, sender_address=ADDRESS)


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [a["href"] or "" for tag, a in self.tags if tag == "a" and a.get("href")]


def parsed(html: str) -> Parsed:
    found = Parsed()
    found.feed(html)
    found.close()
    return found


def design_step(blocks, **settings):
    return {
        "id": "news",
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "subject": "News for {{ person.first_name }}",
            "body": "design",
            "design": {"blocks": blocks},
            **settings,
        },
    }


def problems_of(design) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        load_design(design)
    return refused.value.messages["blocks"]


def test_errors_name_the_block_and_the_field():
    assert problems_of(
        {
            "blocks": [
                {"type": "text", "html": "<p>Hi</p>"},
                {"type": "button", "label": "Go", "url": "javascript:alert(1)"},
                {"type": "image", "src": "ftp://example.com/a.png"},
                {"type": "divider", "color": "red; background:url(x)"},
                {
                    "type": "columns",
                    "columns": [{"blocks": [{"type": "columns", "columns": []}]}, {"blocks": []}],
                },
                {"type": "marquee"},
            ]
        }
    ) == [
        "Block 2 (Button), Link: must start with https://, http:// or mailto:",
        "Block 3 (Image), Image address: must start with https:// or http://",
        "Block 4 (Divider), Color: not a colour",
        "Block 5 (Columns), column 1, block 1: 'columns' is not a block inside columns;"
        " use one of text, image, button, divider, spacer, social",
        "Block 6: 'marquee' is not a block; use one of text, image, button, columns, divider, spacer,"
        " social, footer",
    ]
    with pytest.raises(ValidationError, match="Longer than maximum length 60"):
        load_design({"blocks": [{"type": "spacer"}] * 61})


def test_a_design_with_errors_is_not_saved_and_the_error_names_the_block(sf_runtime):
    doc = flow_doc([design_step([{"type": "button", "label": "Go", "url": "data:text/html,hi"}])])
    [error] = refused_save(sf_runtime, doc)
    assert "Block 1 (Button), Link: must start with https://" in error["message"]


def test_every_value_is_escaped_and_only_the_small_html_subset_stays():
    html = render_design(
        load_design(
            {
                "blocks": [
                    {
                        "type": "text",
                        "html": '<p onclick="x()">Hi <b>there</b><script>alert(1)</script>'
                        '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">bad</a>'
                        '<a href="https://ok.example/a?x=1&amp;y=2">good</a></p><iframe src="https://e.example"></iframe>',
                    },
                    {"type": "button", "label": "<b>Go</b> & see", "url": "https://shop.example/?a=1&b=2"},
                    {"type": "image", "src": "https://img.example/a.png", "alt": '" onload="alert(4)'},
                    FOOTER,
                ]
            }
        ),
        ADDRESS,
    )
    found = parsed(html)
    tags = {tag for tag, _ in found.tags}
    assert not tags & {"script", "iframe"}
    assert not [a for _, a in found.tags if any(name.startswith("on") for name in a)]
    assert "alert(1)" not in html and "alert(2)" not in html and "alert(3)" not in html
    assert "https://ok.example/a?x=1&y=2" in found.hrefs()
    assert "https://shop.example/?a=1&b=2" in found.hrefs()
    assert "&lt;b&gt;Go&lt;/b&gt; &amp; see" in html
    assert [a["alt"] for tag, a in found.tags if tag == "img"] == ['" onload="alert(4)']
    assert ADDRESS in html


def test_merge_tags_survive_rendering_exactly_as_written():
    html = render_design(
        load_design(
            {
                "blocks": [
                    {
                        "type": "text",
                        "html": '<p>Hi {{ person.first_name | default("there") }} & [[person.lastname]]</p>',
                    },
                    {"type": "button", "label": "For {{ person.first_name }}", "url": "{{ person.website }}"},
                    {"type": "text", "html": '<a href="https://shop.example/?id={{ person.id }}">Shop</a>'},
                ]
            }
        )
    )
    assert 'Hi {{ person.first_name | default("there") }} &amp; [[person.lastname]]' in html
    assert 'href="{{ person.website }}"' in html
    assert "For {{ person.first_name }}" in html
    assert 'href="https://shop.example/?id={{ person.id }}"' in html


def test_each_starter_is_a_whole_email_with_its_footer():
    assert list(starters()) == ["newsletter", "welcome", "event-invitation", "plain-letter"]
    for item in starters().values():
        found = parsed(render_design(item["design"], ADDRESS))
        assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in found.tags
        assert "{unsubscribe_url}" in found.hrefs()
        assert ADDRESS in "".join(found.text)
        assert not [h for h in found.hrefs() if "googleapis" in h]


def test_a_designed_email_is_sent_tracked_with_its_unsubscribe_link_and_address(
    sf_runtime, sf_run_jobs, people
):
    rt = sf_runtime
    blocks = [
        {
            "type": "text",
            "html": '<p>Hi {{ person.first_name }}, <a href="https://example.com/story">read</a>.</p>',
        },
        {"type": "button", "label": "Shop", "url": "https://shop.example.com/spring"},
        {"type": "button", "label": "Our policy", "url": "https://example.com/policy", "tracked": False},
        {"type": "text", "html": '<p><a href="https://example.com/faq" data-tracked="no">FAQ</a></p>'},
        FOOTER,
    ]
    flow = started(rt, flow_doc([design_step(blocks)]))
    signed_up(rt, people[0])
    sf_run_jobs()
    assert participant_of(rt, flow, people[0]).status == "completed"
    [mail] = Outbox(rt.config).messages("email", limit=10)
    found = parsed(mail["html"])
    hrefs = found.hrefs()
    tracked = [h for h in hrefs if h.startswith("http://superflow.test/t/c/")]
    assert len(tracked) == 2
    assert "https://example.com/policy" in hrefs and "https://example.com/faq" in hrefs
    [unsubscribe] = [h for h in hrefs if h.startswith("http://superflow.test/u/")]
    assert mail["headers"]["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert "Hi Ada," in "".join(found.text)
    assert ADDRESS in mail["html"]
    assert "sf-untracked" not in mail["html"] and "{unsubscribe_url}" not in mail["html"]
    assert unsubscribe in mail["text"] and "Hi Ada" in mail["text"]
    assert "{" not in mail["text"] and "mso" not in mail["text"]


def test_a_marketing_email_needs_its_footer_and_postal_address(sf_runtime):
    rt = sf_runtime
    text = {"type": "text", "html": "<p>Hi</p>"}
    assert refused_start(rt, flow_doc([design_step([text])])) == [
        "Step 1 'Send email': a marketing email needs a footer block with the unsubscribe link and your"
        " postal address: add a Footer block"
    ]
    started(rt, flow_doc([design_step([text], marketing=False)]))
    started(rt, flow_doc([design_step([text, FOOTER])]))


def test_without_a_sender_address_the_footer_must_give_one(sf_runtime):
    rt = sf_runtime
    rt.config = replace(rt.config, sender_address="")
    text = {"type": "text", "html": "<p>Hi</p>"}
    [problem] = refused_start(rt, flow_doc([design_step([text, FOOTER])]))
    assert "the footer needs the sender's postal address" in problem
    started(rt, flow_doc([design_step([text, {**FOOTER, "address": "Box 1, Oslo"}])]))


def test_a_step_without_a_design_says_what_to_choose(sf_runtime):
    problems = refused_start(sf_runtime, flow_doc([design_step([])]))
    assert problems == ["Step 1 'Send email': Design: choose a template or add blocks"]


def test_a_merge_tag_no_person_has_in_a_design_keeps_the_flow_from_starting(sf_runtime):
    blocks = [{"type": "text", "html": "<p>Hi {{ person.shoe_size }}</p>"}, FOOTER]
    [problem] = refused_start(sf_runtime, flow_doc([design_step(blocks)]))
    assert "person.shoe_size" in problem


def test_flow_content_says_where_each_mailing_comes_from(sf_runtime, sf_signed_in, people):
    from superflow.plugins.email.library import Library

    email = Library(sf_runtime).create(
        "Spring news", {"blocks": [{"type": "text", "html": "Hi"}, FOOTER]}, "ed"
    )
    linked = {
        "id": "linked",
        "type": "send_email",
        "settings": {
            "from_address": "news@superflow.test",
            "subject": "S",
            "body": "library",
            "library_email": email["id"],
        },
    }
    flow = started(sf_runtime, flow_doc([design_step([{"type": "text", "html": "Own"}, FOOTER]), linked]))
    page = sf_signed_in("viewer").get(f"/flows/{flow.id}/content?person={people[0]}").get_data(as_text=True)
    assert "a design of blocks in this step" in page
    assert "library email &#39;Spring news&#39; (linked: changes in the library reach it)" in page
