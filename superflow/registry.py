"""The plugin manager and the registry of what plugins gave.

Plugins load lazily, once, through one path: installed entry points of the
``superflow`` group first, then the built-ins of :data:`DEFAULT_PLUGINS`, each
registered under its dotted name exactly as a third-party plugin would be.
A plugin that fails to import is recorded as broken and skipped; it never takes
a process down.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pluggy

from superflow import hookspecs

log = logging.getLogger(__name__)

DEFAULT_PLUGINS: tuple[str, ...] = (
    "superflow.plugins.flow_control",
    "superflow.plugins.contact",
    "superflow.plugins.company",
    "superflow.plugins.consents",
    "superflow.plugins.selections",
    "superflow.plugins.projects",
    "superflow.plugins.forms",
    "superflow.plugins.dates",
    "superflow.plugins.sales",
    "superflow.plugins.followups",
    "superflow.plugins.requests",
    "superflow.plugins.notify",
    "superflow.plugins.scripts",
    "superflow.plugins.email",
    "superflow.plugins.email.attachments",
    "superflow.plugins.email.images",
    "superflow.plugins.email.library_screens",
    "superflow.plugins.sms",
    "superflow.plugins.sms_gateway",
    "superflow.plugins.outbox",
    "superflow.plugins.api_events",
    "superflow.plugins.local_crm",
    "superflow.plugins.superoffice",
    "superflow.plugins.oidc",
)

KINDS: dict[str, str] = {
    "step_types": "superflow_register_step_types",
    "triggers": "superflow_register_triggers",
    "filters": "superflow_register_filters",
    "success_criteria": "superflow_register_success_criteria",
    "crm_backends": "superflow_register_crm_backends",
    "email_transports": "superflow_register_email_transports",
    "sms_providers": "superflow_register_sms_providers",
    "scripts": "superflow_register_scripts",
    "periodic_tasks": "superflow_register_periodic_tasks",
}
"""Hooks that give named objects, by the registry's name for what they give.
(``superflow_register_routes`` and ``superflow_register_commands`` give blueprints
and commands, which the web app and the CLI collect themselves.)"""


class PluginError(Exception):
    """Plugins that cannot work together, such as two registering one name."""


class UnknownComponent(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class BrokenPlugin:
    name: str
    error: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name, with who gave it."""

    pm: pluggy.PluginManager
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.items[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.items.get(kind, {}))) or "none"
            singular = kind.rstrip("s").replace("_", " ")
            raise UnknownComponent(f"unknown {singular} {name!r} (installed: {known})") from None

    def all(self, kind: str) -> dict[str, Any]:
        return dict(self.items.get(kind, {}))

    def step_type(self, name: str) -> Any:
        return self.get("step_types", name)

    def trigger(self, name: str) -> Any:
        return self.get("triggers", name)

    def filter(self, name: str) -> Any:
        return self.get("filters", name)

    def criterion(self, name: str) -> Any:
        return self.get("success_criteria", name)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugins(self) -> list[dict[str, Any]]:
        """Every plugin with the hooks it implements and what it registered."""
        rows = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            gave = {}
            for (kind, item), owner in sorted(self.owners.items()):
                if owner == name:
                    gave.setdefault(kind, []).append(item)
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            rows.append({"name": name, "hooks": hooks, "registered": gave, "broken": False})
        for broken in self.broken:
            rows.append({"name": broken.name, "hooks": [], "registered": {}, "broken": broken.error})
        return rows


def load_registry(only: Iterable[str] | None = None, extra: Iterable[Any] = ()) -> Registry:
    """Build a plugin manager, load plugins and collect what they register.

    ``only`` (``SUPERFLOW_PLUGINS``) narrows loading to those dotted or entry-point
    names.  ``extra`` objects are registered after the others (tests use this for
    throw-away plugins).
    """
    pm = pluggy.PluginManager("superflow")
    pm.add_hookspecs(hookspecs)
    wanted = set(only) if only is not None else None
    broken: list[BrokenPlugin] = []

    for ep in importlib.metadata.entry_points(group="superflow"):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            log.error("plugin %s failed to load: %s", ep.name, exc)
            broken.append(BrokenPlugin(ep.name, _one_line(exc)))
    for dotted in DEFAULT_PLUGINS:
        if (wanted is not None and dotted not in wanted) or pm.has_plugin(dotted):
            continue
        try:
            pm.register(importlib.import_module(dotted), name=dotted)
        except Exception as exc:
            log.error("plugin %s failed to load:\n%s", dotted, traceback.format_exc())
            broken.append(BrokenPlugin(dotted, _one_line(exc)))
    for obj in extra:
        pm.register(obj, name=getattr(obj, "__name__", None))
    pm.check_pending()

    registry = Registry(pm=pm, broken=broken)
    for kind, hook_name in KINDS.items():
        registry.items[kind] = {}
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            owner = pm.get_name(impl.plugin) or repr(impl.plugin)
            for obj in _collect(impl.function):
                _add(registry, kind, obj, owner)
    return registry


def _collect(function: Any) -> list[Any]:
    gathered: list[Any] = []
    function(register=gathered.append)
    return gathered


def _add(registry: Registry, kind: str, obj: Any, owner: str) -> None:
    name = getattr(obj, "name", "")
    if not name:
        raise PluginError(f"plugin {owner} registered a {kind} object without a name: {obj!r}")
    previous = registry.owners.get((kind, name))
    if previous is not None:
        raise PluginError(
            f"{kind.rstrip('s').replace('_', ' ')} {name!r} is registered by two plugins: "
            f"{previous} and {owner}; uninstall one or rename its {kind}"
        )
    registry.items[kind][name] = obj
    registry.owners[(kind, name)] = owner


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
