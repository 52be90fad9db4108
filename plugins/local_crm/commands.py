"""``superflow crm``: fill the local CRM with demo data, add persons to a selection,
and add, change and show a person as the admin's People screen does."""

from __future__ import annotations

import json
from typing import Any

import click

SET_HELP = "A field and its value, e.g. birth_date=2026-12-03 (repeatable; an empty value clears)."


def assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("birth_date=2026-12-03", ...)`` as ``{"birth_date": "2026-12-03", ...}``."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"give FIELD=VALUE, e.g. birth_date=2026-12-03 (not {pair!r})", param_hint="--set"
            )
        values[key.strip()] = value
    return values


def person_changes(people: Any, crm_backend: Any, pairs: tuple[str, ...]) -> dict[str, Any]:
    """The ``--set`` pairs read by their fields' types, by ``people``'s rules; a bad
    one stops the command with the field named."""
    try:
        return people.changes_from_text(people.person_fields(crm_backend), assignments(pairs))
    except people.PersonInputError as exc:
        raise click.ClickException(str(exc)) from None


def add_commands(cli: click.Group) -> None:
    """Add ``superflow crm ...`` to ``cli``.  The commands take what they need from
    the context object the ``superflow`` command gives every command (``ctx.obj``:
    ``runtime``, ``open_runtime()``, ``people``), so they import nothing of superflow's."""

    @cli.group("crm")
    def crm() -> None:
        """The configured CRM (the local one for demos)."""

    @crm.command("seed")
    @click.option("--persons", default=300, show_default=True)
    @click.pass_obj
    def seed(context: Any, persons: int) -> None:
        """Fill the local CRM with believable demo data."""
        from .seed import seed_demo

        summary = seed_demo(context.open_runtime(may_start_data_folder=True).crm, persons=persons)
        click.echo(json.dumps(summary, indent=2))

    @crm.command("add-to-selection")
    @click.argument("selection_id")
    @click.argument("person_ids", nargs=-1, required=True)
    @click.pass_obj
    def add_to_selection(context: Any, selection_id: str, person_ids: tuple[str, ...]) -> None:
        """Add persons to a selection, as a CRM user would (emits CRM events)."""
        context.runtime.crm.add_to_selection(selection_id, list(person_ids))
        click.echo(f"added {len(person_ids)} person(s) to selection {selection_id}")

    @crm.group("person")
    def person() -> None:
        """Add, change and show a person (what the admin's People screen does)."""

    @person.command("add")
    @click.option("--set", "pairs", multiple=True, required=True, metavar="FIELD=VALUE", help=SET_HELP)
    @click.option("--company", "company_id", default=None, help="The id of the person's company.")
    @click.pass_obj
    def add(context: Any, pairs: tuple[str, ...], company_id: str | None) -> None:
        """Add a person, e.g. --set first_name=Ada --set email=ada@example.com."""
        crm_backend = context.open_runtime(may_start_data_folder=True).crm
        given = person_changes(context.people, crm_backend, pairs)
        changes = {k: v for k, v in given.items() if v is not None}
        if company_id:
            changes["company_id"] = company_id
        try:
            added = crm_backend.create_person(idempotency_key=context.people.new_edit_key(), **changes)
        except NotImplementedError:
            raise click.ClickException("this CRM does not add persons from superflow") from None
        click.echo(
            f"added person {added['id']}: {added.get('full_name') or added.get('email') or ''}".rstrip(": ")
        )

    @person.command("update")
    @click.argument("person_id")
    @click.option("--set", "pairs", multiple=True, required=True, metavar="FIELD=VALUE", help=SET_HELP)
    @click.pass_obj
    def update(context: Any, person_id: str, pairs: tuple[str, ...]) -> None:
        """Change a person's fields, e.g. 17 --set birth_date=2026-12-03."""
        people = context.people
        crm_backend = context.runtime.crm
        try:
            people.get(crm_backend, person_id)
            changes = person_changes(people, crm_backend, pairs)
            changed = people.update(crm_backend, person_id, changes, people.new_edit_key())
        except (people.PersonNotFound, people.PersonInputError) as exc:
            raise click.ClickException(str(exc)) from None
        if not changed:
            click.echo(f"person {person_id}: nothing changed")
            return
        labels = {f.key: f.label for f in people.person_fields(crm_backend)}
        for key, (old, new) in changed.items():
            was, now = people.shown(old) or "(empty)", people.shown(new) or "(empty)"
            click.echo(f"{labels.get(key, key)}: {was} -> {now}")

    @person.command("show")
    @click.argument("person_id")
    @click.pass_obj
    def show(context: Any, person_id: str) -> None:
        """A person's fields, company, selections, consents, subscriptions and flows."""
        people = context.people
        rt = context.runtime
        try:
            found = people.get(rt.crm, person_id)
        except people.PersonNotFound as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{found.get('full_name') or 'Person ' + str(found['id'])} (person {found['id']})")
        for field in people.person_fields(rt.crm):
            click.echo(f"  {field.label + ':':22} {people.shown(people.value_of(found, field)) or '-'}")
        company = found.get("company")
        click.echo(f"company: {company['name']} (company {company['id']})" if company else "company: none")
        names = {str(s["id"]): s["name"] for s in rt.crm.list_selections()}
        selections = [names.get(str(s), f"selection {s}") for s in found.get("selections") or []]
        click.echo(f"selections: {', '.join(selections) or 'none'}")
        for title, flags, yes, no in (
            ("consents", found.get("consents") or {}, "given", "withdrawn"),
            ("subscriptions", found.get("subscriptions") or {}, "subscribed", "unsubscribed"),
        ):
            shown = ", ".join(f"{name} {yes if on else no}" for name, on in sorted(flags.items()))
            click.echo(f"{title}: {shown or 'none'}")
        rows = people.participations(rt, str(found["id"]))
        click.echo("flows:" if rows else "flows: none")
        for row in rows:
            sent = row["last_sending"]
            last = f"; last sent {sent.get('channel', '')} to {sent.get('to', '')}" if sent else ""
            step = f" at {row['step_label']}" if row["step_label"] else ""
            click.echo(
                f"  {row['flow_name']}: {row['status']}{step}{last} (participant {row['participant_id']})"
            )
