"""Ways to sign in besides a superflow password: what an auth provider gives and what it returns.

An auth provider (built in: any OpenID Connect identity provider; the SuperOffice plugin's
SuperOffice Online sign-in) is registered through ``superflow_register_auth_providers``.  The
sign-in page shows a button per provider.  Signing in is two steps: :meth:`AuthProvider.begin`
says where to send the browser; :meth:`AuthProvider.finish` turns the provider's answer at the
callback into an :class:`Identity` with the superflow role and the reason for it, or raises
:class:`SignInRefused` saying why, in words for the person signing in.

The web app checks the attempt's ``state`` before ``finish`` is called, and keeps the attempt
(``attempt``, a dict of strings) in the signed session cookie between the two steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from superflow.users import ROLE_NAMES


@dataclass(frozen=True)
class Identity:
    """Who signed in, as the provider says: ``subject`` is the provider's stable id for the
    person (never reused for someone else), ``name`` and ``email`` are shown on the Users
    screen, ``role`` is a superflow role (``flow_admin``, ``content_editor``, ``viewer``) and
    ``reason`` says in a person's words why they have it ("group 'Marketing' → Flow
    administrator")."""

    subject: str
    name: str
    email: str
    role: str
    reason: str


class SignInRefused(Exception):
    """The provider, or what it says about the person, does not let them in; the message says
    why and what to do, for the person signing in.  ``status`` is the HTTP status of the page
    that says so (403: the person has no right to superflow; 400: the sign-in itself failed)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AuthProvider:
    """A way to sign in.  ``name`` is the provider's id in URLs (``/login/<name>``: letters,
        digits, ``-``), ``label`` the button's text ("Sign in with SuperOffice"); :attr:`title`
    names the provider on the Users screen."""

    name: str = ""
    label: str = ""

    @property
    def title(self) -> str:
        """What the provider is called where the Users screen says how someone signs in
        ("SuperOffice"): the label without a leading "Sign in with"."""
        label = self.label.strip()
        return label[len("sign in with ") :].strip() if label.lower().startswith("sign in with ") else label

    def begin(self, callback_url: str, attempt: dict[str, str]) -> str:
        """Where to send the browser to sign in.  ``attempt["state"]`` is the value the
        provider must send back to ``callback_url`` as ``state``; add to ``attempt`` what
        :meth:`finish` needs (a nonce, a PKCE verifier: it is kept in the signed session
        cookie, so put no secret of the installation there)."""
        raise NotImplementedError

    def finish(self, callback_url: str, params: Mapping[str, str], attempt: dict[str, str]) -> Identity:
        """The signed-in person from the callback's query ``params``, or :class:`SignInRefused`."""
        raise NotImplementedError


@dataclass(frozen=True)
class RoleRule:
    """One entry of a role mapping: people who have ``value`` (a group, a claim value, a
    functional right; ``*`` for anyone) get ``role``."""

    value: str
    role: str


class RoleMappingError(ValueError):
    """A role mapping that cannot be used; the message names the bad entry."""


def parse_role_mapping(text: str) -> tuple[RoleRule, ...]:
    """``"Marketing admins=flow_admin; Content team=content_editor; *=viewer"`` as rules, in
    order; :class:`RoleMappingError` naming the first entry that is not ``value=role`` with a
    known role."""
    rules: list[RoleRule] = []
    for entry in text.split(";"):
        entry = entry.strip()
        if not entry:
            continue
        value, equals, role = entry.rpartition("=")
        value, role = value.strip(), role.strip()
        if not equals or not value:
            raise RoleMappingError(
                f"{entry!r} is not of the form value=role (e.g. Marketing admins=flow_admin)"
            )
        if role not in ROLE_NAMES:
            raise RoleMappingError(f"{entry!r} names the role {role!r}; roles are {', '.join(ROLE_NAMES)}")
        rules.append(RoleRule(value, role))
    return tuple(rules)


def _plain(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.casefold()).strip()


def map_role(
    held: Iterable[str], rules: Iterable[RoleRule], what: str, *, exact: bool = True
) -> tuple[str, str] | None:
    """The role and its reason from the first rule whose value the person ``held`` (``*``:
    anyone), or ``None``.  ``what`` names the kind of value in the reason ("group",
    "functional right 'x' in SuperOffice" reads as ``what`` 'value').  With ``exact=False``
    values match without regard to case, spaces and punctuation ("Flow administrator" is
    "flow-administrator")."""
    has = list(held)
    same = (lambda a, b: a == b) if exact else (lambda a, b: _plain(a) == _plain(b))
    for rule in rules:
        if rule.value == "*":
            return rule.role, f"anyone with an account (rule '*') → {ROLE_NAMES[rule.role]}"
        for value in has:
            if same(value, rule.value):
                return rule.role, f"{what} '{value}' → {ROLE_NAMES[rule.role]}"
    return None
