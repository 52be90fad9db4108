"""Latency of a tracked link's redirect (and of the open pixel) on this machine.

    python benchmarks/click_latency.py --clicks 2000

Starts an embedded Redis (or uses ``REDIS_URL``) and the web app, then measures:

1. opening a token alone (AES-GCM and parsing), in this process;
2. the request inside Flask (``app.test_client()``: routing, token, Redis, enqueue of
   the event; no sockets);
3. real HTTP to the app served by werkzeug in a process of its own (one connection
   per request, as a mail reader's browser makes): a first click (counters plus an
   ``link.clicked`` event enqueued with RQ), a repeated click (counters only), the
   open pixel, and a tampered token (the error page).

Prints p50, p99 and the mean of each, in milliseconds.  werkzeug's server is a
development server; production serves the app with a WSGI server behind a proxy, so
the in-Flask figures are the ones the app itself is responsible for.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from superflow import tracking
from superflow.config import Config
from superflow.embedded_redis import EmbeddedRedis
from superflow.processes import free_port
from superflow.processes import wait_for_port
from superflow.runtime import Runtime

SECRET = "benchmark-secret"
URL = "https://shop.example/offer?utm_source=superflow&utm_medium=email&utm_campaign=spring"


def figures(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:<44} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   mean {statistics.fmean(ms):7.3f} ms"


def timed(count: int, call: Callable[[int], object]) -> list[float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def serve(config: Config, port: int) -> None:
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from superflow.webapp import create_app

    make_server("127.0.0.1", port, create_app(runtime=Runtime(config)), threaded=True).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clicks", type=int, default=2000)
    args = parser.parse_args()
    n = args.clicks

    with tempfile.TemporaryDirectory() as tmp:
        embedded = None
        url = os.environ.get("REDIS_URL", "")
        if not url:
            embedded = EmbeddedRedis(Path(tmp) / "redis")
            url = embedded.start()
        config = Config(
            data_dir=Path(tmp) / "data", redis_url=url, secret_key=SECRET, queue_prefix="bench-clicks"
        )
        try:
            run(config, n)
        finally:
            if embedded is not None:
                embedded.stop()


def run(config: Config, n: int) -> None:
    from superflow.webapp import create_app

    rt = Runtime(config)
    rt.redis.flushdb()
    clicks = [tracking.seal(SECRET, "c", f"1.{i}", "mail", str(i), URL) for i in range(3 * n)]
    pixels = [tracking.seal(SECRET, "o", f"1.{i}", "mail", str(i)) for i in range(n)]
    bad = clicks[0][:40] + ("A" if clicks[0][40] != "A" else "B") + clicks[0][41:]

    print(f"clicks: {n}; a click token is {len(clicks[0])} characters for a {len(URL)}-character URL")
    opened = timed(n, lambda i: tracking.open_token(SECRET, "c", clicks[i]))
    print(figures("open a token (in process)", opened))

    client = create_app(runtime=rt).test_client()

    def in_flask(i: int) -> None:
        reply = client.get(f"/t/c/{clicks[i]}")
        assert reply.status_code == 302, reply.status_code

    print(figures("click inside Flask, first (event enqueued)", timed(n, in_flask)))
    print(figures("click inside Flask, repeated", timed(n, lambda i: client.get(f"/t/c/{clicks[0]}"))))

    port = free_port()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(config, port), daemon=True)
    server.start()
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"

        def over_http(i: int) -> None:
            reply = requests.get(f"{base}/t/c/{clicks[n + i]}", allow_redirects=False, timeout=10)
            assert reply.status_code == 302, reply.status_code

        requests.get(f"{base}/health", timeout=10)
        print(figures("click over HTTP, first (event enqueued)", timed(n, over_http)))
        repeat = timed(
            n, lambda i: requests.get(f"{base}/t/c/{clicks[n]}", allow_redirects=False, timeout=10)
        )
        print(figures("click over HTTP, repeated", repeat))
        pixel = timed(n, lambda i: requests.get(f"{base}/t/o/{pixels[i]}.gif", timeout=10))
        print(figures("open pixel over HTTP, first", pixel))
        tampered = timed(n, lambda i: requests.get(f"{base}/t/c/{bad}", allow_redirects=False, timeout=10))
        print(figures("tampered token over HTTP (404 page)", tampered))
    finally:
        server.terminate()
        server.join(10)
    print(f"events enqueued: {rt.queue.count}")
    rt.close()


if __name__ == "__main__":
    main()
