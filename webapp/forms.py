"""Hosted forms: definitions posted to ``/forms/<id>``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("forms", __name__)
