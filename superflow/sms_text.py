"""How an SMS text travels: the GSM-7 alphabets, the segment sizes and the counting,
defined once for the SMS step, its previews and the designer's live counter.

A text that only uses the GSM-7 alphabet fits 160 characters in one SMS; longer,
each part carries 153 (the rest is the header that joins the parts).  The
characters of the extension table (``€ [ ] { } \\ ^ ~ |`` and form feed) take two
places.  One character outside GSM-7 (an emoji, ``ł``, ``ő``) switches the whole
text to UCS-2: 70 UTF-16 units in one SMS, 67 per part; characters outside the
Basic Multilingual Plane (most emoji) take two units.  An escape pair or a
surrogate pair is never split between parts, so a part may carry one place less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
#: Units in a single SMS and in each part of a longer one, by encoding.
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
#: What a template's size is counted without: merge tags and template blocks,
#: whose filled-in values are not known yet.  Written so JavaScript reads it too.
MERGE_TAG = re.compile(r"\{\{.*?\}\}|\[\[.*?\]\]|\{%.*?%\}", re.S)


@dataclass(frozen=True)
class Segments:
    """How a text travels: ``encoding`` (``GSM-7`` or ``UCS-2``), ``parts`` (SMS
    billed), ``units`` (septets or UTF-16 units used) and ``left`` (how many more
    units fit before another part is needed)."""

    encoding: str
    parts: int
    units: int
    left: int

    def __str__(self) -> str:
        return f"{self.parts} SMS part{'s' if self.parts != 1 else ''} ({self.encoding})"


def count_segments(text: str) -> Segments:
    """The encoding a text needs and how many SMS it takes."""
    if all(ch in GSM7 or ch in GSM7_EXTENSION for ch in text):
        encoding, sizes = "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding, sizes = "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    single, per_part = LIMITS[encoding]
    units = sum(sizes)
    if units <= single:
        return Segments(encoding, 1, units, single - units)
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return Segments(encoding, parts, units, per_part - used)


def describe_text(template: str) -> str:
    """The size of a text template in words for the settings form: "2 SMS parts
    (GSM-7)", counted without its merge tags when it has some (the filled-in
    values add to it)."""
    bare = MERGE_TAG.sub("", template or "")
    counted = count_segments(bare)
    if bare != (template or ""):
        return f"{counted} before merge tags are filled in"
    return str(counted)


MOBILE = re.compile(r"^\+?\d{6,15}$")


def checked_number(to: str) -> str:
    """``to`` without spaces, dashes, dots or brackets, or ``ValueError`` naming it
    when it is not a phone number (6 to 15 digits, ``+`` in front allowed)."""
    number = re.sub(r"[\s\-.()]", "", to or "")
    if not MOBILE.match(number):
        raise ValueError(f"{to!r} is not a mobile number (6 to 15 digits, e.g. +4790000000)")
    return number


def segment_details(text: str) -> dict[str, Any]:
    """How an SMS travels, for :attr:`Content.details`: ``segments`` (SMS billed),
    ``encoding`` (GSM-7 or UCS-2), ``characters``, ``left`` (units before another
    part is needed) and ``size`` in words ("2 SMS parts (GSM-7)")."""
    counted = count_segments(text)
    return {
        "segments": counted.parts,
        "encoding": counted.encoding,
        "characters": len(text),
        "left": counted.left,
        "size": str(counted),
    }


def browser_rules() -> dict[str, Any]:
    """The same rules for the designer's script, so the browser counts as the server
    does without a copy of the tables: both alphabets, the limits and the pattern of
    what is not counted (``source`` and ``flags`` of a JavaScript ``RegExp``)."""
    return {
        "gsm7": "".join(sorted(GSM7)),
        "gsm7_extension": "".join(sorted(GSM7_EXTENSION)),
        "limits": {encoding: list(sizes) for encoding, sizes in LIMITS.items()},
        "merge_tag": {"source": MERGE_TAG.pattern, "flags": "s"},
    }
