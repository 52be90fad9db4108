"""What a plugin's components are handed at run time: the typed ``Services`` and its plugin store.

A step type, trigger, filter, success criterion, script, periodic task or CRM backend
never reaches for a process global: it is given a :class:`Services` (the datasette
way of handing ``datasette`` to every hook).  The process's runtime is the one
implementation; tests build a real one with the ``sf_runtime`` fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

import redis

from superflow import keys

if TYPE_CHECKING:
    from superflow.channels import EmailTransport
    from superflow.channels import SmsProvider
    from superflow.config import Config
    from superflow.counters import Counters
    from superflow.crm import CrmBackend
    from superflow.events import Event


class Clock(Protocol):
    def now(self) -> float:
        """The engine's time in seconds since the epoch (controllable in tests)."""
        ...


class PluginStore:
    """A plugin's own key-value space in Redis: every key is ``sf:<namespace>:<name>``.

    The namespace keeps plugins apart and keeps the keys the built-ins always had
    (``sf:superoffice:…``, ``sf:sent-to:…``), so installations upgrade in place.
    Values are text.  For what the simple calls do not cover (sets, a pipeline of
    several calls in one round trip) use :attr:`redis` with keys spelled by
    :meth:`key`.
    """

    def __init__(self, conn: redis.Redis, namespace: str) -> None:
        if not namespace or namespace != namespace.strip(": "):
            raise ValueError(f"a plugin store's namespace must be a plain name, not {namespace!r}")
        self.redis = conn
        self.namespace = namespace

    def key(self, *parts: object) -> str:
        """The Redis key of ``parts`` in this namespace (``key("event", 7)`` →
        ``sf:<namespace>:event:7``; no parts: the namespace's prefix itself)."""
        return ":".join([keys.plugin_namespace(self.namespace), *(str(part) for part in parts)])

    def get(self, name: str) -> str | None:
        return self.redis.get(self.key(name))

    def set(self, name: str, value: str, *, ttl: float | None = None, only_if_new: bool = False) -> bool:
        """Store ``value``; with ``only_if_new`` only when the key does not exist (the
        first caller wins: a mark "seen this webhook").  True when it was stored."""
        seconds = None if ttl is None else max(1, int(ttl))
        return bool(self.redis.set(self.key(name), value, ex=seconds, nx=only_if_new))

    def delete(self, *names: str) -> int:
        return int(self.redis.delete(*(self.key(name) for name in names))) if names else 0

    def hget(self, name: str, field: str) -> str | None:
        return self.redis.hget(self.key(name), field)

    def hset(self, name: str, field: str, value: str) -> None:
        self.redis.hset(self.key(name), field, value)

    def hset_if_new(self, name: str, field: str, value: str, *, ttl: float | None = None) -> str:
        """Give ``field`` of hash ``name`` the ``value`` unless it has one; return the
        value it holds afterwards (``value`` when this caller was first).  ``ttl``
        renews the hash's expiry, in the same round trip."""
        key = self.key(name)
        pipe = self.redis.pipeline()
        pipe.hsetnx(key, field, value)
        pipe.hget(key, field)
        if ttl is not None:
            pipe.expire(key, max(1, int(ttl)))
        return pipe.execute()[1]


class Services(Protocol):
    """What a component may use while it runs.

    ``crm``, ``email`` and ``sms`` are the configured CRM backend, email transport
    and SMS provider; ``config`` the process's settings (read them, never change
    them); ``clock.now()`` the engine's time.  ``emit(events)`` hands events to the
    engine and ``enqueue(function, *args)`` queues a job of the plugin's own (a
    dotted name, called as ``function(services, *args)`` in a worker) with the
    engine's standard retries.  ``plugin_store(namespace)`` holds the plugin's own
    keys.
    ``associate(id)`` is one of our users and ``merge_names()`` the names merge
    tags may use, both cached.
    """

    @property
    def crm(self) -> CrmBackend: ...

    @property
    def email(self) -> EmailTransport: ...

    @property
    def sms(self) -> SmsProvider: ...

    @property
    def config(self) -> Config: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def counters(self) -> Counters: ...

    def emit(self, events: list[Event]) -> None: ...

    def enqueue(self, function: str, *args: Any) -> None: ...

    def plugin_store(self, namespace: str) -> PluginStore: ...

    def associate(self, associate_id: str) -> dict[str, Any] | None: ...

    def merge_names(self) -> dict[str, frozenset[str]]: ...
