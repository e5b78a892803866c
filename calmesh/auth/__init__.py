"""Sign-in (flask-login), CSRF for pages, and the helpers the API builds on."""

from __future__ import annotations

import logging

from flask import Flask, abort, redirect, request, url_for
from flask_login import LoginManager

from calmesh.auth import csrf
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

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = "basic"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return User.get_or_none(User.id == int(user_id)) if user_id.isdigit() else None


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
        seen = next((h for h in FORWARDING_HEADERS if h in request.headers), None)
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
