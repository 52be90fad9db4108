"""The SMTP server and SMS gateway that ``fault_loop.py`` runs, each in a process of its own.

    python benchmarks/fault_servers.py smtp [--host H] --port P --record out.jsonl --mode mode.txt
    python benchmarks/fault_servers.py gateway --port P --record out.jsonl --mode mode.txt

Each appends one JSON line per message it took to ``--record`` (the recipient, the
message's id or reference, the time it arrived and, for email, its subject; ``event_latency.py``
reads the last two), and reads how to behave from the ``--mode`` file before
each message, so the loop can change it while it runs:

- ``ok``: take every message;
- SMTP ``451 <fraction>``: answer ``451`` to that fraction of recipients, the first
  time each is seen; ``drop <fraction>``: take the message, then drop the connection
  before the reply (the sender cannot know it arrived);
- gateway ``storm <fraction>``: answer that fraction of requests (and every GET)
  with 500 or 429 (``Retry-After: 1``), alternately; ``slow <fraction> <seconds>``:
  take the message but answer that much later (longer than the sender waits).
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Recorder:
    def __init__(self, path: Path, mode: Path) -> None:
        self.path = path
        self.mode_path = mode
        self.lock = threading.Lock()
        self.rng = random.Random()

    def mode(self) -> list[str]:
        try:
            return self.mode_path.read_text().split() or ["ok"]
        except OSError:
            return ["ok"]

    def chance(self, words: list[str]) -> bool:
        return len(words) > 1 and self.rng.random() < float(words[1])

    def took(self, to: str, ident: str, subject: str = "") -> None:
        record = {"to": to, "id": ident, "at": time.time(), "subject": subject}
        with self.lock, self.path.open("a") as out:
            out.write(json.dumps(record) + "\n")


class SmtpHandler:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.greylisted: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        words = self.recorder.mode()
        if words[0] == "451" and address not in self.greylisted and self.recorder.chance(words):
            self.greylisted.add(address)
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        ident = subject = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if not line:
                break
            name, _, value = line.partition(":")
            if name.lower() == "message-id":
                ident = value.strip()
            elif name.lower() == "subject":
                subject = value.strip()
        for to in envelope.rcpt_tos:
            self.recorder.took(to, ident, subject)
        words = self.recorder.mode()
        if words[0] == "drop" and self.recorder.chance(words):
            server.transport.abort()
        return "250 OK"


def serve_smtp(host: str, port: int, recorder: Recorder) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(SmtpHandler(recorder), hostname=host, port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def serve_gateway(host: str, port: int, recorder: Recorder) -> None:
    turn = iter(range(10**12))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def storm(self) -> None:
            if next(turn) % 2:
                self.answer(429, {"error": "slow down"}, {"Retry-After": "1"})
            else:
                self.answer(500, {"error": "internal error"})

        def do_GET(self) -> None:
            if recorder.mode()[0] == "storm":
                self.storm()
            else:
                self.answer(200, {"status": "up"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            words = recorder.mode()
            if words[0] == "storm" and recorder.chance(words):
                self.storm()
                return
            ident = uuid.uuid4().hex
            recorder.took(str(body.get("to")), str(body.get("reference") or ident))
            if words[0] == "slow" and recorder.chance(words):
                time.sleep(float(words[2]))
            self.answer(200, {"id": ident})

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["smtp", "gateway"])
    parser.add_argument("--host", default="127.0.0.1", help="The address to listen on.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--mode", type=Path, required=True)
    args = parser.parse_args()
    recorder = Recorder(args.record, args.mode)
    (serve_smtp if args.kind == "smtp" else serve_gateway)(args.host, args.port, recorder)


if __name__ == "__main__":
    main()
