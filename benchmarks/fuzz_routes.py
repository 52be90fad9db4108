"""Hostile requests against every route of a real ``superflow web``: nothing a stranger
(or a signed-in user, or an API key) sends may get a 5xx, and the web process's memory
stays bounded by the configured request limits.

    .venv/bin/python benchmarks/fuzz_routes.py [--big-routes N] [--workers 8] [--no-schemathesis]

It starts an embedded Redis and ``superflow web`` in a temporary folder, seeds a demo
CRM, the example flows, a hosted form, a user and an API key, reads every rule of the
app's ``url_map`` (path parameters filled with real ids and with junk) and sends each
route, over raw sockets so that any byte can go into a header:

- headers with non-ASCII, control characters and huge values (Cookie, Content-Type,
  X-CSRF-Token, X-SuperOffice-Signature, Authorization, Host, Accept-Language, ...);
- bodies in odd encodings (invalid UTF-8, UTF-16 with a BOM, latin-1), JSON nested
  10,000 deep, huge arrays, 2 MB bodies with and without Content-Length, wrong content
  types, thousands of form fields and query parameters;
- on a few routes 50 MB bodies, chunked and with Content-Length;

each unauthenticated and as the route's own caller would (a session cookie with its
CSRF token for the admin, an API key for /api/v1, the signature or secret for the
webhooks).  Then schemathesis over /api/v1 (tests/webapp/api/test_api_schemathesis.py), when
installed.  It prints the requests sent, the 5xx (target 0) with the first few, and the
web process's peak memory (VmHWM) beside the limits; exit 1 on any 5xx.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
SO_SECRET = "fuzz-superoffice-secret"
SMS_SECRET = "fuzz-sms-secret"
PASSWORD = "correct horse battery staple"
MB = 1024 * 1024
BIG_ROUTES = (
    "/hooks/superoffice",
    "/forms/<form_id>",
    "/login",
    "/api/v1/events",
    "/email/attachments",
    "/u/<token>",
)
SKIP_SIGNED_IN = {"auth.logout"}
"""Routes not sent with the session: signing out would end the session mid-run."""


# -- raw HTTP --------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    method: str
    target: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes | None = None
    chunked: bool = False
    big: int = 0  # a generated body of this many bytes (not held in memory)


def send(port: int, case: Case, timeout: float = 60.0) -> int:
    """Send ``case`` over a fresh connection; the status code (0: no answer)."""
    lines = [f"{case.method} {case.target} HTTP/1.1".encode("latin-1", "replace")]
    names = {name.lower() for name, _ in case.headers}
    if b"host" not in names:
        lines.append(b"Host: 127.0.0.1")
    lines += [name + b": " + value for name, value in case.headers]
    size = case.big or (len(case.body) if case.body is not None else 0)
    if case.chunked:
        lines.append(b"Transfer-Encoding: chunked")
    elif case.body is not None or case.big:
        lines.append(b"Content-Length: " + str(size).encode())
    lines.append(b"Connection: close")
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head)
            for piece in _pieces(case):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if case.chunked else piece)
            if case.chunked:
                sock.sendall(b"0\r\n\r\n")
            # Done sending: werkzeug reads what a view left unread until the client
            # closes its side, so close it as browsers' keep-alive time-outs would.
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body was all sent
        return _status(sock)


def _pieces(case: Case) -> Iterator[bytes]:
    if case.big:
        block = b"a" * (256 * 1024)
        yield b'{"a": "'
        for _ in range(case.big // len(block)):
            yield block
        yield b'"}'
    elif case.body:
        step = 64 * 1024 if case.chunked else len(case.body)
        for start in range(0, len(case.body), step):
            yield case.body[start : start + step]


def _status(sock: socket.socket) -> int:
    data = b""
    try:
        while b"\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        while sock.recv(65536):
            pass
    except (ConnectionResetError, TimeoutError):
        pass
    found = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(found.group(1)) if found else 0


# -- the server ----------------------------------------------------------------------------
class Server:
    """An embedded Redis, a seeded runtime, and ``superflow web`` on a free port."""

    def __init__(self, folder: Path) -> None:
        from superflow.config import Config
        from superflow.embedded_redis import EmbeddedRedis
        from superflow.processes import free_port

        self.folder = folder
        self.redis = EmbeddedRedis(folder / "redis-data")
        url = self.redis.start()
        self.port = free_port()
        self.env = {
            **os.environ,
            "REDIS_URL": url,
            "SUPERFLOW_DATA": str(folder / "data"),
            "SUPERFLOW_SECRET_KEY": "fuzz-secret-key",
            "SUPERFLOW_BASE_URL": f"http://127.0.0.1:{self.port}",
            "SUPERFLOW_SUPEROFFICE_WEBHOOK_SECRET": SO_SECRET,
            "SUPERFLOW_SMS_GATEWAY_WEBHOOK_SECRET": SMS_SECRET,
        }
        self.config = Config.from_env(self.env)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "web.log"

    def seed(self) -> dict[str, list[str]]:
        """Persons, the example flows (started), a form, users, an API key, tokens;
        the real values for each path parameter name."""
        from superflow import apikeys
        from superflow import forms
        from superflow import tracking
        from superflow import users
        from superflow.demo import prepare
        from superflow.runtime import Runtime

        rt = Runtime(self.config)
        try:
            os.environ.setdefault("SUPERFLOW_DEMO_PASSWORD", PASSWORD)
            prepare(rt, persons=30)
            users.create(rt.redis, "fuzzer", PASSWORD, "flow_admin")
            users.create(rt.redis, "victim", PASSWORD, "viewer")
            self.api_key, _ = apikeys.create(rt.redis, "fuzz", "admin", limit=1_000_000)
            form = forms.create(
                rt.redis,
                {
                    "id": "signup",
                    "name": "Sign-up",
                    "title": "Sign up",
                    "fields": [
                        {
                            "name": "email",
                            "label": "Email",
                            "type": "email",
                            "required": True,
                            "maps_to": "email",
                        },
                        {"name": "first_name", "label": "First name", "maps_to": "first_name"},
                    ],
                    "rate_limit": 100_000,
                },
            )
            flow_ids = rt.store.flow_ids()
            doc = rt.store.flow_doc(flow_ids[0]) or {}
            steps = [step["id"] for step in doc.get("steps", [])] or ["s1"]
            pids = rt.store.flow_participant_ids(flow_ids[0], 0, 3)
            pid = pids[0] if pids else f"{flow_ids[0]}.1"
            secret = self.config.with_secret().secret_key
            tokens = [
                tracking.seal(secret, "c", pid, steps[0], "1", "https://example.com/"),
                tracking.seal(secret, "o", pid, steps[0], "1"),
                tracking.seal(secret, "u", pid, steps[0], "1", "emarketing"),
            ]
            return {
                "flow_id": flow_ids,
                "step_id": steps[:2],
                "pid": [pid],
                "participant_id": [pid],
                "form_id": [form["id"]],
                "username": ["victim"],
                "token": tokens,
                "source": ["selections", "persons", "users"],
                "message_id": ["1"],
                "version": ["1"],
                "filename": ["designer.js", "style.css"],
            }
        finally:
            rt.close()

    def start(self) -> None:
        from superflow.processes import SUPERFLOW
        from superflow.processes import spawn
        from superflow.processes import wait_for_port

        with self.log.open("wb") as log:
            self.process = spawn(
                [*SUPERFLOW, "web", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, 30)

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM of the web process, in kB."""
        assert self.process is not None
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", text, re.M)}

    def stop(self) -> None:
        from superflow.processes import stop

        if self.process is not None:
            stop(self.process)
        self.redis.stop()


def sign_in(port: int) -> tuple[str, str]:
    """A session cookie and its CSRF token for the ``fuzzer`` user."""
    import requests

    browser = requests.Session()
    base = f"http://127.0.0.1:{port}"
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', browser.get(base + "/login", timeout=10).text
    ).group(1)
    home = browser.post(
        base + "/login", data={"username": "fuzzer", "password": PASSWORD, "csrf_token": token}, timeout=10
    )
    if home.status_code != 200:
        raise SystemExit(f"could not sign in to the fuzzed server: {home.status_code}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    return cookie, csrf


# -- what is sent --------------------------------------------------------------------------
DEEP_LIST = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
HUGE_ARRAY = b"[" + b"0," * 450_000 + b"0]"
JUNK_PATH = ["x" * 300, "%ff%fe", "..%2F..%2Fetc%2Fpasswd", quote("ü✓"), "-1", "%00", "1e999"]

HEADER_CASES: list[tuple[str, list[tuple[bytes, bytes]]]] = [
    ("cookie non-ascii", [(b"Cookie", "session=ü\u2603".encode() + b"\xff\xfe")]),
    ("cookie control chars", [(b"Cookie", b"session=\x01\x02\x7f; a=\x1b[31m")]),
    ("cookie huge", [(b"Cookie", b"session=" + b"x" * 60_000)]),
    ("content-type junk", [(b"Content-Type", "application/json; charset=ü\x01".encode())]),
    ("content-type unknown charset", [(b"Content-Type", b"application/json; charset=x-no-such")]),
    ("content-type multipart no boundary", [(b"Content-Type", b"multipart/form-data")]),
    ("content-type huge", [(b"Content-Type", b"application/json; x=" + b"y" * 30_000)]),
    ("csrf non-ascii", [(b"X-CSRF-Token", "ü".encode() * 43)]),
    ("csrf control", [(b"X-CSRF-Token", b"\x00\x01abc")]),
    ("csrf huge", [(b"X-CSRF-Token", b"x" * 20_000)]),
    ("signature non-ascii", [(b"X-SuperOffice-Signature", "ü".encode() * 44)]),
    ("signature huge", [(b"X-SuperOffice-Signature", b"A" * 40_000)]),
    ("authorization non-ascii", [(b"Authorization", "Bearer ü".encode() + b"\xff")]),
    ("authorization huge", [(b"Authorization", b"Bearer " + b"x" * 40_000)]),
    ("authorization basic junk", [(b"Authorization", b"Basic !!!not base64")]),
    ("host non-ascii", [(b"Host", "ü.example:99999".encode())]),
    ("host huge", [(b"Host", b"h" * 20_000)]),
    ("accept-language junk", [(b"Accept-Language", "ü;q=abc,*;q=-1,".encode() * 300)]),
    ("accept junk", [(b"Accept", b"application/json;q=\xff, */*;q=nan")]),
    ("if-match junk", [(b"If-Match", 'W/"ü'.encode() + b"\x01")]),
    ("x-webhook-secret non-ascii", [(b"X-Webhook-Secret", "ü".encode() * 20)]),
    ("x-forwarded junk", [(b"X-Forwarded-For", b"\xff, ::1, " + b"9" * 5000)]),
]


def body_cases() -> list[tuple[str, bytes, bytes, bool]]:
    """(name, content type, body, chunked)."""
    json_t, form_t = b"application/json", b"application/x-www-form-urlencoded"
    many_fields = b"&".join(b"f%d=1" % i for i in range(5000))
    boundary = b"fuzzboundary"
    parts = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % (boundary, i)
        for i in range(2000)
    )
    long_name = (
        b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%%PDF-1.4\r\n--%s--\r\n" % (boundary, b"q" * 300, boundary)
    )
    odd_name = (
        b'--%s\r\nContent-Disposition: form-data; name="file"; filename="\xff\xfe\x00../../x"\r\n'
        b"\r\nx\r\n--%s--\r\n" % (boundary, boundary)
    )
    multipart_t = b"multipart/form-data; boundary=" + boundary
    two_mb = b'{"a": "' + b"a" * (2 * MB) + b'"}'
    return [
        ("json invalid utf-8", json_t, b'{"email": "\xff\xfe\xfa"}', False),
        ("json utf-16 bom", json_t, '\ufeff{"email": "a@example.com"}'.encode("utf-16"), False),
        ("json latin-1", json_t, '{"first_name": "Bjørn Ærø"}'.encode("latin-1"), False),
        ("form latin-1", form_t, "email=a%40example.com&first_name=Bjørn".encode("latin-1"), False),
        ("json 10,000 deep list", json_t, DEEP_LIST, False),
        ("json 10,000 deep object", json_t, DEEP_OBJECT, False),
        ("json 10,000 deep chunked", json_t, DEEP_LIST, True),
        ("json huge array", json_t, HUGE_ARRAY, False),
        ("json scalar", json_t, b"1e999999", False),
        ("json 5000-digit number", json_t, b'{"a": ' + b"9" * 5000 + b"}", False),
        ("json nul", json_t, b'{"email": "\\u0000", "\\u0000": null}', False),
        ("json 2 MB", json_t, two_mb, False),
        ("json 2 MB chunked", json_t, two_mb, True),
        ("xml type", b"application/xml", b'{"email": "a@example.com"}', False),
        ("text type", b"text/plain; charset=utf-8", b'{"email": "a@example.com"}', False),
        ("no type", b"", b'{"email": "a@example.com"}', False),
        ("5000 form fields", form_t, many_fields, False),
        ("2000 multipart parts", multipart_t, parts + b"--" + boundary + b"--\r\n", False),
        ("multipart 300-char file name", multipart_t, long_name, False),
        ("multipart odd file name", multipart_t, odd_name, False),
        ("multipart truncated", multipart_t, parts[:5000], False),
        ("form 2 MB", form_t, b"a=" + b"x" * (2 * MB), False),
    ]


QUERY_CASES = [
    ("query 5000 params", "&".join(f"p{i}=1" for i in range(5000))),
    ("query non-ascii", "next=%ff%fe&secret=%00&q=" + quote("ü✓")),
    ("query huge value", "q=" + "x" * 60_000),
    ("query next evil", "next=/%09/evil.example/&next=//evil.example"),
]


@dataclass
class Auth:
    name: str
    headers: list[tuple[bytes, bytes]]
    csrf: str = ""
    sign: bool = False  # the SuperOffice signature of each body


def fill(rule: Any, values: dict[str, list[str]], junk: bool) -> list[str]:
    """Paths for ``rule``: with real values for its parameters (each real value once),
    or with each junk value in each parameter in turn."""

    def build(choice: dict[str, str]) -> str:
        path = rule.rule
        for name, value in choice.items():
            path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", value, path)
        return path

    names = sorted(rule.arguments)
    real = {name: values.get(name) or ["1"] for name in names}
    first = {name: options[0] for name, options in real.items()}
    if not junk:
        rounds = max((len(options) for options in real.values()), default=1)
        return [build({n: options[i % len(options)] for n, options in real.items()}) for i in range(rounds)]
    return [build({**first, name: value}) for name in names for value in JUNK_PATH]


def any_choices(rule: Any) -> dict[str, list[str]]:
    found = re.findall(r"<any\(([^)]*)\):(\w+)>", rule.rule)
    return {name: [v.strip() for v in choices.split(",")] for choices, name in found}


def cases_for(rule: Any, method: str, values: dict[str, list[str]], auth: Auth, big: bool) -> Iterator[Case]:
    with_body = method in ("POST", "PUT", "PATCH", "DELETE")
    choices = {**values, **any_choices(rule)}
    real = fill(rule, choices, junk=False)
    base_body = b'{"email": "fuzz@example.com"}'
    form_extra = f"&csrf_token={auth.csrf}".encode() if auth.csrf else b""

    def make(name: str, path: str, headers=(), body=None, content_type=b"", chunked=False, size=0) -> Case:
        hs = list(auth.headers) + list(headers)
        if content_type:
            hs.append((b"Content-Type", content_type))
        if body is not None and content_type.startswith(b"application/x-www-form-urlencoded"):
            body += form_extra
        if auth.sign and body is not None:
            digest = hmac.new(SO_SECRET.encode(), body, hashlib.sha256).digest()
            hs.append((b"X-SuperOffice-Signature", base64.b64encode(digest)))
        return Case(f"{auth.name}: {name}", method, path, hs, body, chunked, size)

    for path in real:
        yield make("plain", path, body=base_body if with_body else None, content_type=b"application/json")
    for path in fill(rule, choices, junk=True):
        yield make("junk path", path, body=base_body if with_body else None, content_type=b"application/json")
    path = real[0]
    for name, headers in HEADER_CASES:
        names = {h.lower() for h, _ in headers}
        body = base_body if with_body else None
        ctype = b"" if b"content-type" in names else b"application/json"
        yield make(name, path, headers=headers, body=body, content_type=ctype if body is not None else b"")
    for name, query in QUERY_CASES:
        yield make(
            name, f"{path}?{query}", body=base_body if with_body else None, content_type=b"application/json"
        )
    if with_body:
        for name, ctype, body, chunked in body_cases():
            yield make(name, path, body=body, content_type=ctype, chunked=chunked)
    else:
        yield make("GET with a 2 MB body", path, body=b"x" * (2 * MB), content_type=b"application/json")
        yield make("GET with a deep JSON body", path, body=DEEP_LIST, content_type=b"application/json")
    if big:
        yield make("50 MB chunked", path, content_type=b"application/json", chunked=True, size=50 * MB)
        yield make("50 MB with Content-Length", path, content_type=b"application/json", size=50 * MB)


# -- the run -------------------------------------------------------------------------------
def routes(server: Server) -> list[tuple[Any, str]]:
    from superflow.runtime import Runtime
    from superflow.webapp import create_app

    rt = Runtime(server.config)
    try:
        app = create_app(runtime=rt)
        found = []
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule, method))
        return found
    finally:
        rt.close()


def auths_for(rule: Any, server: Server, session: tuple[str, str]) -> list[Auth]:
    anonymous = Auth("anonymous", [])
    path = rule.rule
    if path.startswith("/api/"):
        return [anonymous, Auth("api key", [(b"Authorization", f"Bearer {server.api_key}".encode())])]
    if path == "/hooks/superoffice":
        return [anonymous, Auth("signed", [], sign=True)]
    if path.startswith("/hooks/"):
        return [anonymous, Auth("with secret", [(b"X-Webhook-Secret", SMS_SECRET.encode())])]
    if rule.endpoint in SKIP_SIGNED_IN:
        return [anonymous]
    cookie, csrf = session
    return [
        anonymous,
        Auth("signed in", [(b"Cookie", cookie.encode()), (b"X-CSRF-Token", csrf.encode())], csrf),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="requests in flight at once")
    parser.add_argument(
        "--no-schemathesis", action="store_true", help="skip the schemathesis run over /api/v1"
    )
    parser.add_argument(
        "--only",
        default="",
        help="only cases whose name has this text, one at a time, showing which raise the peak",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="superflow-fuzz-"))
    server = Server(folder)
    started = time.monotonic()
    try:
        values = server.seed()
        server.start()
        session = sign_in(server.port)
        plan: list[tuple[str, str, Case]] = []
        for rule, method in routes(server):
            big = rule.rule in BIG_ROUTES and method == "POST"
            for auth in auths_for(rule, server, session):
                for case in cases_for(rule, method, values, auth, big):
                    plan.append((method, rule.rule, case))
        if args.only:
            plan = [p for p in plan if args.only in p[2].name]
        print(f"{len(plan)} requests planned over {len({(m, r) for m, r, _ in plan})} routes")
        baseline = server.memory()
        statuses: Counter[int] = Counter()
        failures: list[tuple[str, str, str, int]] = []
        lock = threading.Lock()

        def run(item: tuple[str, str, Case]) -> None:
            method, rule_path, case = item
            try:
                status = send(server.port, case)
            except OSError as exc:
                status = 0
                case.name += f" ({type(exc).__name__})"
            with lock:
                statuses[status] += 1
                if status >= 500 or status == 0:
                    failures.append((method, case.target[:120], case.name, status))

        # The 50 MB bodies go last, one at a time, so the peak they cause is theirs.
        small = [p for p in plan if not p[2].big]
        large = [p for p in plan if p[2].big]
        if args.only:
            for item in small:
                before = server.memory()["VmHWM"]
                run(item)
                grown = server.memory()["VmHWM"] - before
                if grown > 2048:
                    print(f"  peak +{grown / 1024:.0f} MB: {item[0]} {item[2].target[:80]} [{item[2].name}]")
        else:
            with ThreadPoolExecutor(args.workers) as pool:
                list(pool.map(run, small))
        after_small = server.memory()
        for item in large:
            run(item)
        after = server.memory()
        alive = server.process is not None and server.process.poll() is None
        fuzz_seconds = time.monotonic() - started

        schemathesis_result = "skipped (--no-schemathesis)"
        if not args.no_schemathesis:
            schemathesis_result = run_schemathesis()

        sent = sum(statuses.values())
        errors = [f for f in failures if f[3] >= 500]
        unanswered = [f for f in failures if f[3] == 0]
        print(f"requests sent: {sent} in {fuzz_seconds:.0f} s ({args.workers} at a time)")
        print("statuses:", ", ".join(f"{code or 'no answer'}: {n}" for code, n in sorted(statuses.items())))
        print(f"5xx: {len(errors)}")
        for method, target, name, status in errors[:15]:
            print(f"  {status} {method} {target} [{name}]")
        if unanswered:
            print(f"no answer: {len(unanswered)}")
            for method, target, name, _ in unanswered[:10]:
                print(f"  {method} {target} [{name}]")
        cfg = server.config
        print(
            f"limits: request {cfg.max_request_bytes / MB:.1f} MB, upload {cfg.max_upload_bytes / MB:.1f} MB,"
            f" webhook {cfg.max_webhook_bytes / MB:.2f} MB, JSON depth {cfg.max_json_depth},"
            f" JSON values {cfg.max_json_items:,}, form fields {cfg.max_form_fields},"
            f" query {cfg.max_query_bytes:,} bytes"
        )
        print(
            f"web process memory (MB): {baseline['VmRSS'] // 1024} at start (peak so far"
            f" {baseline['VmHWM'] // 1024}); peak (VmHWM) {after_small['VmHWM'] // 1024} after the"
            f" small cases, {after['VmHWM'] // 1024} after {len(large)} bodies of 50 MB;"
            f" now {after['VmRSS'] // 1024}; still serving: {alive}"
        )
        print(f"schemathesis over /api/v1: {schemathesis_result}")
        if errors or not alive:
            tail = server.log.read_text(errors="replace")[-3000:]
            print("--- end of the web process's log ---\n" + tail)
        return 1 if errors or not alive or schemathesis_result.startswith("FAILED") else 0
    finally:
        server.stop()


def run_schemathesis() -> str:
    """tests/webapp/api/test_api_schemathesis.py (its own live server): its outcome in one line."""
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        return "not installed (skipped)"
    started = time.monotonic()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            "tests/webapp/api/test_api_schemathesis.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    outcome = "passed" if done.returncode == 0 else "FAILED"
    return f"{outcome}: {last} ({time.monotonic() - started:.0f} s)"


if __name__ == "__main__":
    sys.exit(main())
