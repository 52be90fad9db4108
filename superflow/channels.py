"""The contracts of message channels: email transports and SMS providers.

Transports are registered classes, built once per process with the configuration.
``idempotent`` transports can look an idempotency key up and never send twice for
one key; the engine then re-sends safely after a crash.  Others (plain SMTP) are
protected by the engine's at-most-once ledger instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


class ChannelError(Exception):
    """A message could not be handed over; the message says why."""


@dataclass
class EmailMessage:
    to: str
    subject: str
    html: str
    text: str
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SmsMessage:
    to: str
    sender: str
    text: str


class EmailTransport:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    idempotent: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config

    def send_many(self, messages: list[tuple[EmailMessage, str]]) -> list[str]:
        """Send ``(message, idempotency_key)`` pairs; return a message id for each."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


class SmsProvider:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    idempotent: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config

    def send_many(self, messages: list[tuple[SmsMessage, str]]) -> list[str]:
        """Send ``(message, idempotency_key)`` pairs; return a message id for each."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""
