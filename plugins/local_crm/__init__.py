"""The built-in ``local`` CRM backend: an embedded SQLite CRM for trying superflow out,
for demos and for tests, with no CRM account needed."""

from collections.abc import Callable

from superflow import hookimpl
from superflow.crm import CrmBackend

from .backend import LocalCrm


@hookimpl
def superflow_register_crm_backends(register: Callable[[type[CrmBackend]], None]) -> None:
    register(LocalCrm)
