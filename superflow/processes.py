"""Child processes that die with their parent (Linux ``PR_SET_PDEATHSIG``), so a
killed ``superflow demo`` leaves no redis-server or worker behind.

Each child gets its own session: Ctrl-C in a terminal reaches only the parent,
which then stops the children in order (web and workers before Redis)."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
