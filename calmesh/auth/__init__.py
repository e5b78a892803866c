"""Sign-in (flask-login), CSRF for pages, and the helpers the API builds on."""

from __future__ import annotations

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import LoginManager
from flask_login.utils import decode_cookie

from calmesh.auth import csrf, sessions
from calmesh.models import User


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


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf.token

    @app.before_request
    def _check_csrf() -> None:
        # The API checks CSRF itself, only for cookie-authenticated calls.
        if request.method in csrf.SAFE_METHODS or request.path.startswith("/api/"):
            return
        if not csrf.request_is_valid():
            abort(403, "The form expired or came from another site. Reload the page and try again.")
