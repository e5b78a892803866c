"""Visitors in their own language, in a real Chromium at 1280×800 and 390×844: a
German browser books, adds the booking to a calendar and cancels it, all in
German; a French visitor switches to Spanish with the keyboard and keeps it
through the flow; axe-core finds no serious problem on any of those pages and
a phone needs no sideways scrolling. Screenshots are kept in the test's
temporary folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser_booking import (
    a_day,
    close_site,
    open_site,
    scroll_width,
    serious,
    tab_to,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]
SIZES = [(1280, 800), (390, 844)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    opened = open_site(tmp_path_factory.mktemp("languages"))
    yield opened
    close_site(opened)


def visit(browser, locale: str, zone: str, width: int, height: int):
    """A browser context of a visitor speaking ``locale``, and its page."""
    context = browser.new_context(
        locale=locale, timezone_id=zone, viewport={"width": width, "height": height}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def check(page: Page, width: int, shot) -> None:
    assert serious(page) == []
    assert scroll_width(page) <= width
    page.screenshot(path=str(shot), full_page=True)


@pytest.mark.parametrize("width, height", SIZES)
def test_a_german_visitor_books_adds_to_a_calendar_and_cancels_in_german(
    browser, site, width, height, tmp_path
):
    context, page = visit(browser, "de-DE", "Europe/Berlin", width, height)
    try:
        page.goto(f"{site.page_url}?date={a_day(9)}")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_role("heading", name=re.compile(r"\d{4}$")).first).to_be_visible()
        expect(page.locator(".times .slot").first).to_have_text("09:00")  # 24-hour German
        expect(page.locator("label[for='booker-tz-search']")).to_contain_text("Zeitzone")
        check(page, width, tmp_path / f"de-page-{width}.png")

        page.locator(".times .slot").nth(2).click()
        expect(page.get_by_role("heading", name="Ihre Angaben")).to_be_focused()
        page.get_by_label("Ihr Name").fill("Dora Deutsch")
        page.get_by_label("E-Mail").fill(f"dora{width}@example.org")
        page.get_by_label("Company").fill("Acme")
        check(page, width, tmp_path / f"de-form-{width}.png")
        page.get_by_role("button", name="Buchung bestätigen").click()

        expect(page.get_by_role("heading", name="Sie sind gebucht")).to_be_visible()
        added = page.get_by_role("group", name="Zum Kalender hinzufügen")
        expect(added.get_by_role("link", name=re.compile("^Google Kalender"))).to_have_attribute(
            "href", re.compile(r"^https://calendar\.google\.com/calendar/render\?action=TEMPLATE")
        )
        expect(added.get_by_role("link", name=re.compile("^Outlook.com"))).to_have_attribute(
            "href", re.compile(r"^https://outlook\.live\.com/calendar/0/deeplink/compose\?")
        )
        ics = added.get_by_role("link", name=".ics herunterladen").get_attribute("href")
        downloaded = page.request.get(site.server.url + ics)
        assert downloaded.headers["content-type"].startswith("text/calendar")
        assert "Bei Olivia Owner über CalMesh gebucht." in downloaded.text().replace("\r\n ", "")
        check(page, width, tmp_path / f"de-confirmed-{width}.png")

        page.get_by_role("link", name="Absagen", exact=True).click()
        expect(page.get_by_role("heading", name="Diese Buchung absagen")).to_be_visible()
        expect(page.get_by_role("heading", name="Neue Zeit wählen")).to_have_count(0)
        check(page, width, tmp_path / f"de-cancel-{width}.png")
        page.get_by_role("button", name="Buchung absagen").click()
        expect(page.get_by_role("status")).to_contain_text("Ihre Buchung ist abgesagt")
        expect(page.get_by_role("link", name="Einen anderen Termin buchen")).to_be_visible()
        check(page, width, tmp_path / f"de-cancelled-{width}.png")
    finally:
        context.close()


@pytest.mark.parametrize("width, height", SIZES)
def test_the_keyboard_switches_the_language_and_the_flow_keeps_it(
    browser, site, width, height, tmp_path
):
    context, page = visit(browser, "fr-FR", "Europe/Paris", width, height)
    try:
        page.goto(f"{site.page_url}?date={a_day(10)}")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.locator(".times .slot").first).to_be_visible()
        page.wait_for_load_state("networkidle")  # the zone detection's swap is done
        tab_to(page, "a[data-language='es']")
        page.keyboard.press("Enter")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.get_by_role("link", name="Español")).to_have_attribute("aria-current", "true")
        check(page, width, tmp_path / f"es-page-{width}.png")
        page.locator(".times .slot").first.click()
        expect(page.get_by_role("heading", name="Tus datos")).to_be_visible()
        # The choice outlives the page: a new visit in the same browser stays Spanish.
        page.goto(site.page_url)
        expect(page.locator("html")).to_have_attribute("lang", "es")
    finally:
        context.close()


def test_on_a_phone_a_tapped_day_scrolls_to_its_times(browser, site):
    context, page = visit(browser, "en-GB", "Europe/Berlin", 390, 844)
    try:
        page.goto(f"{site.page_url}?date={a_day(9)}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.scrollY") == 0
        page.locator("a.day.open:not(.selected)").last.click()
        expect(page.locator("a.day.selected")).to_have_count(1)
        # Scrolled until the times are at the top, or as far as the page goes.
        moved = """() => { const top = document.querySelector('.booker-times')
            .getBoundingClientRect().top; const end = document.scrollingElement;
            return top < 100 || Math.ceil(scrollY + innerHeight) >= end.scrollHeight; }"""
        for _ in range(50):  # a smooth scroll: poll until it is done
            if page.evaluate(moved) and page.evaluate("() => scrollY") > 0:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("() => scrollY") > 0 and page.evaluate(moved)
        expect(page.locator("#times-title")).to_be_in_viewport()
        expect(page.locator(".times .slot").first).to_be_in_viewport()
    finally:
        context.close()


def test_the_zone_hint_writes_a_12_hour_time_as_the_language_does(browser, site):
    context, page = visit(browser, "es-ES", "Europe/Madrid", 390, 844)
    try:
        page.goto(f"{site.page_url}?date={a_day(9)}&tz=Europe/Madrid&clock=12")
        hint = page.locator("#booker-tz-hint")
        # "UTC+01:00, ahora son las 2:15 p. m. Escribe…": the language's own "p. m.",
        # spaced as on the slots, and the sentence ends once.
        expect(hint).to_have_text(re.compile(r"ahora son las \d{1,2}:\d\d\s[ap]\.\s?m\. Escribe"))
        expect(page.locator(".times .slot").first).to_have_text(
            re.compile(r"\d:\d\d\s[ap]\.\s?m\.")
        )
    finally:
        context.close()


@pytest.mark.parametrize("locale, zone", [("de-DE", "Europe/Berlin"), ("fr-FR", "Europe/Paris")])
def test_keyboard_alone_books_cancels_and_books_again_in_the_language_and_clock(
    browser, site, locale, zone
):
    """12 hours chosen where the language reads 24: kept from the first page to the
    one after cancelling, with the keyboard alone on a phone."""
    lang = locale[:2]
    twelve_hours = re.compile(r"\d:\d\d\s?(AM|PM)", re.I)
    context, page = visit(browser, locale, zone, 390, 844)
    try:
        page.goto(f"{site.page_url}?date={a_day(12)}&tz={zone}&clock=12")
        expect(page.locator(".times .slot").first).to_have_text(twelve_hours)
        page.wait_for_load_state("networkidle")
        tab_to(page, ".times .slot")
        page.keyboard.press("Enter")
        expect(page.locator("#form-title")).to_be_focused()
        page.keyboard.press("Tab")
        page.keyboard.type("Kai Tasten")
        page.keyboard.press("Tab")
        page.keyboard.type(f"kai-{lang}@example.org")
        page.keyboard.press("Tab")
        page.keyboard.type("Acme")
        page.keyboard.press("Enter")

        expect(page.locator(".confirmation .when")).to_have_text(twelve_hours)
        tab_to(page, "a.cancel-link")
        page.keyboard.press("Enter")
        expect(page.locator(".manage .when")).to_have_text(twelve_hours)
        tab_to(page, "button.danger")
        page.keyboard.press("Enter")
        expect(page.locator("a.book-again")).to_be_visible()
        expect(page.locator(".manage .when")).to_have_text(twelve_hours)
        assert serious(page) == []
        tab_to(page, "a.book-again")
        page.keyboard.press("Enter")
        expect(page.locator(".times .slot").first).to_have_text(twelve_hours)
        expect(page.locator("html")).to_have_attribute("lang", lang)
    finally:
        context.close()
