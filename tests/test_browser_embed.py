"""embed.js on another site, in a real Chromium: a plain page served from another
port holds an inline booking page and a popup button; a visitor books inside
the frame; the dashboard refuses to be framed.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import wait_until
from tests.test_browser_booking import PAGE, close_site, fill_details, open_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme consulting</title></head>
<body>
  <h1>Acme consulting</h1>
  <div id="inline" data-calmesh-handle="olivia" data-calmesh-slug="{slug}" data-mode="inline"></div>
  <p>Or: <span id="popup" data-calmesh-handle="olivia" data-calmesh-slug="{slug}"
     data-mode="popup" data-color="#f97316" data-text="Book a call"></span></p>
  <iframe id="dashboard" title="the owner's dashboard" src="{app}/dashboard"></iframe>
  <script src="{app}/embed.js" defer></script>
</body>
</html>
"""
ORANGE = "rgb(249, 115, 22)"  # #f97316


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    opened = open_site(tmp_path_factory.mktemp("embed"))
    yield opened
    close_site(opened)


@pytest.fixture(scope="module")
def host(site):
    """Another origin (another port) serving one static page that embeds CalMesh."""
    body = HOST_PAGE.format(app=site.server.url, slug=PAGE["slug"]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def frame_height(page: Page, selector: str) -> float:
    return page.locator(selector).evaluate("f => f.getBoundingClientRect().height")


def open_host(page: Page, url: str) -> None:
    """The host page, once the inline frame has its times and its own height (the
    frame grows as it loads, moving what comes after it)."""
    page.goto(url)
    inline = page.frame_locator("#inline iframe")
    expect(inline.locator(".times .slot").first).to_be_visible()
    framed = next(f for f in page.frames if "/olivia/" in f.url)

    def fitted() -> bool:
        inner = framed.evaluate("document.documentElement.getBoundingClientRect().height")
        return abs(frame_height(page, "#inline iframe") - inner) <= 2

    wait_until(fitted, timeout=10, what="the iframe to take the page's height")


def test_inline_mode_shows_the_booking_page_at_its_own_height(page, site, host):
    open_host(page, host)
    inline = page.frame_locator("#inline iframe")
    expect(inline.get_by_role("heading", name="Intro call")).to_be_visible()
    expect(inline.locator(".topbar")).to_be_hidden()  # no site header inside the frame
    assert "embed=1" in page.locator("#inline iframe").get_attribute("src")
    expect(page.locator("#inline iframe")).to_have_attribute("title", "Book a time")
    assert frame_height(page, "#inline iframe") != 680  # no longer the starting height
    # A message from anyone but the framed page is ignored.
    fitted = frame_height(page, "#inline iframe")
    page.evaluate("window.postMessage({calmesh: 'height', height: 7}, '*')")
    page.wait_for_timeout(300)
    assert frame_height(page, "#inline iframe") == fitted


def test_popup_button_has_the_colour_and_opens_a_modal_that_closes(page, site, host):
    open_host(page, host)
    button = page.locator("#popup button")
    expect(button).to_have_text("Book a call")
    expect(button).to_have_css("background-color", ORANGE)
    expect(button).to_have_css("color", "rgb(17, 17, 17)")  # dark text reads better on orange
    dialog = page.locator("dialog")

    button.click()
    expect(dialog).to_be_visible()
    close = page.get_by_role("button", name="Close")
    expect(close).to_be_focused()  # focus moved into the dialog
    popup = page.frame_locator("dialog iframe")
    expect(popup.get_by_role("heading", name="Intro call")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()  # and back

    # Escape works with the focus inside the frame too (the frame tells the host).
    button.click()
    popup.locator("#booker-tz").focus()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    button.click()
    close.click()
    expect(dialog).to_be_hidden()


def test_a_visitor_books_inside_the_inline_frame(page, site, host):
    open_host(page, host)
    inline = page.frame_locator("#inline iframe")
    slot = inline.locator(".times .slot").first
    expect(slot).to_be_visible()
    slot.click()
    expect(inline.get_by_role("heading", name="Your details")).to_be_visible()
    fill_details(inline, "Ivy Iframe", "ivy@example.org")
    inline.get_by_role("button", name="Confirm booking").click()
    expect(inline.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(inline.get_by_role("link", name="Reschedule")).to_have_attribute(
        "target", "_blank"
    )  # the manage page refuses frames: it opens on its own
    (booking,) = site.bookings_of("ivy@example.org")
    assert booking["status"] == "accepted"


def test_the_dashboard_cannot_be_framed(page, site, host):
    page.goto(host)
    expect(
        page.frame_locator("#inline iframe").get_by_role("heading", name="Intro call")
    ).to_be_visible()
    answer = httpx.get(site.server.url + "/dashboard", follow_redirects=True)
    assert answer.url.path == "/login"
    assert re.search(r"frame-ancestors 'none'", answer.headers["Content-Security-Policy"])
    assert answer.headers["X-Frame-Options"] == "DENY"
    dashboard = page.locator("#dashboard").content_frame
    # Chromium shows its own error page instead of the refused one.
    expect(dashboard.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(dashboard.get_by_label("Password")).to_have_count(0)


def test_a_booking_inside_a_frame_on_another_site_works(page, site, host):
    # localhost and 127.0.0.1 are different sites, as acme.example and calmesh.example.
    open_host(page, host.replace("127.0.0.1", "localhost"))
    inline = page.frame_locator("#inline iframe")
    inline.locator(".times .slot").first.click()
    fill_details(inline, "Xena Crosssite", "xena@example.org")
    inline.get_by_role("button", name="Confirm booking").click()
    expect(inline.get_by_role("heading", name="You are booked")).to_be_visible(timeout=5_000)
