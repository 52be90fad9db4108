"""The runtime of the app that serves the current request."""

from __future__ import annotations

from flask import current_app

from superflow.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["superflow"]
