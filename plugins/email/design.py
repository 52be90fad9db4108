"""An email's design: the JSON document of blocks the designer's block editor edits.

A design is ``{"blocks": [...], "background": "#f4f4f4", "width": 600}``; each block
has a ``type`` (text, image, button, columns, divider, spacer, social, footer) and
its own fields.  :class:`DesignSchema` checks it with bounded sizes (blocks, text,
columns one level deep), colours as ``#rgb``/``#rrggbb``, and link addresses that
are ``http``, ``https`` or ``mailto`` (or one merge tag such as ``{{ person.website }}``);
every error names the block ("Block 3 (Button), Link: ...").  :mod:`.rendering` turns
a checked design into HTML.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

MAX_BLOCKS = 60
MAX_COLUMN_BLOCKS = 12
MAX_TEXT = 20_000
MAX_LINE = 500
MAX_URL = 2_000
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
#: A merge tag standing for a whole address: ``{{ person.website }}``.
WHOLE_TAG = re.compile(r"\{\{[^{}]{1,200}\}\}|\[\[[^\[\]]{1,200}\]\]")
NETWORKS = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "x": "X",
    "youtube": "YouTube",
    "website": "Website",
}
BLOCK_LABELS = {
    "text": "Text",
    "image": "Image",
    "button": "Button",
    "columns": "Columns",
    "divider": "Divider",
    "spacer": "Spacer",
    "social": "Social links",
    "footer": "Footer",
}


def link_problem(value: str, *, mailto: bool = True) -> str:
    """Why ``value`` cannot be a link's address ("" when it can): http, https,
    mailto (when allowed), or one merge tag that gives the address."""
    v = value.strip()
    if not v:
        return "give the address the link goes to"
    if len(v) > MAX_URL:
        return f"an address may have at most {MAX_URL} characters"
    if WHOLE_TAG.fullmatch(v):
        return ""
    parts = urlsplit(v)
    scheme = parts.scheme.lower()
    if scheme == "mailto" and mailto:
        return (
            "" if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v[7:].split("?")[0]) else "not an email address"
        )
    if scheme not in ("http", "https"):
        allowed = "https://, http:// or mailto:" if mailto else "https:// or http://"
        return f"must start with {allowed}"
    if not parts.hostname or "." not in parts.hostname and "{{" not in v:
        return "the address needs a domain, e.g. https://example.com/offer"
    return ""


class _Colour(fields.String):
    def __init__(self, default: str, **kwargs: Any) -> None:
        super().__init__(
            load_default=default, validate=validate.Regexp(COLOUR, error="not a colour"), **kwargs
        )


class _Block(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True)
    #: The editor's own id of the block (for keeping focus while editing).
    id = fields.String(load_default="", validate=validate.Length(max=40))


class TextBlock(_Block):
    html = fields.String(load_default="", validate=validate.Length(max=MAX_TEXT))
    align = fields.String(load_default="left", validate=validate.OneOf(("left", "center", "right")))


class ImageBlock(_Block):
    src = fields.String(load_default="", validate=validate.Length(max=MAX_URL))
    alt = fields.String(load_default="", validate=validate.Length(max=MAX_LINE))
    href = fields.String(load_default="", validate=validate.Length(max=MAX_URL))
    width = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=20, max=1200))

    @validates_schema
    def _addresses(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("src") and (problem := link_problem(data["src"], mailto=False)):
            raise ValidationError(problem, "src")
        if data.get("href") and (problem := link_problem(data["href"])):
            raise ValidationError(problem, "href")


class ButtonBlock(_Block):
    label = fields.String(load_default="", validate=validate.Length(max=MAX_LINE))
    url = fields.String(load_default="", validate=validate.Length(max=MAX_URL))
    tracked = fields.Boolean(load_default=True)
    background = _Colour("#2563eb")
    color = _Colour("#ffffff")
    align = fields.String(load_default="center", validate=validate.OneOf(("left", "center", "right")))

    @validates_schema
    def _address(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("url") and (problem := link_problem(data["url"])):
            raise ValidationError(problem, "url")


class DividerBlock(_Block):
    color = _Colour("#dddddd")


class SpacerBlock(_Block):
    height = fields.Integer(load_default=20, validate=validate.Range(min=4, max=200))


class SocialLink(Schema):
    class Meta:
        unknown = RAISE

    network = fields.String(required=True, validate=validate.OneOf(tuple(NETWORKS)))
    url = fields.String(required=True, validate=validate.Length(max=MAX_URL))

    @validates_schema
    def _address(self, data: dict[str, Any], **kwargs: Any) -> None:
        if problem := link_problem(data.get("url") or "", mailto=False):
            raise ValidationError(problem, "url")


class SocialBlock(_Block):
    links = fields.List(fields.Nested(SocialLink), load_default=list, validate=validate.Length(max=8))


class FooterBlock(_Block):
    address = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_LINE),
        metadata={"help": "empty: the sender's postal address the administrator set"},
    )
    text = fields.String(load_default="", validate=validate.Length(max=MAX_LINE))
    unsubscribe_label = fields.String(load_default="Unsubscribe", validate=validate.Length(min=1, max=100))


class Column(Schema):
    class Meta:
        unknown = RAISE

    blocks = fields.List(fields.Dict(), load_default=list, validate=validate.Length(max=MAX_COLUMN_BLOCKS))


class ColumnsBlock(_Block):
    columns = fields.List(fields.Nested(Column), required=True, validate=validate.Length(min=2, max=3))


BLOCKS: dict[str, type[Schema]] = {
    "text": TextBlock,
    "image": ImageBlock,
    "button": ButtonBlock,
    "columns": ColumnsBlock,
    "divider": DividerBlock,
    "spacer": SpacerBlock,
    "social": SocialBlock,
    "footer": FooterBlock,
}
#: What a column may hold: no columns in columns, no footer in a column.
IN_COLUMN = ("text", "image", "button", "divider", "spacer", "social")


def _field_words(name: str) -> str:
    return {
        "html": "Text",
        "src": "Image address",
        "alt": "Description",
        "href": "Link",
        "url": "Link",
        "label": "Label",
        "links": "Links",
        "unsubscribe_label": "Unsubscribe text",
    }.get(name, name.replace("_", " ").capitalize())


def _flat(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        found = []
        for key, value in messages.items():
            inner = prefix
            if isinstance(key, int):
                inner = f"{prefix} {key + 1}".strip()
            elif key != "_schema":
                inner = f"{prefix}, {_field_words(key)}" if prefix else _field_words(key)
            found += _flat(value, inner)
        return found
    if isinstance(messages, list):
        return [line for m in messages for line in _flat(m, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def check_block(block: Any, where: str, *, in_column: bool) -> tuple[dict[str, Any] | None, list[str]]:
    """The block loaded, or the problems naming it (``where``: "Block 3")."""
    if not isinstance(block, dict):
        return None, [f"{where}: a block must be an object"]
    kind = block.get("type")
    allowed = IN_COLUMN if in_column else tuple(BLOCKS)
    if kind not in allowed:
        inside = " inside columns" if in_column else ""
        return None, [f"{where}: {kind!r} is not a block{inside}; use one of {', '.join(allowed)}"]
    named = f"{where} ({BLOCK_LABELS[kind]})"
    try:
        loaded = BLOCKS[kind]().load(block)
    except ValidationError as exc:
        return None, [f"{named}, {line}" for line in _flat(exc.messages)]
    if kind != "columns":
        return loaded, []
    problems: list[str] = []
    for c, column in enumerate(loaded["columns"]):
        inner = []
        for b, child in enumerate(column["blocks"]):
            found, more = check_block(child, f"{named}, column {c + 1}, block {b + 1}", in_column=True)
            problems += more
            if found is not None:
                inner.append(found)
        column["blocks"] = inner
    return loaded, problems


class DesignSchema(Schema):
    """A whole design; the blocks' problems come out as one list naming each block."""

    class Meta:
        unknown = EXCLUDE

    blocks = fields.List(fields.Raw(), load_default=list, validate=validate.Length(max=MAX_BLOCKS))
    background = _Colour("#f4f4f4")
    width = fields.Integer(load_default=600, validate=validate.Range(min=320, max=900))

    @validates_schema
    def _blocks(self, data: dict[str, Any], **kwargs: Any) -> None:
        problems: list[str] = []
        for i, block in enumerate(data.get("blocks") or []):
            problems += check_block(block, f"Block {i + 1}", in_column=False)[1]
        if problems:
            raise ValidationError(problems, "blocks")


def load_design(design: Any) -> dict[str, Any]:
    """A design checked and with every default filled in; ``ValidationError`` names
    each block that is wrong."""
    if not isinstance(design, dict):
        raise ValidationError(["a design must be an object with its blocks"], "design")
    loaded = DesignSchema().load(design)
    loaded["blocks"] = [
        found
        for i, block in enumerate(loaded["blocks"])
        if (found := check_block(block, f"Block {i + 1}", in_column=False)[0]) is not None
    ]
    return loaded


def blocks_of(design: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Every block of ``kind`` in the design, columns' blocks included."""
    found = []
    for block in design.get("blocks") or []:
        if block.get("type") == kind:
            found.append(block)
        for column in block.get("columns") or []:
            found += [b for b in column.get("blocks") or [] if b.get("type") == kind]
    return found


def lawful_problems(design: dict[str, Any], sender_address: str) -> list[str]:
    """What a marketing email's design lacks to be lawful, in the marketer's words:
    a footer with the unsubscribe link, and the sender's postal address."""
    footers = blocks_of(design, "footer")
    if not footers:
        return [
            "a marketing email needs a footer block with the unsubscribe link and your postal address:"
            " add a Footer block"
        ]
    if not any((f.get("address") or "").strip() for f in footers) and not sender_address.strip():
        return [
            "the footer needs the sender's postal address: write it in the Footer block,"
            " or ask your administrator to set the sender's postal address for all emails"
        ]
    return []
