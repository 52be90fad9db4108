"""The contracts of message channels: email transports and SMS providers.

Transports are registered classes, built once per process with the configuration.
``idempotent`` transports can look an idempotency key up and never send twice for
one key; the engine then re-sends safely after a crash.  Others (plain SMTP) are
protected by the engine's at-most-once ledger instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from superflow.components import StepContext, StepResult


class ChannelError(Exception):
    """Messages could not be handed over; the message says why.  ``sent`` holds the
    ids of the messages of the same call that did go out before the failure, in
    order."""

    def __init__(self, message: str, sent: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.sent = list(sent)


@dataclass(frozen=True)
class PermanentFailure:
    """What a transport returns *in place of a message id* for a message the
    receiving side refused for good (an SMTP 5xx, a gateway's 4xx).

    ``reason`` is the server's own answer ("550 5.1.1 No such user").
    ``address_refused`` is true when the recipient's address itself was refused
    (SMTP's 5xx to ``RCPT TO``): the send email step then marks the person's
    address as blocked in the CRM.  Either way the participant exits with the
    reason, and the message is not tried again.  A transport that meets a
    temporary failure raises :class:`~superflow.channels.ChannelError` instead, with
    ``sent`` holding the results (ids and ``PermanentFailure``s) of the messages
    handled before it.
    """

    reason: str
    address_refused: bool = False


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


@dataclass
class Delivery:
    """What became of one message: its id, or why it was not sent."""

    message_id: str | None
    error: str = ""
    sent_before: bool = False


def deliver(transport: EmailTransport | SmsProvider, items: list[tuple[StepContext, Any]]) -> list[Delivery]:
    """Hand ``(ctx, message)`` pairs to a transport, each at most once.

    An idempotent transport gets every message with its idempotency key and keeps
    duplicates out itself.  For the others each message is first claimed in the
    engine's ledger; a message whose claim is already taken was handed over by an
    earlier attempt and is not sent again, and a claim whose send failed is
    released so that the retry sends it.
    """
    deliveries: list[Delivery | None] = [None] * len(items)
    sending = []
    for i, (ctx, _) in enumerate(items):
        if transport.idempotent or ctx.claim(ctx.idempotency_key):
            sending.append(i)
        else:
            deliveries[i] = Delivery(None, sent_before=True)
    if sending:
        error = ""
        try:
            ids: list[str | None] = list(
                transport.send_many([(items[i][1], items[i][0].idempotency_key) for i in sending])
            )
        except ChannelError as exc:
            error = str(exc)
            ids = [*exc.sent, *([None] * (len(sending) - len(exc.sent)))]
        for i, message_id in zip(sending, ids, strict=True):
            ctx = items[i][0]
            if message_id is None and not transport.idempotent:
                ctx.release(ctx.idempotency_key)
            deliveries[i] = Delivery(message_id, error if message_id is None else "")
    return [d for d in deliveries if d is not None]


def result_of(
    delivery: Delivery, channel: str, to: str, outcome: str, counters: dict[str, int] | None = None
) -> StepResult:
    """The step result for one delivery: sent (with the "last sending"), sent by an
    earlier attempt, or to be retried."""
    from superflow.components import StepResult

    if delivery.sent_before:
        return StepResult.advance("already sent in an earlier attempt; not sent twice")
    if delivery.message_id is None:
        return StepResult.retry(
            300, f"{channel} not sent: {delivery.error}", counters={f"{channel}.failed": 1}
        )
    return StepResult.advance(
        outcome,
        sending={"channel": channel, "status": "sent", "to": to, "id": delivery.message_id},
        counters={f"{channel}.sent": 1, **(counters or {})},
    )
