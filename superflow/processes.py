"""Child processes that die with their parent (Linux ``PR_SET_PDEATHSIG``), so a
killed ``superflow demo`` leaves no redis-server or worker behind.

Each child gets its own session: Ctrl-C in a terminal reaches only the parent,
which then stops the children in order (web and workers before Redis)."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


SUPERFLOW = (sys.executable, "-P", "-m", "superflow.cli")
"""The ``superflow`` command for child processes.  ``-P`` keeps the working
directory off ``sys.path``: run from a clone of the repository, the source folder
``superflow/`` would otherwise shadow the installed package (which also holds
``superflow.hookspecs``, ``superflow.plugins`` and ``superflow.webapp``)."""


def spawn(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, start_new_session=True, **kwargs
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not go within ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20) -> None:
    """Wait until something listens on 127.0.0.1:``port`` (a child server started)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
