"""Polling until something true happens: for what another process (a worker, a web server,
Redis after a restart) does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(
    predicate: Callable[[], object],
    timeout: float = 30.0,
    *,
    tolerating: tuple[type[BaseException], ...] = (),
) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds, asking every 0.1 s.

    It returns ``False`` rather than raising, so that the caller's ``assert`` can say what
    it waited for.  ``tolerating`` names exceptions that count as "not yet" (say
    ``redis.RedisError`` while a server fails over or restarts), so that this module needs
    no client library of its own.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except tolerating:
            pass
        time.sleep(0.1)
    return False
