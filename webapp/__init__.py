"""The superflow web app: ``create_app`` builds it; blueprints hold the areas.

One package per audience: :mod:`.admin` (marketers' and administrators' screens),
:mod:`.api` (integrators' JSON API), :mod:`.public` (what recipients meet: forms,
tracked links, unsubscribing) and :mod:`.operations` (``/health``, ``/metrics``).
What every area uses sits beside them: :mod:`.auth`, :mod:`.limits`,
:mod:`.access_log` and :mod:`.runtime`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from superflow.config import Config
from superflow.runtime import Runtime
from superflow.runtime import set_current
from superflow.webapp import embedding


def create_app(test_config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app on a runtime (made from the environment when not given)."""
    app = Flask(__name__)
    if runtime is None:
        runtime = Runtime(Config.from_env())
    app.config.update(SECRET_KEY=runtime.config.secret_key, SUPERFLOW_RUNTIME=runtime)
    if test_config:
        app.config.update(test_config)
    app.extensions["superflow"] = runtime
    set_current(runtime)

    from superflow.webapp import access_log
    from superflow.webapp import admin
    from superflow.webapp import api
    from superflow.webapp import auth
    from superflow.webapp import limits
    from superflow.webapp import operations
    from superflow.webapp import public

    limits.init_app(app, runtime.config)
    access_log.init_app(app)
    auth.init_app(app)
    for blueprint in (*admin.BLUEPRINTS, *operations.BLUEPRINTS, *public.BLUEPRINTS):
        app.register_blueprint(blueprint)
    api.init_app(app)
    for blueprint in plugin_routes(runtime):
        app.register_blueprint(blueprint)
    app.extensions["superflow_auth_providers"] = auth_providers(runtime)
    links = admin_links(runtime)
    app.context_processor(lambda: {"admin_links": lambda: links})
    for status in (400, 403, 404, 405, 413, 414, 415):
        app.register_error_handler(status, problem_page)

    @app.get("/favicon.ico")
    def favicon() -> Any:
        """Browsers ask every site for this; pages also link ``static/favicon.svg``."""
        return app.send_static_file("favicon.ico")

    framing = embedding.frame_headers(runtime.config.embed_origins)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        for name, value in framing.items():
            response.headers.setdefault(name, value)
        return response

    return app


def admin_links(runtime: Runtime) -> list[dict[str, str]]:
    """The admin's navigation entries plugins give through ``superflow_register_admin_links``."""
    links: list[dict[str, str]] = []
    runtime.registry.hook.superflow_register_admin_links(
        register=lambda label, url: links.append({"label": label, "url": url})
    )
    return links


def auth_providers(runtime: Runtime) -> dict[str, Any]:
    """The ways to sign in plugins give through ``superflow_register_auth_providers``, by
    name; :class:`ConfigError` when password sign-in is off and there is no other way."""
    from superflow.config import ConfigError

    found: dict[str, Any] = {}

    def register(provider: Any) -> None:
        if provider.name in found:
            raise ConfigError(f"two sign-in providers are named {provider.name!r}: configure one of them")
        found[provider.name] = provider

    runtime.registry.hook.superflow_register_auth_providers(register=register, config=runtime.config)
    if not runtime.config.password_signin and not found:
        raise ConfigError(
            "SUPERFLOW_PASSWORD_SIGNIN is off but no other way to sign in is set up"
            " (SUPERFLOW_OIDC_ISSUER, or the SuperOffice sign-in): nobody could sign in"
        )
    return found


def problem_page(error: HTTPException) -> Any:
    """Errors of the admin's pages as a page in the admin's look, naming the cause;
    the JSON API answers its own errors in its own shape, the webhooks theirs
    (``{"error": ...}``), and a JSON post elsewhere (a hosted form) gets the API's shape."""
    if isinstance(error, RequestEntityTooLarge) and error.description == RequestEntityTooLarge.description:
        from superflow.webapp.limits import too_large

        error = too_large()
    if request.path.startswith("/api/"):
        from superflow.webapp.api.errors import from_http_exception

        return from_http_exception(error)
    if request.path.startswith("/hooks/"):
        return jsonify(error=error.description), error.code
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(errors=[{"field": "(request)", "message": error.description}]), error.code
    page = "panels/problem.html" if request.path.startswith("/panels/") else "problem.html"
    return render_template(page, error=error), error.code


def plugin_routes(runtime: Runtime) -> list[Any]:
    """The blueprints plugins give through ``superflow_register_routes``."""
    blueprints: list[Any] = []
    runtime.registry.hook.superflow_register_routes(register=blueprints.append)
    return blueprints
