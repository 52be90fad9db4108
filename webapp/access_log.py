"""The access log without secrets: ``?secret=`` (and ``?token=``, ``?api_key=``) in a
logged request line shows as ``[redacted]``.

Two servers, two access logs: ``superflow web`` (gunicorn) formats its own lines,
and its logger class (:class:`superflow.webserver.AccessLog`) passes every value it
logs through :func:`redact`; ``superflow web --dev`` and in-process test servers
(werkzeug) log to the ``werkzeug`` logger, where :class:`RedactSecrets` sits, so every
handler sees the redacted line.  Callers that can should send secrets in a header
instead (the SMS gateway takes ``X-Webhook-Secret`` or ``Authorization: Bearer``)."""

from __future__ import annotations

import logging
import re

from flask import Flask

SECRET_PARAMS = re.compile(r"([?&;](?:secret|token|api_key|apikey|key)=)[^&;\s\"]*", re.IGNORECASE)


def redact(line: str) -> str:
    """``line`` with the values of secret query parameters replaced."""
    return SECRET_PARAMS.sub(r"\1[redacted]", line)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def init_app(app: Flask) -> None:
    """Put the filter on the access log's logger once per process."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
