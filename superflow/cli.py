"""The ``superflow`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from superflow.config import Config


def _known_errors() -> tuple[type[BaseException], ...]:
    from superflow.crm import CrmError
    from superflow.embedded_redis import RedisUnavailable
    from superflow.flow import FlowInvalid, FlowNotReady
    from superflow.flows import FlowNotFound, FlowStateError
    from superflow.registry import PluginError, UnknownComponent

    return (
        RedisUnavailable,
        FlowInvalid,
        FlowNotReady,
        FlowStateError,
        FlowNotFound,
        PluginError,
        UnknownComponent,
        CrmError,
    )


def main() -> None:
    """Entry point: clear one-line errors instead of tracebacks for known failures."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        add_plugin_commands()
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _known_errors() as exc:
        _print_error(exc)
        sys.exit(1)


def add_plugin_commands() -> None:
    """Let plugins add commands (``superflow_register_commands``)."""
    from superflow.registry import load_registry

    load_registry(Config.from_env().plugins).hook.superflow_register_commands(cli=cli)


def _print_error(exc: BaseException) -> None:
    from superflow.flow import FlowInvalid, FlowNotReady

    if isinstance(exc, FlowInvalid):
        click.echo("error: the flow is not valid:", err=True)
        for err in exc.errors:
            click.echo(f"  {err['field']}: {err['message']}", err=True)
    elif isinstance(exc, FlowNotReady):
        click.echo("error: the flow cannot start yet:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)


DATA_ENV = ("SUPERFLOW_DATA_DIR", "SUPERFLOW_DATA")
MAKES_DATA = frozenset({("worker",), ("users", "create"), ("crm", "seed"), ("crm", "person", "add")})
"""Commands that may start a new data folder (``demo`` and ``web`` make theirs too)."""
WEB_ADDRESS = "web-address"
"""The file in the data folder where ``superflow web`` notes the address it serves."""


def _uses_data_folder(config: Config) -> bool:
    """Whether this configuration keeps anything in the data folder: the embedded
    Redis, the local CRM's file, or the stored secret key."""
    local_crm = config.crm == "local" and not config.setting("local_crm_path")
    return not config.redis_url or local_crm or not config.secret_key


def check_data_folder(config: Config, command: tuple[str, ...], environ: Any = None) -> None:
    """Refuse to start an empty data folder by accident.

    With no ``SUPERFLOW_DATA_DIR``, the data folder is ``./superflow-data`` of the
    folder the command runs in; run elsewhere, a command would quietly start a new,
    empty Redis and CRM there.  So when none is found, a command stops and says where
    it looked and how to point at one — unless it is one that starts a data folder,
    which then says that it made one."""
    env = os.environ if environ is None else environ
    folder = Path(config.data_dir).absolute()
    if any(env.get(name) for name in DATA_ENV) or folder.exists() or not _uses_data_folder(config):
        return
    if command in MAKES_DATA:
        click.echo(f"note: no data folder here; starting a new one at {folder}", err=True)
        return
    raise click.ClickException(
        f"no data folder at {folder}: superflow keeps its data in ./superflow-data of the folder "
        "you run it in. Run the command in the folder where you ran 'superflow demo' or "
        "'superflow web', or point at the data folder with SUPERFLOW_DATA_DIR=/path/to/superflow-data."
    )


def record_web_address(config: Config) -> None:
    """Note the address ``superflow web`` serves, for commands that print links."""
    folder = Path(config.data_dir)
    if not folder.exists() and not _uses_data_folder(config):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / WEB_ADDRESS).write_text(config.base_url + "\n")
    except OSError as exc:
        click.echo(f"note: could not note the web app's address in {folder}: {exc}", err=True)


def web_address(config: Config, environ: Any = None) -> str:
    """The address people reach the web app at: ``SUPERFLOW_BASE_URL`` if set, else
    the one ``superflow web`` noted in the data folder, else the configured default
    (with a note on standard error that it is a guess)."""
    env = os.environ if environ is None else environ
    if env.get("SUPERFLOW_BASE_URL"):
        return config.base_url.rstrip("/")
    try:
        noted = (Path(config.data_dir) / WEB_ADDRESS).read_text().strip()
    except OSError:
        noted = ""
    if noted:
        return noted.rstrip("/")
    click.echo(
        f"note: the web app's address is not known (no 'superflow web' has run on this data folder and "
        f"SUPERFLOW_BASE_URL is not set); assuming {config.base_url}",
        err=True,
    )
    return config.base_url.rstrip("/")


class State:
    """Lazily built runtime, so ``--help`` and ``flows validate`` need no Redis."""

    def __init__(self) -> None:
        self._runtime: Any = None

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            from superflow.runtime import Runtime, set_current

            config = Config.from_env()
            check_data_folder(config, _command_path())
            self._runtime = Runtime(config)
            set_current(self._runtime)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


pass_state = click.make_pass_decorator(State, ensure=True)


def _command_path() -> tuple[str, ...]:
    """The running command's names below ``superflow``, e.g. ``("crm", "seed")``."""
    names: list[str] = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return tuple(names)


@click.group()
@click.version_option(package_name="superflow")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """superflow: marketing automation flows for your CRM."""
    state = ctx.ensure_object(State)
    ctx.call_on_close(state.close)


# -- running ---------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--persons", default=300, show_default=True, help="Persons in the demo CRM.")
@click.option("--workers", default=1, show_default=True)
def demo(host: str, port: int, persons: int, workers: int) -> None:
    """Everything in one command: embedded Redis, demo CRM, worker, web app."""
    from superflow.demo import run_demo

    run_demo(Config.from_env(), host=host, port=port, persons=persons, workers=workers)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="gunicorn worker processes [default: SUPERFLOW_WEB_WORKERS, else one per core, 2 to 16].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads in each worker; 1: gunicorn's sync worker [default: SUPERFLOW_WEB_THREADS, else 4].",
)
@click.option("--dev", is_flag=True, help="werkzeug's server in one process instead (for debugging).")
def web(host: str, port: int, workers: int | None, threads: int | None, dev: bool) -> None:
    """Serve the web app with gunicorn (see docs/operators.md, "superflow web")."""
    from superflow import webserver

    config = Config.from_env()
    if not os.environ.get("SUPERFLOW_BASE_URL"):
        config = replace(config, base_url=f"http://{_reachable(host)}:{port}")
    record_web_address(config)
    if dev:
        webserver.serve_dev(config, host=host, port=port)
        return
    workers = workers if workers is not None else config.web_workers
    webserver.serve(
        config,
        host=host,
        port=port,
        workers=workers or webserver.default_workers(),
        threads=threads if threads is not None else max(1, config.web_threads),
    )


def _reachable(host: str) -> str:
    """The host part of the address a browser on this machine opens for ``host``."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", default=None, help="Worker name (default: random).")
@pass_state
def worker(state: State, burst: bool, name: str | None) -> None:
    """Run a worker: any number, on any machine, against one REDIS_URL."""
    from superflow.worker import run_worker

    run_worker(state.runtime, burst=burst, name=name)


# -- flows -----------------------------------------------------------------
@cli.group()
def flows() -> None:
    """Validate, import, export and run flows."""


@flows.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def flows_validate(file: Path) -> None:
    """Check a flow file: structure, types, settings, and what is missing to start."""
    from superflow.flow import parse_flow, readiness
    from superflow.registry import load_registry

    registry = load_registry(Config.from_env().plugins)
    flow = parse_flow(file.read_text(), registry)
    click.echo(f"{file}: valid flow {flow.name!r} with {len(flow.steps)} steps")
    problems = readiness(flow, registry)
    if problems:
        click.echo("not ready to start:")
        for problem in problems:
            click.echo(f"  {problem}")
    else:
        click.echo("ready to start")


@flows.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--start", is_flag=True, help="Start the flow after importing it.")
@pass_state
def flows_import(state: State, file: Path, start: bool) -> None:
    """Store a flow file as a new draft flow; print its id."""
    from superflow import flows as flow_service

    flow = flow_service.create(state.runtime, file.read_text(), by="cli")
    if start:
        flow_service.start(state.runtime, flow.id)
    click.echo(flow.id)


@flows.command("export")
@click.argument("flow_id")
@click.option("--version", type=int, default=None, help="An earlier version.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_state
def flows_export(state: State, flow_id: str, version: int | None, output: Path | None) -> None:
    """Print (or write) a flow's document."""
    from superflow import flows as flow_service

    text = json.dumps(flow_service.get(state.runtime, flow_id, version).doc, indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@flows.command("list")
@pass_state
def flows_list(state: State) -> None:
    """Every flow with its status and counts."""
    from superflow import flows as flow_service

    rows = flow_service.list_flows(state.runtime)
    click.echo(f"{'ID':>4}  {'STATUS':8}  {'ACTIVE':>6}  {'ENROLLED':>8}  NAME")
    for row in rows:
        stats = row["stats"]
        active, enrolled = stats.get("active", 0), stats.get("enrolled", 0)
        click.echo(f"{row['id']:>4}  {row['status']:8}  {active:>6}  {enrolled:>8}  {row['name']}")


def _lifecycle(name: str, doc: str) -> Callable[..., None]:
    @flows.command(name, help=doc)
    @click.argument("flow_id")
    @pass_state
    def command(state: State, flow_id: str) -> None:
        from superflow import flows as flow_service

        rt = state.runtime
        if name == "start":
            flow_service.start(rt, flow_id)
            click.echo(f"flow {flow_id} is running")
        elif name == "pause":
            rt.engine.pause(flow_id)
            click.echo(f"flow {flow_id} is paused: no one enters, participants wait where they stand")
        elif name == "resume":
            released = rt.engine.resume(flow_id)
            click.echo(f"flow {flow_id} is running again; {released} parked participants released")
        else:
            cancelled = rt.engine.end(flow_id)
            click.echo(f"flow {flow_id} has ended; {cancelled} active participants cancelled")

    return command


_lifecycle("start", "Start a draft flow (refused with the list of what is missing).")
_lifecycle("pause", "Pause a running flow.")
_lifecycle("resume", "Resume a paused flow.")
_lifecycle("end", "End a flow: cancel its active participants, keep the history.")


# -- participants and events -------------------------------------------------
@cli.command()
@click.argument("flow_id")
@click.option("--person", "persons", multiple=True, help="A CRM person id (repeatable).")
@click.option("--selection", default=None, help="Every member of a CRM selection.")
@pass_state
def enroll(state: State, flow_id: str, persons: tuple[str, ...], selection: str | None) -> None:
    """Enrol persons in a flow (filters and re-enrolment rules apply)."""
    from superflow import flows as flow_service
    from superflow import jobs

    rt = state.runtime
    flow = flow_service.get(rt, flow_id)
    trigger = flow.doc["trigger"]
    if trigger and not rt.registry.trigger(trigger["type"]).allows_manual_enrolment:
        raise click.ClickException(f"the trigger of flow {flow_id} does not allow manual enrolment")
    people = list(persons)
    if selection:
        people += rt.crm.selection_members(selection)
    if not people:
        raise click.UsageError("name at least one --person or a --selection")
    jobs.enqueue_enrol(rt, flow_id, people, "manual (cli)")
    click.echo(f"enrolment of {len(people)} person(s) in flow {flow_id} queued")


@cli.group()
def events() -> None:
    """Send events to the engine."""


@events.command("send")
@click.argument("event_type")
@click.option("--person", required=True, help="The CRM person id.")
@click.option("--data", default="{}", help="JSON object with the event's data.")
@pass_state
def events_send(state: State, event_type: str, person: str, data: str) -> None:
    """Queue one event, as a webhook or the API would."""
    from superflow.events import Event

    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    if not isinstance(payload, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    rt = state.runtime
    if rt.crm.get_person(person) is None:
        raise click.ClickException(f"no person {person} in the {rt.config.crm} CRM")
    rt.emit([Event(event_type, person, payload, source="cli")])
    click.echo(f"event {event_type} for person {person} queued")


class _ListByDefault(click.Group):
    """``superflow participants FLOW`` lists (as it always did); ``superflow
    participants reindex FLOW`` runs a subcommand: arguments that do not start with
    a subcommand's name go to ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["list", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_ListByDefault)
def participants() -> None:
    """A flow's participants: ``participants FLOW [--status S]``, ``participants reindex FLOW``."""


@participants.command("list")
@click.argument("flow_id")
@click.option(
    "--status",
    default=None,
    type=click.Choice(["active", "completed", "succeeded", "exited", "cancelled"]),
    help="Only this status.",
)
@click.option("--limit", default=50, show_default=True)
@pass_state
def participants_list(state: State, flow_id: str, status: str | None, limit: int) -> None:
    """A flow's participants with status and current step, newest first."""
    from superflow import flows as flow_service
    from superflow import roster

    rt = state.runtime
    flow_service.get(rt, flow_id)
    click.echo(f"{'PARTICIPANT':14}  {'PERSON':8}  {'STATUS':10}  {'STEP':12}  NOTE")
    ids = roster.page(rt.redis, flow_id, status=status, limit=limit).ids
    loaded = rt.store.participants(ids)
    for p in (loaded[pid] for pid in ids if pid in loaded):
        note = p.reason or (
            f"waiting until {time.strftime('%Y-%m-%d %H:%M', time.localtime(p.wait['u']))}" if p.wait else ""
        )
        click.echo(f"{p.id:14}  {p.person_id:8}  {p.status:10}  {p.step or '-':12}  {note}")


@participants.command("reindex")
@click.argument("flow_id")
@pass_state
def participants_reindex(state: State, flow_id: str) -> None:
    """Rebuild a flow's participant indexes (status, step) from its participants:
    for participants stored before the indexes existed.  Safe while workers run."""
    from superflow import flows as flow_service
    from superflow import roster

    rt = state.runtime
    flow_service.get(rt, flow_id)
    started = time.monotonic()
    indexed = roster.reindex(rt.redis, flow_id)
    click.echo(f"flow {flow_id}: {indexed} participants indexed in {time.monotonic() - started:.1f}s")


@cli.command()
@click.argument("participant_id")
@pass_state
def history(state: State, participant_id: str) -> None:
    """One participant's step history."""
    rt = state.runtime
    p = rt.store.participant(participant_id)
    if p is None:
        raise click.ClickException(f"no participant {participant_id}")
    click.echo(f"participant {p.id}: person {p.person_id}, flow {p.flow_id}, {p.status}, at {p.step or '-'}")
    for entry in rt.store.history(participant_id):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["at"]))
        click.echo(f"  {when}  {entry['step'] or '-':10}  {entry['kind']:10}  {entry['note']}")


@cli.command()
@click.option("--resume", is_flag=True, help="Hand them to a worker again.")
@pass_state
def stuck(state: State, resume: bool) -> None:
    """Participants in flight for longer than SUPERFLOW_STUCK_AFTER_SECONDS."""
    from superflow import jobs, store

    rt = state.runtime
    before = time.time() - rt.config.stuck_after_seconds
    pids = rt.redis.zrangebyscore(store.INFLIGHT, "-inf", before)
    for pid in pids:
        click.echo(pid)
    click.echo(f"{len(pids)} stuck participant(s)")
    if resume and pids:
        rt.store.drop_leases(pids)
        jobs.enqueue_advance(rt, pids)
        click.echo("handed to the workers again")


# -- users of the admin screens ---------------------------------------------------
@cli.group()
def users() -> None:
    """People who sign in to the admin screens."""


@users.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["flow_admin", "content_editor", "viewer"]),
    default="viewer",
    show_default=True,
)
@click.option("--password", default=None, help="Default: a new random one, printed once.")
@pass_state
def users_create(state: State, username: str, role: str, password: str | None) -> None:
    """Add a user (the password is stored hashed)."""
    import secrets

    from superflow import users as user_store

    chosen = password or secrets.token_urlsafe(12)
    try:
        user_store.create(state.runtime.redis, username, chosen, role)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}) created" + ("" if password else f"; password: {chosen}"))


@users.command("list")
@pass_state
def users_list(state: State) -> None:
    """Every user and role."""
    from superflow import users as user_store

    for user in user_store.list_users(state.runtime.redis):
        status = "" if user_store.active(user) else "  disabled"
        click.echo(f"{user['username']:24}  {user['role']}{status}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["flow_admin", "content_editor", "viewer"]))
@pass_state
def users_set_role(state: State, username: str, role: str) -> None:
    """Change what a user may do."""
    from superflow import users as user_store

    try:
        user_store.set_role(state.runtime.redis, username, role)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} is now {role}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="Default: a new random one, printed once.")
@pass_state
def users_set_password(state: State, username: str, password: str | None) -> None:
    """Give a user a new password; every session they have ends."""
    import secrets

    from superflow import users as user_store

    chosen = password or secrets.token_urlsafe(12)
    try:
        user_store.set_password(state.runtime.redis, username, chosen)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    shown = "" if password else f"; password: {chosen}"
    click.echo(f"the password of {username} was changed; {username}'s sessions have ended{shown}")


def _user_change(name: str, doc: str, done: str) -> None:
    @users.command(name, help=doc)
    @click.argument("username")
    @pass_state
    def command(state: State, username: str) -> None:
        from superflow import users as user_store

        try:
            getattr(user_store, name)(state.runtime.redis, username)
        except user_store.UserError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(done.format(username=username))


_user_change(
    "disable",
    "Keep a user but stop them signing in; their sessions end at once.",
    "{username} can no longer sign in",
)
_user_change("enable", "Let a disabled user sign in again.", "{username} can sign in again")
_user_change("delete", "Remove a user; their sessions end at once.", "{username} was deleted")


# -- hosted forms --------------------------------------------------------------
@cli.group()
def forms() -> None:
    """Hosted forms, answered at /forms/<id>."""


@forms.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
def forms_create(state: State, file: Path) -> None:
    """Save a form definition (JSON); print its address."""
    from superflow import forms as form_store

    try:
        doc = json.loads(file.read_text())
        form = form_store.create(state.runtime.redis, doc, state.runtime.crm.list_fields())
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not valid JSON: {exc}") from None
    except form_store.FormInvalid as exc:
        raise click.ClickException("the form is not valid:\n  " + "\n  ".join(exc.problems)) from None
    except form_store.FormExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{web_address(state.runtime.config)}/forms/{form['id']}")


@forms.command("list")
@pass_state
def forms_list(state: State) -> None:
    """Every form with its address."""
    from superflow import forms as form_store

    forms_found = form_store.list_forms(state.runtime.redis)
    base = web_address(state.runtime.config) if forms_found else ""
    for form in forms_found:
        click.echo(f"{form['id']:16}  {form['name']}  {base}/forms/{form['id']}")


@forms.command("delete")
@click.argument("form_id")
@pass_state
def forms_delete(state: State, form_id: str) -> None:
    """Remove a form (its address answers 404 from then on)."""
    from superflow import forms as form_store

    if not form_store.delete(state.runtime.redis, form_id):
        raise click.ClickException(f"no form {form_id}")
    click.echo(f"form {form_id} deleted")


# -- plugins and CRM -----------------------------------------------------------
@cli.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("-v", "--verbose", is_flag=True, help="Each item's label and palette category.")
def plugins_list(as_json: bool, verbose: bool) -> None:
    """Every plugin, the hooks it implements and what it registered."""
    from superflow.registry import load_registry

    registry = load_registry(Config.from_env().plugins)
    rows = registry.plugins()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if row["broken"]:
            click.echo(f"{row['name']}  BROKEN: {row['broken']}")
            continue
        click.echo(row["name"])
        for kind, names in row["registered"].items():
            click.echo(f"  {kind}: {', '.join(names)}")
            if verbose:
                for name in names:
                    item = registry.get(kind, name)
                    category = f" [{item.category}]" if getattr(item, "category", "") else ""
                    click.echo(f"    {name}: {item.label}{category}")


@plugins.command("docs")
def plugins_docs() -> None:
    """Print every installed flow part with its settings, as Markdown."""
    from superflow.catalogue import catalogue
    from superflow.registry import load_registry

    click.echo(catalogue(load_registry(Config.from_env().plugins)), nl=False)


@cli.group()
def crm() -> None:
    """The configured CRM (the local one for demos)."""


@crm.command("seed")
@click.option("--persons", default=300, show_default=True)
@pass_state
def crm_seed(state: State, persons: int) -> None:
    """Fill the local CRM with believable demo data."""
    from superflow.plugins.local_crm.seed import seed_demo

    summary = seed_demo(state.runtime.crm, persons=persons)
    click.echo(json.dumps(summary, indent=2))


@crm.command("add-to-selection")
@click.argument("selection_id")
@click.argument("person_ids", nargs=-1, required=True)
@pass_state
def crm_add_to_selection(state: State, selection_id: str, person_ids: tuple[str, ...]) -> None:
    """Add persons to a selection, as a CRM user would (emits CRM events)."""
    state.runtime.crm.add_to_selection(selection_id, list(person_ids))
    click.echo(f"added {len(person_ids)} person(s) to selection {selection_id}")


@crm.group("person")
def crm_person() -> None:
    """Add, change and show a person (what the admin's People screen does)."""


_SET_HELP = "A field and its value, e.g. birth_date=2026-12-03 (repeatable; an empty value clears)."


def _assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"give FIELD=VALUE, e.g. birth_date=2026-12-03 (not {pair!r})", param_hint="--set"
            )
        values[key.strip()] = value
    return values


def _person_changes(crm_backend: Any, pairs: tuple[str, ...]) -> dict[str, Any]:
    from superflow import people

    try:
        return people.changes_from_text(people.person_fields(crm_backend), _assignments(pairs))
    except people.PersonInputError as exc:
        raise click.ClickException(str(exc)) from None


@crm_person.command("add")
@click.option("--set", "pairs", multiple=True, required=True, metavar="FIELD=VALUE", help=_SET_HELP)
@click.option("--company", "company_id", default=None, help="The id of the person's company.")
@pass_state
def crm_person_add(state: State, pairs: tuple[str, ...], company_id: str | None) -> None:
    """Add a person, e.g. --set first_name=Ada --set email=ada@example.com."""
    from superflow import people

    crm_backend = state.runtime.crm
    changes = {k: v for k, v in _person_changes(crm_backend, pairs).items() if v is not None}
    if company_id:
        changes["company_id"] = company_id
    try:
        person = crm_backend.create_person(idempotency_key=people.new_edit_key(), **changes)
    except NotImplementedError:
        raise click.ClickException("this CRM does not add persons from superflow") from None
    click.echo(
        f"added person {person['id']}: {person.get('full_name') or person.get('email') or ''}".rstrip(": ")
    )


@crm_person.command("update")
@click.argument("person_id")
@click.option("--set", "pairs", multiple=True, required=True, metavar="FIELD=VALUE", help=_SET_HELP)
@pass_state
def crm_person_update(state: State, person_id: str, pairs: tuple[str, ...]) -> None:
    """Change a person's fields, e.g. 17 --set birth_date=2026-12-03."""
    from superflow import people

    crm_backend = state.runtime.crm
    try:
        people.get(crm_backend, person_id)
        changes = _person_changes(crm_backend, pairs)
        changed = people.update(crm_backend, person_id, changes, people.new_edit_key())
    except (people.PersonNotFound, people.PersonInputError) as exc:
        raise click.ClickException(str(exc)) from None
    if not changed:
        click.echo(f"person {person_id}: nothing changed")
        return
    labels = {f.key: f.label for f in people.person_fields(crm_backend)}
    for key, (old, new) in changed.items():
        click.echo(
            f"{labels.get(key, key)}: {people.shown(old) or '(empty)'} -> {people.shown(new) or '(empty)'}"
        )


@crm_person.command("show")
@click.argument("person_id")
@pass_state
def crm_person_show(state: State, person_id: str) -> None:
    """A person's fields, company, selections, consents, subscriptions and flows."""
    from superflow import people

    rt = state.runtime
    try:
        person = people.get(rt.crm, person_id)
    except people.PersonNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{person.get('full_name') or 'Person ' + str(person['id'])} (person {person['id']})")
    for field in people.person_fields(rt.crm):
        click.echo(f"  {field.label + ':':22} {people.shown(people.value_of(person, field)) or '-'}")
    company = person.get("company")
    click.echo(f"company: {company['name']} (company {company['id']})" if company else "company: none")
    names = {str(s["id"]): s["name"] for s in rt.crm.list_selections()}
    selections = [names.get(str(s), f"selection {s}") for s in person.get("selections") or []]
    click.echo(f"selections: {', '.join(selections) or 'none'}")
    for title, flags, yes, no in (
        ("consents", person.get("consents") or {}, "given", "withdrawn"),
        ("subscriptions", person.get("subscriptions") or {}, "subscribed", "unsubscribed"),
    ):
        shown = ", ".join(f"{name} {yes if on else no}" for name, on in sorted(flags.items()))
        click.echo(f"{title}: {shown or 'none'}")
    rows = people.participations(rt, str(person["id"]))
    click.echo("flows:" if rows else "flows: none")
    for row in rows:
        sent = row["last_sending"]
        last = f"; last sent {sent.get('channel', '')} to {sent.get('to', '')}" if sent else ""
        step = f" at {row['step_label']}" if row["step_label"] else ""
        click.echo(f"  {row['flow_name']}: {row['status']}{step}{last} (participant {row['participant_id']})")


# -- API keys ------------------------------------------------------------------
@cli.group()
def apikeys() -> None:
    """Keys for the JSON API (/api/v1): admin, editor, viewer or events role."""


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "editor", "viewer", "events"]),
    default="viewer",
    show_default=True,
    help="admin: everything; editor: flows, not running them; viewer: read only; events: post events.",
)
@click.option("--rate", default="600/60", show_default=True, help="Requests per seconds, e.g. 6000/60.")
@pass_state
def apikeys_create(state: State, name: str, role: str, rate: str) -> None:
    """Make a key and print it (once: only its hash is kept)."""
    from superflow import apikeys as keys

    try:
        limit, window = (int(part) for part in rate.split("/", 1))
    except ValueError:
        raise click.BadParameter("write it as REQUESTS/SECONDS, e.g. 600/60", param_hint="--rate") from None
    try:
        secret, key = keys.create(state.runtime.redis, name, role, limit=limit, window=window)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret)
    click.echo(f"key {key.id} '{key.name}' ({key.role}, {limit}/{window}s); it is not shown again", err=True)


@apikeys.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def apikeys_list(state: State, as_json: bool) -> None:
    """Every key: id, name, role, rate limit, created and last used (never the key)."""
    from superflow import apikeys as keys

    found = keys.list_keys(state.runtime.redis)
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    click.echo(f"{'ID':12}  {'ROLE':7}  {'RATE':9}  {'CREATED':16}  {'LAST USED':16}  NAME")
    for k in found:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created))
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.last_used)) if k.last_used else "-"
        rate = f"{k.limit}/{k.window}s"
        click.echo(f"{k.id:12}  {k.role:7}  {rate:9}  {created:16}  {used:16}  {k.name}")


@apikeys.command("revoke")
@click.argument("name_or_id")
@pass_state
def apikeys_revoke(state: State, name_or_id: str) -> None:
    """Revoke a key by name or id; it stops working at once."""
    from superflow import apikeys as keys

    try:
        key = keys.revoke(state.runtime.redis, name_or_id)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked key {key.id} '{key.name}'")


if __name__ == "__main__":
    main()
