"""The engine's notion of now.

In production it is the system clock.  With ``SUPERFLOW_CONTROLLABLE_CLOCK`` on
(tests, demos of long waits) every process adds the offset stored in Redis under
``sf:clock:offset``, so a test can move time forward for the web app and every
worker at once instead of sleeping.
"""

from __future__ import annotations

import time

import redis

from superflow import keys


class Clock:
    def __init__(self, conn: redis.Redis, controllable: bool = False) -> None:
        self.conn = conn
        self.controllable = controllable

    def now(self) -> float:
        if not self.controllable:
            return time.time()
        offset = self.conn.get(keys.CLOCK_OFFSET)
        return time.time() + (float(offset) if offset else 0.0)

    def advance(self, seconds: float) -> None:
        """Move time forward for every process sharing this Redis."""
        if not self.controllable:
            raise RuntimeError("the clock is not controllable: set SUPERFLOW_CONTROLLABLE_CLOCK=1")
        self.conn.incrbyfloat(keys.CLOCK_OFFSET, seconds)
