"""Absolute URLs for links that leave the browser."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for links that leave the browser (e-mails, API answers,
    the embed snippet): on ``server.base_url`` when set, else on the request's
    host; also without a request (jobs, scripts)."""
    base = current_app.config["CALMESH"]["server.base_url"]
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base or "http://localhost")
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
