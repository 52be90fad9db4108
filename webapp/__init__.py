"""The superflow web app: ``create_app`` builds it; blueprints hold the areas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from superflow.config import Config
from superflow.runtime import Runtime, set_current


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

    from superflow.webapp import api, auth, forms, health, tracking, views

    auth.init_app(app)
    for blueprint in (auth.bp, views.bp, health.bp, tracking.bp, forms.bp):
        app.register_blueprint(blueprint)
    api.init_app(app)
    for blueprint in plugin_routes(runtime):
        app.register_blueprint(blueprint)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        )
        return response

    return app


def plugin_routes(runtime: Runtime) -> list[Any]:
    """The blueprints plugins give through ``superflow_register_routes``."""
    blueprints: list[Any] = []
    runtime.registry.hook.superflow_register_routes(register=blueprints.append)
    return blueprints
