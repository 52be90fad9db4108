"""The outbox: email and SMS transports for demos and development.

Nothing leaves the machine; messages are kept in ``<data>/outbox.sqlite`` where the
admin screens (and tests) read them.  The idempotency key is unique, so a message
handed over twice for one participant and step is stored once.  Attachments are
listed by name, content type and size (``attachments``, a JSON list); their bytes
are not kept.

The outbox stays in SQLite in the data folder rather than in Redis: Redis holds the
engine's state under a hard memory budget per participant, and a demo outbox full of
rendered HTML bodies has no place in it.

The plugin also gives the admin its Outbox screen (:mod:`.views`): ``GET /outbox``
lists the messages, newest first, and ``GET /outbox/<id>`` shows one; it adds the
screen to the admin's navigation through ``superflow_register_admin_links``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from superflow import EmailMessage
from superflow import EmailTransport
from superflow import SmsMessage
from superflow import SmsProvider
from superflow import hookimpl

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    html TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    headers TEXT NOT NULL DEFAULT '{}',
    attachments TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL
);
"""


class Outbox:
    """The outbox database; one connection per thread."""

    def __init__(self, config: Any) -> None:
        self.path = Path(config.setting("outbox_path") or Path(config.data_dir) / "outbox.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.db.executescript(SCHEMA)
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(messages)")}
        if "attachments" not in columns:
            with self.db as db:
                db.execute("ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'")

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def put(self, rows: list[dict[str, Any]]) -> list[str]:
        now = time.time()
        with self.db as db:
            db.executemany(
                "INSERT OR IGNORE INTO messages"
                " (channel, key, recipient, sender, subject, html, text, headers, attachments, created)"
                " VALUES (:channel, :key, :recipient, :sender, :subject, :html, :text, :headers,"
                " :attachments, :created)",
                [{"attachments": "[]", **row, "created": now} for row in rows],
            )
            ids = {}
            keys = [row["key"] for row in rows]
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, ident in db.execute(f"SELECT key, id FROM messages WHERE key IN ({marks})", chunk):
                    ids[key] = ident
        return [f"outbox-{ids[row['key']]}" for row in rows]

    def messages(self, channel: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM messages"
        args: tuple[Any, ...] = ()
        if channel:
            sql += " WHERE channel = ?"
            args = (channel,)
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_decoded(row) for row in rows]

    def count(self, channel: str | None = None, search: str = "") -> int:
        """How many messages there are (of ``channel``, to a recipient containing ``search``)."""
        where, args = _where(channel, search)
        return self.db.execute(f"SELECT COUNT(*) FROM messages{where}", args).fetchone()[0]

    def page(
        self, channel: str | None = None, search: str = "", offset: int = 0, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Messages newest first (of ``channel``, to a recipient containing ``search``,
        ignoring case), ``limit`` of them after skipping ``offset``."""
        where, args = _where(channel, search)
        rows = self.db.execute(
            f"SELECT * FROM messages{where} ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
        ).fetchall()
        return [_decoded(row) for row in rows]

    def get(self, message_id: int) -> dict[str, Any] | None:
        """One message by its row id (the number in ``outbox-<id>``), or ``None``."""
        row = self.db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return _decoded(row) if row is not None else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _decoded(row: sqlite3.Row) -> dict[str, Any]:
    return dict(row, headers=json.loads(row["headers"]), attachments=json.loads(row["attachments"]))


def _where(channel: str | None, search: str) -> tuple[str, tuple[Any, ...]]:
    """The ``WHERE`` clause for a channel and a recipient search (``%`` and ``_`` in
    the search are taken literally)."""
    clauses, args = [], []
    if channel:
        clauses.append("channel = ?")
        args.append(channel)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("recipient LIKE ? ESCAPE '\\'")
        args.append(f"%{escaped}%")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)


class OutboxEmail(EmailTransport):
    name = "outbox"
    label = "Outbox (keeps emails for viewing; sends nothing)"
    idempotent = True

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.outbox = Outbox(config)

    def send_many(self, messages: list[tuple[EmailMessage, str]]) -> list[str]:
        return self.outbox.put(
            [
                {
                    "channel": "email",
                    "key": key,
                    "recipient": m.to,
                    "sender": f"{m.from_name} <{m.from_address}>" if m.from_name else m.from_address,
                    "subject": m.subject,
                    "html": m.html,
                    "text": m.text,
                    "headers": json.dumps(m.headers),
                    "attachments": json.dumps(
                        [
                            {
                                "name": a["name"],
                                "content_type": a.get("content_type", "application/octet-stream"),
                                "size": a.get("size", len(a.get("data") or b"")),
                            }
                            for a in m.attachments
                        ]
                    ),
                }
                for m, key in messages
            ]
        )

    def close(self) -> None:
        self.outbox.close()


class OutboxSms(SmsProvider):
    name = "outbox"
    label = "Outbox (keeps SMS for viewing; sends nothing)"
    idempotent = True

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.outbox = Outbox(config)

    def send_many(self, messages: list[tuple[SmsMessage, str]]) -> list[str]:
        return self.outbox.put(
            [
                {
                    "channel": "sms",
                    "key": key,
                    "recipient": m.to,
                    "sender": m.sender,
                    "subject": "",
                    "html": "",
                    "text": m.text,
                    "headers": "{}",
                }
                for m, key in messages
            ]
        )

    def close(self) -> None:
        self.outbox.close()


@hookimpl
def superflow_register_email_transports(register):
    register(OutboxEmail)


@hookimpl
def superflow_register_sms_providers(register):
    register(OutboxSms)


@hookimpl
def superflow_register_routes(register):
    from .views import bp

    register(bp)


@hookimpl
def superflow_register_admin_links(register):
    register("Outbox", "/outbox")
