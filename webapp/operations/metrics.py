"""``GET /metrics``: the installation's metrics for Prometheus, read from Redis.

Every web process answers with the same numbers (they live in Redis, see
:mod:`superflow.metrics`), so Prometheus may scrape any one of them.  With
``SUPERFLOW_METRICS_TOKEN`` set a scrape must carry ``Authorization: Bearer
<token>``; without it only a request made on this machine and not passed on by a
proxy is answered.  The admin's session plays no part either way.
"""

from __future__ import annotations

import hmac
import ipaddress

import redis
from flask import Blueprint
from flask import Response
from flask import request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from superflow import metrics
from superflow.webapp.runtime import runtime

bp = Blueprint("metrics", __name__)
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@bp.get("/metrics")
def scrape() -> Response:
    rt = runtime()
    refused = _refused(rt.config.metrics_token)
    if refused is not None:
        return refused
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.Collector(rt))
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    try:
        body = encoder(registry)
    except redis.RedisError as exc:
        return _text(f"Redis cannot be reached: {type(exc).__name__}\n", 503)
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _refused(token: str) -> Response | None:
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return None
        response = _text("Authorization: Bearer <SUPERFLOW_METRICS_TOKEN> is required\n", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="superflow metrics"'
        return response
    if _loopback(request.remote_addr) and not any(h in request.headers for h in PROXY_HEADERS):
        return None
    return _text("/metrics answers only this machine unless SUPERFLOW_METRICS_TOKEN is set\n", 403)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")
