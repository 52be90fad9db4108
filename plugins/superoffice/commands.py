"""``superflow superoffice register-webhook`` and ``superflow superoffice check``."""

from __future__ import annotations

from typing import Any

import click

from superflow import Config
from superflow import CrmError

from .client import SuperOfficeClient
from .events import SUBSCRIBED

WEBHOOK_NAME = "superflow"


def target_url(config: Config) -> str:
    return config.base_url.rstrip("/") + "/hooks/superoffice"


def register_webhook(client: SuperOfficeClient, config: Config, url: str | None = None) -> dict[str, Any]:
    """Create the tenant's ``superflow`` webhook (POST Webhook), or update it when it
    exists (GET Webhook?nameFilter=, PUT Webhook/{id}): docs/en/automation/webhook/register.md,
    docs/en/api/reference/restful/rest/Webhook/v1Webhook_{GetAllWebhooks,PostWebhook,PutWebhook}.md.
    SuperOffice posts a test event to the URL before it saves, so the web app must be
    reachable there (HTTPS with a valid certificate) and configured with the secret.
    In Online the app must have been granted the Webhook agent at registration."""
    secret = config.setting("superoffice_webhook_secret")
    if not secret:
        raise CrmError("register-webhook: set SUPERFLOW_SUPEROFFICE_WEBHOOK_SECRET first")
    body = {
        "Name": WEBHOOK_NAME,
        "Events": list(SUBSCRIBED),
        "TargetUrl": url or target_url(config),
        "Secret": secret,
        "State": "Active",
        "Type": "webhook",
    }
    found = client.get("Webhook", "register-webhook", nameFilter=WEBHOOK_NAME) or []
    existing = next((w for w in found if w.get("Name") == WEBHOOK_NAME), None)
    if existing is None:
        return client.post("Webhook", "register-webhook", body)
    webhook_id = existing["WebhookId"]
    return client.put(
        f"Webhook/{webhook_id}", "register-webhook", {**existing, **body, "WebhookId": webhook_id}
    )


def check(client: SuperOfficeClient, config: Config) -> list[tuple[bool, str]]:
    """Each check of the configuration, end to end, as ``(ok, line)``."""
    lines: list[tuple[bool, str]] = []

    def attempt(what: str, call: Any) -> Any:
        try:
            result = call()
        except CrmError as exc:
            lines.append((False, f"{what}: {exc}"))
            return None
        lines.append((True, what))
        return result

    # GET User/currentPrincipal: docs/en/api/reference/restful/rest/User/v1User_GetCurrentPrincipal.md
    attempt("WebAPI reachable and signed in", lambda: client.get("User/currentPrincipal", "check"))
    zone = attempt("tenant time zone readable", lambda: client.get("TimeZone/current", "check"))
    if zone:
        lines[-1] = (True, f"tenant time zone: {zone.get('Name')} ({zone.get('TZLocationCode')})")
    attempt("persons readable (Person archive)", lambda: list(client.query("Person", "check", ["personId"])))
    attempt("selections readable", lambda: list(client.query("Selection", "check", ["selectionId"])))
    if config.setting("superoffice_webhook_secret"):
        hooks = attempt("webhooks readable", lambda: client.get("Webhook", "check", nameFilter=WEBHOOK_NAME))
        if hooks is not None:
            mine = [w for w in hooks if w.get("Name") == WEBHOOK_NAME]
            want = target_url(config)
            if not mine:
                lines.append((False, "no 'superflow' webhook: run superflow superoffice register-webhook"))
            elif mine[0].get("TargetUrl") != want or mine[0].get("State") != "Active":
                lines.append((False, f"the 'superflow' webhook should be Active and post to {want}"))
            else:
                lines.append((True, f"webhook active, posting to {want}"))
    else:
        lines.append((False, "SUPERFLOW_SUPEROFFICE_WEBHOOK_SECRET is not set: webhooks will be refused"))
    if config.crm != "superoffice":
        lines.append((False, f"SUPERFLOW_CRM is {config.crm!r}: set it to 'superoffice' to use this tenant"))
    return lines


def add_commands(cli: click.Group) -> None:
    """Add ``superflow superoffice ...`` to ``cli``; the commands read the
    configuration from the context object the ``superflow`` command gives every
    command (``ctx.obj.config``)."""

    @cli.group("superoffice")
    def superoffice() -> None:
        """The SuperOffice CRM: webhook registration and configuration checks."""

    @superoffice.command("register-webhook")
    @click.option(
        "--url", default=None, help="Where SuperOffice posts (default: base URL + /hooks/superoffice)."
    )
    @click.pass_obj
    def register(context: Any, url: str | None) -> None:
        """Register (or update) superflow's webhook in the tenant."""
        config = context.config
        saved = register_webhook(SuperOfficeClient(config), config, url)
        events = len(saved.get("Events") or [])
        click.echo(f"webhook {saved.get('WebhookId')} posts {events} events to {saved.get('TargetUrl')}")

    @superoffice.command("check")
    @click.pass_obj
    def check_command(context: Any) -> None:
        """Check the SuperOffice configuration end to end."""
        config = context.config
        lines = check(SuperOfficeClient(config), config)
        for ok, line in lines:
            click.echo(f"{'ok     ' if ok else 'PROBLEM'} {line}")
        if not all(ok for ok, _ in lines):
            raise SystemExit(1)
