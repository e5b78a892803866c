"""Sign-in (flask-login), CSRF for pages, and the helpers the API builds on."""

from __future__ import annotations

import logging

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import LoginManager
from flask_login.utils import decode_cookie

from calmesh.auth import csrf, sessions
from calmesh.models import User

log = logging.getLogger("calmesh")

# Headers a reverse proxy or CDN adds; seeing one with server.trusted_proxies = 0
# means every visitor shares the proxy's address for rate limits and sign-in.
FORWARDING_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "Forwarded",
    "X-Real-IP",
    "CF-Connecting-IP",
    "True-Client-IP",
)

# The same as WSGI environ keys: looked up on every request until one is seen.
_FORWARDING_KEYS = tuple((h, "HTTP_" + h.upper().replace("-", "_")) for h in FORWARDING_HEADERS)


class _LoginManager(LoginManager):
    """flask-login, also accepting remember-me cookies signed with a previous key."""

    def _load_user_from_remember_cookie(self, cookie: str) -> User | None:
        user = super()._load_user_from_remember_cookie(cookie)
        if user is not None:
            return user
        for key in current_app.config["SECRET_KEY_FALLBACKS"]:
            token = decode_cookie(cookie, key=key)
            if token is not None and (user := sessions.load(token)) is not None:
                session["_user_id"], session["_fresh"] = token, False
                session["_remember"] = "set"  # signed anew with the current key
                return user
        return None


login_manager = _LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = "basic"


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    # The cookies carry the token of one sign-in (calmesh.auth.sessions), not a user id.
    return sessions.load(token)


@login_manager.unauthorized_handler
def _unauthorized():
    if request.headers.get("HX-Request"):
        # htmx would swap the login page into a fragment; send the browser there instead.
        response = redirect(url_for("web.login"))
        response.headers["HX-Redirect"] = url_for("web.login", next=request.full_path)
        return response
    return redirect(url_for("web.login", next=request.full_path))


def _warn_about_untrusted_proxy(app: Flask) -> None:
    """Say once per worker, on the first request that shows a proxy in front,
    that its forwarding headers are ignored (rather than bucketing silently)."""
    if app.config["CALMESH"]["server.trusted_proxies"]:
        return
    warned = False

    @app.before_request
    def _check_forwarding() -> None:
        nonlocal warned
        if warned:
            return
        environ = request.environ
        seen = next((h for h, key in _FORWARDING_KEYS if key in environ), None)
        if seen:
            warned = True
            log.warning(
                "Requests arrive with %s but server.trusted_proxies = 0: every visitor "
                "counts as the proxy's address %s for rate limits and sign-in throttling; "
                "set server.trusted_proxies to the number of proxies in front.",
                seen,
                request.remote_addr,
            )


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf.token
    _warn_about_untrusted_proxy(app)

    @app.before_request
    def _check_csrf() -> None:
        # The API checks CSRF itself, only for cookie-authenticated calls.
        if request.method in csrf.SAFE_METHODS or request.path.startswith("/api/"):
            return
        if not csrf.request_is_valid():
            abort(403, "The form expired or came from another site. Reload the page and try again.")
