"""superflow: marketing automation flows that install into a CRM."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("superflow")
"""Marker for plugin hook implementations: ``@superflow.hookimpl``."""
