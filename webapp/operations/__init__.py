"""What operators' monitoring asks the web app: ``/health`` and ``/metrics``.

Neither is a page for people nor part of the integrators' API; ``/metrics`` has its
own access rule (a bearer token, or a request from this machine)."""

from __future__ import annotations

from superflow.webapp.operations import health
from superflow.webapp.operations import metrics

BLUEPRINTS = (health.bp, metrics.bp)
