"""A design made into responsive email HTML: blocks → MJML → HTML (by MRML, the Rust
port of MJML, through ``mjml-python``), so the tables that work in Outlook, Gmail and
Apple Mail are MJML's, not ours.

Every value is escaped into the MJML; a text block keeps only a small HTML subset
(``p br b strong i em u a ul ol li h1 h2 h3``, links with http/https/mailto
addresses).  Merge tags (``{{ ... }}``, ``{% ... %}``, ``[[ ... ]]``) are set aside
before and put back after, exactly as written, so they are filled per person at
send time like any other body.  Two markers survive into the HTML for the send:
:data:`UNSUBSCRIBE` (the footer's link, replaced by the person's unsubscribe
address) and :data:`UNTRACKED` before an address the marketer chose not to track.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from typing import Any

import mjml

from .design import NETWORKS
from .design import link_problem

#: The footer's unsubscribe link until the send fills in the person's own address;
#: raw HTML may use it too (``<a href="{unsubscribe_url}">``).
UNSUBSCRIBE = "{unsubscribe_url}"
#: Put before the address of a link that is not to be tracked; taken out at the send.
UNTRACKED = "sf-untracked:"
MERGE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\[\[.*?\]\]", re.S)
HIDDEN_TAG = re.compile(r"sfmergetag\d+x")
FONT = "Helvetica, Arial, sans-serif"
ALLOWED = {"p", "br", "b", "strong", "i", "em", "u", "a", "ul", "ol", "li", "h1", "h2", "h3"}
VOID = {"br"}
#: Tags whose content goes too, not only the tag.
DROPPED = {"script", "style", "head", "title", "template"}


class _Tags:
    """Merge tags swapped for plain words while the design is built, then put back."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def hide(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            self.found.append(match.group(0))
            return f"sfmergetag{len(self.found) - 1}x"

        return MERGE.sub(swap, text)

    def restore(self, html: str) -> str:
        return re.sub(r"sfmergetag(\d+)x", lambda m: self.found[int(m.group(1))], html)


class _Sanitizer(HTMLParser):
    """The text block's HTML with only the allowed tags; everything else is text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED:
            self.hidden += 1
        if tag not in ALLOWED:
            return
        if tag == "a":
            values = dict(attrs)
            href = (values.get("href") or "").strip()
            bare = href.removeprefix(UNTRACKED)
            if not HIDDEN_TAG.fullmatch(bare) and link_problem(bare):
                href = ""
            if values.get("data-tracked") == "no" and href and not href.startswith(UNTRACKED):
                href = UNTRACKED + href
            self.out.append(f'<a href="{escape(href)}" style="color:#2563eb">' if href else "<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED:
            self.hidden = max(0, self.hidden - 1)
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{t}>" for t in reversed(self.open))


def clean_html(html: str) -> str:
    """A text block's HTML reduced to the allowed subset (see the module)."""
    parser = _Sanitizer()
    parser.feed(html)
    parser.close()
    return parser.result()


def _href(url: str, tracked: bool = True) -> str:
    return escape(url if tracked else UNTRACKED + url)


def _block(block: dict[str, Any], sender_address: str, tags: _Tags) -> str:
    kind = block["type"]
    if kind == "text":
        return (
            f'<mj-text align="{block["align"]}" font-size="15px" line-height="1.5">'
            f"{clean_html(tags.hide(block['html']))}</mj-text>"
        )
    if kind == "image":
        if not block["src"]:
            return ""
        width = f' width="{block["width"]}px"' if block.get("width") else ""
        link = f' href="{_href(tags.hide(block["href"]))}"' if block["href"] else ""
        src, alt = escape(tags.hide(block["src"])), escape(tags.hide(block["alt"]))
        return f'<mj-image src="{src}" alt="{alt}"{width}{link} />'
    if kind == "button":
        if not block["label"]:
            return ""
        return (
            f'<mj-button href="{_href(tags.hide(block["url"]), block["tracked"])}"'
            f' background-color="{block["background"]}" color="{block["color"]}" align="{block["align"]}"'
            f' font-size="15px" border-radius="4px">{escape(tags.hide(block["label"]))}</mj-button>'
        )
    if kind == "divider":
        return f'<mj-divider border-color="{block["color"]}" border-width="1px" />'
    if kind == "spacer":
        return f'<mj-spacer height="{block["height"]}px" />'
    if kind == "social":
        links = [
            f'<a href="{_href(tags.hide(link["url"]))}" style="color:#2563eb">{NETWORKS[link["network"]]}</a>'
            for link in block["links"]
        ]
        return f'<mj-text align="center">{" · ".join(links)}</mj-text>' if links else ""
    if kind == "footer":
        address = (block["address"] or sender_address).strip()
        lines = [escape(tags.hide(line)) for line in address.splitlines() if line.strip()]
        parts = [
            f"<p>{escape(tags.hide(block['text']), quote=False)}</p>" if block["text"] else "",
            f"<p>{'<br>'.join(lines)}</p>" if lines else "",
            f'<p><a href="{UNSUBSCRIBE}" style="color:#666666">{escape(block["unsubscribe_label"])}</a></p>',
        ]
        return f'<mj-text align="center" font-size="12px" color="#666666">{"".join(parts)}</mj-text>'
    return ""


def _section(inner: str) -> str:
    return (
        f'<mj-section background-color="#ffffff" padding="4px 0"><mj-column>{inner}</mj-column></mj-section>'
    )


def to_mjml(design: dict[str, Any], sender_address: str = "", tags: _Tags | None = None) -> str:
    """The MJML of a checked design (:func:`.design.load_design`)."""
    tags = tags or _Tags()
    sections = []
    for block in design["blocks"]:
        if block["type"] == "columns":
            columns = "".join(
                "<mj-column>"
                + "".join(_block(b, sender_address, tags) for b in column["blocks"])
                + "</mj-column>"
                for column in block["columns"]
            )
            sections.append(f'<mj-section background-color="#ffffff" padding="4px 0">{columns}</mj-section>')
        elif inner := _block(block, sender_address, tags):
            sections.append(_section(inner))
    head = (
        f'<mj-head><mj-attributes><mj-all font-family="{FONT}" /><mj-text color="#222222" />'
        "</mj-attributes></mj-head>"
    )
    body = "".join(sections) or _section("<mj-text> </mj-text>")
    opening = f'<mj-body background-color="{design["background"]}" width="{design["width"]}px">'
    return f"<mjml>{head}{opening}{body}</mj-body></mjml>"


def render_design(design: dict[str, Any], sender_address: str = "") -> str:
    """The email HTML of a checked design, its merge tags as written (to be filled
    per person like any body)."""
    tags = _Tags()
    source = to_mjml(design, sender_address, tags)
    return tags.restore(mjml.mjml2html(source, disable_comments=False, fonts={}))


def for_preview(html: str) -> str:
    """The HTML as the editor's preview shows it: the send's markers taken out."""
    return html.replace(UNTRACKED, "").replace(UNSUBSCRIBE, "#unsubscribe")
