"""Every Redis key superflow writes, spelled once, each declared with its type, contents and lifetime.

A key is a small function (``flow_stats("3") == "sf:flow:3:stats"``) or a constant,
declared in the section of ``docs/redis-keys.md`` it belongs to; that page is printed
from these declarations (``python -m superflow.keys > docs/redis-keys.md``), so the
page and the code cannot drift apart.  A key function is checked as it is declared:
called with its pattern's placeholders (``<flow id>``) it must give the pattern back.

Plugins keep their own keys under ``sf:<namespace>:`` (:func:`plugin_namespace`),
written only through the plugin's store; the core never spells them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

KeyFunction = TypeVar("KeyFunction", bound=Callable[..., str])

PLACEHOLDER = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Key:
    """One row of the page: a key (or, with ``shown``, a few kept together), what it holds, how long."""

    pattern: str
    type: str
    contents: str
    lifetime: str
    written: str = ""
    shown: str = ""

    def cells(self, columns: tuple[str, ...]) -> tuple[str, ...]:
        by_column = {
            "key": self.shown or f"`{self.pattern}`",
            "type": self.type,
            "contents": self.contents,
            "written": self.written,
            "lifetime": self.lifetime,
        }
        return tuple(by_column[column] for column in columns)


@dataclass
class Section:
    """A section of the page: its heading, the prose before its table, the table, the prose after."""

    title: str
    level: int
    intro: str
    columns: tuple[str, ...] = ()
    after: str = ""
    rows: list[Key | tuple[str, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        SECTIONS.append(self)

    def row(self, *cells: str) -> None:
        """A row that is no key of the core's: a field, a plugin's key, one of RQ's."""
        self.rows.append(cells)

    def declare(self, pattern: str, type: str, contents: str, *rest: str, shown: str = "") -> Key:
        """Declare a key in this section; ``rest`` is its lifetime, or when and its lifetime."""
        written, lifetime = rest if len(rest) == 2 else ("", rest[0])
        key = Key(pattern, type, contents, lifetime, written, shown)
        self.rows.append(key)
        return key

    def constant(self, pattern: str, type: str, contents: str, *rest: str, shown: str = "") -> str:
        """Declare a key whose name never changes; returns the name."""
        return self.declare(pattern, type, contents, *rest, shown=shown).pattern

    def alongside(self, pattern: str) -> str:
        """Declare a key the row before names too (its ``shown``); returns the name."""
        return pattern

    def key(
        self, pattern: str, type: str, contents: str, *rest: str, shown: str = ""
    ) -> Callable[[KeyFunction], KeyFunction]:
        """Declare a key with ids in its name; decorates the function that spells it."""
        declared = self.declare(pattern, type, contents, *rest, shown=shown)

        def check(spell: KeyFunction) -> KeyFunction:
            spelt = spell(*PLACEHOLDER.findall(declared.pattern))
            if spelt != declared.pattern:
                raise AssertionError(f"{spell.__name__} spells {spelt!r}, declared {declared.pattern!r}")
            return spell

        return check

    def markdown(self) -> str:
        blocks = ["#" * self.level + " " + self.title]
        if self.intro.strip():
            blocks.append(self.intro.strip())
        if self.columns:
            lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
            for row in self.rows:
                cells = row.cells(self.columns) if isinstance(row, Key) else row
                lines.append("| " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
        if self.after.strip():
            blocks.append(self.after.strip())
        return "\n\n".join(blocks)


SECTIONS: list[Section] = []


def markdown() -> str:
    """``docs/redis-keys.md`` as these declarations make it."""
    return "\n\n".join(section.markdown() for section in SECTIONS) + "\n"


def plugin_namespace(name: str) -> str:
    """The prefix of a plugin's own keys: ``sf:<name>``; the plugin's store writes under it."""
    return f"sf:{name}"


_WHAT_SUPERFLOW_KEEPS_IN_REDIS = Section(
    "What superflow keeps in Redis",
    1,
    """\
Every key superflow writes starts with `sf:`; RQ's own keys start with `rq:`. Nothing
else is written. Ids in key names: `<flow id>` is a number (`3`), `<pid>` a participant
id `<flow id>.<n>` (`3.17`), `<person id>` the CRM's person id.

Timestamps are Unix seconds. "Engine time" is the clock of `superflow.clock` — the system
clock, plus `sf:clock:offset` when `SUPERFLOW_CONTROLLABLE_CLOCK` is on; "wall-clock time"
is always the system clock.

Lifetimes: superflow sets no expiry on flow, participant and report keys. Flows and
counters stay until removed by hand; an ended or deleted flow keeps its data.
Participants (with their histories) stay too, unless `SUPERFLOW_KEEP_FINISHED_DAYS` is
set: then the tick deletes each finished one that many days after it finished. Only the
short-lived keys expire: leases, run markers, the tick lock and the at-most-once ledger.

`superflow.keys` spells every key of the core and the web app, and this page is printed
from its declarations: after changing one, run `python -m superflow.keys > docs/redis-keys.md`.
The module that writes the keys is named in each section. Every report counter (the
`:stats`, `:daily:`, `:seen` and `:links:` hashes of flows and forms) is written through
`superflow.counters`, in the pipeline or transaction of the work it counts.
""",
)


_FLOWS = Section(
    "Flows",
    2,
    """\
Written by `superflow.flows` (create, update, start, pause, resume, end, delete).
""",
    columns=("key", "type", "contents", "lifetime"),
)


FLOWS = _FLOWS.constant(
    "sf:flows",
    "sorted set",
    "Flow ids, scored by creation time. The list of flows.",
    "A flow leaves it when deleted.",
)

FLOW_SEQ = _FLOWS.constant(
    "sf:seq:flow",
    "string (integer)",
    "The last flow id given out (`INCR`).",
    "Forever.",
)


@_FLOWS.key(
    "sf:flow:<flow id>",
    "hash",
    "`id`, `name`, `status` (`draft`, `running`, `paused`, `ended`), `version` (the current version "
    "number), `doc` (the current version's flow document, JSON), `created_at`, `updated_at`, "
    "`created_by`, `updated_by`, `started_at` and `started_by` (set by start), `deleted` (`1` once "
    "deleted).",
    "Forever; deleting a flow only sets `deleted` and takes it out of `sf:flows`.",
)
def flow(flow_id: str) -> str:
    return f"sf:flow:{flow_id}"


@_FLOWS.key(
    "sf:flow:<flow id>:versions",
    "hash",
    "Version number → that version's flow document (JSON). Every saved version; participants run the "
    "version they are at.",
    "Forever.",
)
def flow_versions(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:versions"


@_FLOWS.key(
    "sf:listen:<event type>",
    "set",
    "Ids of the running and paused flows whose trigger listens to this event type. The event job reads "
    "it instead of scanning flows.",
    "A flow is added on start and resume, removed on end (and re-indexed when a paused flow is edited). "
    "An empty set disappears.",
)
def listening(event_type: str) -> str:
    return f"sf:listen:{event_type}"


@_FLOWS.key(
    "sf:criteria:<event type>",
    "set",
    "Ids of the running and paused flows with a success criterion that listens to this event type.",
    "As `sf:listen:*`.",
)
def criteria(event_type: str) -> str:
    return f"sf:criteria:{event_type}"


SCANNING = _FLOWS.constant(
    "sf:scanning",
    "set",
    "Ids of the running and paused flows whose trigger fires on time (`scans`, e.g. date reached). The "
    "tick hands each its window since `scanned_to` (a field of `sf:flow:<id>`: engine time scanned up "
    "to).",
    "As `sf:listen:*`.",
)

_ENROLMENT_AND_REPORTS = Section(
    "Enrolment and reports",
    2,
    """\
Written by `superflow.engine` through `superflow.store.Changes` and `superflow.counters`, in the
same MULTI/EXEC as the participant changes they count (summed per round: a batch of 500 passing one
step is one `HINCRBY`).
""",
    columns=("key", "type", "contents", "lifetime"),
)


@_ENROLMENT_AND_REPORTS.key(
    "sf:flow:<flow id>:seq",
    "string (integer)",
    "How many participants the flow has ever had; participant ids are `<flow id>.1` … `<flow id>.<seq>`.",
    "Forever.",
)
def participant_seq(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:seq"


@_ENROLMENT_AND_REPORTS.key(
    "sf:flow:<flow id>:stats",
    "hash",
    "The report counters of the flow, kept at write time (fields below; the tracking endpoints add "
    "`email.opened`, `email.opened.unique`, `link.clicked`, `link.clicked.unique`, `email.unsubscribed`, "
    "`sms.delivered`, `sms.undelivered`, also per step as `step:<step>:…`).",
    "Forever.",
)
def flow_stats(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:stats"


@_ENROLMENT_AND_REPORTS.key(
    "sf:flow:<flow id>:daily:<YYYY-MM-DD>",
    "hash",
    "For one day (UTC, engine time): `enrolled`, `completed`, `succeeded`, `exited`, `cancelled` — the "
    "numbers behind the reports' time series.",
    "Forever; one hash per flow per day with activity.",
)
def flow_daily(flow_id: str, day: str) -> str:
    return f"sf:flow:{flow_id}:daily:{day}"


@_ENROLMENT_AND_REPORTS.key(
    "sf:flow:<flow id>:parked",
    "set",
    "Participant ids parked because the flow is paused.",
    "Emptied and deleted by resume (which queues them) and by end.",
)
def parked(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:parked"


@_ENROLMENT_AND_REPORTS.key(
    "sf:flow:<flow id>:pending",
    "list",
    'Enrolment requests that came while the flow was paused, each JSON `{"persons": [...], "source": '
    '"...", "bypass": false}`.',
    "Popped by resume (each becomes an enrol job); deleted by end.",
)
def pending(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:pending"


_FIELDS_OF_SF_FLOW_FLOW_ID_STATS = Section(
    "Fields of `sf:flow:<flow id>:stats`",
    3,
    """\

""",
    columns=("field", "meaning"),
)


_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`enrolled`",
    "Participations ever started.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`active`",
    "Participations now active.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`completed`",
    "Ended by going past the last step.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`succeeded`",
    "Met a success criterion (counted once per participation, also with `on_success: continue`).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`exited`",
    "Left early (a step said so, person gone, exclusion selection, retries used up, enrolled again).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`cancelled`",
    "Ended because the flow was ended.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`at:<step id>`",
    "Participants at that step now (waiting there or about to run it).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`passed:<step id>`",
    "Participants that went past that step.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`branch:<step id>:<n>`",
    'Participants that took branch `n` (0-based; the last is "everyone else") of a split.',
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`step:<step id>:<counter>`",
    "A step type's own counters from `StepResult.counters`, per step: `email.sent`, `email.failed`, "
    "`email.skipped`, `email.not_sendable`, `sms.sent`, `sms.segments`, `sms.failed`, `sms.skipped`, "
    "`contact.updated`, a plugin's (`loyalty.points`).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`<counter>`",
    "The same counters summed over the flow's steps.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`purged`",
    "Finished participations deleted after `SUPERFLOW_KEEP_FINISHED_DAYS` (their counts stay in the "
    "fields above).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`exit:<reason>`",
    "Exits by reason (the reason's first 60 characters), e.g. `exit:no e-marketing consent`.",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`retrying:<step id>`",
    "Participants waiting to try that step again after it failed (a temporary failure, or its channel "
    "down); lowered when they try again, succeed or leave (`superflow.failures`).",
)

_FIELDS_OF_SF_FLOW_FLOW_ID_STATS.row(
    "`failed:<step id>`",
    "Participants that left the flow at that step because it kept failing (also counted in `exited` and "
    "`exit:<reason>`).",
)

_STEPS_IN_TROUBLE = Section(
    "Steps in trouble",
    3,
    """\
Written by `superflow.failures`: the reasons in the round's MULTI/EXEC (one `EVAL` per
failing step, not per participant), the alert mark after it.
""",
    columns=("key", "type", "contents", "lifetime"),
)


@_STEPS_IN_TROUBLE.key(
    "sf:trouble:<flow id>:<step id>:recent",
    "sorted set",
    "The last 5 distinct reasons the step failed, in marketer words, scored by when each was last seen "
    "(engine time).",
    "Expires 30 days after the step last failed.",
)
def trouble_recent(flow_id: str, step_id: str) -> str:
    return f"sf:trouble:{flow_id}:{step_id}:recent"


@_STEPS_IN_TROUBLE.key(
    "sf:trouble:<flow id>:<step id>:counts",
    "hash",
    "Reason → how many times it was seen (only the reasons still in `recent`).",
    "As `recent`.",
)
def trouble_counts(flow_id: str, step_id: str) -> str:
    return f"sf:trouble:{flow_id}:{step_id}:counts"


@_STEPS_IN_TROUBLE.key(
    "sf:trouble:<flow id>:<step id>:alerted",
    "string",
    "When the flow's administrators were last emailed about the step (set NX).",
    "Expires after an hour: at most one email per flow step an hour.",
)
def trouble_alerted(flow_id: str, step_id: str) -> str:
    return f"sf:trouble:{flow_id}:{step_id}:alerted"


_THE_SAMPLE_EVENT = Section(
    "The sample event",
    3,
    """\
Owned by `superflow.samples`; written by the engine when an event enrols someone.
""",
    columns=("key", "type", "contents", "lifetime"),
)


@_THE_SAMPLE_EVENT.key(
    "sf:flow:<flow id>:last_event",
    "string (JSON)",
    "The data of the last event that enrolled someone in the flow: what previews, test sends and the "
    "merge-tag picker fill `{{ event.… }}` with. At most 16 kB (a bigger event leaves the kept one).",
    "Overwritten by the next enrolling event; kept with the flow.",
)
def last_event(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:last_event"


_PARTICIPANTS = Section(
    "Participants",
    2,
    """\
Written by `superflow.engine`; every change to a participant, its indexes and its
counters, and the job that comes next, goes into one MULTI/EXEC. A job reads the
participants of its batch with one `MGET` and writes them back with one `MSET`.
""",
    columns=("key", "type", "contents", "lifetime"),
)


@_PARTICIPANTS.key(
    "sf:p:<pid>",
    "string",
    "The participation, history included, as one JSON document (fields below).",
    "Forever, or until `SUPERFLOW_KEEP_FINISHED_DAYS` after it finished.",
)
def participant(pid: str) -> str:
    return f"sf:p:{pid}"


FINISHED = _PARTICIPANTS.constant(
    "sf:finished",
    "sorted set",
    "Participant ids of finished participations, scored by when they finished (engine time): what the "
    "tick purges when `SUPERFLOW_KEEP_FINISHED_DAYS` is set.",
    "An id leaves it when purged.",
)


def flow_index(flow_id: str, index: str) -> str:
    """The index a participant is in, named by :func:`superflow.store.index_of`
    (``step:<step id>`` or ``status:<status>``)."""
    return f"sf:flow:{flow_id}:ix:{index}"


@_PARTICIPANTS.key(
    "sf:flow:<flow id>:ix:step:<step id>",
    "sorted set",
    "The flow's **active** participants at that step (waiting there or about to run it), scored by "
    "enrolment number (the `<n>` of `<flow id>.<n>`: enrolment order, unique, so pages never tie). The "
    "admin's and the API's participant lists read it (`superflow.roster`).",
    "A participant is moved between indexes in the transaction that changes its status or step (one "
    "`ZADD`/`ZREM` per index per round); it leaves its step index when it moves on or finishes. An empty "
    "set disappears.",
)
def step_index(flow_id: str, step_id: str) -> str:
    return flow_index(flow_id, f"step:{step_id}")


@_PARTICIPANTS.key(
    "sf:flow:<flow id>:ix:status:<status>",
    "sorted set",
    "The flow's **finished** participants with that status (`completed`, `succeeded`, `exited`, "
    "`cancelled`), scored by enrolment number. Each participant is in exactly one index of its flow: a "
    'step index while active, a status index once finished; "all active" is the union of the step '
    "indexes. About 100 bytes per participant in all.",
    "Forever, like the participants. `superflow participants reindex <flow id>` rebuilds a flow's "
    "indexes from its participants (for participants stored before the indexes existed).",
)
def status_index(flow_id: str, status: str) -> str:
    return flow_index(flow_id, f"status:{status}")


@_PARTICIPANTS.key(
    "sf:flow:<flow id>:ix:steps",
    "set",
    "Ids of the steps that have (or had) a step index, so readers find every step index without a scan.",
    "Added to with the step indexes; never shrinks.",
)
def index_steps(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:ix:steps"


@_PARTICIPANTS.key(
    "sf:person:<person id>",
    "hash",
    "Flow id → the person's latest participant id in that flow. Used for the re-enrolment rule "
    "(enrolment `WATCH`es it, so two jobs cannot enrol one person twice) and to find a person's "
    "participations when an event about them arrives.",
    "Forever.",
)
def person(person_id: str) -> str:
    return f"sf:person:{person_id}"


@_PARTICIPANTS.key(
    "sf:run:<pid>",
    "string",
    "The id of the step a job is about to run for the participant, set just before the step runs. "
    "Deleted in the transaction that records the step; if it is still there (the job died) when the step "
    "runs again, the step is told `ctx.retried`.",
    "Deleted by the engine in the transaction that records the step (or, after a crash, when the step "
    "runs again).",
)
def run_marker(pid: str) -> str:
    return f"sf:run:{pid}"


_THE_DOCUMENT_IN_SF_P_PID = Section(
    "The document in `sf:p:<pid>`",
    3,
    """\
Keys with an empty value are left out.
""",
    columns=("key", "meaning"),
    after="""\
A three-step participation with an email sent and its history takes about 0.5 KB for
this document, plus about 80 bytes for the person's index entry and about 105 bytes for
its entry in the flow's roster index (`sf:flow:<flow id>:ix:*`).
""",
)


_THE_DOCUMENT_IN_SF_P_PID.row(
    "`flow`",
    "The flow id.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`person`",
    "The CRM person id.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`version`",
    "The flow version the participant runs.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`status`",
    "`active`, `completed`, `succeeded`, `exited` or `cancelled`.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`step`",
    "The step it is at (or ended at).",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`enrolled`",
    "When it entered (engine time, whole seconds). When it last changed is the time of its last history "
    "entry.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`wait`",
    'While it waits: `{"k": kind, "u": until}` with kind `time` (a wait step), `event` (waiting for an '
    'event; `"e"` lists the event types), `window` (for the send window to open) or `retry` (`"n"` is '
    "the attempt).",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`reason`",
    "Why it ended (empty for `completed`).",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`sent`",
    'The last message sent ("last sending"), from `StepResult.sending`: `channel`, `status`, `to`, `id` '
    "(the transport's message id), plus `at` and `step`.",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`succeeded`",
    "When a success criterion was met, for flows that go on after success (`on_success: continue`).",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`acts`",
    'What the person did in this participation, as `<event type>@<step id>` (`["email.opened@s1", '
    '"link.clicked@s1"]`): what split conditions on opens and clicks read.',
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`visits`",
    "For steps the flow looped back to: `{step id: n}`, the visit being run (it makes the idempotency "
    "key of the n-th visit `<pid>:<step>:<n>`).",
)

_THE_DOCUMENT_IN_SF_P_PID.row(
    "`h`",
    "The history: `[seconds since enrolled, step id, kind, note]` entries, oldest first. Kinds: "
    "`enrolled` (note: the source — why it entered: the trigger's event type such as `api.event`, "
    "`manual (cli)`, or `moved from flow <id>`), `step` (note: the step's outcome), `waiting`, "
    "`resumed`, `event`, `succeeded`, `completed`, `exited`, `cancelled` (note: the reason).",
)

_SCHEDULING_AND_RECOVERY = Section(
    "Scheduling and recovery",
    2,
    """\
Written by `superflow.engine`.
""",
    columns=("key", "type", "contents", "written", "lifetime"),
)


WAKEUPS = _SCHEDULING_AND_RECOVERY.constant(
    "sf:wakeups",
    "sorted set",
    "Participant ids, scored by the engine time their wait ends: wait steps, timeouts of waits for "
    "events, send windows, retries.",
    "When a participant starts waiting.",
    "A participant leaves it when the tick queues it (due) or its wait ends early (the event came, "
    "success, flow ended).",
)

INFLIGHT = _SCHEDULING_AND_RECOVERY.constant(
    "sf:inflight",
    "sorted set",
    "Participant ids handed to a job and not yet waiting or finished, scored by the wall-clock time they "
    "were handed over.",
    "At enrolment, when woken, on resume, when an event ends a wait.",
    "Removed when the participant waits, is parked or ends. The tick re-queues members older than "
    "`SUPERFLOW_STUCK_AFTER_SECONDS` (their job died); `superflow stuck` lists them.",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:lease:<pid>",
    "string",
    "The token of the engine whose job is moving the participant (workers' tokens start `w.`; one per "
    "worker and Redis connection). Taken for a whole batch by one Lua script (`SET NX` with an expiry of "
    "`SUPERFLOW_STUCK_AFTER_SECONDS`, renewed when this engine already holds it, or taken over when its "
    "holder is a worker whose `sf:worker:<token>` is gone). The job's closing transaction WATCHes it and "
    "writes nothing when it is no longer its own.",
    "When a job takes the participant.",
    "Deleted in the job's closing transaction, or given back when the job fails; otherwise expires. "
    "`superflow stuck --resume` deletes it.",
)
def lease(pid: str) -> str:
    return f"sf:lease:{pid}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:worker:<token>",
    "string",
    "`1` while the worker with this token beats (`superflow.heartbeat`).",
    "Every third of `SUPERFLOW_HEARTBEAT_SECONDS`, expiring after the whole interval.",
    "Deleted on a clean stop, or when the worker reconnects after losing Redis (its old job is then "
    "handed over).",
)
def worker_alive(token: str) -> str:
    return f"sf:worker:{token}"


#: For the lease script, which asks whether a holder's worker still beats.
WORKER_ALIVE_PREFIX = worker_alive("")


WORKERS = _SCHEDULING_AND_RECOVERY.constant(
    "sf:workers",
    "hash",
    "Token → RQ worker name of each beating worker; an entry whose `sf:worker:<token>` is gone is a dead "
    "worker (`superflow.heartbeat`).",
    "At each beat.",
    "Removed by the tick that hands the dead worker's job over, or on a clean stop.",
)

HANDOVERS = _SCHEDULING_AND_RECOVERY.constant(
    "sf:handovers",
    "list",
    'The last 100 handovers, newest first, as JSON `{"worker", "job", "at"}` (`job` null: the worker was '
    "idle).",
    "By the tick, per dead worker.",
    "Trimmed to 100.",
)

OUTAGES = _SCHEDULING_AND_RECOVERY.constant(
    "sf:outages",
    "sorted set",
    "The channels that are down (`email`, `sms`), scored by the time of their next probe "
    "(`superflow.outages`).",
    "When a send finds its channel down; by each probe (the pause doubles from 1 s to 5 s).",
    "Removed when a probe finds the channel back.",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:outage:<channel>",
    "hash",
    "`since`, the last `error`, the `pause` before the next probe.",
    "With `sf:outages`.",
    "Deleted when the channel is back.",
)
def outage(channel: str) -> str:
    return f"sf:outage:{channel}"


#: For the probe script, which names the outage keys of the channels it finds due.
OUTAGE_PREFIX = outage("")


@_SCHEDULING_AND_RECOVERY.key(
    "sf:outage:<channel>:waiting",
    "set",
    'The participants waiting for the channel to be back (their wait names the channel, `"c"`).',
    "In the round that found the channel down.",
    "Deleted when the channel is back, in the transaction that makes its participants due at once "
    "(`sf:wakeups`).",
)
def outage_waiting(channel: str) -> str:
    return f"sf:outage:{channel}:waiting"


AWAITING = _SCHEDULING_AND_RECOVERY.constant(
    "sf:awaiting",
    "hash",
    "Event type → how many participants wait for an event of that type (`wait_for_event`). Lets the "
    "event job skip the participant lookup for events nobody waits for.",
    "`HINCRBY` +1 when a participant starts waiting for an event, −1 when the wait ends.",
    "Fields stay (at 0) once created.",
)

DEFERRED_EVENTS = _SCHEDULING_AND_RECOVERY.constant(
    "sf:deferred-events",
    "sorted set",
    'Events that found one of the person\'s participations leased by another job, as JSON `{"event": '
    '{...}, "pids": [the busy participant ids]}`, scored by the wall-clock time to try again (one second '
    "later).",
    "By the event job.",
    "The tick hands due ones to a job that applies each event to those participations only (the triggers "
    "already had it).",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:inbox:<kind>",
    "list",
    "Work waiting for a drain job (`superflow.inbox`): events as JSON (`Runtime.emit`: API, webhooks, "
    "forms, tracking, the CRM), and ids of participants ready for their next step (written in the same "
    "MULTI/EXEC as their state).",
    "`RPUSH` by whoever emits or commits.",
    "A drain job moves up to `SUPERFLOW_BATCH_SIZE` at a time into its claim.",
    shown="`sf:inbox:events`, `sf:inbox:advance`",
)
def inbox(kind: str) -> str:
    return f"sf:inbox:{kind}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:inbox:<kind>:queued",
    "string",
    "`1` while a drain job for that inbox is queued and has not started: no second one is queued meanwhile.",
    "`SET NX` with the first item put while none is set.",
    "Deleted by the drain job as it claims; expires after twice `SUPERFLOW_HEARTBEAT_SECONDS` (at least "
    "5 s), so a flag whose job was never queued holds nothing up for long.",
    shown="`sf:inbox:events:queued`, `sf:inbox:advance:queued`",
)
def inbox_queued(kind: str) -> str:
    return f"sf:inbox:{kind}:queued"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:inbox:claim:<batch id>",
    "list",
    "The items one drain job took (its batch id is in the job's arguments), so the job handed over after "
    "a crash, or retried, goes on with the same items.",
    "By the drain job's claim (one Lua script: the flag cleared, the items moved).",
    "Deleted when the batch is handled; else expires after 7 days, like a failed job.",
)
def inbox_claim(batch: str) -> str:
    return f"sf:inbox:claim:{batch}"


TICK_LOCK = _SCHEDULING_AND_RECOVERY.constant(
    "sf:tick:lock",
    "string",
    "The token of the worker running the tick, with a 10 s expiry; a lock whose holder stopped beating "
    "(killed mid-tick) is taken over at once by the next tick of another worker.",
    "At the start of each tick.",
    "Deleted by its holder at the end of the tick; otherwise expires.",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:ledger:<key>",
    "string",
    "`1`: this key was claimed; for messages `claimed` (being handed over now, or *in doubt* when its "
    "worker died) and then `sent:<message id>`. Idempotency keys (`<pid>:<step id>[:<visit>]`) — the "
    "at-most-once ledger that keeps non-idempotent channels (plain SMTP, most SMS gateways) from sending "
    "twice — and `occasion:<flow>:<person>:<occasion>` for scanning triggers (a person enters a flow "
    "once per occasion, e.g. one birthday).",
    "`SET NX` by `StepContext.claim`, or by `MessageLedger.claim` (`superflow.store`) right before each "
    "message, set to `sent:<id>` right after (deleted by `release` when the send certainly failed); by "
    "the scan job before enrolling.",
    "Expires after 30 days (occasions: 400 days).",
)
def ledger(key: str) -> str:
    return f"sf:ledger:{key}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:apikey:<sha256>",
    "hash",
    "An API key (only its SHA-256 is stored): `name`, `role`, `created`, rate `limit` and `window`, "
    "`last_used`.",
    "`superflow apikeys create`.",
    "Deleted by `superflow apikeys revoke`.",
)
def apikey(digest: str) -> str:
    return f"sf:apikey:{digest}"


APIKEYS = _SCHEDULING_AND_RECOVERY.constant(
    "sf:apikeys",
    "hash",
    "API key name → its SHA-256, so names are unique.",
    "With the key.",
    "With the key.",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:rate:<key id>:<window>",
    "string (integer)",
    "Requests of one API key in one rate-limit window.",
    "Each API request (`SET ... NX PX` and `INCR`, pipelined with the key's lookup).",
    "Expires with the window.",
)
def rate(who: str, window: str) -> str:
    return f"sf:rate:{who}:{window}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:api:flowlock:<flow id>",
    "string",
    "Held for a moment while an API update checks `If-Match` and writes, so two editors with one ETag "
    "cannot both pass.",
    "By `PUT`/`PATCH /api/v1/flows/<id>`.",
    "Deleted after the write; expires after 10 s.",
)
def api_flow_lock(flow_id: str) -> str:
    return f"sf:api:flowlock:{flow_id}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:flow:<flow id>:seen",
    "hash",
    "Firsts, so each is counted and emitted once: `o:<pid>:<step>` (an open), `c:<pid>:<step>` and "
    "`c:<pid>:<step>:<url digest>` (clicks), `u:<pid>:<step>` (an unsubscribe), "
    "`r:<reference>:<delivered\\|undelivered>` (an SMS receipt).",
    "By the tracking, unsubscribe and receipt endpoints.",
    "Forever, like the flow's other keys.",
)
def flow_seen(flow_id: str) -> str:
    return f"sf:flow:{flow_id}:seen"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:flow:<flow id>:links:<step id>",
    "hash",
    "URL → clicks, for the report of an email's links.",
    "By the click endpoint.",
    "Forever.",
)
def flow_links(flow_id: str, step_id: str) -> str:
    return f"sf:flow:{flow_id}:links:{step_id}"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:form:<id>",
    "string (JSON), sorted set, string",
    "Hosted form definitions; their ids by creation; the last number given to a form made without an id; "
    "id → name of each deleted form (for flows that still name it).",
    "`superflow.forms`.",
    "Until deleted.",
    shown="`sf:form:<id>`, `sf:forms`, `sf:seq:form`, `sf:forms:deleted`",
)
def form(form_id: str) -> str:
    return f"sf:form:{form_id}"


FORMS = _SCHEDULING_AND_RECOVERY.alongside("sf:forms")
FORM_SEQ = _SCHEDULING_AND_RECOVERY.alongside("sf:seq:form")
FORMS_DELETED = _SCHEDULING_AND_RECOVERY.alongside("sf:forms:deleted")


@_SCHEDULING_AND_RECOVERY.key(
    "sf:form:<id>:stats",
    "hash",
    "`submitted`, `created`, `invalid`, `spam`, `rate_limited`, `confirmations_sent`, "
    "`confirmations_limited` (not sent: the address had its share this hour), `confirmed`.",
    "By `POST /forms/<id>` and its confirmation link.",
    "With the form.",
)
def form_stats(form_id: str) -> str:
    return f"sf:form:{form_id}:stats"


@_SCHEDULING_AND_RECOVERY.key(
    "sf:form-confirm:<nonce>",
    "hash",
    "A form answer waiting for its emailed confirmation: `form_id`, `expires_at` (engine time), `data` "
    "(JSON: person id, the fields, the CRM changes, consents, subscriptions, selection; removed once "
    "confirmed), `confirmed_at` (set once: the link is single use).",
    "`superflow.form_confirmations`, by `POST /forms/<id>`.",
    "Expires an hour after its link does (`SUPERFLOW_FORM_CONFIRM_HOURS`, default 48).",
)
def form_confirmation(nonce: str) -> str:
    return f"sf:form-confirm:{nonce}"


_SCHEDULING_AND_RECOVERY.declare(
    "sf:rate:form-confirm:<address digest>:<hour>",
    "string (integer)",
    "Confirmation emails to one address (a 24-character BLAKE2b digest of it, lower-cased) in one hour, "
    "at most `SUPERFLOW_FORM_CONFIRM_PER_HOUR`; counted with `superflow.ratelimit`.",
    "By `POST /forms/<id>`.",
    "Expires with the hour.",
)


@_SCHEDULING_AND_RECOVERY.key(
    "sf:form-rate:<id>:<ip>:<hour>",
    "string (integer)",
    "Posts of one visitor to one form in one hour (the spam limit).",
    "By `POST /forms/<id>`.",
    "Expires after 3,660 s.",
)
def form_rate(form_id: str, address: str, hour: str) -> str:
    return f"sf:form-rate:{form_id}:{address}:{hour}"


PERIODIC_NEXT = _SCHEDULING_AND_RECOVERY.constant(
    "sf:periodic:next",
    "hash",
    "Periodic task name → engine time it runs next (`superflow_register_periodic_tasks`).",
    "By the tick, when it queues the task.",
    "Forever.",
)

SCAN_NEXT = _SCHEDULING_AND_RECOVERY.constant(
    "sf:scan:next",
    "string (float)",
    "Engine time of the next scan of scanning triggers (every `SUPERFLOW_SCAN_SECONDS`).",
    "By the tick.",
    "Forever.",
)

CLOCK_OFFSET = _SCHEDULING_AND_RECOVERY.constant(
    "sf:clock:offset",
    "string (float)",
    "Seconds added to the system clock to make engine time. Only read with "
    "`SUPERFLOW_CONTROLLABLE_CLOCK` on; tests and demos `INCRBYFLOAT` it to move time forward for every "
    "process at once.",
    "By `Clock.advance`.",
    "Forever (only exists on test and demo installations).",
)

_METRICS = Section(
    "Metrics",
    2,
    """\
Written by `superflow.metrics` (see [operators.md, Metrics](operators.md#metrics)), read by
`GET /metrics`. The gauges have no keys of their own: they are read from the keys above
and RQ's at each scrape.
""",
    columns=("key", "type", "contents", "written", "lifetime"),
)


METRIC_COUNTERS = _METRICS.constant(
    "sf:metrics:counters",
    "hash",
    "`<name>{<label>=<value>,...}` → count, e.g. `step_executions{result=advance,step_type=send_email}`, "
    "`messages_sent{channel=email}`, `events{}`: the `superflow_*_total` counters.",
    "`HINCRBY` in the transaction of the work counted (the engine's round, putting events in the inbox); "
    "`messages_in_doubt` at once, when a message is found in doubt.",
    "Forever (counters only grow; Prometheus takes their rates).",
)

METRIC_HISTOGRAMS = _METRICS.constant(
    "sf:metrics:histograms",
    "hash",
    "`<name>{<labels>}#le=<bound>` → observations in that bucket alone (not cumulative; `+Inf` for the "
    "rest), `...#sum` (seconds, `HINCRBYFLOAT`) and `...#count`: `superflow_event_to_step_seconds`.",
    "With the round whose steps they time.",
    "Forever.",
)

_ADMIN_USERS = Section(
    "Admin users",
    2,
    """\
Written by `superflow.users` (`superflow users …` and the admin's Users screen) and the
admin's pages.
""",
    columns=("key", "type", "contents", "lifetime"),
)


USERS = _ADMIN_USERS.constant(
    "sf:users",
    "set",
    "Lower-cased user names of everyone who may sign in.",
    "Forever.",
)


@_ADMIN_USERS.key(
    "sf:user:<name>",
    "hash",
    "`username`, `role` (`flow_admin`, `content_editor`, `viewer`), `created`, `password` (a salted "
    "werkzeug hash, never the password), `disabled` (`1` while the user may not sign in, else empty or "
    "absent), `flows_view` (`tiles` or `list`: how the flows list was last shown). A user who signs in "
    "through an auth provider is named `<provider>:<32 hex digits of the SHA-256 of the provider's "
    "subject>` and has no `password` but `provider`, `provider_label`, `subject`, `name`, `email`, "
    "`role_reason` (why the provider gave the role) and `last_signin`, rewritten at every sign-in.",
    "Until the user is deleted.",
)
def user(username: str) -> str:
    return f"sf:user:{username}"


@_ADMIN_USERS.key(
    "sf:sessions:<name>",
    "sorted set",
    "Session ids of the user's sign-ins (carried in the session cookie), scored by when each was last "
    "used (noted at most once a minute); a cookie whose id is not here is signed out. Written by "
    "`superflow.sessions`.",
    "An id is removed on sign-out; the whole set on a new password or role, disable or delete; ids "
    "unused for 8 hours are dropped at the next sign-in, and the set expires 8 hours after its last use.",
)
def sessions(username: str) -> str:
    return f"sf:sessions:{username}"


@_ADMIN_USERS.key(
    "sf:signin-handoff:<code>",
    "string (JSON)",
    "A one-time hand-off code of a provider sign-in made in a pop-up for a CRM frame: `username` and "
    "`next` (the page on this site the frame goes to). The frame takes it once to sign in its own "
    "session. Written by `superflow.signin_handoff`.",
    "Expires 60 seconds after the sign-in; deleted when taken.",
)
def signin_handoff(code: str) -> str:
    return f"sf:signin-handoff:{code}"


@_ADMIN_USERS.key(
    "sf:signin-fail:user:<name>",
    "string (integer)",
    "Failed sign-ins for one lower-cased user name (whether or not the user exists; names over 80 "
    "characters or not plain ASCII as `#` and a SHA-256 prefix), at most `SUPERFLOW_SIGNIN_USER_LIMIT`. "
    "Written by `superflow.signin_throttle`.",
    "Expires `SUPERFLOW_SIGNIN_WINDOW_SECONDS` after the first failure; deleted by a successful sign-in.",
)
def signin_fail_user(username: str) -> str:
    return f"sf:signin-fail:user:{username}"


@_ADMIN_USERS.key(
    "sf:signin-fail:ip:<address>",
    "string (integer)",
    "Failed sign-ins from one client address, at most `SUPERFLOW_SIGNIN_IP_LIMIT`. Written by "
    "`superflow.signin_throttle`.",
    "Expires `SUPERFLOW_SIGNIN_WINDOW_SECONDS` after the first failure.",
)
def signin_fail_ip(address: str) -> str:
    return f"sf:signin-fail:ip:{address}"


@_ADMIN_USERS.key(
    "sf:user:<name>:recent",
    "sorted set",
    "Flow ids the user opened, scored by when: the flows list's *Recent* tab.",
    "Trimmed to the latest 20 on every flow page view.",
)
def user_recent(username: str) -> str:
    return f"sf:user:{username}:recent"


_PLUGINS = Section(
    "Plugins' keys",
    2,
    """\
A plugin keeps its own keys under its namespace, `sf:<namespace>:…`, and writes them only through
the plugin store it is given; the core never reads or writes them. The built-in plugins' namespaces:
`sf:superoffice` (the `superoffice` plugin, below), `sf:sent-to`, `sf:email-library` and
`sf:email-images` (the `email` plugin) and `sf:sms` (the `sms_gateway` plugin).
""",
    columns=("key", "owned by", "type", "contents", "written", "lifetime"),
)

_PLUGINS.row(
    "`sf:sent-to:<flow>:<step>[:<visit>]`",
    "`email`",
    "hash",
    "A 12-character digest (BLAKE2b) of the lower-cased email address → the person id it was sent to by "
    "this send email step, for addresses the CRM says more than one person has: two persons sharing one "
    'address get one email ("duplicate address").',
    "By the send email step, before sending.",
    "Expires 30 days after the step's last send.",
)

_PLUGINS.row(
    "`sf:email-library:emails`",
    "`email`",
    "hash",
    'Library email id → JSON `{"id", "name", "design", "updated_at", "updated_by"}`: the Email library\'s '
    "saved emails, which send email steps select (linked) or copy.",
    "By the Email library's screens.",
    "Until deleted there (refused while a flow's step selects it).",
)

_PLUGINS.row(
    "`sf:email-library:seq`",
    "`email`",
    "string",
    "The last library email id given out.",
    "When a library email is made.",
    "Kept.",
)

_PLUGINS.row(
    "`sf:email-images:all`",
    "`email`",
    "hash",
    "Image file (`<hash>.<ext>` in `<data>/images`) → JSON of its uploaded name, content type, pixel size, "
    "bytes, who uploaded it and when: the image library.",
    "On upload.",
    "Until the image is deleted (refused while a design uses it).",
)

_PLUGINS.row(
    "`sf:sms:number:<digits>`",
    "`sms_gateway`",
    "string",
    "The person id a mobile number belongs to, learnt from delivery receipts, so a STOP reply finds its "
    "person.",
    "By the receipts endpoint.",
    "Expires after 400 days.",
)

_SUPEROFFICE = Section(
    "SuperOffice",
    3,
    """\
Owned by the `superoffice` plugin through its store, under `sf:superoffice` (see
[superoffice.md](superoffice.md)).
""",
    columns=("key", "type", "contents", "lifetime"),
)


_SUPEROFFICE.row(
    "`sf:superoffice:event:<EventId>`",
    "string",
    "A webhook event already accepted, so a redelivery is answered 200 and dropped.",
    "Expires after 7 days.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:done:<key>`",
    "string (JSON)",
    "The result of a write done under an idempotency key: the same write seen again returns it and "
    "changes nothing.",
    "Expires after 90 days.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:pending:<key>`",
    "string",
    "A create in flight; a create retried after a crash first looks for the record it may already have made.",
    "Deleted when the write is done; expires after a day.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:person:<id>`",
    "string (JSON)",
    "The last values seen of a person, so a `person.changed` webhook (field names, no values) becomes "
    "`person.updated` with old and new values.",
    "Expires after 400 days.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:<mark>`",
    "string",
    "An event already emitted (the webhook echo of superflow's own write, a polled change), so it is not "
    "emitted twice.",
    "Expires after 14 days.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:selections`",
    "set",
    "Selection ids the membership poll watches.",
    "Forever.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:selections:dynamic`",
    "set",
    "The watched selections that are dynamic (their members change with no membership change of their "
    "own), so the poll reads their members every time.",
    "Forever.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:poll:selections:since`",
    "string",
    "When the membership poll last started (UTC, `YYYY-MM-DDTHH:MM:SS`): the next poll asks for the "
    "selections changed since then.",
    "Forever.",
)

_SUPEROFFICE.row(
    "`sf:superoffice:selection:<id>:members`",
    "set",
    'The person ids last seen in a selection; the poll emits "added to selection" for new ones.',
    "Forever.",
)

_RQ_S_KEYS = Section(
    "RQ's keys",
    2,
    """\
RQ keeps the job queue in the same Redis, under `rq:` (or `RQ_KEY_PREFIX`). superflow's
queue is named `SUPERFLOW_QUEUE_PREFIX` (default `superflow`). The ones you will see:
""",
    columns=("key", "type", "contents"),
    after="""\
Jobs take ids and JSON, never objects, and re-read the state they work on, so running a
job again (`rq requeue`) is safe.

""",
)


_RQ_S_KEYS.row(
    "`rq:queues`",
    "set",
    "The queues' keys.",
)

_RQ_S_KEYS.row(
    "`rq:queue:superflow`",
    "list",
    "Ids of the jobs waiting to run.",
)

_RQ_S_KEYS.row(
    "`rq:job:<job id>`",
    "hash",
    "A job: the function (`superflow.jobs.drain` with the inbox and its batch id; "
    "`superflow.jobs.enrol`, `scan`, `periodic`, `retry_deferred`; `advance` and `handle_events` from "
    "before the inbox still run), its arguments as JSON (RQ's JSON serializer; participant ids, events, "
    "person ids), status, timestamps, retries left. Deleted when it succeeds (`result_ttl=0`); a failed "
    "job is kept 7 days.",
)

_RQ_S_KEYS.row(
    "`rq:results:<job id>`",
    "stream",
    "Results of a job's runs (failures with their tracebacks); goes with the job.",
)

_RQ_S_KEYS.row(
    "`rq:wip:superflow`",
    "sorted set",
    "Jobs being run now, by the time their timeout runs out.",
)

_RQ_S_KEYS.row(
    "`rq:failed:superflow`",
    "sorted set",
    "Failed jobs (after 5 immediate retries), kept 7 days. `rq info` and `rq requeue` read it.",
)

_RQ_S_KEYS.row(
    "`rq:scheduled:superflow`, `rq:deferred:superflow`, `rq:finished:superflow`, `rq:canceled:superflow`",
    "sorted sets",
    "RQ's other registries; superflow's jobs rarely or never use them.",
)

_RQ_S_KEYS.row(
    "`rq:workers`, `rq:workers:superflow`",
    "sets",
    "The live workers.",
)

_RQ_S_KEYS.row(
    "`rq:worker:<name>`",
    "hash",
    "A worker's state and heartbeat; expires when the worker stops beating.",
)

_RQ_S_KEYS.row(
    "`rq:executions:<job id>`, `rq:execution:<...>`, `rq:worker:<name>:executions`",
    "sorted set / hash",
    "RQ's records of running executions.",
)

_RQ_S_KEYS.row(
    "`rq:clean_registries:superflow`, `rq:clean_groups`, `rq:suspended`",
    "strings",
    'RQ\'s maintenance locks and the "workers suspended" flag.',
)


if __name__ == "__main__":
    print(markdown(), end="")
