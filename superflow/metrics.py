"""Prometheus metrics: counters and histograms kept in Redis, gauges read from it.

Web processes and workers are many and on many machines, so no metric lives in one
process's memory.  Counters and histogram buckets are Redis hash fields, incremented
in the transaction of the work they count (:class:`Tally` for the engine's rounds,
:func:`count` and :func:`observe` for one-off increments on a pipeline); gauges
(queue depth and age, participants in flight, stuck, channels down, live workers)
are computed when Prometheus scrapes, from what Redis already holds.
:class:`Collector` reads all of it in two pipelined round trips for
``prometheus_client``; ``GET /metrics`` (:mod:`superflow.webapp.operations.metrics`) serves it.

Keys (this module alone spells them):

- ``sf:metrics:counters`` — hash: ``<name>{<label>=<value>,...}`` → count.
- ``sf:metrics:histograms`` — hash: ``<name>{<labels>}#le=<bound>`` → observations
  in that bucket alone (not cumulative), ``...#sum`` and ``...#count``.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from superflow import keys

if TYPE_CHECKING:
    from prometheus_client.core import Metric
    from redis import Redis
    from redis.client import Pipeline

    from superflow.runtime import Runtime

PREFIX = "superflow_"

#: Upper bounds of the latency histograms' buckets, in seconds (``+Inf`` is implied).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Channels reported even while nothing was sent on them, so that rates and ratios
#: have a series from the first scrape.
CHANNELS = ("email", "sms")
#: Counter names (in a step result's ``counters``, after ``<channel>.``) that are a
#: message the channel did not take.
FAILED = ("failed", "bounced")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _value(text: Any) -> str:
    """A label value safe inside a field name: no ``{``, ``,``, ``=``, ``#``."""
    return _UNSAFE.sub("_", str(text))[:100] or "_"


def series(name: str, **labels: Any) -> str:
    """The hash field of one series: ``name{k=v,...}`` with the labels sorted."""
    inner = ",".join(f"{k}={_value(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition("{")
    labels = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(",") if "=" in pair)
    return name, labels


def _bound(bound: float) -> str:
    """A bucket's bound as Prometheus writes it (``1.0``, ``0.05``)."""
    return repr(float(bound))


BOUNDS = tuple(_bound(b) for b in BUCKETS)


def bucket_of(seconds: float) -> str:
    """The bucket ``seconds`` falls in: the first bound it does not exceed."""
    for bound, text in zip(BUCKETS, BOUNDS, strict=True):
        if seconds <= bound:
            return text
    return "+Inf"


# -- writing -----------------------------------------------------------------
def count(pipe: Redis | Pipeline, name: str, n: int = 1, **labels: Any) -> None:
    """Queue ``HINCRBY`` of counter ``name`` (without ``superflow_`` and ``_total``)
    on ``pipe``: the caller's pipeline or transaction, so it costs no round trip."""
    if n:
        pipe.hincrby(keys.METRIC_COUNTERS, series(name, **labels), n)


def count_events(pipe: Redis | Pipeline, n: int) -> None:
    """Events accepted for the engine (``superflow_events_total``): call it where
    events are put in the inbox, on the same pipeline."""
    count(pipe, "events", n)


def count_events_handled(pipe: Redis | Pipeline, n: int) -> None:
    """Events the engine has handled (``superflow_events_handled_total``): call it in
    the transaction that takes them out of the inbox for good."""
    count(pipe, "events_handled", n)


def observe(pipe: Redis | Pipeline, name: str, seconds: Iterable[float] | float, **labels: Any) -> None:
    """Queue observations of histogram ``name`` on ``pipe``: one ``HINCRBY`` per
    bucket touched (however many values), plus the sum and count."""
    values = [seconds] if isinstance(seconds, int | float) else list(seconds)
    if not values:
        return
    base = series(name, **labels)
    for bucket, n in Counter(bucket_of(v) for v in values).items():
        pipe.hincrby(keys.METRIC_HISTOGRAMS, f"{base}#le={bucket}", n)
    pipe.hincrbyfloat(keys.METRIC_HISTOGRAMS, f"{base}#sum", float(sum(values)))
    pipe.hincrby(keys.METRIC_HISTOGRAMS, f"{base}#count", len(values))


def count_in_doubt(conn: Redis | Pipeline, channel: str, decision: str) -> None:
    """A message found *in doubt* (``superflow_messages_in_doubt_total``): claimed by
    an attempt that stopped while handing it over, or handed over with no answer.
    Rare (one per dead worker at most), so written at once on ``conn``."""
    count(conn, "messages_in_doubt", 1, channel=channel, decision=decision)


class Tally:
    """The metrics of one round of engine work, summed in memory and written with
    the round's MULTI/EXEC (:meth:`write`): a batch of 500 participants at one step
    costs a handful of ``HINCRBY``, not 500."""

    def __init__(self) -> None:
        self.steps: Counter[tuple[str, str]] = Counter()
        self.sent: Counter[str] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()
        self.handled = 0
        self.latencies: list[float] = []

    def step(self, step_type: str, result: Any) -> None:
        """One execution of a step of type ``step_type`` with this ``StepResult``:
        counts the execution by its action, and the messages its ``counters`` say
        were sent (``<channel>.sent``) or not taken (``<channel>.failed``,
        ``<channel>.bounced``; temporary when the step is retried, else permanent).
        The channel is the word before the last dot (``notify.email.sent`` counts
        for ``email``)."""
        action = result.action or "unknown"
        self.steps[(step_type, action)] += 1
        if not result.counters:
            return
        for name, n in result.counters.items():
            channel, _, what = name.rpartition(".")
            if what == "sent":
                self.sent[channel.rpartition(".")[2]] += n
            elif what in FAILED:
                kind = "temporary" if action == "retry" else "permanent"
                self.failed[(channel.rpartition(".")[2], kind)] += n

    def event_to_step(self, seconds: float) -> None:
        """A participant's first step after an event ran ``seconds`` after the
        event was emitted."""
        self.latencies.append(max(0.0, seconds))

    def events_handled(self, n: int) -> None:
        self.handled += n

    def write(self, pipe: Redis | Pipeline) -> None:
        """Queue every increment on ``pipe`` (the round's transaction)."""
        for (step_type, action), n in self.steps.items():
            count(pipe, "step_executions", n, step_type=step_type, result=action)
        for channel, n in self.sent.items():
            if channel and n > 0:
                count(pipe, "messages_sent", n, channel=channel)
        for (channel, kind), n in self.failed.items():
            if channel and n > 0:
                count(pipe, "messages_failed", n, channel=channel, kind=kind)
        count(pipe, "events_handled", self.handled)
        observe(pipe, "event_to_step_seconds", self.latencies)
        self.steps.clear()
        self.sent.clear()
        self.failed.clear()
        self.handled = 0
        self.latencies = []


# -- reading -----------------------------------------------------------------
@dataclass
class Snapshot:
    """What one scrape read: counter and histogram fields, and the gauges."""

    counters: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, str] = field(default_factory=dict)
    queue: str = ""
    queue_jobs: int = 0
    queue_oldest_age: float = 0.0
    jobs_running: int = 0
    jobs_failed: int = 0
    inbox: dict[str, int] = field(default_factory=dict)
    inbox_oldest_event_age: float | None = None
    in_flight: int = 0
    stuck: int = 0
    waiting: int = 0
    wakeups_due: int = 0
    wakeups_oldest_due_age: float = 0.0
    channels_down: dict[str, float] = field(default_factory=dict)
    channel_waiting: dict[str, int] = field(default_factory=dict)
    workers: int = 0


def read(rt: Runtime) -> Snapshot:
    """Everything the metrics show, in two pipelined round trips (three with the
    controllable clock of tests and demos)."""
    from rq.job import Job
    from rq.utils import utcparse

    from superflow import inbox

    conn = rt.redis
    now = time.time()
    engine_now = rt.clock.now()
    queue = rt.queue
    pipe = conn.pipeline(transaction=False)
    pipe.hgetall(keys.METRIC_COUNTERS)
    pipe.hgetall(keys.METRIC_HISTOGRAMS)
    pipe.llen(queue.key)
    pipe.lindex(queue.key, 0)
    pipe.zcard(queue.started_job_registry.key)
    pipe.zcard(queue.failed_job_registry.key)
    for kind in inbox.KINDS:
        pipe.llen(keys.inbox(kind))
    pipe.lindex(keys.inbox(inbox.EVENTS), 0)
    pipe.zcard(keys.INFLIGHT)
    pipe.zcount(keys.INFLIGHT, "-inf", now - rt.config.stuck_after_seconds)
    pipe.zcard(keys.WAKEUPS)
    pipe.zcount(keys.WAKEUPS, "-inf", engine_now)
    pipe.zrange(keys.WAKEUPS, 0, 0, withscores=True)
    pipe.zrange(keys.OUTAGES, 0, -1)
    pipe.hkeys(keys.WORKERS)
    replies = iter(pipe.execute())

    snap = Snapshot(queue=queue.name)
    snap.counters = {k: int(v) for k, v in next(replies).items()}
    snap.histograms = dict(next(replies))
    snap.queue_jobs = int(next(replies))
    head = next(replies)
    snap.jobs_running = int(next(replies))
    snap.jobs_failed = int(next(replies))
    snap.inbox = {kind: int(next(replies)) for kind in inbox.KINDS}
    first_event = next(replies)
    snap.in_flight = int(next(replies))
    snap.stuck = int(next(replies))
    snap.waiting = int(next(replies))
    snap.wakeups_due = int(next(replies))
    first_wakeup = next(replies)
    if first_wakeup and first_wakeup[0][1] <= engine_now:
        snap.wakeups_oldest_due_age = engine_now - first_wakeup[0][1]
    down = sorted(next(replies))
    tokens = sorted(next(replies))
    snap.inbox_oldest_event_age = _event_age(first_event, now)

    pipe = conn.pipeline(transaction=False)
    if head:
        pipe.hget(Job.key_for(head), "enqueued_at")
    for channel in down:
        pipe.hget(keys.outage(channel), "since")
        pipe.scard(keys.outage_waiting(channel))
    if tokens:
        pipe.mget([keys.worker_alive(t) for t in tokens])
    replies = iter(pipe.execute() if (head or down or tokens) else ())
    if head:
        enqueued = next(replies)
        if enqueued:
            snap.queue_oldest_age = max(0.0, now - utcparse(enqueued).timestamp())
    for channel in down:
        since = next(replies)
        snap.channels_down[channel] = max(0.0, now - float(since)) if since else 0.0
        snap.channel_waiting[channel] = int(next(replies))
    if tokens:
        snap.workers = sum(1 for beat in next(replies) if beat is not None)
    return snap


def _event_age(raw: str | None, now: float) -> float | None:
    """How long the event at the head of the inbox has waited, from the time it was
    emitted (``emitted_at``; ``None`` while events do not carry it, or none waits)."""
    if not raw:
        return 0.0
    try:
        emitted = json.loads(raw).get("emitted_at")
    except (ValueError, AttributeError):
        return None
    return max(0.0, now - float(emitted)) if emitted is not None else None


# -- exposition --------------------------------------------------------------
#: Every counter: name (without ``superflow_`` and ``_total``), labels, help text.
COUNTER_HELP: dict[str, tuple[tuple[str, ...], str]] = {
    "events": ((), "Events accepted for the engine (webhooks, forms, clicks, API calls, the CRM)."),
    "events_handled": ((), "Events the engine has handled."),
    "step_executions": (
        ("step_type", "result"),
        "Step executions, by step type and what the step result asked for "
        "(advance, wait, wait_for_event, branch, goto, retry, exit).",
    ),
    "messages_sent": (("channel",), "Messages handed over to the channel's transport."),
    "messages_failed": (
        ("channel", "kind"),
        "Messages the channel did not take: temporary (retried later) or permanent (the participant exits).",
    ),
    "messages_in_doubt": (
        ("channel", "decision"),
        "Messages found in doubt (an attempt stopped while handing them over, or no answer came), "
        "and what was decided: resent, skipped (taken as sent), taken_as_sent (no answer).",
    ),
}
ZERO_SERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("events", {}),
    ("events_handled", {}),
    *(("messages_sent", {"channel": c}) for c in CHANNELS),
    *(("messages_failed", {"channel": c, "kind": k}) for c in CHANNELS for k in ("temporary", "permanent")),
    *(
        ("messages_in_doubt", {"channel": c, "decision": d})
        for c in CHANNELS
        for d in ("resent", "skipped", "taken_as_sent")
    ),
)
HISTOGRAM_HELP: dict[str, tuple[tuple[str, ...], str]] = {
    "event_to_step_seconds": (
        (),
        "From an event's emission to the first step it set going (an enrolment's first "
        "step, or the step after a wait for that event).",
    ),
}


def families(snap: Snapshot, version: str = "") -> Iterator[Metric]:
    """The metric families of a :class:`Snapshot`, for ``prometheus_client``
    (imported here: the processes that only count never load it)."""
    from prometheus_client.core import GaugeMetricFamily

    yield from _counters(snap.counters)
    yield from _histograms(snap.histograms)
    queue = {"queue": snap.queue}

    def gauge(name: str, doc: str, value: float, labels: Mapping[str, str] | None = None) -> Metric:
        family = GaugeMetricFamily(PREFIX + name, doc, labels=list(labels or {}))
        family.add_metric(list((labels or {}).values()), value)
        return family

    yield gauge("queue_jobs", "Jobs waiting in the RQ queue.", snap.queue_jobs, queue)
    yield gauge(
        "queue_oldest_job_age_seconds",
        "How long the job at the head of the RQ queue (the next to run) has waited; 0 when empty.",
        snap.queue_oldest_age,
        queue,
    )
    yield gauge("jobs_running", "Jobs workers are running now.", snap.jobs_running, queue)
    yield gauge(
        "jobs_failed", "Failed jobs kept in RQ's failed job registry (7 days).", snap.jobs_failed, queue
    )
    inbox = GaugeMetricFamily(
        PREFIX + "inbox_items",
        "Items waiting in the engine's inboxes: events, and participants ready for their next step.",
        labels=["inbox"],
    )
    for kind, n in snap.inbox.items():
        inbox.add_metric([kind], n)
    yield inbox
    if snap.inbox_oldest_event_age is not None:
        yield gauge(
            "inbox_oldest_event_age_seconds",
            "How long the oldest event waiting in the inbox has waited since it was emitted; 0 when none.",
            snap.inbox_oldest_event_age,
        )
    yield gauge(
        "participants_in_flight",
        "Participants handed to a job and not yet waiting or finished.",
        snap.in_flight,
    )
    yield gauge(
        "participants_stuck",
        "In flight for longer than SUPERFLOW_STUCK_AFTER_SECONDS; `superflow stuck` lists them.",
        snap.stuck,
    )
    yield gauge(
        "participants_waiting", "Participants waiting (wait steps, events, windows, retries).", snap.waiting
    )
    yield gauge(
        "wakeups_due",
        "Waiting participants whose wait is over and that the tick has not queued yet.",
        snap.wakeups_due,
    )
    yield gauge(
        "wakeups_oldest_due_age_seconds",
        "How long ago the oldest due wait ended (0 when none is due); grows while no tick runs.",
        snap.wakeups_oldest_due_age,
    )
    down = GaugeMetricFamily(
        PREFIX + "channel_down", "1 while the channel is down (backed off).", labels=["channel"]
    )
    since = GaugeMetricFamily(
        PREFIX + "channel_down_seconds", "How long the channel has been down; 0 while up.", labels=["channel"]
    )
    held = GaugeMetricFamily(
        PREFIX + "channel_waiting_participants",
        "Participants waiting for the channel to work again.",
        labels=["channel"],
    )
    for channel in sorted(set(CHANNELS) | set(snap.channels_down)):
        is_down = channel in snap.channels_down
        down.add_metric([channel], 1 if is_down else 0)
        since.add_metric([channel], snap.channels_down.get(channel, 0.0))
        held.add_metric([channel], snap.channel_waiting.get(channel, 0))
    yield from (down, since, held)
    yield gauge("workers", "Workers whose heartbeat is alive.", snap.workers)
    if version:
        info = GaugeMetricFamily(
            PREFIX + "info", "The superflow version serving this scrape.", labels=["version"]
        )
        info.add_metric([version], 1)
        yield info


def _counters(fields: Mapping[str, int]) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily

    grouped: dict[str, dict[tuple[str, ...], int]] = defaultdict(dict)
    for name, labels in ZERO_SERIES:
        names = COUNTER_HELP[name][0]
        grouped[name][tuple(labels.get(n, "") for n in names)] = 0
    for text, value in fields.items():
        name, labels = parse_series(text)
        if name not in COUNTER_HELP:
            continue
        names = COUNTER_HELP[name][0]
        grouped[name][tuple(labels.get(n, "") for n in names)] = value
    for name, (names, doc) in COUNTER_HELP.items():
        family = CounterMetricFamily(PREFIX + name, doc, labels=list(names))
        for values, value in sorted(grouped.get(name, {}).items()):
            family.add_metric(list(values), value)
        yield family


def _histograms(fields: Mapping[str, str]) -> Iterator[Metric]:
    from prometheus_client.core import HistogramMetricFamily

    found: dict[str, dict[tuple[str, ...], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for text, raw in fields.items():
        base, _, part = text.rpartition("#")
        name, labels = parse_series(base)
        if name not in HISTOGRAM_HELP:
            continue
        names = HISTOGRAM_HELP[name][0]
        found[name][tuple(labels.get(n, "") for n in names)][part] = float(raw)
    for name, (names, doc) in HISTOGRAM_HELP.items():
        family = HistogramMetricFamily(PREFIX + name, doc, labels=list(names))
        rows = found.get(name) or {tuple("" for _ in names): {}}
        for values, parts in sorted(rows.items()):
            buckets, running = [], 0.0
            for le in BOUNDS:
                running += parts.get(f"le={le}", 0.0)
                buckets.append((le, running))
            total = parts.get("count", running + parts.get("le=+Inf", 0.0))
            buckets.append(("+Inf", total))
            family.add_metric(list(values), buckets, sum_value=parts.get("sum", 0.0))
        yield family


class Collector:
    """A ``prometheus_client`` collector (the ``prometheus_client.registry.Collector``
    protocol: ``collect()``) that reads Redis at every scrape: register it on a
    ``CollectorRegistry`` and call ``generate_latest(registry)``."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version

        try:
            installed = version("superflow")
        except PackageNotFoundError:
            installed = ""
        return families(read(self.rt), installed)
