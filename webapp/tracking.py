"""Recipients' links: tracked clicks, the open pixel and the unsubscribe page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tracking", __name__)
