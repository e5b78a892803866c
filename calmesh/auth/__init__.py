"""Sign-in (flask-login), CSRF for pages, and the helpers the API builds on."""

from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import LoginManager

from calmesh.auth import csrf
from calmesh.models import User

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
