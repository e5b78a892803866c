"""Delivery: gzip for text answers, content-hashed static URLs cached for a year,
stable embed URLs with a short cache."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from flask import Response

from calmesh import delivery
from calmesh.services import booking_pages, calendars
from tests.conftest import signed_in_client

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
PAGE = {"slug": "intro", "title": "Intro", "calendar": "work", "timezone": "Europe/Berlin"}
STATIC = Path(__file__).resolve().parent.parent / "calmesh" / "static"


def fetch(client, path: str, headers: dict | None = None):
    """A GET whose answer is read and closed (a static file's handle with it)."""
    with client.get(path, headers=headers or {}) as answer:
        answer.get_data()
    return answer


def hashed_url(html: str, filename: str) -> str:
    found = re.search(rf'"(/static/{re.escape(filename)}\?v=[0-9a-f]+)"', html)
    assert found, f"no hashed URL for {filename}"
    return found.group(1)


def test_a_compressed_answer_decodes_to_the_same_body_and_varies(app):
    client = app.test_client()
    for path in ("/static/app.css", "/static/htmx.min.js", "/static/booker.js"):
        plain = fetch(client, path)
        packed = fetch(client, path, headers=GZIP)
        assert plain.status_code == packed.status_code == 200, path
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.data) == plain.data
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert "Accept-Encoding" in plain.headers["Vary"]  # a cache keeps both apart


def test_the_public_booking_page_is_compressed(app, alice):
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    booking_pages.create(alice, PAGE)
    client = app.test_client()
    plain = fetch(client, "/alice/intro")
    packed = fetch(client, "/alice/intro", headers=GZIP)
    assert plain.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    # The same page but for its form tokens, signed with the second they were made in.
    assert without_form_tokens(gzip.decompress(packed.data)) == without_form_tokens(plain.data)
    assert len(packed.data) < len(plain.data) * 0.3  # the zone list compresses well


def without_form_tokens(page: bytes) -> bytes:
    return re.sub(rb"ImZvcm0i\.[\w-]+\.[\w-]+", b"<token>", page)  # itsdangerous: "form".t.sig


def test_small_answers_refusals_and_compressed_types_are_left_alone(app):
    client = app.test_client()
    small = fetch(client, "/static/favicon.svg", headers=GZIP)  # under MIN_SIZE
    assert small.status_code == 200 and len(small.data) < delivery.MIN_SIZE
    assert "Content-Encoding" not in small.headers
    assert "Accept-Encoding" in small.headers["Vary"]
    unwanted = fetch(client, "/static/app.css", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in unwanted.headers
    refused = fetch(client, "/static/app.css", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    with app.test_request_context("/", headers=GZIP):
        png = delivery.compress(Response(b"\x89PNG" + b"\0" * 4096, mimetype="image/png"))
        assert "Content-Encoding" not in png.headers and "Vary" not in png.headers
        done = Response(gzip.compress(b"x" * 4096), mimetype="text/plain")
        done.headers["Content-Encoding"] = "gzip"
        assert delivery.compress(done).data == gzip.compress(b"x" * 4096)


def test_a_compressed_static_file_still_answers_304(app):
    client = app.test_client()
    first = fetch(client, "/static/app.css", headers=GZIP)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')  # other bytes than the file: a weak tag
    again = fetch(client, "/static/app.css", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304


def test_templates_link_hashed_static_urls_cached_for_a_year(app, alice):
    client = app.test_client()
    html = fetch(client, "/login").get_data(as_text=True)
    assert '/static/app.css"' not in html and '/static/htmx.min.js"' not in html
    for filename in ("app.css", "htmx.min.js", "app.js", "favicon.svg"):
        url = hashed_url(html, filename)
        digest = hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()
        assert url.endswith("?v=" + digest[:12])
        answer = fetch(client, url)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_bare_or_a_stale_static_url_still_works_with_a_short_cache(app):
    client = app.test_client()
    for url in ("/static/app.css", "/static/app.css?v=0123456789ab"):
        answer = fetch(client, url)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == delivery.SHORT
        assert answer.data == (STATIC / "app.css").read_bytes()


def test_a_changed_file_gets_a_new_url(tmp_path):
    (tmp_path / "app.css").write_text("body { color: red; }")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.js").write_text("1")
    before = delivery.fingerprints(tmp_path)
    assert set(before) == {"app.css", "sub/x.js"}
    (tmp_path / "app.css").write_text("body { color: blue; }")
    after = delivery.fingerprints(tmp_path)
    assert after["app.css"] != before["app.css"]
    assert after["sub/x.js"] == before["sub/x.js"]


def test_the_embed_urls_stay_stable_with_a_short_cache(app, alice):
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    booking_pages.create(alice, PAGE)
    client = app.test_client()
    for url in ("/embed.js", "/static/embed.js"):
        answer = fetch(client, url, headers=GZIP)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == delivery.SHORT
        assert b"data-calmesh-handle" in gzip.decompress(answer.data)
    editor = signed_in_client(app, alice).get("/booking-pages/intro").get_data(as_text=True)
    # The snippet other sites paste loads the un-hashed root URL.
    assert re.search(r"src=&#34;https?://[^/&]+/embed\.js&#34;", editor)
