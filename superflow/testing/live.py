"""A WSGI app served over real HTTP on a free port, in a thread of the test's process."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import make_server


class LiveServer:
    """``with LiveServer(app) as url:`` serves ``app`` at ``url`` until the block ends.

    Threaded, so that a page the app serves may call the app back; it runs in the
    test's process, so the test sees the app's Redis and clock as they are."""

    def __init__(self, app: Any) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> str:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
