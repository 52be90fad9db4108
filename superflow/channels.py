"""The contracts of message channels: email transports and SMS providers.

Transports are registered classes, built once per process with the configuration.
``idempotent`` transports can look an idempotency key up and never send twice for
one key; the engine then re-sends safely after a crash.  Others (plain SMTP) are
protected by the engine's at-most-once ledger instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Generic
from typing import TypeVar

from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from superflow import metrics

if TYPE_CHECKING:
    from superflow.components import StepContext
    from superflow.components import StepResult


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


@dataclass(frozen=True)
class MaybeSent:
    """What a transport returns *in place of a message id* when the whole message
    went out but no answer came back (an SMTP connection that dropped after the
    message's data, a gateway that did not answer in time).  The message is *in
    doubt*; the channel's rule is that it was taken: it is recorded as sent, never
    sent again, and ``reason`` goes into the participant's history."""

    reason: str


class TemporaryFailure(ChannelError):
    """One message was not taken just now (an SMTP 4xx, a gateway's 429 or 5xx): that
    message is tried again later, the rest of the batch goes on.  ``retry_after`` is
    the pause the other side asked for (``Retry-After``), if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# After this many temporary failures in a row the channel is taken to be down for the
# rest of the batch: its other messages are not tried one by one.
FAILURES_IN_A_ROW = 3


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


def sms_sender_field(help: str) -> fields.String:
    """The required ``sender`` setting of a step that sends SMS: a phone number, or a
    name of up to 11 letters and digits (the longest alphanumeric sender SMS networks
    carry)."""
    return fields.String(
        required=True,
        validate=validate.Regexp(
            r"^(\+?\d{3,15}|[A-Za-z0-9 ]{1,11})$", error="a number or up to 11 letters and digits"
        ),
        metadata={"label": "Sender", "help": help},
    )


Message = TypeVar("Message", EmailMessage, SmsMessage)


class Transport(Generic[Message]):
    """What email transports and SMS providers share: how they are built, send,
    close and say whether they take messages again."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    idempotent: ClassVar[bool] = False
    #: What a message in doubt (claimed, then the worker died) becomes on the next
    #: attempt: ``"resend"`` (nothing is lost, the person may get it twice) or
    #: ``"skip"`` (taken as sent).  Idempotent transports never have messages in doubt.
    in_doubt: ClassVar[str] = "resend"

    def __init__(self, config: Any) -> None:
        self.config = config

    def send_many(self, messages: list[tuple[Message, str]]) -> list[str]:
        """Send ``(message, idempotency_key)`` pairs; return a message id for each."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def probe(self) -> bool:
        """Is the channel taking messages again, after an outage?  The tick asks
        every few seconds while it is down.  ``True`` by default: the waiting
        participants then simply try again."""
        return True


class EmailTransport(Transport[EmailMessage]):
    """The base of email transports."""

    def lanes(self) -> list[EmailTransport]:
        """Transports (this one first) that :func:`deliver` may hand a batch's
        messages to at the same time, each from a thread of its own, each one message
        at a time: for a transport that waits on the network per message (SMTP: four
        round trips), more connections in flight.  Each lane may leave one message in
        doubt when the worker dies.  Just this one by default."""
        return [self]


class SmsProvider(Transport[SmsMessage]):
    """The base of SMS providers."""


@dataclass
class Delivery:
    """What became of one message: its id, or why it was not sent.

    ``sent_before``: an earlier attempt handed it over and stopped before the step
    was recorded (the id is the one it got then).  ``in_doubt`` says in words why
    the message may or may not have gone out, and what was decided.
    ``channel_down``: not sent because the channel as a whole is down.
    """

    message_id: Any
    error: str = ""
    sent_before: bool = False
    in_doubt: str = ""
    retry_after: float | None = None
    channel_down: bool = False


def deliver(transport: EmailTransport | SmsProvider, items: list[tuple[StepContext, Any]]) -> list[Delivery]:
    """Hand ``(ctx, message)`` pairs to a transport, each exactly once as far as the
    channel can tell.

    An idempotent transport gets every message with its idempotency key at once and
    keeps duplicates out itself.  For the others each message is claimed in the
    message ledger *right before* it is handed over and recorded as sent (with its
    id) right after, one message at a time, so a worker killed mid-batch leaves at
    most one message claimed and not recorded — one per lane when the transport
    sends on several connections at once (:meth:`EmailTransport.lanes`: the
    messages are dealt to the lanes in turn).  On a later attempt:

    - recorded as sent: not sent again; the step counts it (the earlier attempt's
      record of the step was never stored);
    - claimed, not recorded (*in doubt*): the worker died while handing it over;
      the transport's ``in_doubt`` rule decides (``"resend"``: send it again, the
      person may get it twice; ``"skip"``: take it as sent), and the decision goes
      into the participant's history;
    - a temporary failure releases the claim: that message is tried again later
      and the rest of the batch goes on; after ``FAILURES_IN_A_ROW`` in a row (or a
      plain ``ChannelError``, such as a refused connection) the channel is down: the
      rest of the batch is not tried, and those messages wait for the channel to be
      back (``channel_down``).
    """
    if transport.idempotent:
        return _deliver_all(transport, items)
    lanes = transport.lanes()[: len(items)] if isinstance(transport, EmailTransport) else [transport]
    if len(lanes) <= 1:
        return _deliver_one_by_one(transport, items)
    n = len(lanes)
    with ThreadPoolExecutor(n, thread_name_prefix="superflow-lane") as pool:
        shares = list(pool.map(_deliver_one_by_one, lanes, [items[i::n] for i in range(n)]))
    deliveries: list[Delivery] = [None] * len(items)  # type: ignore[list-item]
    for lane, share in enumerate(shares):
        deliveries[lane::n] = share
    return deliveries


def _deliver_one_by_one(
    transport: EmailTransport | SmsProvider, items: list[tuple[StepContext, Any]]
) -> list[Delivery]:
    """:func:`deliver`'s protocol on one transport (one lane), one message at a time.

    A message's ``sent`` is recorded in the round trip that claims the next one (the
    claim comes straight after the send, so it is no later than a write of its own),
    and on its own after the last one, or when the batch stops on an error."""
    deliveries: list[Delivery] = []
    failures, down = 0, ""
    unrecorded: tuple[StepContext, str] | None = None
    try:
        for ctx, message in items:
            key = ctx.idempotency_key
            if down:
                deliveries.append(Delivery(None, down, channel_down=True))
                continue
            ledger = ctx.messages
            if unrecorded is not None and unrecorded[0].messages is not ledger:
                unrecorded[0].messages.sent(unrecorded[0].idempotency_key, unrecorded[1])
                unrecorded = None
            sent_before = (unrecorded[0].idempotency_key, unrecorded[1]) if unrecorded else None
            state, sent_id = ledger.claim(key, sent=sent_before)
            unrecorded = None
            doubt = ""
            if state == "sent":
                deliveries.append(Delivery(sent_id or key, sent_before=True))
                continue
            if state == "in_doubt":
                what = f"in doubt: an earlier attempt stopped while handing this {_channel(transport)} over"
                decision = "skipped" if transport.in_doubt == "skip" else "resent"
                metrics.count_in_doubt(ledger.conn, _channel_name(transport), decision)
                if transport.in_doubt == "skip":
                    unrecorded = (ctx, key)
                    deliveries.append(Delivery(key, in_doubt=f"{what}; taken as sent, not sent again"))
                    continue
                doubt = f"{what}; sent again, so it may arrive twice"
            try:
                (result,) = transport.send_many([(message, key)])
            except TemporaryFailure as exc:
                ledger.release(key)
                failures += 1
                deliveries.append(Delivery(None, str(exc), retry_after=exc.retry_after))
                if failures >= FAILURES_IN_A_ROW:
                    down = f"{exc} ({failures} failures in a row)"
                    for failed in deliveries[-failures:]:
                        failed.channel_down = True
                continue
            except ChannelError as exc:
                ledger.release(key)
                down = str(exc)
                deliveries.append(Delivery(None, down, channel_down=True))
                continue
            failures = 0
            if isinstance(result, PermanentFailure):
                ledger.release(key)
                deliveries.append(Delivery(result, in_doubt=doubt))
            elif isinstance(result, MaybeSent):
                unrecorded = (ctx, key)
                metrics.count_in_doubt(ledger.conn, _channel_name(transport), "taken_as_sent")
                deliveries.append(Delivery(key, in_doubt=f"in doubt: {result.reason}; taken as sent"))
            else:
                unrecorded = (ctx, str(result))
                deliveries.append(Delivery(result, in_doubt=doubt))
    finally:
        if unrecorded is not None:
            unrecorded[0].messages.sent(unrecorded[0].idempotency_key, unrecorded[1])
    return deliveries


def _deliver_all(
    transport: EmailTransport | SmsProvider, items: list[tuple[StepContext, Any]]
) -> list[Delivery]:
    try:
        ids: list[Any] = list(transport.send_many([(m, ctx.idempotency_key) for ctx, m in items]))
    except ChannelError as exc:
        ids = [*exc.sent, *([None] * (len(items) - len(exc.sent)))]
        down = not isinstance(exc, TemporaryFailure)
        return [Delivery(i) if i is not None else Delivery(None, str(exc), channel_down=down) for i in ids]
    return [Delivery(i) for i in ids]


def _channel(transport: Any) -> str:
    return "email" if isinstance(transport, EmailTransport) else "message"


def _channel_name(transport: Any) -> str:
    return "email" if isinstance(transport, EmailTransport) else "sms"


def result_of(
    delivery: Delivery, channel: str, to: str, outcome: str, counters: dict[str, int] | None = None
) -> StepResult:
    """The step result for one delivery: sent (with the "last sending"), sent by an
    earlier attempt that stopped before recording it (counted now: that attempt's
    counts were never stored), or to be retried (after the pause the other side asked
    for, if it asked)."""
    from superflow.components import StepResult

    if delivery.channel_down:
        return StepResult.retry(
            0,
            f"waiting for {channel} to work again: {delivery.error}",
            channel=channel,
        )
    if delivery.message_id is None:
        return StepResult.retry(
            delivery.retry_after if delivery.retry_after is not None else 60,
            f"{channel} not sent: {delivery.error}",
            counters={f"{channel}.failed": 1},
            failed_on=channel,
        )
    if delivery.sent_before:
        outcome = f"{outcome} (by an earlier attempt that stopped before recording it; not sent twice)"
    if delivery.in_doubt:
        outcome = f"{outcome} ({delivery.in_doubt})"
    return StepResult.advance(
        outcome,
        sending={"channel": channel, "status": "sent", "to": to, "id": delivery.message_id},
        counters={f"{channel}.sent": 1, **(counters or {})},
    )


def checked_address(to: str) -> str:
    """``to`` stripped, or ``ValueError`` naming it when it is not an email address."""
    address = (to or "").strip()
    try:
        validate.Email()(address)
    except ValidationError:
        raise ValueError(f"{to!r} is not an email address") from None
    return address
