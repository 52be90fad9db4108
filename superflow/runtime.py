"""One process's assembly of the parts: Redis, plugins, CRM, channels, engine.

Web, worker and CLI each build a :class:`Runtime` from their :class:`Config`; jobs
look up the runtime of the process they run in (RQ jobs get ids, never objects).
"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import TYPE_CHECKING
from typing import Any

from rq import Queue
from rq.serializers import JSONSerializer

from superflow import merge
from superflow import queueing
from superflow.clock import Clock
from superflow.config import Config
from superflow.counters import Counters
from superflow.embedded_redis import EmbeddedRedis
from superflow.events import Event
from superflow.redis_connection import connect
from superflow.registry import Registry
from superflow.registry import load_registry
from superflow.services import PluginStore
from superflow.store import Store

if TYPE_CHECKING:
    from superflow.engine import Engine

log = logging.getLogger(__name__)

_current: Runtime | None = None


class Runtime:
    def __init__(self, config: Config, registry: Registry | None = None) -> None:
        config = config.with_secret()
        self.config = config
        self.embedded: EmbeddedRedis | None = None
        url = config.redis_url
        if not url:
            self.embedded = EmbeddedRedis(config.data_dir)
            url = self.embedded.start()
        self.redis_url = url
        self.redis = connect(url, decode=True)
        self.rq_redis = connect(url, decode=False)
        self.registry = registry if registry is not None else load_registry(config.plugins)
        self.clock = Clock(self.redis, config.controllable_clock)
        self.store = Store(self.redis)
        self.counters = Counters(self.redis)
        self._associates: dict[str, dict[str, Any]] = {}
        self._associates_at = float("-inf")
        self._names: dict[str, frozenset[str]] = {}
        self._names_at = float("-inf")
        self.queue = Queue(
            config.queue_prefix,
            connection=self.rq_redis,
            serializer=JSONSerializer,
            default_timeout=config.job_timeout,
        )

    @cached_property
    def crm(self) -> Any:
        backend = self.registry.get("crm_backends", self.config.crm)
        return backend(self.config, self.emit, services=self)

    @cached_property
    def email(self) -> Any:
        return self.registry.get("email_transports", self.config.email_transport)(self.config)

    @cached_property
    def sms(self) -> Any:
        return self.registry.get("sms_providers", self.config.sms_provider)(self.config)

    @cached_property
    def engine(self) -> Engine:
        from superflow.engine import Engine

        return Engine(self)

    def associate(self, associate_id: str) -> dict[str, Any] | None:
        """One of our users (from the CRM), cached for a minute."""
        now = time.monotonic()
        if now - self._associates_at > 60:
            self._associates = {str(a["id"]): a for a in self.crm.list_associates()}
            self._associates_at = now
        return self._associates.get(str(associate_id))

    def merge_names(self) -> dict[str, frozenset[str]]:
        """The names merge tags may use here (the CRM's fields), cached for a minute."""
        now = time.monotonic()
        if now - self._names_at > 60:
            self._names = merge.known_names(self.crm.list_fields())
            self._names_at = now
        return self._names

    def emit(self, events: list[Event]) -> None:
        """Hand events to the engine: enqueue them, never handle them inline."""
        if events:
            queueing.enqueue_events(self, events)

    def plugin_store(self, namespace: str) -> PluginStore:
        """A plugin's own keys, ``sf:<namespace>:…`` (:class:`superflow.services.Services`)."""
        return PluginStore(self.redis, namespace)

    def enqueue(self, function: str, *args: Any) -> None:
        """Queue ``function(services, *args)`` (a dotted name) as a job with the
        engine's standard retries, for a plugin's work that must not run inline."""
        queueing.enqueue_plugin_job(self, function, list(args))

    def close(self) -> None:
        for name in ("crm", "email", "sms"):
            if name in self.__dict__:
                self.__dict__[name].close()
        if self.embedded is not None:
            self.embedded.stop()


def set_current(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def running() -> Runtime | None:
    """The process's runtime if one was set up, else ``None`` (never builds one)."""
    return _current


def current() -> Runtime:
    """The process's runtime; built from the environment on first use."""
    global _current
    if _current is None:
        _current = Runtime(Config.from_env())
    return _current
