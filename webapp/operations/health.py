"""``/health``: can this process reach Redis, and is anyone working the queue?"""

from __future__ import annotations

import redis
from flask import Blueprint
from flask import jsonify
from rq import Worker

from superflow import inbox
from superflow.webapp.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    rt = runtime()
    try:
        rt.redis.ping()
        workers = Worker.count(connection=rt.rq_redis)
        body = {
            "status": "ok",
            "redis": "ok",
            "workers": workers,
            "queued_jobs": rt.queue.count,
            "waiting": inbox.waiting(rt.redis),
        }
        return jsonify(body)
    except redis.RedisError as exc:
        return jsonify({"status": "error", "redis": str(exc)}), 503
