"""Persons in the local CRM whom a flow may email: load for tests and benchmarks that
want many recipients at once."""

from __future__ import annotations

from superflow.plugins.local_crm.seed import seed_persons
from superflow.runtime import Runtime


def consenting_persons(rt: Runtime, count: int) -> list[str]:
    """Add ``count`` demo persons to the runtime's local CRM, each with e-marketing consent
    and an email address that is not blocked; their ids."""
    persons = seed_persons(rt.crm, count)
    for person_id in persons:
        rt.crm.set_consent(person_id, "emarketing", True)
    rt.crm.update_persons([(pid, {"email_blocked": False}, None) for pid in persons])
    return persons
