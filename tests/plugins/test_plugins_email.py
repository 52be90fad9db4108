"""The send email step's checks, attachments and tracking, and opens and clicks as
triggers and success criteria (through the outbox transport and the engine)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from superflow import tracking
from superflow.events import Event
from superflow.plugins.outbox import Outbox
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import participant_of
from superflow.testing import refused_save
from superflow.testing import refused_start
from superflow.testing import signed_up
from superflow.testing import started


def recipients(rt):
    return sorted(m["recipient"] for m in Outbox(rt.config).messages("email", limit=1000))


@pytest.mark.parametrize("when_not_sendable", ["exit", "skip"])
def test_every_check_before_sending_with_its_reason(sf_runtime, sf_run_jobs, crm, people, when_not_sendable):
    rt = sf_runtime
    crm.update_person(people[0], {"email": None})
    crm.update_person(people[1], {"email_blocked": True})
    crm.set_consent(people[2], "emarketing", False)
    crm.set_subscription(people[3], "newsletter", False)
    other = crm.create_person(first_name="Eva's twin", email="Eva@Example.com")["id"]
    steps = [email_step("news", subscription="newsletter", when_not_sendable=when_not_sendable)]
    flow = started(rt, flow_doc(steps))
    signed_up(rt, *people, other)
    sf_run_jobs()

    reasons = {}
    for pid in [*people, other]:
        p = participant_of(rt, flow, pid)
        if when_not_sendable == "exit":
            reasons[pid] = p.reason
        else:
            skipped = [h["note"] for h in p.history if h["note"].startswith("skipped: ")]
            reasons[pid] = skipped[0].removeprefix("skipped: ") if skipped else ""
            assert p.status == "completed"
    assert reasons == {
        people[0]: "no email address",
        people[1]: "email address blocked or bounced",
        people[2]: "no e-marketing consent",
        people[3]: "unsubscribed from newsletter",
        people[4]: "",
        other: "duplicate address",
    }
    # Eva got the newsletter once although two persons share her address.
    assert recipients(rt) == ["eva@example.com"]
    stats = rt.store.stats(flow.id)
    counter = "email.not_sendable" if when_not_sendable == "exit" else "email.skipped"
    assert stats[counter] == 5  # the four above and the duplicate
    if when_not_sendable == "exit":
        assert stats["exit:duplicate address"] == 1


def test_a_duplicate_address_is_caught_across_batches_and_the_same_person_again_is_not_one(
    sf_runtime, sf_run_jobs, crm
):
    rt = sf_runtime
    first = crm.create_person(first_name="Kari", email="family@example.com")["id"]
    second = crm.create_person(first_name="Ola", email="Family@Example.com")["id"]
    flow = started(rt, flow_doc([email_step("news")], reenrollment="after_end"))
    signed_up(rt, first)
    sf_run_jobs()
    signed_up(rt, second)
    sf_run_jobs()
    assert participant_of(rt, flow, second).reason == "duplicate address"

    signed_up(rt, first)  # re-enrolled after the first participation ended
    sf_run_jobs()
    assert participant_of(rt, flow, first).status == "completed"
    assert recipients(rt) == ["family@example.com", "family@example.com"]

    other_flow = started(rt, flow_doc([email_step("news")], name="Other flow"))
    signed_up(rt, second)
    sf_run_jobs()
    assert participant_of(rt, other_flow, second).status == "completed"


def test_attachments_are_listed_in_the_outbox(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    folder = rt.config.data_dir / "attachments"
    folder.mkdir(parents=True)
    (folder / "terms.pdf").write_bytes(b"%PDF" + b"x" * 2044)
    steps = [email_step("e1", attachments=[{"name": "Terms.pdf", "path": "terms.pdf"}])]
    flow = started(rt, flow_doc(steps))
    assert "with 1 attachment" in rt.registry.step_type("send_email").describe(steps[0]["settings"])
    signed_up(rt, people[0])
    sf_run_jobs()
    [message] = Outbox(rt.config).messages("email")
    assert message["attachments"] == [{"name": "Terms.pdf", "content_type": "application/pdf", "size": 2048}]
    assert participant_of(rt, flow, people[0]).status == "completed"


def test_attachment_limits_are_validation_errors_naming_the_file(sf_runtime):
    rt = sf_runtime
    folder = rt.config.data_dir / "attachments"
    folder.mkdir(parents=True)
    with open(folder / "video.mp4", "wb") as f:
        f.truncate(26 * 1024 * 1024)
    for name in ("a.pdf", "b.pdf"):
        with open(folder / name, "wb") as f:
            f.truncate(13 * 1024 * 1024)

    [error] = refused_save(
        rt, flow_doc([email_step("e1", attachments=[{"name": "Film.mp4", "path": "video.mp4"}])])
    )
    assert error["field"] == "steps[0].settings.attachments"
    assert error["message"] == "Film.mp4 is 26.0 MB; an attachment may be at most 25 MB"

    both = [{"name": "A.pdf", "path": "a.pdf"}, {"name": "B.pdf", "path": "b.pdf"}]
    together = refused_save(rt, flow_doc([email_step("e1", attachments=both)]))
    assert together[0]["message"] == (
        "A.pdf, B.pdf are 26.0 MB together; attachments may be at most 25 MB in all"
    )

    outside = refused_save(
        rt, flow_doc([email_step("e1", attachments=[{"name": "x", "path": "../secret_key"}])])
    )
    assert "must be a file name under the attachments folder" in outside[0]["message"]


def test_a_missing_attachment_is_a_readiness_problem(sf_runtime):
    rt = sf_runtime
    doc = flow_doc([email_step("e1", attachments=[{"name": "Brochure.pdf", "path": "brochure.pdf"}])])
    [problem] = refused_start(rt, doc)  # a draft may name a file that is not there yet
    assert problem.startswith(
        "Step 1 'Send email': Attachments: Brochure.pdf: there is no file 'brochure.pdf'"
    )


def test_tracked_links_and_open_pixel_and_tracking_off(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    html = (
        '<html><body><p>See <a href="https://shop.example/sale?x=1&amp;y=2">the sale</a>'
        ' or <a href="mailto:a@b.c">mail</a></p></body></html>'
    )
    flow = started(rt, flow_doc([email_step("t", html=html), email_step("u", html=html, tracking=False)]))
    signed_up(rt, people[0])
    sf_run_jobs()
    tracked, untracked = sorted(Outbox(rt.config).messages("email"), key=lambda m: m["id"])
    pid = f"{flow.id}.1"
    link = tracked["html"].split('href="')[1].split('"')[0]
    parsed = urlparse(link)
    assert parsed.netloc == "superflow.test" and parsed.path.startswith("/t/c/")
    sealed = tracking.open_token("test-secret", "c", parsed.path.rsplit("/", 1)[1])
    assert (sealed.participant_id, sealed.step_id) == (pid, "t")
    assert sealed.url == "https://shop.example/sale?x=1&y=2"
    assert pid not in link and "shop.example" not in link, "no ids or addresses in the clear"
    assert 'href="mailto:a@b.c"' in tracked["html"]
    assert "/t/o/" in tracked["html"] and tracked["html"].index("/t/o/") < tracked["html"].index("</body>")
    assert "the sale (https://shop.example/sale?x=1&y=2)" in tracked["text"]
    assert (
        "/t/" not in untracked["html"] and 'href="https://shop.example/sale?x=1&amp;y=2"' in untracked["html"]
    )


def clicked(rt, flow, person_id, step_id, url, kind="link.clicked"):
    p = participant_of(rt, flow, person_id)
    rt.emit([Event(kind, person_id, {"participant_id": p.id, "step_id": step_id, "url": url})])


def test_email_opened_and_link_clicked_triggers(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    campaign = started(rt, flow_doc([email_step("offer"), email_step("other")], name="Campaign"))
    on_click = started(
        rt,
        flow_doc(
            [email_step("thanks", subject="Thanks for looking")],
            trigger={
                "type": "link_clicked",
                "settings": {"flow": campaign.id, "step": "offer", "url": "https://shop.example/*"},
            },
            name="Clicked",
        ),
    )
    on_open = started(
        rt,
        flow_doc(
            [email_step("seen")],
            trigger={"type": "email_opened", "settings": {"flow": campaign.id, "step": "offer"}},
            name="Opened",
        ),
    )
    signed_up(rt, *people[:4])
    sf_run_jobs()

    clicked(rt, campaign, people[0], "offer", "https://shop.example/shoes")
    clicked(rt, campaign, people[1], "offer", "https://elsewhere.example/")
    clicked(rt, campaign, people[2], "other", "https://shop.example/shoes")
    clicked(rt, campaign, people[3], "offer", None, kind="email.opened")
    clicked(rt, campaign, people[2], "other", None, kind="email.opened")
    sf_run_jobs()

    assert [pid for pid in people[:4] if participant_of(rt, on_click, pid)] == [people[0]]
    assert [pid for pid in people[:4] if participant_of(rt, on_open, pid)] == [people[3]]
    assert participant_of(rt, on_click, people[0]).status == "completed"


def test_trigger_settings_in_words_and_readiness(sf_runtime):
    trigger = sf_runtime.registry.trigger("link_clicked")
    words = trigger.describe({"flow": "3", "step": "offer", "url": "https://shop.example/*"})
    assert (
        words == "When the person clicks a link https://shop.example/* in the email of step offer of flow 3"
    )
    doc = flow_doc([email_step("e1")], trigger={"type": "email_opened", "settings": {"step": "offer"}})
    assert refused_start(sf_runtime, doc) == [
        "Trigger 'Email opened': Email of flow: choose the flow whose step 'offer' is meant"
    ]


def test_link_clicked_success_criterion(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [
        email_step("offer"),
        {"id": "w", "type": "wait", "settings": {"amount": 3}},
        email_step("reminder"),
    ]
    success = {
        "criteria": [
            {"type": "link_clicked", "settings": {"step": "offer", "url": "https://shop.example/buy"}}
        ]
    }
    flow = started(rt, flow_doc(steps, success=success))
    signed_up(rt, *people[:3])
    sf_run_jobs()
    clicked(rt, flow, people[0], "offer", "https://shop.example/buy/")
    clicked(rt, flow, people[1], "offer", "https://shop.example/about")
    # a click in another flow's email is not a click in this one
    rt.emit(
        [
            Event(
                "link.clicked",
                people[2],
                {"participant_id": "999.1", "step_id": "offer", "url": "https://shop.example/buy"},
            )
        ]
    )
    sf_run_jobs()
    rt.clock.advance(3 * 86400 + 1)
    sf_run_jobs()

    buyer = participant_of(rt, flow, people[0])
    assert buyer.status == "succeeded" and buyer.reason == "success: link.clicked"
    assert participant_of(rt, flow, people[1]).status == "completed"
    assert participant_of(rt, flow, people[2]).status == "completed"
    assert "link.clicked@offer" in participant_of(rt, flow, people[1]).actions
    assert recipients(rt).count("ada@example.com") == 1

    bad = flow_doc(
        [email_step("e1")], success={"criteria": [{"type": "link_clicked", "settings": {"step": "nope"}}]}
    )
    assert refused_start(rt, bad) == [
        "Success criterion 'Clicked a link': In the email of step: there is no step 'nope' in this flow"
    ]


def test_email_action_criterion_and_filter_still_work(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [email_step("offer"), {"id": "w", "type": "wait", "settings": {"amount": 1}}]
    success = {
        "criteria": [{"type": "email_action", "settings": {"action": "email.opened", "step": "offer"}}]
    }
    flow = started(rt, flow_doc(steps, success=success))
    signed_up(rt, people[0])
    sf_run_jobs()
    clicked(rt, flow, people[0], "offer", None, kind="email.opened")
    sf_run_jobs()
    assert participant_of(rt, flow, people[0]).status == "succeeded"


def test_the_preheader_leads_the_html_hidden_and_stays_out_of_the_text_part(sf_runtime, sf_run_jobs, people):
    rt = sf_runtime
    steps = [email_step("e1", preheader="{{ person.first_name }}, your 20% code is inside")]
    started(rt, flow_doc(steps))
    signed_up(rt, people[0])
    sf_run_jobs()
    [message] = Outbox(rt.config).messages("email")
    assert message["html"].startswith('<div style="display:none;')
    assert "Ada, your 20% code is inside</div>" in message["html"]
    assert "code is inside" not in message["text"] and message["text"].startswith("Hi Ada")
