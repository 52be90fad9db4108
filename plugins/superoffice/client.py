"""HTTP to the SuperOffice WebAPI: authentication, timeouts, retries and clear errors.

Every call goes through :meth:`SuperOfficeClient.request`, so every call has a timeout,
is retried with backoff on 5xx and 429 (honouring ``Retry-After``), refreshes an expired
OAuth access token once on 401, and turns any other 4xx into a :class:`SuperOfficeError`
that names the call and quotes SuperOffice's own error message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from superflow import CrmError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0
PAGE_SIZE = 500


class SuperOfficeError(CrmError):
    """A WebAPI call failed; ``status`` is the HTTP status (0 for a network error)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(SuperOfficeError):
    """The WebAPI answered 404 for a record."""


class NotConfigured(CrmError):
    """A setting the SuperOffice backend needs is missing."""


def require(config: Any, name: str, why: str) -> str:
    """A plugin setting, or :class:`NotConfigured` naming its environment variable."""
    value = config.setting(name).strip()
    if not value:
        raise NotConfigured(f"SuperOffice: set SUPERFLOW_{name.upper()} ({why})")
    return value


class Settings:
    """The ``SUPERFLOW_SUPEROFFICE_*`` settings the client uses."""

    def __init__(self, config: Any) -> None:
        self.url = require(
            config,
            "superoffice_url",
            "the tenant's WebAPI, e.g. https://online.superoffice.com/Cust12345/api/v1",
        ).rstrip("/")
        self.timeout = float(config.setting("superoffice_timeout", "30") or 30)
        self.retries = int(config.setting("superoffice_retries", "4") or 4)
        self.access_token = config.setting("superoffice_access_token").strip()
        self.refresh_token = config.setting("superoffice_refresh_token").strip()
        self.client_id = config.setting("superoffice_client_id").strip()
        self.client_secret = config.setting("superoffice_client_secret").strip()
        self.ticket = config.setting("superoffice_ticket").strip()
        self.token_url = config.setting("superoffice_token_url").strip() or default_token_url(self.url)
        if not (self.access_token or self.refresh_token or self.ticket):
            raise NotConfigured(
                "SuperOffice: set SUPERFLOW_SUPEROFFICE_REFRESH_TOKEN (with _CLIENT_ID and"
                " _CLIENT_SECRET), SUPERFLOW_SUPEROFFICE_ACCESS_TOKEN or SUPERFLOW_SUPEROFFICE_TICKET"
            )
        if self.refresh_token and not (self.client_id and self.client_secret):
            raise NotConfigured(
                "SuperOffice: a refresh token needs SUPERFLOW_SUPEROFFICE_CLIENT_ID and"
                " SUPERFLOW_SUPEROFFICE_CLIENT_SECRET"
            )


def default_token_url(api_url: str) -> str:
    """SuperOffice Online's token endpoint for the environment (sod, stage, online)."""
    host = urlsplit(api_url).netloc
    return f"https://{host}/login/common/oauth/tokens"


class SuperOfficeClient:
    """One tenant's WebAPI.  Thread-safe: the token refresh takes a lock."""

    def __init__(
        self,
        config: Any,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = Settings(config)
        self.session = session or requests.Session()
        self.sleep = sleep
        self._token = self.settings.access_token
        self._lock = threading.Lock()

    # -- authentication ------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        s = self.settings
        if s.ticket and not (s.access_token or s.refresh_token):
            headers = {"Authorization": f"SOTicket {s.ticket}"}
            if s.client_secret:
                headers["SO-AppToken"] = s.client_secret
            return headers
        if not self._token:
            self.refresh()
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> None:
        """Trade the refresh token for a new access token."""
        s = self.settings
        if not s.refresh_token:
            raise SuperOfficeError(
                "SuperOffice refused the access token and no refresh token is configured"
                " (SUPERFLOW_SUPEROFFICE_REFRESH_TOKEN)",
                401,
            )
        with self._lock:
            form = {
                "grant_type": "refresh_token",
                "client_id": s.client_id,
                "client_secret": s.client_secret,
                "refresh_token": s.refresh_token,
            }
            try:
                response = self.session.post(s.token_url, data=form, timeout=s.timeout)
            except requests.RequestException as exc:
                raise SuperOfficeError(f"token refresh at {s.token_url}: {exc}") from None
            if response.status_code != 200:
                raise SuperOfficeError(
                    f"token refresh at {s.token_url} failed ({response.status_code}): {_reason(response)}",
                    response.status_code,
                )
            self._token = response.json()["access_token"]

    # -- calls ----------------------------------------------------------------
    def request(self, method: str, path: str, call: str, **kwargs: Any) -> Any:
        """Call ``path`` (relative to the API URL) and return the decoded JSON (or None).

        ``call`` names the operation in errors ("update_persons: PUT Person/17")."""
        url = path if path.startswith("http") else f"{self.settings.url}/{path.lstrip('/')}"
        what = f"{call}: {method} {path.split('?')[0]}"
        refreshed = False
        attempt = 0
        while True:
            headers = {"Accept": "application/json", **self._auth_headers(), **kwargs.pop("headers", {})}
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=self.settings.timeout, **kwargs
                )
            except requests.RequestException as exc:
                if attempt < self.settings.retries:
                    attempt += 1
                    self.sleep(_backoff(attempt))
                    continue
                raise SuperOfficeError(f"{what}: {type(exc).__name__}: {exc}") from None
            status = response.status_code
            if status == 401 and not refreshed and self.settings.refresh_token:
                refreshed = True
                self.refresh()
                continue
            if status in RETRY_STATUSES and attempt < self.settings.retries:
                attempt += 1
                wait = _retry_after(response) if status == 429 else None
                log.info("%s answered %s; retry %s", what, status, attempt)
                self.sleep(wait if wait is not None else _backoff(attempt))
                continue
            if status == 404:
                raise NotFound(f"{what}: not found (404): {_reason(response)}", status)
            if status >= 400:
                raise SuperOfficeError(f"{what} failed ({status}): {_reason(response)}", status)
            if not response.content:
                return None
            return response.json()

    def get(self, path: str, call: str, **params: Any) -> Any:
        return self.request("GET", path, call, params=params or None)

    def post(self, path: str, call: str, body: Any = None) -> Any:
        return self.request("POST", path, call, json=body)

    def put(self, path: str, call: str, body: Any = None, **params: Any) -> Any:
        if body is None:
            return self.request("PUT", path, call, params=params or None)
        return self.request("PUT", path, call, json=body, params=params or None)

    def delete(self, path: str, call: str) -> Any:
        return self.request("DELETE", path, call)

    def query(
        self,
        path: str,
        call: str,
        select: list[str],
        where: str = "",
        entities: str = "",
        archive: bool = True,
        order_by: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Rows of an OData archive query, following ``odata.nextLink`` pages: one call per
        500 rows, not per record.

        ``path`` is ``Archive/<ProviderName>`` (GET Archive/{archiveProviderName}) or an
        entity collection backed by an archive (``Person``, ``Sale``, ``Selection`` ...).
        Both take ``$select``, ``$filter``, ``$entities``, ``$top`` and ``$output``
        (docs/en/api/reference/restful/rest/Archive/v1Archive_GetArchive_GET.md,
        docs/en/api/reference/restful/rest/Person/v1PersonEntity_GetAll.md).
        ``archive=False`` is for ``Selection/{id}/Members``, which only takes ``$select``
        (docs/en/api/reference/restful/rest/Selection/v1SelectionEntity_GetSelectionMembersArchiveRows.md).
        """
        params: dict[str, Any] = {"$select": ",".join(select)}
        if archive:
            # Logical: booleans as true/false rather than icon hints (documented $output).
            params |= {"$top": PAGE_SIZE, "$output": "Logical"}
        if where:
            params["$filter"] = where
        if entities:
            params["$entities"] = entities
        if order_by:
            params["$orderBy"] = order_by
        page: Any = self.request("GET", path, call, params=params)
        while True:
            yield from (page or {}).get("value") or []
            link = (page or {}).get("odata.nextLink")
            if not link:
                return
            page = self.request("GET", link, call)


def _reason(response: requests.Response) -> str:
    """SuperOffice's own error message, else the body's start.  The WebAPI's error body is
    ``{"Error": true, "ErrorType": ..., "ErrorMessage": ..., "ErrorSource": ...}``
    (SuperOfficeDocs/data-access docs/netserver/web-services/endpoints/rest-webapi/index.md);
    the token endpoint answers OAuth's ``error``/``error_description``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason or "no message"
    if isinstance(body, dict):
        for key in ("ErrorMessage", "Message", "error_description", "error", "ErrorType", "Error"):
            if body.get(key) and not isinstance(body[key], bool):
                return str(body[key])
    return str(body)[:300]


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return min(float(raw), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        return min(max(parsedate_to_datetime(raw).timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return None


def _backoff(attempt: int) -> float:
    return min(0.5 * 2 ** (attempt - 1), 30.0)
