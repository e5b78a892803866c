"""The running app's settings, for tests that call services taking ``settings``."""

from __future__ import annotations

from flask import current_app

from calmesh.config import Config


def cfg() -> Config:
    """``current_app.config["CALMESH"]`` (a test's ``configure`` may have replaced it)."""
    return current_app.config["CALMESH"]


def configure(monkeypatch, app, values: dict) -> None:
    """Run the rest of the test with ``values`` over the app's settings."""
    monkeypatch.setitem(
        app.config, "CALMESH", Config({**app.config["CALMESH"].as_dict(), **values})
    )
