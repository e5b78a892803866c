"""The REST client every tool uses: one request, then the JSON answer or an ApiFailure.

The MCP server holds no data and no rules of its own: it calls a CalMesh
instance with the API key it was given, so the key's scope decides what an
agent may do. Whatever goes wrong on the way (the API's refusal, a timeout, an
instance that is not there) becomes an :class:`ApiFailure` with a message a
model can act on; nothing is raised past the tool.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic_core import to_jsonable_python

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0  # above the 10 s the instance allows itself to check new credentials
CONNECT_TIMEOUT = 5.0
KEY_PREFIX = "cm_live_"
MIN_SECRET_LENGTH = 16
SCOPES = ("read", "book", "full")


class ConfigurationError(ValueError):
    """The environment does not describe a usable instance; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        url = (environ.get("CALMESH_URL") or DEFAULT_URL).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigurationError(
                f"CALMESH_URL must be the instance's http(s) address, such as {DEFAULT_URL}; "
                f"got {url!r}"
            )
        key = (environ.get("CALMESH_API_KEY") or "").strip()
        if not key:
            raise ConfigurationError(
                "CALMESH_API_KEY is not set: create a key in the dashboard (API keys) or with "
                "`python -m calmesh create-api-key --user HANDLE --scope read|book|full`, "
                "then pass it in the MCP client's env"
            )
        if not key.startswith(KEY_PREFIX):
            raise ConfigurationError(f"CALMESH_API_KEY must start with {KEY_PREFIX}")
        raw_timeout = environ.get("CALMESH_TIMEOUT") or str(DEFAULT_TIMEOUT)
        try:
            timeout = float(raw_timeout)
        except ValueError:
            timeout = 0.0
        if not 0 < timeout <= 600:
            raise ConfigurationError(
                f"CALMESH_TIMEOUT must be seconds between 0 and 600; got {raw_timeout!r}"
            )
        return cls(url, key, timeout)


def http_secret(environ: Mapping[str, str] = os.environ) -> str:
    """The HTTP transport's shared secret; refuses a missing or short one."""
    secret = (environ.get("CALMESH_HTTP_SECRET") or "").strip()
    if not secret:
        raise ConfigurationError(
            "CALMESH_HTTP_SECRET is not set: the HTTP transport serves only requests that carry "
            "it as 'Authorization: Bearer <secret>'. Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"CALMESH_HTTP_SECRET must be at least {MIN_SECRET_LENGTH} characters of random text"
        )
    return secret


class ApiFailure(Exception):
    """A call that did not succeed. ``status`` is None when no HTTP answer came back."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "unreachable",
        details: Any = None,
        hint: str = "",
    ):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.details, self.hint = details, hint

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "message": self.message,
                "details": self.details,
            }
        }

    def text(self) -> str:
        refused = self.status is not None and self.status >= 400
        head = f"CalMesh refused (HTTP {self.status} {self.code}): " if refused else ""
        if self.status is None and self.code == "validation_error":
            head = "Invalid arguments (validation_error, nothing was sent to CalMesh): "
        details = _detail_lines(self.details)
        if details and self.message == "; ".join(details):
            lines = [head.rstrip(" :") + ":"]  # the details say it all, one per line
        else:
            lines = [head + self.message]
        lines += [f"  - {line}" for line in details]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _detail_lines(details: Any) -> list[str]:
    if not details:
        return []
    if isinstance(details, list):
        return [
            f"{d['field']}: {d['message']}"
            if isinstance(d, dict) and {"field", "message"} <= d.keys()
            else str(d)
            for d in details
        ]
    if isinstance(details, dict):
        return [f"{k}: {v}" for k, v in details.items()]
    return [str(details)]


def segment(value: str | int) -> str:
    """A value for one path segment: a slug like ``../keys`` or ``..`` must not walk the
    API's tree (dots are encoded too, or the URL's dot segments would be resolved)."""
    return quote(str(value), safe="").replace(".", "%2E")


def _hint(status: int, code: str, retry_after: str | None) -> str:
    if status == 401:
        return "Check CALMESH_API_KEY: it must be an active, unexpired key of this instance."
    if status == 403 and code == "forbidden":
        return (
            "The API key's scope does not allow this; a key with a wider scope "
            "(read < book < full) is needed."
        )
    if status == 429:
        return f"Rate limited: retry after {retry_after or 'a minute'} s."
    return ""


def refusal(response: httpx.Response) -> ApiFailure:
    """The instance's JSON error (``{"error": {"code", "message", "details"}}``) as a failure."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details")
    except (ValueError, KeyError, TypeError):
        code, details = "http_error", None
        snippet = " ".join(response.text.split())[:200]
        message = f"{response.reason_phrase or 'error'} (not a CalMesh JSON error: {snippet!r})"
    retry_after = response.headers.get("Retry-After")
    return ApiFailure(
        message,
        status=response.status_code,
        code=code,
        details=details,
        hint=_hint(response.status_code, code, retry_after),
    )


class Api:
    """Calls the REST API at ``settings.url`` (``/api/v1``) as the key's owner."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._me: dict[str, Any] | None = None  # learnt from /me when a tool needs it

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        nulls: Iterable[str] = (),
    ) -> dict[str, Any]:
        """``path`` is below ``/api/v1``; ``None`` values are left out of query and body,
        except the body keys in ``nulls`` (sent as JSON null: "reset this")."""
        query = {k: v for k, v in to_jsonable_python(params or {}).items() if v is not None}
        payload = None
        if body is not None:
            keep = set(nulls)
            payload = {
                k: v for k, v in to_jsonable_python(body).items() if v is not None or k in keep
            }
        where = f"{method} /api/v1{path}"
        response = await self._send(method, path, query, payload, headers, where)
        if response.status_code >= 400:
            raise refusal(response)
        return self._answer(response, where)

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        payload: dict[str, Any] | None,
        headers: Mapping[str, str] | None,
        where: str,
    ) -> httpx.Response:
        """One request; no answer (a timeout, a refused connection) is a failure that
        says what to check."""
        settings = self.settings
        timeout = httpx.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout))
        try:
            async with httpx.AsyncClient(
                base_url=settings.url,
                timeout=timeout,
                headers={
                    "Authorization": f"Bearer {settings.api_key}",
                    "Accept": "application/json",
                    "User-Agent": "calmesh-mcp",
                },
                follow_redirects=False,
            ) as client:
                return await client.request(
                    method, "/api/v1" + path, params=query, json=payload, headers=headers
                )
        except httpx.TimeoutException:
            raise ApiFailure(
                f"CalMesh at {settings.url} did not answer {where} within "
                f"{settings.timeout:g} s (CALMESH_TIMEOUT). "
                + (
                    "Try again in a moment."
                    if method == "GET"
                    else "The change may have happened anyway: look before retrying it."
                ),
                code="timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise ApiFailure(
                f"Cannot reach CalMesh at {settings.url} ({where}): {exc or type(exc).__name__}. "
                "Is the instance running, and is CALMESH_URL its address?",
                code="unreachable",
            ) from None

    def _answer(self, response: httpx.Response, where: str) -> dict[str, Any]:
        """A successful answer's JSON object (``{}`` for no content)."""
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiFailure(
                f"CalMesh answered {where} with HTTP {response.status_code} but not a JSON "
                f"object; is CALMESH_URL ({self.settings.url}) really a CalMesh instance?",
                status=response.status_code,
                code="unexpected_answer",
            )
        return data

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.request("POST", path, body=body or {})

    async def patch(
        self, path: str, body: Mapping[str, Any], nulls: Iterable[str] = ()
    ) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, nulls=nulls)

    async def delete(self, path: str) -> dict[str, Any]:
        return await self.request("DELETE", path)

    async def me(self) -> dict[str, Any]:
        """The key's owner (handle, name, timezone) and the key's scope, asked once."""
        if self._me is None:
            self._me = await self.get("/me")
        return self._me

    async def zone(self) -> str:
        """The owner's IANA zone: the first zone every answer gives times in."""
        return str((await self.me()).get("timezone") or "UTC")

    async def require_scope(self, needed: str) -> None:
        """Refuse, as the API would, a tool that an endpoint open to the public serves
        (slots, booking a slot) when the key's scope is below ``needed``."""
        have = str((await self.me()).get("scope", ""))
        if have not in SCOPES or SCOPES.index(have) < SCOPES.index(needed):
            raise ApiFailure(
                f"this needs the '{needed}' scope; the key has '{have}'",
                status=403,
                code="forbidden",
                hint=_hint(403, "forbidden", None),
            )
