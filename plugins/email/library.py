"""The content library: emails saved by name, for send email steps to select
(linked: the step sends the library email as it is at each send) or copy.

Kept in the plugin's store under ``sf:email-library``: the hash ``emails`` (id →
JSON ``{"id", "name", "design", "updated_at", "updated_by"}``) and the counter
``seq`` that numbers new ones.
"""

from __future__ import annotations

import json
import time
from copy import deepcopy
from typing import Any

from superflow import PluginStore
from superflow import Services
from superflow import steps_of_type

from .design import load_design

NAMESPACE = "email-library"
MAX_NAME = 120
MAX_EMAILS = 2000


class LibraryError(ValueError):
    """A library email that cannot be saved or deleted; the message says why."""


class Library:
    """The saved emails of this installation."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store: PluginStore = services.plugin_store(NAMESPACE)

    def all(self) -> list[dict[str, Any]]:
        """Every library email, by name."""
        found = [json.loads(v) for v in self.store.redis.hvals(self.store.key("emails"))]
        return sorted(found, key=lambda e: (e["name"].lower(), int(e["id"])))

    def get(self, email_id: str) -> dict[str, Any] | None:
        raw = self.store.hget("emails", str(email_id))
        return json.loads(raw) if raw else None

    def create(self, name: str, design: Any, by: str) -> dict[str, Any]:
        if self.store.redis.hlen(self.store.key("emails")) >= MAX_EMAILS:
            raise LibraryError(f"the library holds at most {MAX_EMAILS} emails: delete some first")
        email_id = str(self.store.redis.incr(self.store.key("seq")))
        return self._write(email_id, name, design, by)

    def update(self, email_id: str, name: str, design: Any, by: str) -> dict[str, Any]:
        if self.get(email_id) is None:
            raise LookupError(f"there is no library email {email_id}")
        return self._write(str(email_id), name, design, by)

    def duplicate(self, email_id: str, by: str) -> dict[str, Any]:
        found = self.get(email_id)
        if found is None:
            raise LookupError(f"there is no library email {email_id}")
        return self.create(f"Copy of {found['name']}"[:MAX_NAME], found["design"], by)

    def used_by(self, email_id: str) -> list[dict[str, Any]]:
        """The flows whose send email steps select this email (linked)."""
        return [
            use
            for use in steps_of_type(self.services, "send_email")
            if use["settings"].get("body") == "library"
            and str(use["settings"].get("library_email") or "") == str(email_id)
        ]

    def delete(self, email_id: str) -> None:
        """Delete the email, refused while a flow's step selects it."""
        users = self.used_by(email_id)
        if users:
            names = ", ".join(dict.fromkeys(u["flow_name"] for u in users))
            raise LibraryError(
                f"this email is used by the flows {names}: choose another email in their steps first"
            )
        self.store.redis.hdel(self.store.key("emails"), str(email_id))

    def _write(self, email_id: str, name: str, design: Any, by: str) -> dict[str, Any]:
        name = (name or "").strip()
        if not name:
            raise LibraryError("give the email a name")
        if len(name) > MAX_NAME:
            raise LibraryError(f"a name may have at most {MAX_NAME} characters")
        record = {
            "id": email_id,
            "name": name,
            "design": load_design(deepcopy(design)),
            "updated_at": time.time(),
            "updated_by": by,
        }
        self.store.hset("emails", email_id, json.dumps(record))
        return record
