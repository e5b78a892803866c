"""The REST conventions every endpoint follows, in one place.

``@endpoint`` declares a route with its auth, query, body and response; it
authenticates (bearer key or session), checks the scope, counts the rate
limit, checks CSRF for cookie-authenticated changes, parses input with the
declarations of :mod:`calmesh.schema`, and records the route so that
:mod:`calmesh.api.openapi` can describe it. Views receive parsed values and
return a dict (JSON, status 200 unless declared) or a Response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_login import current_user

from calmesh.auth import apikeys, csrf, ratelimit
from calmesh.models import ApiKey, User
from calmesh.schema import Field, Invalid, Object, unusable_in

api = Blueprint("api", __name__, url_prefix="/api/v1")
system = Blueprint("system", __name__, url_prefix="/api")

AUTH_LEVELS = ("public", "read", "book", "full", "session")


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def throttle_public(action: str) -> None:
    """Count a public ``action`` of the caller's address (see
    calmesh.auth.ratelimit.PUBLIC_LIMITS); over the limit raises RateLimited,
    which every endpoint answers as 429 ``rate_limited``."""
    ratelimit.throttle_public(action, request.remote_addr, current_app.config["CALMESH"])


def cached_json(memo, key, compute: Callable[[], Any]) -> Response:
    """A JSON answer from ``memo``: the serialised text is kept, so a hit costs
    neither the computation nor the encoding (see calmesh.services.memo)."""
    text = memo.get(key, lambda: current_app.json.dumps(compute()))
    return Response(text, mimetype="application/json")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict | None = None
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user through an API key (with its scope) or a session."""

    user: User
    scope: str
    api_key: ApiKey | None = None

    @property
    def via_session(self) -> bool:
        return self.api_key is None


def current_principal() -> Principal:
    return g.principal


def authenticate() -> Principal | None:
    """The caller from ``Authorization: Bearer`` or the session cookie.

    A present but bad Authorization header is an error, never a silent fallback
    to the cookie.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        kind, _, key = header.partition(" ")
        if kind.lower() != "bearer" or not key.strip():
            raise ApiError(401, "unauthorized", "Authorization must be 'Bearer cm_live_...'")
        row = apikeys.verify(key.strip())
        if row is None:
            raise ApiError(401, "unauthorized", "unknown, revoked or expired API key")
        return Principal(row.user, row.scope, row)
    if current_user.is_authenticated:
        return Principal(current_user._get_current_object(), "full")
    return None


def _authorise(auth: str) -> Principal | None:
    principal = authenticate()
    # Every cookie-authenticated change needs the CSRF token, public endpoints included.
    unsafe = request.method not in csrf.SAFE_METHODS
    if principal is not None and principal.via_session and unsafe and not csrf.request_is_valid():
        raise ApiError(
            403,
            "csrf_failed",
            "missing or wrong X-CSRF-Token header for a cookie-authenticated change",
        )
    if auth == "public":
        return principal
    if principal is None:
        raise ApiError(401, "unauthorized", "sign in or send 'Authorization: Bearer cm_live_...'")
    if auth == "session":
        if not principal.via_session:
            raise ApiError(403, "forbidden", "API keys are managed from a signed-in session only")
    elif not apikeys.scope_allows(principal.scope, auth):
        raise ApiError(
            403, "forbidden", f"this needs the '{auth}' scope; the key has '{principal.scope}'"
        )
    return principal


def _rate_limit(principal: Principal) -> None:
    limit = current_app.config["CALMESH"]["api.rate_limit_per_minute"]
    subject = f"key:{principal.api_key.id}" if principal.api_key else f"user:{principal.user.id}"
    state = ratelimit.hit(f"api:{subject}", limit, 60)
    g.rate_headers = state.headers()
    if not state.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"more than {limit} requests in a minute; retry after {state.retry_after} s",
            headers={**state.headers(), "Retry-After": str(state.retry_after)},
        )


def json_body() -> Any:
    """The request's JSON; a string no field could store (see unusable_text) is refused."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    problem = unusable_in(value)
    if problem:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {problem}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass
class Route:
    rule: str
    method: str
    auth: str
    summary: str
    tag: str
    view: Callable
    query: Object | None = None
    body: Object | None = None
    response: Field | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The OpenAPI path: Flask's ``<int:id>`` becomes ``{id}``."""
        prefix = self.extra.get("prefix", "")
        return prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return [
            (name, conv or "string") for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", self.rule)
        ]


ROUTES: list[Route] = []


def endpoint(
    rule: str,
    method: str,
    *,
    auth: str,
    summary: str,
    tag: str,
    query: Object | None = None,
    body: Object | None = None,
    response: Field | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    description: str = "",
    blueprint: Blueprint = api,
    scope_label: str = "",
) -> Callable:
    """Declare a REST endpoint; see the module docstring. ``scope_label`` says who may
    call a ``public`` endpoint that checks more itself (the README's scope table)."""
    assert auth in AUTH_LEVELS, auth

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def handler(**path_args: Any) -> Response:
            principal = _authorise(auth)
            g.principal = principal
            if principal is not None:
                _rate_limit(principal)
            kwargs: dict[str, Any] = dict(path_args)
            try:
                if query is not None:
                    kwargs["query"] = query.parse_query(request.args.to_dict())
                if body is not None:
                    kwargs["body"] = body.parse(json_body())
            except Invalid as exc:
                raise ApiError(400, "validation_error", str(exc), exc.details) from None
            try:
                result = view(**kwargs)
            except ratelimit.RateLimited as exc:
                raise ApiError(429, "rate_limited", str(exc), headers=exc.headers()) from None
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status=204)
            response = jsonify(result)
            response.status_code = status
            return response

        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=handler, methods=[method])
        ROUTES.append(
            Route(
                rule,
                method,
                auth,
                summary,
                tag,
                handler,
                query,
                body,
                response,
                status,
                errors,
                description or (view.__doc__ or "").strip(),
                {"prefix": blueprint.url_prefix or "", "scope_label": scope_label},
            )
        )
        return handler

    return decorate
