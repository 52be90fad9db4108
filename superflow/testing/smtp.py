"""An SMTP handler (for aiosmtpd) that keeps what arrives, for tests of sending mail."""

from __future__ import annotations

import email
from email import policy
from typing import Any


class Inbox:
    """An SMTP handler that keeps what arrives; ``refuse`` maps an address to the
    reply its ``RCPT TO`` gets ("550 5.1.1 No such user")."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self) -> list[str]:
        return [m["To"] for m in self.messages]
