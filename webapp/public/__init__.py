"""The pages recipients and the public meet: hosted forms, tracked opens and clicks,
and unsubscribing.

Nobody signs in here: a tracking token or a form's own id is all a request carries."""

from __future__ import annotations

from superflow.webapp.public import forms
from superflow.webapp.public import tracking

BLUEPRINTS = (tracking.bp, forms.bp)
