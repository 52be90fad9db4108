"""Following the links of a sent email in tests: its hrefs, and its public addresses
(``http://superflow.test/...``) turned into the test server's."""

from __future__ import annotations

import re
from urllib.parse import urlparse


def local(address: str, base: str) -> str:
    """The app's public address (``http://superflow.test``) → the test server."""
    parsed = urlparse(address)
    return base + parsed.path + (f"?{parsed.query}" if parsed.query else "")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)
