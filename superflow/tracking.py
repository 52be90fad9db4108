"""Tracking tokens: what a tracked link, an open pixel or an unsubscribe link carries.

A token is sealed with AES-GCM under a key derived (HKDF-SHA256) from the app's
``secret_key``, so it shows no participant id, person id or address in the clear, and
any change to it is detected.  Its kind (``c`` click, ``o`` open, ``u`` unsubscribe)
is bound in as associated data: a pixel's token does not open as a link's.

Layout, base64url without padding::

    version (1 byte, 0x01) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)

and the plaintext::

    issued (uint32, Unix seconds) | len + participant id | len + step id
    | len + person id | the rest: the link's URL (clicks) or the subscription (unsubscribe)

A pixel's token is about 65 characters; a link's is about 60 plus 4/3 of its URL.
The addresses: ``<base>/t/c/<token>`` (click), ``<base>/t/o/<token>.gif`` (open),
``<base>/u/<token>`` (unsubscribe).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from html import unescape
from typing import TYPE_CHECKING
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from superflow.flow import Flow

VERSION = 1
KINDS = {"c": "tracked link", "o": "open pixel", "u": "unsubscribe link"}
NONCE = 12
TAG = 16
HEADER = struct.Struct(">I")
MIN_SEALED = 1 + NONCE + TAG + HEADER.size + 3
MAX_TOKEN_CHARS = 4096
DEFAULT_MAX_AGE_DAYS = 400


class TokenInvalid(Exception):
    """A token that cannot be used; ``cause`` says why in words for the recipient and
    ``status`` is the HTTP status to answer with (400, 404 or 410)."""

    def __init__(self, cause: str, status: int = 404, token: Token | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.status = status
        self.token = token  # set for an expired token: it is authentic, only old


@dataclass(frozen=True)
class Token:
    kind: str
    participant_id: str
    step_id: str
    person_id: str
    issued: int
    extra: str = ""

    @property
    def url(self) -> str:
        """A click token's destination."""
        return self.extra if self.kind == "c" else ""

    @property
    def subscription(self) -> str:
        """An unsubscribe token's subscription (empty: e-marketing consent)."""
        return self.extra if self.kind == "u" else ""

    @property
    def flow_id(self) -> str:
        """Participant ids are ``<flow id>.<n>``."""
        return self.participant_id.rpartition(".")[0]


@lru_cache(maxsize=8)
def _cipher(secret: str) -> AESGCM:
    if not secret:
        raise ValueError("tracking tokens need the app's secret_key (SUPERFLOW_SECRET_KEY)")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"superflow tracking tokens v1").derive(
        secret.encode()
    )
    return AESGCM(key)


def _aad(kind: str) -> bytes:
    return b"superflow:" + kind.encode()


def _short(name: str, value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"{name} is longer than 255 bytes: {value[:40]!r}…")
    return bytes([len(raw)]) + raw


def seal(
    secret: str,
    kind: str,
    participant_id: str,
    step_id: str,
    person_id: str = "",
    extra: str = "",
    now: float | None = None,
) -> str:
    """A token of ``kind`` for this participant and step; ``extra`` is the URL of a
    click or the subscription of an unsubscribe link."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    issued = int(time.time() if now is None else now)
    plain = (
        HEADER.pack(issued)
        + _short("participant id", participant_id)
        + _short("step id", step_id)
        + _short("person id", person_id)
        + extra.encode()
    )
    nonce = os.urandom(NONCE)
    sealed = bytes([VERSION]) + nonce + _cipher(secret).encrypt(nonce, plain, _aad(kind))
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def open_token(
    secret: str, kind: str, token: str, max_age_days: float | None = None, now: float | None = None
) -> Token:
    """The token's contents, or :class:`TokenInvalid` naming why it cannot be used:
    incomplete or mistyped (400), changed or not made here (404), expired (410).
    ``max_age_days`` ``None`` or 0: it never expires."""
    if not token or len(token) > MAX_TOKEN_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise TokenInvalid("this link is not valid: it is incomplete or has characters it cannot have", 400)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenInvalid("this link is not valid: it is incomplete (cut short or mistyped)", 400) from None
    if len(raw) < MIN_SEALED:
        raise TokenInvalid("this link is not valid: it is incomplete (cut short or mistyped)", 400)
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        # another spelling of the same bytes (base64's spare bits): not one we made
        raise TokenInvalid("this link is not valid: it was changed or was not made by this server")
    if raw[0] != VERSION:
        raise TokenInvalid("this link is not valid: it was changed or was not made by this server")
    nonce, body = raw[1 : 1 + NONCE], raw[1 + NONCE :]
    try:
        plain = _cipher(secret).decrypt(nonce, body, _aad(kind))
    except InvalidTag:
        raise TokenInvalid("this link is not valid: it was changed or was not made by this server") from None
    try:
        found = _parse(kind, plain)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        # Authentic but unreadable: only a bug on our side makes this.
        raise TokenInvalid("this link is not valid: its contents cannot be read") from None
    if max_age_days:
        age = (time.time() if now is None else now) - found.issued
        if age > max_age_days * 86400:
            raise TokenInvalid("this link has expired", 410, token=found)
    return found


def _parse(kind: str, plain: bytes) -> Token:
    (issued,) = HEADER.unpack_from(plain)
    at = HEADER.size
    parts = []
    for _ in range(3):
        size = plain[at]
        value = plain[at + 1 : at + 1 + size]
        if len(value) != size:
            raise ValueError("short field")
        parts.append(value.decode())
        at += 1 + size
    return Token(kind, parts[0], parts[1], parts[2], issued, plain[at:].decode())


def click_url(base: str, token: str) -> str:
    return f"{base}/t/c/{token}"


def open_url(base: str, token: str) -> str:
    return f"{base}/t/o/{token}.gif"


def unsubscribe_url(base: str, token: str) -> str:
    return f"{base}/u/{token}"


HREF = re.compile(r"""(?i)(<a\s[^>]*?href\s*=\s*)(["'])(https?://[^"']+)\2""")


def rewrite_links(
    html: str, base: str, secret: str, participant_id: str, step_id: str, person_id: str = ""
) -> str:
    """The body with its web links routed through tracked addresses and an open pixel
    before ``</body>`` (or at the end)."""

    def tracked(match: re.Match[str]) -> str:
        url = unescape(match.group(3))
        token = seal(secret, "c", participant_id, step_id, person_id, url)
        return f"{match.group(1)}{match.group(2)}{escape(click_url(base, token))}{match.group(2)}"

    html = HREF.sub(tracked, html)
    token = seal(secret, "o", participant_id, step_id, person_id)
    pixel = (
        f'<img src="{open_url(base, token)}"'
        ' width="1" height="1" alt="" style="border:0;width:1px;height:1px">'
    )
    closing = re.search(r"(?i)</body>", html)
    if closing:
        return html[: closing.start()] + pixel + html[closing.start() :]
    return html + pixel


#: What a person can do with a tracked email, as the flow's words say it.
EMAIL_ACTIONS = {"email.opened": "opened the email", "link.clicked": "clicked a link in the email"}


def untracked_warnings(settings: dict[str, Any], flow: Flow) -> list[str]:
    """Opens and clicks of an email with tracking off are never seen: a wait, split,
    filter or criterion on them never fires."""
    if settings.get("action", "email.opened") not in EMAIL_ACTIONS:
        return []
    ref = settings.get("step")
    emails = {
        sid: step
        for sid, step in flow.steps.items()
        if step["type"] == "send_email" and (not ref or sid == ref)
    }
    off = [sid for sid, step in emails.items() if step.get("settings", {}).get("tracking") is False]
    if emails and len(off) == len(emails):
        which = f"the email of step {flow.step_label(off[0])}" if ref else "every email of this flow"
        return [f"step: {which} has tracking off, so opens and clicks are never seen"]
    return []
