"""Local stand-ins for Google Calendar and Microsoft Graph.

Tests cannot reach Google or Microsoft, so CalMesh's Google and Microsoft
providers are tested only against these: small WSGI apps (Flask) on a free
loopback port, served from a thread, holding their state in memory and
implementing the documented endpoints the providers use, nothing more. Each
module's docstring lists the behaviours it implements. What they share lives
here: the server's life cycle, OAuth 2.0 (consent redirect, code and refresh
grants, expiring access tokens, a revocation switch), fault switches and a log
of every request.

Use them through the fixtures (register this module as a plugin with
``pytest_plugins = ["tests.standins"]`` in a test module or the root conftest)::

    def test_something(google_standin):
        info = google_standin.connection_info()      # a granted token, loopback allowed
        provider = GoogleProvider(info)
        google_standin.add_event(google_standin.primary, "Standup", start, end)

or directly, ``with GoogleStandIn() as google: ...``. ``settings()`` gives the
``google.*`` / ``microsoft.*`` configuration keys (client id and secret, auth,
token and API URLs) that point CalMesh at the stand-in; ``config_overrides()``
gives them as dotted keys for ``create_app`` and ``env()`` as ``CALMESH_*``
variables for a server process.

OAuth: ``auth_url`` redirects straight back to ``redirect_uri`` with ``code``
and ``state`` (consent is automatic; ``deny_consent = True`` answers
``error=access_denied``). Codes are single use and bound to their
redirect_uri, and to the PKCE verifier when the consent request sent an S256
``code_challenge``. Access tokens last ``access_lifetime`` seconds;
``expire_access_tokens()`` makes the server refuse every current one (401);
``revoke()`` makes every refresh answer ``invalid_grant`` and every access
token 401. ``grant(expires_in=...)`` issues a token dict without the consent
round trip, as ``exchange_code`` would return it.

Faults, for the API endpoints (not OAuth): ``fail_with = 500`` answers that
status (with ``fail_reason`` as Google's reason or Graph's code); ``hang = 5.0`` waits that long before answering (released early when
the server stops); ``malformed = True`` answers 200 with a body that is not
JSON. ``token_fail_with`` and ``token_hang`` do the same for the token
endpoint. ``seen`` records every request (method, path, query, headers, JSON
body, form), ``api_seen()`` the API ones.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest
from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import WSGIRequestHandler, make_server

from calmesh.providers.base import ConnectionInfo, HttpSettings


@dataclass
class Seen:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, list[str]]  # lower-case names
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Code:
    redirect_uri: str
    scope: str
    offline: bool
    challenge: str = ""  # PKCE S256 code_challenge, when the consent request sent one


@dataclass
class _Refresh:
    scope: str
    used: bool = False


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kw: Any) -> None:
        pass


@dataclass
class StandIn:
    """The shared part: server, OAuth and fault switches. Subclasses add the API."""

    kind: ClassVar[str]
    auth_path: ClassVar[str]
    token_path: ClassVar[str]
    api_path: ClassVar[str]
    # Microsoft issues a new refresh token with every refresh and the old one stops working.
    rotates_refresh_tokens: ClassVar[bool] = False

    page_size: int = 3
    access_lifetime: int = 3600
    client_id: str = "calmesh-test-client"
    client_secret: str = "calmesh-test-secret"
    fail_with: int | None = None
    fail_reason: str = "backendError"
    token_fail_with: int | None = None
    token_hang: float = 0.0
    hang: float = 0.0
    malformed: bool = False
    deny_consent: bool = False
    seen: list[Seen] = field(default_factory=list)
    consents: list[dict[str, str]] = field(default_factory=list)  # each authorize query

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._access: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}
        self._release = threading.Event()
        self.app = Flask(f"standin-{self.kind}")
        self.app.add_url_rule(self.auth_path, "authorize", self._authorize)
        self.app.add_url_rule(self.token_path, "token", self._token, methods=["POST"])
        self.app.before_request(self._record)
        self.routes()
        self._server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        # Do not wait at stop for handler threads a client keeps alive.
        self._server.block_on_close = False
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def routes(self) -> None:
        raise NotImplementedError

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> StandIn:
        # A short poll interval: stop() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what CalMesh is given ------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """The ``<kind>.*`` configuration keys pointing at this stand-in."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "auth_url": self.url + self.auth_path,
            "token_url": self.url + self.token_path,
            "api_base": self.url + self.api_path,
        }

    def config_overrides(self) -> dict[str, str]:
        """The same as dotted configuration keys, for ``create_app(overrides)``."""
        return {f"{self.kind}.{key}": value for key, value in self.settings().items()}

    def env(self) -> dict[str, str]:
        """The same as environment variables, for a server started as a process."""
        return {
            f"CALMESH_{self.kind.upper()}_{key.upper()}": value
            for key, value in self.settings().items()
        }

    def connection_info(
        self,
        credentials: dict[str, Any] | None = None,
        on_credentials: Callable[[dict[str, Any]], None] | None = None,
        **http: Any,
    ) -> ConnectionInfo:
        """A ConnectionInfo for a provider: a fresh grant unless given, loopback allowed."""
        return ConnectionInfo(
            kind=self.kind,
            endpoint="",
            credentials=self.grant() if credentials is None else credentials,
            http=HttpSettings(**{"allow_private": True, "timeout": 5.0, **http}),
            settings=self.settings(),
            on_credentials=on_credentials,
        )

    # --- OAuth ------------------------------------------------------------------------------

    def grant(self, expires_in: int | None = None) -> dict[str, Any]:
        """A token dict as after consent; ``expires_in`` overrides the access lifetime."""
        with self.lock:
            token = self._issue(self._full_scope(), with_refresh=True)
            if expires_in is not None:
                self._access[token["access_token"]] = time.time() + expires_in
                token["expires_in"] = expires_in
            token["expires_at"] = int(time.time()) + token["expires_in"]
            return token

    def expire_access_tokens(self) -> None:
        """The server refuses every access token issued so far (the client's clock says valid)."""
        with self.lock:
            self._access.clear()

    def revoke(self) -> None:
        """The owner revoked CalMesh's access: refreshes get invalid_grant, API calls 401."""
        with self.lock:
            self._access.clear()
            self._refresh.clear()

    def live_refresh_tokens(self) -> set[str]:
        with self.lock:
            return {t for t, r in self._refresh.items() if not r.used}

    def is_valid_access_token(self, token: str) -> bool:
        with self.lock:
            return self._access.get(token, 0) > time.time()

    def _full_scope(self) -> str:
        raise NotImplementedError

    def _offline(self, query: dict[str, str]) -> bool:
        """Whether the consent request asked for a refresh token."""
        raise NotImplementedError

    def _issue(self, scope: str, with_refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        self._access[access] = time.time() + self.access_lifetime
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "scope": scope,
        }
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self._refresh[refresh] = _Refresh(scope)
            token["refresh_token"] = refresh
        return token

    def _authorize(self) -> Response:
        query = request.args.to_dict()
        self.consents.append(query)
        if query.get("client_id") != self.client_id:
            return Response("unknown client_id", status=400)
        if query.get("response_type") != "code" or not query.get("redirect_uri"):
            return Response("response_type=code and redirect_uri are required", status=400)
        target = query["redirect_uri"]
        if self.deny_consent:
            answer = {"error": "access_denied", "state": query.get("state", "")}
        else:
            code = "code-" + secrets.token_urlsafe(16)
            with self.lock:
                self._codes[code] = _Code(
                    target, query.get("scope", ""), self._offline(query), _challenge(query)
                )
            answer = {"code": code, "state": query.get("state", "")}
        return redirect(target + ("&" if "?" in target else "?") + urlencode(answer))

    def _token(self) -> tuple[Response, int]:
        if self.token_hang:
            self._release.wait(self.token_hang)
        if self.token_fail_with:
            return jsonify(error="server_error"), self.token_fail_with
        form = request.form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return jsonify(error="invalid_client", error_description="Unauthorized"), 401
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                    return _invalid_grant("Malformed auth code.")
                if grant.challenge and grant.challenge != _s256(form.get("code_verifier", "")):
                    return _invalid_grant("Invalid code verifier.")
                return jsonify(self._issue(grant.scope, with_refresh=grant.offline)), 200
            if form.get("grant_type") == "refresh_token":
                held = self._refresh.get(form.get("refresh_token", ""))
                if held is None or held.used:
                    return _invalid_grant("Token has been expired or revoked.")
                if self.rotates_refresh_tokens:
                    held.used = True
                return jsonify(self._issue(held.scope, self.rotates_refresh_tokens)), 200
        return jsonify(error="unsupported_grant_type"), 400

    # --- the API side -------------------------------------------------------------------------

    def _record(self) -> None:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.args.to_dict(flat=False),
                {k.lower(): request.headers.getlist(k) for k in request.headers.keys()},  # noqa: SIM118
                request.get_json(silent=True),
                request.form.to_dict(),
            )
        )

    def api_seen(self) -> list[Seen]:
        """The API requests so far (OAuth ones left out)."""
        return [s for s in self.seen if s.path.startswith(self.api_path)]

    def guard(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Faults and bearer-token check around an API view."""

        def guarded(**kw: Any) -> Any:
            if self.hang:
                self._release.wait(self.hang)
            if self.fail_with:
                return self.error(self.fail_with, self.fail_reason, "Injected failure")
            bearer = request.headers.get("Authorization", "")
            if not bearer.startswith("Bearer ") or not self.is_valid_access_token(bearer[7:]):
                response = self.error(401, "authError", "Invalid Credentials")
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
            if self.malformed:
                return Response("<html>Service Unavailable", content_type="application/json")
            with self.lock:
                return view(**kw)

        guarded.__name__ = view.__name__
        return guarded

    def error(self, status: int, reason: str, message: str) -> Response:
        """An error in the service's own JSON shape."""
        raise NotImplementedError


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _challenge(query: dict[str, str]) -> str:
    """The PKCE challenge of a consent request (RFC 7636; both services take S256)."""
    if query.get("code_challenge_method") == "S256":
        return query.get("code_challenge", "")
    return ""


def _invalid_grant(description: str) -> tuple[Response, int]:
    return jsonify(error="invalid_grant", error_description=description), 400


@pytest.fixture
def google_standin() -> Iterator[Any]:
    """A running GoogleStandIn (tests.standins.google), stopped after the test."""
    from tests.standins.google import GoogleStandIn

    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture
def microsoft_standin() -> Iterator[Any]:
    """A running MicrosoftStandIn (tests.standins.microsoft), stopped after the test."""
    from tests.standins.microsoft import MicrosoftStandIn

    with MicrosoftStandIn() as standin:
        yield standin
