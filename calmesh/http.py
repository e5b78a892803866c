"""Request plumbing shared by pages and API: database connection, security
headers, and errors that never show a traceback (JSON under /api, HTML elsewhere)."""

from __future__ import annotations

import io
import logging

import flask
from flask import Flask, abort, current_app, g, make_response, render_template, request
from flask.sessions import SecureCookieSessionInterface
from htmx_flask import Htmx
from peewee import InternalError, OperationalError, PeeweeException
from playhouse.pool import PooledDatabase
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property

from calmesh import faults
from calmesh.api.framework import ApiError, error_response
from calmesh.db import db
from calmesh.logs import safe
from calmesh.schema import Invalid, unusable_text
from calmesh.services.errors import ServiceError

log = logging.getLogger("calmesh")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; "
    "frame-ancestors {ancestors}"
)

COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP.format(ancestors="'none'")),
    *COMMON_HEADERS,
    ("X-Frame-Options", "DENY"),
)
# The few views that may be shown in another site's iframe (see allow_framing).
FRAMED_HEADERS = (("Content-Security-Policy", CSP.format(ancestors="*")), *COMMON_HEADERS)
HSTS = ("Strict-Transport-Security", "max-age=31536000")
NO_STORE = ("Cache-Control", "no-store")

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

RETRY_AFTER_SECONDS = 30

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
}


class CappedStream(io.RawIOBase):
    """A body of unknown length (``Transfer-Encoding: chunked``) read up to
    ``limit`` bytes; one byte more raises 413.

    werkzeug bounds such a stream at ``max_content_length`` too, but stops there
    and hands on the truncated body (a JSON error, or a form cut short, instead
    of 413), and reading on would have no limit at all.
    """

    def __init__(self, stream, limit: int) -> None:
        super().__init__()
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise RequestEntityTooLarge()
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class Request(flask.Request):
    @cached_property
    def stream(self):
        limit = self.max_content_length
        if self.content_length is None and "wsgi.input_terminated" in self.environ and limit:
            return io.BufferedReader(CappedStream(self.environ["wsgi.input"], limit))
        return super().stream


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session; a request without the cookie (every API call
    with a key, every anonymous visitor) skips building the signer."""

    def open_session(self, app, request):
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def allow_framing() -> None:
    """Called by the few views that may be shown in another site's iframe (the embed)."""
    g.allow_framing = True


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    Htmx(app)
    app.request_class = Request
    app.session_interface = SessionInterface()
    app.before_request(_refuse_unusable_input)
    app.before_request(_connect)
    app.teardown_request(_release)
    app.after_request(_headers)
    for exception, handler in ERROR_HANDLERS:
        app.register_error_handler(exception, handler)


def _refuse_unusable_input() -> None:
    # Once for every route: a NUL in a path, query or form value would reach
    # a query, and PostgreSQL refuses it with an error (SQLite stores it).
    # JSON bodies are checked where they are parsed (api.framework.json_body).
    if unusable_text(request.path):
        abort(404)
    sources = []
    if request.query_string:
        sources.append(request.args)
    if request.mimetype in FORM_TYPES:
        sources.append(request.form)
    for values in sources:
        for key, value in values.items(multi=True):
            problem = unusable_text(key) or unusable_text(value)
            if problem:
                abort(400, description=f"The request was refused: {problem}.")


def _connect() -> None:
    # Per-request state starts empty even when an app context outlives a
    # request (tests, CLI): a cached user must never carry over.
    for name in ("_login_user", "principal", "rate_headers", "allow_framing"):
        g.pop(name, None)
    db.connect(reuse_if_open=True)


def _release(exc: BaseException | None) -> None:
    # Pooled PostgreSQL connections go back to the pool; the SQLite one is
    # kept per worker thread (opening it costs more than the query).
    if isinstance(db.obj, PooledDatabase) and not db.is_closed():
        db.close()


def _headers(response):
    # Built once: every answer gets these unless its view set one itself.
    framed = g.get("allow_framing", False)
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    extra = list(FRAMED_HEADERS if framed else SECURITY_HEADERS)
    if request.is_secure:
        extra.append(HSTS)
    if _is_api() or (request.endpoint and request.endpoint.startswith("web.account")):
        extra.append(NO_STORE)
    for name, value in extra:
        if name.lower() not in present:
            headers.add(name, value)
    headers.update(g.get("rate_headers", {}))
    return response


# --- errors: JSON under /api, the error page elsewhere, never a traceback -------------


def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _refused(exc: ServiceError):
    if _is_api():
        return error_response(exc.status, exc.code, str(exc), exc.details)
    return render_template(
        "error.html", status=exc.status, title="Not possible", message=str(exc)
    ), exc.status


def _invalid(exc: Invalid):
    if _is_api():
        return error_response(400, "validation_error", str(exc), exc.details)
    return render_template("error.html", status=400, title="Bad request", message=str(exc)), 400


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if _is_api():
        response = error_response(status, HTTP_CODES.get(status, "error"), _http_message(exc))
    else:
        if request.blueprint == "public" and request.args.get("embed"):
            allow_framing()  # an embedded form's error must show inside the frame
        page = render_template("error.html", status=status, title=exc.name, message=exc.description)
        response = make_response(page, status)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _http_message(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"no such endpoint or object: {request.method} {request.path}"
    if exc.code == 405:
        return f"{request.method} is not allowed on {request.path}"
    if exc.code == 413:
        return f"the body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    return exc.description or exc.name


def _database_error(exc: PeeweeException):
    if not isinstance(exc, OperationalError | InternalError):
        log.exception("database error on %s %s", request.method, safe(request.path))
    # A full disk, a read-only file, a lost connection: one log line per
    # condition (see calmesh.faults), and an answer that says when to retry.
    faults.report(faults.DATABASE, faults.describe_database_error(exc))
    response = make_response(
        _failure(503, "unavailable", "the database is unavailable; try again shortly")
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, safe(request.path))
    return _failure(500, "internal_error", "something went wrong on our side; it has been logged")


def _failure(status: int, code: str, message: str):
    if _is_api():
        return error_response(status, code, message)
    return render_template("error.html", status=status, title="Error", message=message), status


ERROR_HANDLERS = (
    (ApiError, _api_error),
    (ServiceError, _refused),
    (Invalid, _invalid),
    (HTTPException, _http_error),
    (PeeweeException, _database_error),
    (Exception, _unexpected),
)
