"""The runtime of the app that serves the current request."""

from __future__ import annotations

from flask import current_app

from superflow.runtime import Runtime
from superflow.services import Services


def runtime() -> Runtime:
    return current_app.extensions["superflow"]


def request_services() -> Services:
    """The services of the app serving this request, for a plugin's route handlers
    (they hold no runtime of their own)."""
    return runtime()
