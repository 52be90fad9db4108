"""Configuration: one object built from the environment (or a mapping in tests).

Every process (web, worker, CLI) builds its own :class:`Config`; nothing is global.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "SUPERFLOW_"


@dataclass(frozen=True)
class Config:
    """What a superflow process needs to know.

    ``redis_url`` empty means: use (or start) the embedded Redis in ``data_dir``.
    """

    data_dir: Path = Path("superflow-data")
    redis_url: str = ""
    crm: str = "local"
    email_transport: str = "outbox"
    sms_provider: str = "outbox"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_cafile: str = ""
    smtp_timeout: float = 30.0
    #: SMTP connections one worker sends a batch's emails over at once (channels.deliver's lanes).
    smtp_connections: int = 4
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    queue_prefix: str = "superflow"
    batch_size: int = 500
    tick_seconds: float = 1.0
    scan_seconds: float = 60.0
    job_timeout: int = 600
    stuck_after_seconds: int = 900
    heartbeat_seconds: float = 5.0
    keep_finished_days: float = 0.0
    #: The render budget of one merge-tag template (superflow.merge): characters, seconds.
    merge_max_output: int = 1_000_000
    merge_max_seconds: float = 2.0
    form_confirm_hours: float = 48.0
    form_confirm_per_hour: int = 3
    form_confirm_from: str = ""
    signin_user_limit: int = 5
    signin_ip_limit: int = 20
    signin_window_seconds: int = 900
    #: What one request may send (superflow.webapp.limits; docs/operators.md "Request limits").
    max_request_bytes: int = 1024 * 1024
    max_upload_bytes: int = 32 * 1024 * 1024
    max_webhook_bytes: int = 512 * 1024
    max_json_depth: int = 32
    max_json_items: int = 50_000
    max_query_bytes: int = 8192
    max_form_fields: int = 1000
    max_form_field_bytes: int = 500_000
    #: ``superflow web`` (superflow.webserver): gunicorn worker processes (0: by the
    #: number of cores), threads in each, the access log, proxies trusted for X-Forwarded-*.
    web_workers: int = 0
    web_threads: int = 4
    web_access_log: bool = True
    proxy_fix: int = 0
    #: The bearer token ``GET /metrics`` asks for; empty: loopback only (docs/operators.md "Metrics").
    metrics_token: str = ""
    #: Images for emails (the email plugin's image library): the largest upload, and the
    #: sender's postal address every marketing email's footer shows (docs/operators.md "Emails").
    image_max_bytes: int = 5 * 1024 * 1024
    sender_address: str = ""
    #: The CRM origins that may show the screens in a frame (superflow.webapp.embedding).
    embed_origins: tuple[str, ...] = ()
    #: Signing in with an OpenID Connect provider (superflow.plugins.oidc; docs/operators.md "Signing in").
    oidc_issuer: str = ""
    oidc_discovery_url: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_label: str = "Sign in with your organisation's account"
    oidc_scopes: str = "openid profile email"
    oidc_role_claim: str = "groups"
    #: ``SUPERFLOW_OIDC_ROLES``: ``value=role`` entries, first match wins (superflow.auth_providers).
    oidc_roles: tuple[Any, ...] = ()
    #: The user name and password form on the sign-in page; off only once a provider is set up.
    password_signin: bool = True
    controllable_clock: bool = False
    plugins: tuple[str, ...] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Read ``REDIS_URL`` and ``SUPERFLOW_*`` variables.

        ``SUPERFLOW_PLUGINS`` (comma separated module or entry-point names) narrows
        which plugins load; unset loads every installed plugin.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        if env.get("SUPERFLOW_DATA"):
            values["data_dir"] = Path(env["SUPERFLOW_DATA"])
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or name in ("extra",):
                continue
            values[name] = _coerce(name, f.type, raw)
        values["extra"] = {
            k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)
        }
        values.update(overrides)
        return cls(**values)

    def with_secret(self) -> Config:
        """This configuration with a secret key: ``SUPERFLOW_SECRET_KEY``, else one
        kept in ``<data>/secret_key`` (made on first use)."""
        if self.secret_key:
            return self
        return replace(self, secret_key=_stored_secret(Path(self.data_dir)))

    def setting(self, name: str, default: str = "") -> str:
        """A plugin's own setting: ``SUPERFLOW_<NAME>`` from the environment."""
        return self.extra.get(name.lower(), default)


class ConfigError(ValueError):
    """A ``SUPERFLOW_*`` setting that cannot be used; the message names it."""


def checked_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The origins as browsers compare them (``https://crm.example``, lower case, no
    default port), or :class:`ConfigError` naming the first that is not a plain origin."""
    found: list[str] = []
    for origin in origins:
        parts = urlsplit(origin.strip())
        plain = (
            parts.scheme in ("https", "http")
            and parts.hostname
            and not parts.username
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
            and "*" not in origin
        )
        if not plain:
            raise ConfigError(
                f"SUPERFLOW_EMBED_ORIGINS: {origin.strip()!r} is not an origin; "
                "give the CRM's address up to its host name, e.g. https://online.superoffice.com"
            )
        host = parts.hostname
        port = parts.port
        default = {"https": 443, "http": 80}[parts.scheme]
        found.append(f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else ""))
    return tuple(dict.fromkeys(found))


def checked_roles(variable: str, text: str) -> tuple[Any, ...]:
    """A role mapping (``Marketing admins=flow_admin; *=viewer``) as rules, or
    :class:`ConfigError` naming ``variable`` and the bad entry."""
    from superflow.auth_providers import RoleMappingError
    from superflow.auth_providers import parse_role_mapping

    try:
        return parse_role_mapping(text)
    except RoleMappingError as exc:
        raise ConfigError(f"{variable}: {exc}") from None


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    text = str(type_name)
    if name == "data_dir":
        return Path(raw)
    if name == "plugins":
        names = tuple(p.strip() for p in raw.split(",") if p.strip())
        return names or None
    if name == "oidc_roles":
        return checked_roles(ENV_PREFIX + name.upper(), raw)
    if name == "embed_origins":
        return checked_origins(p for p in raw.replace(" ", ",").split(",") if p.strip())
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name == "image_max_bytes":
        size = _coerce("", "int", raw) if raw.strip().isdigit() else 0
        if size < 1:
            raise ConfigError(f"{ENV_PREFIX}IMAGE_MAX_BYTES: {raw!r} must be a size in bytes, e.g. 5242880")
        return size
    if "int" in text:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {raw!r} is not a whole number") from None
    if "float" in text:
        return float(raw)
    return raw


def _stored_secret(data_dir: Path) -> str:
    """A per-installation secret kept in the data folder, made on first use."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
