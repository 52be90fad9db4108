"""``superflow web``: the web app served by gunicorn, one app per worker process.

gunicorn's master binds the port and forks ``workers`` processes, each running
``threads`` threads (gunicorn's ``gthread`` worker, which keeps connections alive
between requests; with one thread, its ``sync`` worker: one request at a time, no
keep-alive, the cheapest per request — for behind a buffering reverse proxy).

Nothing that holds a socket is made before the fork: each worker builds its own
:class:`~superflow.runtime.Runtime` (Redis connections, CRM, plugins) from the
master's :class:`~superflow.config.Config`, in which the secret key and the Redis URL
are already settled — so every worker signs sessions with the same key, and an
embedded Redis (no ``REDIS_URL``) is started once, by the master, and stopped when it
exits.  The access log goes through :class:`AccessLog`, which keeps secrets in
addresses and headers out of it.

``superflow web --dev`` serves with werkzeug's threaded server instead, in one process
(for debugging: a breakpoint stops the one request).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.glogging import SafeAtoms

from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.embedded_redis import RedisUnavailable
from superflow.webapp.access_log import redact

MIN_DEFAULT_WORKERS = 2
MAX_DEFAULT_WORKERS = 16
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
SECRET_HEADERS = frozenset(
    f"{{{name}}}i"
    for name in ("authorization", "cookie", "x-api-key", "x-webhook-secret", "x-superoffice-signature")
)

#: gunicorn's own limits and timeouts (docs/operators.md, "Request limits").  The app's
#: limits (superflow.webapp.limits) bound bodies and query strings; these bound what
#: gunicorn reads before the app sees a request.
LIMITS: dict[str, Any] = {
    # The request line ("POST /path?query HTTP/1.1"): gunicorn's most, 8190 bytes, so
    # that the app's own query limit (SUPERFLOW_MAX_QUERY_BYTES, 8192) answers first
    # for all but the last few bytes; over it gunicorn answers 414 itself.
    "limit_request_line": 8190,
    # Header lines per request and bytes per header line: over them, 431.
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    # A worker that does not report to the master for this long is killed and replaced.
    "timeout": 30,
    # SIGTERM: workers finish the requests they have for up to this long, then go.
    "graceful_timeout": 30,
    # An idle keep-alive connection is closed after this many seconds.
    "keepalive": 5,
    # Connections one worker holds at once (open and idle keep-alive ones alike).
    "worker_connections": 1000,
}


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(n_cores: int | None = None) -> int:
    """Worker processes when ``SUPERFLOW_WEB_WORKERS`` is 0: one per core, at least
    two (one busy or restarting worker does not stop the site), at most 16.

    A request is mostly Python work (about 2 ms of CPU for a single API event), and
    each worker's threads cover the waits on Redis and the CRM, so more processes than
    cores only add switching and memory: measured on 2 cores, 5 workers × 4 threads
    accepted no more single events per second than 2 × 4 (benchmarks/api_events.py)."""
    n_cores = cores() if n_cores is None else n_cores
    return max(MIN_DEFAULT_WORKERS, min(n_cores, MAX_DEFAULT_WORKERS))


def build_app(config: Config) -> Any:
    """The WSGI app on a new runtime: the Flask app, behind werkzeug's ``ProxyFix``
    when ``SUPERFLOW_PROXY_FIX`` trusts proxies for ``X-Forwarded-*``."""
    from superflow.runtime import Runtime
    from superflow.webapp import create_app

    app = create_app(runtime=Runtime(config))
    if config.proxy_fix > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = config.proxy_fix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app


class RedactedAtoms(SafeAtoms):
    """gunicorn's access-log values with secret query parameters redacted (in the
    request line, query string and referrer) and secret headers not shown at all,
    whatever ``access_log_format`` names."""

    def __getitem__(self, key: str) -> Any:
        if key.lower() in SECRET_HEADERS:
            return "[redacted]" if super().__getitem__(key) != "-" else "-"
        value = super().__getitem__(key)
        return redact(value) if isinstance(value, str) else value


class AccessLog(Logger):
    """gunicorn's logger with :class:`RedactedAtoms` in the access log."""

    atoms_wrapper_class = RedactedAtoms


class WebServer(BaseApplication):
    """gunicorn run in this process, configured here (no gunicorn.conf.py, no
    ``GUNICORN_CMD_ARGS``), loading :func:`build_app` in each worker."""

    def __init__(self, config: Config, host: str, port: int, workers: int, threads: int) -> None:
        self.config = config
        self.workers = workers
        self.threads = threads
        self.address = f"http://{_bind_host(host)}:{port}"
        self.runtime: Any = None
        self.options: dict[str, Any] = {
            **LIMITS,
            "bind": f"{_bind_host(host)}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "preload_app": False,
            "proc_name": "superflow-web",
            "logger_class": AccessLog,
            "accesslog": "-" if config.web_access_log else None,
            "access_log_format": ACCESS_LOG_FORMAT,
            "errorlog": "-",
            "loglevel": "info",
            # gunicorn 25+ opens a control socket in ~/.gunicorn by default, one path
            # for every gunicorn on the machine: two superflow webs would fight over it.
            "control_socket_disable": True,
            "when_ready": self._ready,
            "worker_exit": self._worker_exit,
        }
        super().__init__(prog="superflow web")

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable[..., Any]:
        """In each worker, after the fork: its own runtime and app."""
        app = build_app(self.config)
        self.runtime = app.extensions["superflow"]
        return app

    def _ready(self, server: Any) -> None:
        click.echo(
            f"superflow web: serving at {self.address}/ "
            f"(gunicorn, {self.workers} workers x {self.threads} threads)",
            err=True,
        )

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self.runtime is not None:
            self.runtime.close()


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def prepare(config: Config) -> tuple[Config, EmbeddedRedis | None]:
    """The configuration every worker gets, settled in the master before the fork:
    the secret key (``<data>/secret_key`` made once, not raced by the workers) and the
    Redis URL — an embedded Redis started here when none is configured.  Redis must
    answer; returns the embedded server to stop at exit (``None`` if not started here)."""
    import redis

    from superflow.redis_connection import connect

    config = config.with_secret()
    embedded = None
    if not config.redis_url:
        embedded = EmbeddedRedis(config.data_dir)
        config = replace(config, redis_url=embedded.start())
    conn = connect(config.redis_url, decode=True)
    try:
        conn.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"cannot reach Redis at {config.redis_url}: {exc}") from None
    finally:
        conn.close()
    return config, embedded


def serve(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until SIGTERM or SIGINT (gunicorn's: SIGTERM lets requests finish)."""
    import superflow.webapp  # noqa: F401  imported before the fork, shared by the workers

    config, embedded = prepare(config)
    try:
        WebServer(config, host, port, workers, threads).run()
    finally:
        if embedded is not None:
            embedded.stop()


def serve_dev(config: Config, host: str, port: int) -> None:
    """werkzeug's threaded server in this process (``superflow web --dev``)."""
    config, embedded = prepare(config)
    app = build_app(config)
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        app.extensions["superflow"].close()
        if embedded is not None:
            embedded.stop()
