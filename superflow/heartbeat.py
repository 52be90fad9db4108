"""Worker heartbeats: which workers are alive, and which stopped beating.

Each ``superflow worker`` beats every third of ``SUPERFLOW_HEARTBEAT_SECONDS``:
it sets its alive key (which expires after the full interval) and names the RQ
worker it runs as.  A worker killed, frozen or cut off from Redis stops beating;
within one interval its alive key is gone and the tick of any other worker hands
its job over (:func:`superflow.queueing.hand_over`), and the leases it held may be
taken (the engine's lease script asks :data:`ALIVE_PREFIX` whether their holder
still beats).

Keys (this module owns them):

- ``sf:worker:<token>`` — set while the worker with this token beats (PX).
- ``sf:workers`` — hash of every beating worker's token → its RQ worker name; an
  entry whose alive key is gone is a dead worker, handed over once.
- ``sf:handovers`` — the last 100 handovers, newest first (JSON: worker, job, at).
"""

from __future__ import annotations

import json
import time
import uuid

import redis

from superflow import keys

ALIVE_PREFIX = keys.WORKER_ALIVE_PREFIX
KEEP_HANDOVERS = 100
# Lease holders whose token starts so are beating workers; any other holder (the
# web app, a CLI command) keeps its lease until it runs out.
TOKEN_PREFIX = "w."


def new_token() -> str:
    return f"{TOKEN_PREFIX}{uuid.uuid4().hex[:12]}"


class Heartbeat:
    """One worker's heartbeat, under a token of its own (a new one after each
    reconnect to Redis, so the job Redis's absence interrupted is handed over)."""

    def __init__(self, conn: redis.Redis, seconds: float) -> None:
        self.redis = conn
        self.ttl_ms = max(int(seconds * 1000), 100)
        self.token = new_token()
        self.rq_name = ""

    def beat(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.worker_alive(self.token), 1, px=self.ttl_ms)
        pipe.hset(keys.WORKERS, self.token, self.rq_name)
        pipe.execute()

    def stop(self) -> None:
        """A clean stop: nothing to hand over."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(keys.worker_alive(self.token))
        pipe.hdel(keys.WORKERS, self.token)
        pipe.execute()

    def retire(self) -> None:
        """Stop beating under this token at once (its job died with the connection):
        the next tick takes this token's worker as dead and hands its job over."""
        self.redis.delete(keys.worker_alive(self.token))


def dead_workers(conn: redis.Redis) -> dict[str, str]:
    """Workers that stopped beating, token → RQ worker name, each returned once
    (the caller hands them over; a second caller gets nothing for them)."""
    workers = conn.hgetall(keys.WORKERS)
    if not workers:
        return {}
    tokens = list(workers)
    alive = conn.mget([keys.worker_alive(token) for token in tokens])
    dead = {token: workers[token] for token, beat in zip(tokens, alive, strict=True) if beat is None}
    return {token: name for token, name in dead.items() if conn.hdel(keys.WORKERS, token)}


def beating(conn: redis.Redis, tokens: list[str]) -> set[str]:
    """Those of these lease holders that are workers still beating, or not workers
    at all (their leases run out by themselves)."""
    workers = [token for token in tokens if token.startswith(TOKEN_PREFIX)]
    alive = conn.mget([keys.worker_alive(token) for token in workers]) if workers else []
    gone = {token for token, beat in zip(workers, alive, strict=True) if beat is None}
    return {token for token in tokens if token not in gone}


def record_handover(conn: redis.Redis, rq_name: str, job_id: str | None) -> None:
    entry = json.dumps({"worker": rq_name, "job": job_id, "at": time.time()})
    pipe = conn.pipeline(transaction=False)
    pipe.lpush(keys.HANDOVERS, entry)
    pipe.ltrim(keys.HANDOVERS, 0, KEEP_HANDOVERS - 1)
    pipe.execute()


def handovers(conn: redis.Redis) -> list[dict[str, object]]:
    """The last handovers, newest first: which worker stopped beating, the job of
    it handed over (``None``: it was idle) and when."""
    return [json.loads(entry) for entry in conn.lrange(keys.HANDOVERS, 0, -1)]
