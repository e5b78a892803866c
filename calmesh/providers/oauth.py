"""OAuth 2.0 for the Google and Microsoft providers, with Authlib, over httpx.

Three plain functions, usable from a view, a job or the CLI (no Flask
context): :func:`authorization_url` builds the consent link,
:func:`exchange_code` turns the code that comes back into a token dict, and
:func:`session` gives an :class:`OAuthSession` that calls the API with that
token, refreshing it before it expires.

``settings`` is the provider's configuration section (``google.*`` or
``microsoft.*``: client_id, client_secret, auth_url, token_url, api_base);
providers find it in ``ConnectionInfo.settings``.

Refreshing: every new token goes to ``info.on_credentials`` at once, and into
``info.credentials``, because Microsoft rotates refresh tokens: the previous
one may stop working as soon as the new one is issued. A refused refresh
(``invalid_grant``: revoked, expired, password changed) raises AuthError, so
the connection turns ``auth_required``; a token endpoint that is down or slow
raises a retryable ProviderError. No message ever contains a token.

Authlib's own httpx integration now builds on the ``httpx2`` fork; CalMesh
speaks httpx, whose client carries the SSRF guard (:mod:`calmesh.providers.net`).
:class:`OAuthSession` is therefore Authlib's protocol client (token requests,
expiry, refresh, the ``update_token`` hook) with the two small httpx auth
adapters it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.auth import ClientAuth, TokenAuth
from authlib.oauth2.client import OAuth2Client

from calmesh.providers import net
from calmesh.providers.base import (
    AuthError,
    ChangeSet,
    ConnectionInfo,
    HttpSettings,
    Integration,
    Provider,
    ProviderError,
    RemoteObject,
)
from calmesh.providers.fields import OAUTH_BODY

SCOPES = {
    "google": "https://www.googleapis.com/auth/calendar",
    "microsoft": "offline_access Calendars.ReadWrite User.Read",
}
# What the consent page needs so that a refresh token comes back.
_CONSENT_PARAMS = {
    "google": {"access_type": "offline", "prompt": "consent"},
    "microsoft": {"response_mode": "query"},
}
_NAMES = {"google": "Google", "microsoft": "Microsoft"}

# Token errors only the owner can resolve, by connecting again or fixing the
# client registration (RFC 6749 §5.2, OpenID Connect §3.1.2.6).
_PERMANENT_ERRORS = {
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "access_denied",
    "interaction_required",
    "consent_required",
    "login_required",
}

# Both services document the client secret in the form body.
_CLIENT_AUTH = "client_secret_post"

# Refresh this many seconds before the access token expires.
LEEWAY = 60


def authorization_url(
    kind: str, settings: dict[str, Any], redirect_uri: str, state: str, code_verifier: str
) -> str:
    """The consent page to send the owner to; it comes back to ``redirect_uri`` with
    ``code`` and ``state`` (compare ``state`` with the one you stored).

    PKCE (RFC 7636, S256): the page gets the challenge of ``code_verifier``, and
    :func:`exchange_code` must send the verifier, so a code that reaches
    someone else is worth nothing to them.
    """
    scope = _scope(kind)
    client = OAuth2Client(
        None,
        client_id=_setting(kind, settings, "client_id"),
        scope=scope,
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        _setting(kind, settings, "auth_url"),
        state=state,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
        **_CONSENT_PARAMS[kind],
    )
    return url


def exchange_code(
    kind: str,
    settings: dict[str, Any],
    redirect_uri: str,
    code: str,
    http_settings: HttpSettings,
    code_verifier: str,
) -> dict[str, Any]:
    """The token dict for an authorization code (store it as the connection's credentials).

    Raises AuthError when the code is refused or no refresh token comes back
    (without one the connection would stop working within the hour), and a
    retryable ProviderError when the token endpoint cannot be reached.
    """
    scope = _scope(kind)
    with _session(kind, settings, http_settings) as oauth:
        extra = {"scope": scope} if kind == "microsoft" else {}
        token = oauth.fetch_token(
            code=code,
            redirect_uri=redirect_uri,
            grant_type="authorization_code",
            code_verifier=code_verifier,
            **extra,
        )
    if not token.get("access_token"):
        raise ProviderError(f"{_NAMES[kind]} answered without an access token", permanent=True)
    if not token.get("refresh_token"):
        raise AuthError(
            f"{_NAMES[kind]} granted no offline access (no refresh token); connect again"
        )
    return dict(token)


def session(kind: str, info: ConnectionInfo) -> OAuthSession:
    """A session calling the API with ``info.credentials``; use it in a ``with`` block.

    It refreshes the token shortly before it expires, or once after a 401,
    and hands every new token to ``info.on_credentials``.
    """
    _scope(kind)
    if not info.credentials.get("access_token"):
        raise AuthError(f"the {_NAMES[kind]} connection has no token; connect again")

    def saved(token: dict[str, Any], **_: Any) -> None:
        info.credentials = dict(token)
        if info.on_credentials is not None:
            info.on_credentials(dict(token))

    return _session(kind, info.settings, info.http, token=dict(info.credentials), saved=saved)


def _session(
    kind: str,
    settings: dict[str, Any],
    http_settings: HttpSettings,
    token: dict[str, Any] | None = None,
    saved: Callable[..., None] | None = None,
) -> OAuthSession:
    return OAuthSession(
        kind,
        net.client(http_settings, headers={"Accept": "application/json"}),
        http_settings,
        client_id=_setting(kind, settings, "client_id"),
        client_secret=str(settings.get("client_secret") or ""),
        token_endpoint=_setting(kind, settings, "token_url"),
        # Microsoft wants the scope on every token request; Google does not.
        scope=SCOPES[kind] if kind == "microsoft" else None,
        token=token,
        update_token=saved,
    )


def _scope(kind: str) -> str:
    try:
        return SCOPES[kind]
    except KeyError:
        raise ProviderError(f"{kind!r} does not use OAuth", permanent=True) from None


def _setting(kind: str, settings: dict[str, Any], key: str) -> str:
    value = str(settings.get(key) or "")
    if not value:
        raise ProviderError(f"{kind}.{key} is not configured", permanent=True)
    return value


class _ClientAuth(httpx.Auth, ClientAuth):
    """Client id and secret on token requests (Authlib's ClientAuth as an httpx Auth)."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        url, headers, body = self.prepare(
            request.method, str(request.url), headers, request.content.decode()
        )
        # The same request otherwise: its extensions carry the client's timeout.
        yield httpx.Request(
            request.method,
            url,
            headers=headers,
            content=body.encode(),
            extensions=request.extensions,
        )


class _BearerAuth(httpx.Auth, TokenAuth):
    """The access token on API requests (Authlib's TokenAuth as an httpx Auth)."""

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        _, headers, _ = self.prepare(str(request.url), {}, "")
        request.headers.update(headers)
        yield request


class OAuthSession(OAuth2Client):
    """Authlib's OAuth 2 client on a guarded httpx client; a context manager.

    :meth:`request` is the one way providers call the API: SSRF check, size
    cap, readable transport errors, token refresh before expiry, and one
    refresh-and-retry after a 401. It returns the response whatever its
    status, except that a second 401 raises AuthError.
    """

    client_auth_class = _ClientAuth
    token_auth_class = _BearerAuth

    def __init__(self, kind: str, http: httpx.Client, http_settings: HttpSettings, **kw: Any):
        super().__init__(http, token_endpoint_auth_method=_CLIENT_AUTH, leeway=LEEWAY, **kw)
        self.kind = kind
        self.http = http
        self.http_settings = http_settings
        self.requests = 0  # API requests sent, refreshes not counted

    def __enter__(self) -> OAuthSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        if self.token.is_expired(leeway=self.leeway):
            self._refresh()
        response = self._send(method, url, **kw)
        if response.status_code == 401:
            # The token may have been revoked early or the clock be off: one
            # fresh token, then give up.
            self._refresh()
            response = self._send(method, url, **kw)
            if response.status_code == 401:
                raise AuthError(
                    f"{_NAMES[self.kind]} refused the access token even after a refresh; "
                    "connect again"
                )
        return response

    def fetch_token(self, url: str | None = None, **kw: Any) -> dict[str, Any]:
        with self._token_endpoint():
            return super().fetch_token(url, **kw)

    def refresh_token(self, url: str | None = None, **kw: Any) -> dict[str, Any]:
        with self._token_endpoint():
            return super().refresh_token(url, **kw)

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.requests += 1
        return net.fetch(self.http, method, url, self.http_settings, auth=self.token_auth, **kw)

    def _refresh(self) -> None:
        refresh_token = self.token.get("refresh_token")
        if not refresh_token:
            raise AuthError(
                f"the {_NAMES[self.kind]} access expired and there is no refresh token; "
                "connect again"
            )
        self.refresh_token(refresh_token=refresh_token)

    @contextmanager
    def _token_endpoint(self) -> Iterator[None]:
        """Authlib's failures at the token endpoint as readable ProviderErrors."""
        name = _NAMES[self.kind]
        # The form here; the addresses where the pinned transport connects.
        net.check_url(
            self.metadata["token_endpoint"], self.http_settings.allow_private, resolve_host=False
        )
        try:
            with net.translated_errors(f"{name}'s token endpoint"):
                try:
                    yield
                except httpx.HTTPStatusError as exc:  # an error page, not an OAuth error
                    raise net.describe_status(exc.response) from None
        except OAuth2Error as exc:
            if exc.error in _PERMANENT_ERRORS:
                raise AuthError(
                    f"{name} refused the authorisation ({exc.error}); connect again"
                ) from None
            raise ProviderError(f"{name}'s token endpoint answered {exc.error}") from None
        except ValueError:
            raise ProviderError(
                f"{name}'s token endpoint answered something else than a token"
            ) from None


# --- Helpers the JSON calendar APIs share ------------------------------------------


class ApiProvider(Provider):
    """A calendar API reached with an OAuth token (Google, Microsoft Graph)."""

    @property
    def _base(self) -> str:
        return api_base(self.info)


def consent_integration(kind: str, label: str, provider: type[ApiProvider]) -> Integration:
    """How an OAuth calendar API is offered: connected by consent, synced from here
    (its recurrences come expanded), its client under ``[kind]`` in the settings."""
    return Integration(
        kind=kind,
        label=label,
        provider=provider,
        summary=f"Start connecting {label} (answers the consent URL)",
        body=OAUTH_BODY,
        mcp_help=label,
        consent=True,
        interval_key=f"sync.interval_{kind}",
        settings_section=kind,
        expanded_here=False,
    )


def api_base(info: ConnectionInfo) -> str:
    """The API's base URL: the connection's own endpoint, else the configured one."""
    base = info.endpoint or info.settings.get("api_base") or ""
    if not base:
        raise ProviderError(f"{info.kind}.api_base is not configured", permanent=True)
    return base.rstrip("/")


def change_set(
    entries: Iterable[tuple[str, RemoteObject | None]],
    token: str,
    full: bool,
    requests: int,
) -> ChangeSet:
    """A ChangeSet from ``(href, object)`` pairs in answer order, None meaning deleted.

    A later pair wins: an event edited while the pages were read comes twice.
    """
    latest: dict[str, RemoteObject | None] = {}
    for href, remote in entries:
        latest.pop(href, None)
        latest[href] = remote
    return ChangeSet(
        changed=[remote for remote in latest.values() if remote is not None],
        deleted=[href for href, remote in latest.items() if remote is None],
        token=token,
        full=full,
        requests=requests,
    )


def json_of(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of an answer, or a ProviderError saying it is malformed."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"{what} answered something else than a JSON object")
    return data


def objects_in(page: dict[str, Any], key: str, what: str, noun: str) -> list[dict[str, Any]]:
    """``page[key]``: a list of JSON objects (none when it is missing), or a ProviderError
    naming the API (``what``) and the list's ``noun``."""
    items = page.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ProviderError(f"{what} answered a list whose {noun} are not objects")
    return items


def event_id(item: dict[str, Any], what: str) -> str:
    """An event's ``id``, or a ProviderError naming the API (``what``)."""
    found = item.get("id")
    if not isinstance(found, str) or not found:
        raise ProviderError(f"{what} answered an event without an id")
    return found


def utc_key(value: datetime) -> str:
    """An instant in UTC, ``2026-03-30T07:00:00Z``: for queries, and the recurrence key
    format of engine.recurrence."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(value: date) -> datetime:
    """A whole day's sorting instant: its date at 00:00 UTC (see engine.recurrence)."""
    return datetime.combine(value, datetime.min.time(), UTC)
