"""How answers travel: gzip for text, and static files under content-hashed URLs.

* ``asset(filename)`` (a template global) is the one way templates link a static
  file: ``/static/app.css?v=<hash>``, the hash taken once at start from the
  file's bytes, so a changed file gets a new URL. Such a URL is cached for a
  year, ``immutable``; the bare URL (and a stale ``v``) still serves the file
  with a short cache. ``/embed.js`` and ``/static/embed.js`` are what other
  sites' snippets load: stable URLs, short cache.
* Text answers (HTML, CSS, JS, JSON, SVG, iCalendar) above ``MIN_SIZE`` bytes
  are gzipped when the client accepts it, with ``Vary: Accept-Encoding``;
  small ones, already-compressed types, partial and streamed answers are
  sent as they are.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from flask import Flask, Response, request, url_for

MIN_SIZE = 512
LEVEL = 6  # zlib's default: nearly all of 9's gain at a fraction of its time
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
TEXT_TYPES = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
        "text/calendar",
        "text/css",
        "text/csv",
        "text/html",
        "text/javascript",
        "text/plain",
        "text/xml",
    }
)


def fingerprints(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (by its URL path) to a short hash of its bytes."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def init_app(app: Flask) -> None:
    """Call before any other ``after_request`` is registered: Flask runs them in
    reverse, so compression then sees the answer's final headers and body."""
    hashes = fingerprints(Path(app.static_folder))
    app.extensions["calmesh.assets"] = hashes

    def asset(filename: str) -> str:
        return url_for("static", filename=filename, v=hashes.get(filename))

    app.jinja_env.globals["asset"] = asset

    @app.after_request
    def _deliver(response: Response) -> Response:
        if request.endpoint in ("static", "public.embed_script"):
            filename = (request.view_args or {}).get("filename")
            pinned = filename and request.args.get("v") == hashes.get(filename)
            response.headers["Cache-Control"] = IMMUTABLE if pinned else SHORT
        return compress(response)


def compress(response: Response) -> Response:
    """gzip ``response`` in place when it is text, big enough, and wanted."""
    if response.mimetype not in TEXT_TYPES:
        return response
    if "Vary" in response.headers:
        response.vary.add("Accept-Encoding")
    else:
        response.headers["Vary"] = "Accept-Encoding"
    if (
        request.method == "HEAD"
        or response.status_code != 200
        or "Content-Encoding" in response.headers
        or request.accept_encodings["gzip"] <= 0
    ):
        return response
    if response.direct_passthrough:
        # A file from send_file: small static text, read whole (and closed) here.
        source = response.response
        body = b"".join(source)
        if hasattr(source, "close"):
            source.close()
        response.direct_passthrough = False
        response.set_data(body)
    elif response.is_streamed:
        return response  # a generator (e.g. an event stream): left as it streams
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        # Same content, other bytes: a weak tag still answers If-None-Match with 304.
        response.set_etag(etag, weak=True)
    return response


def attachment(text: str, filename: str, mimetype: str) -> Response:
    """``text`` as a file to save (``Content-Disposition: attachment``): the CSV
    exports of the REST API and the dashboard alike."""
    return Response(
        text,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
