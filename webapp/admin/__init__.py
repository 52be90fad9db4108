"""The admin screens, for marketers and administrators: one blueprint per screen.

Every page here but the sign-in page needs a signed-in user (:mod:`superflow.webapp.auth`),
and every state-changing request carries the session's CSRF token."""

from __future__ import annotations

from superflow.webapp.admin import accounts
from superflow.webapp.admin import actions
from superflow.webapp.admin import apikeys
from superflow.webapp.admin import designer
from superflow.webapp.admin import forms
from superflow.webapp.admin import panels
from superflow.webapp.admin import participants
from superflow.webapp.admin import people
from superflow.webapp.admin import signin
from superflow.webapp.admin import views

BLUEPRINTS = (
    signin.bp,
    views.bp,
    actions.bp,
    participants.bp,
    people.bp,
    accounts.bp,
    apikeys.bp,
    forms.bp,
    designer.bp,
    panels.bp,
)
