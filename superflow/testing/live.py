"""A WSGI app served over real HTTP on a free port, in a thread of the test's process."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import make_server


class LiveServer:
    """``with LiveServer(app) as url:`` serves ``app`` at ``url`` until the block ends.

    Threaded, so that a page the app serves may call the app back; it runs in the
    test's process, so the test sees the app's Redis and clock as they are.  With
    ``https=True`` it answers over TLS with a certificate made for the run (clients
    pass ``verify=False``), for what browsers allow only on secure sites, such as
    ``Secure`` cookies."""

    def __init__(self, app: Any, *, https: bool = False) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context="adhoc" if https else None)
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> str:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
