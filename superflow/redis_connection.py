"""Redis URLs turned into clients: plain TCP, unix socket, TLS, and Redis behind Sentinel.

The URL forms (``REDIS_URL``):

- ``redis://[[user]:password@]host[:port][/db]`` and ``unix:///path/redis.sock[?db=N]``;
- ``rediss://[[user]:password@]host[:port][/db]``: TLS.  redis-py's query parameters
  apply, among them ``ssl_cert_reqs`` (``required``, the default, ``optional`` or
  ``none``), ``ssl_ca_certs`` (a PEM file of the CAs to trust), ``ssl_certfile`` and
  ``ssl_keyfile`` (a client certificate) and ``ssl_check_hostname`` (``true``/``false``);
- ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]``: ask
  the Sentinels (port 26379 unless given) which server is the master of ``service``.
  The user and password are the data nodes'; ``sentinel_username`` and
  ``sentinel_password`` query parameters give the Sentinels' own, if they have any.
- ``rediss+sentinel://...``: the same over TLS, to the Sentinels and to the master alike,
  with the ``ssl_*`` query parameters above.

A Sentinel client finds the master again after a failover: a connection that breaks,
or that meets a demoted master (``READONLY``), asks the Sentinels anew on its next use.
The worker's wait-and-reconnect loop (:mod:`superflow.worker`) rides through the gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import redis
from redis.connection import to_bool
from redis.sentinel import Sentinel

from superflow.embedded_redis import RedisUnavailable

CONNECT_TIMEOUT = 5
HEALTH_CHECK_INTERVAL = 30
SENTINEL_PORT = 26379
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")

_SSL_OPTIONS: dict[str, Any] = {
    "ssl_cert_reqs": str,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_check_hostname": to_bool,
}
_SENTINEL_OPTIONS: dict[str, Any] = {"sentinel_username": str, "sentinel_password": str}


@dataclass(frozen=True)
class SentinelUrl:
    """What a ``redis+sentinel://`` URL says: where the Sentinels are and what to ask them."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    ssl_options: dict[str, Any] = field(default_factory=dict)
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def is_sentinel(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Read a ``redis+sentinel://`` or ``rediss+sentinel://`` URL; :class:`ValueError`
    naming the URL (password masked) and what is wrong with it."""

    def bad(problem: str) -> ValueError:
        example = "redis+sentinel://[:password@]host1:26379,host2:26379/mymaster[/db]"
        return ValueError(f"bad Redis Sentinel URL {safe_url(url)}: {problem} (the form is {example})")

    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        raise bad("the scheme must be redis+sentinel:// or rediss+sentinel://")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise bad(str(exc)) from None
    netloc = parts.netloc
    username = password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    sentinels = tuple(_host_port(host, bad) for host in netloc.split(",")) if netloc else ()
    if not sentinels:
        raise bad("it names no Sentinel host")
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    if segments and segments[-1] == "":
        segments.pop()
    if not segments or not segments[0]:
        raise bad("it names no service (the master's name in the Sentinels' configuration) after the hosts")
    if len(segments) > 2:
        raise bad(f"after the service name only a database number may follow, not {'/'.join(segments[1:])!r}")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise bad(f"the database must be a number, not {segments[1]!r}")
        db = int(segments[1])
    ssl = scheme.lower() == "rediss+sentinel"
    ssl_options: dict[str, Any] = {}
    sentinel_auth: dict[str, str] = {}
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        value = values[-1]
        if name in _SENTINEL_OPTIONS:
            sentinel_auth[name] = value
        elif name in _SSL_OPTIONS and ssl:
            try:
                ssl_options[name] = _SSL_OPTIONS[name](value)
            except ValueError:
                raise bad(f"{name}={value!r} is not a valid value") from None
        elif name in _SSL_OPTIONS:
            raise bad(f"{name} needs TLS: use rediss+sentinel://")
        else:
            known = ", ".join([*_SENTINEL_OPTIONS, *_SSL_OPTIONS])
            raise bad(f"unknown query parameter {name!r} (known: {known})")
    return SentinelUrl(
        sentinels=sentinels,
        service_name=segments[0],
        db=db,
        username=username,
        password=password,
        ssl=ssl,
        ssl_options=ssl_options,
        sentinel_username=sentinel_auth.get("sentinel_username"),
        sentinel_password=sentinel_auth.get("sentinel_password"),
    )


def _host_port(text: str, bad: Any) -> tuple[str, int]:
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/]+)(?::(\d*))?", text)
    if match is None:
        raise bad(f"{text!r} is not host or host:port" if text else "a host is empty (two commas?)")
    host, port = match.group(1).strip("[]"), match.group(2)
    if port is None:
        return host, SENTINEL_PORT
    if not port or not 0 < int(port) < 65536:
        raise bad(f"{text!r} has no valid port")
    return host, int(port)


def client(url: str, decode: bool) -> redis.Redis:
    """A client for ``url`` (not yet connected); :class:`ValueError` for a malformed URL."""
    if is_sentinel(url):
        return _sentinel_client(parse_sentinel_url(url), decode)
    if url.split("://", 1)[0].lower() not in ("redis", "rediss", "unix") or "://" not in url:
        schemes = "redis://, rediss:// (TLS), unix://, redis+sentinel:// or rediss+sentinel://"
        raise ValueError(f"bad Redis URL {safe_url(url)}: it must start with {schemes}")
    try:
        return redis.Redis.from_url(
            url,
            decode_responses=decode,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=HEALTH_CHECK_INTERVAL,
        )
    except ValueError as exc:
        raise ValueError(f"bad Redis URL {safe_url(url)}: {exc}") from None


def _sentinel_client(target: SentinelUrl, decode: bool) -> redis.Redis:
    tls: dict[str, Any] = {"ssl": True, **target.ssl_options} if target.ssl else {}
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": CONNECT_TIMEOUT,
        **tls,
    }
    if target.sentinel_username:
        sentinel_kwargs["username"] = target.sentinel_username
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    sentinel = Sentinel(
        list(target.sentinels), sentinel_kwargs=sentinel_kwargs, socket_connect_timeout=CONNECT_TIMEOUT
    )
    return sentinel.master_for(
        target.service_name,
        decode_responses=decode,
        db=target.db,
        username=target.username,
        password=target.password,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        **tls,
    )


def connect(url: str, decode: bool) -> redis.Redis:
    """A client that is known to answer, or :class:`RedisUnavailable` naming the URL
    (password masked) and why."""
    try:
        conn = client(url, decode)
    except ValueError as exc:
        raise RedisUnavailable(str(exc)) from None
    try:
        conn.ping()
    except (redis.RedisError, ValueError, TypeError) as exc:
        # TypeError: a query parameter redis-py passed on but its connection does not take.
        raise RedisUnavailable(f"cannot reach Redis at {safe_url(url)}: {exc}") from None
    return conn


def safe_url(url: str) -> str:
    """``url`` fit for logs and error messages: credentials and password parameters masked."""
    head, sep, query = url.partition("?")
    if "@" in head and "://" in head:
        scheme, rest = head.split("://", 1)
        head = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return head + sep + re.sub(r"((?:^|&)[^=&]*password=)[^&]*", r"\1***", query)
