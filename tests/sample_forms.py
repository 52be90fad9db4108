"""The one-field newsletter form that tests of the web server's form posts (real HTTP,
hostile input) create and post to."""

from __future__ import annotations

from typing import Any

NEWSLETTER: dict[str, Any] = {
    "id": "newsletter",
    "name": "Newsletter",
    "title": "Get our newsletter",
    "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}],
    "rate_limit": 1000,
}
