"""Who may show superflow's screens inside a frame of their own: the CRM origins of
``SUPERFLOW_EMBED_ORIGINS``.

With none configured every response says ``X-Frame-Options: SAMEORIGIN`` and the
session cookie is ``SameSite=Lax``: no other site can frame a screen.  With a list,
``Content-Security-Policy: frame-ancestors 'self' <origins>`` names the CRMs that may
(browsers honour it over ``X-Frame-Options``, which can name no other site), and the
session cookie becomes ``SameSite=None; Secure; Partitioned`` so that it is sent inside
the CRM's frame, which only works over HTTPS.  :func:`superflow.config.checked_origins` reads the
list.  The CSRF check stays as it is: every form and
``fetch`` carries the session's token.
"""

from __future__ import annotations

DEFAULT_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"


def frame_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """The headers that say who may frame a response."""
    if not origins:
        return {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": DEFAULT_POLICY}
    return {"Content-Security-Policy": f"{DEFAULT_POLICY}; frame-ancestors 'self' {' '.join(origins)}"}


def cookie_settings(origins: tuple[str, ...], secure: bool) -> dict[str, object]:
    """The session cookie's ``SameSite``, ``Secure`` and ``Partitioned``: ``None``,
    secure and partitioned only when some CRM may frame the screens.

    ``Partitioned`` (CHIPS) keeps the cookie in a jar of its own for each framing
    site, which browsers that block third-party cookies still send in the frame; a
    sign-in inside the CRM's frame is then good for that CRM's frames only."""
    if origins:
        return {
            "SESSION_COOKIE_SAMESITE": "None",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_PARTITIONED": True,
        }
    return {
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_PARTITIONED": False,
    }
