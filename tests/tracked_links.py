"""Following the links of a sent email in tests: an invitation with two links to follow,
its hrefs, and its public addresses (``http://superflow.test/...``) turned into the test
server's."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from superflow.testing import email_step

#: Where the invitation's two links lead: the offer (a query string, ``&amp;`` in the HTML)
#: and "about us".
OFFER = "https://shop.example/offer?a=1&b=2"
ABOUT = "https://shop.example/about"


def invite(**settings: Any) -> dict[str, Any]:
    """The ``invite`` email step of the tracking tests, linking to :data:`OFFER` and :data:`ABOUT`."""
    return email_step(
        "invite",
        subject="Join our webinar",
        html=(
            '<html><body><p>Hi {{person.first_name}}, <a href="https://shop.example/offer?a=1&amp;b=2">'
            'sign up</a> or read <a href="https://shop.example/about">about us</a>.</p></body></html>'
        ),
        **settings,
    )


def local(address: str, base: str) -> str:
    """The app's public address (``http://superflow.test``) → the test server."""
    parsed = urlparse(address)
    return base + parsed.path + (f"?{parsed.query}" if parsed.query else "")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)
