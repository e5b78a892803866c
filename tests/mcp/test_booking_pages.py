"""calmesh.mcp.booking_pages: the owner's booking pages as tools (list, get, create,
update, delete), through the MCP client against the REST API."""

from __future__ import annotations

import pytest

from calmesh.mcp.booking_pages import NULLABLE, SETTING_NAMES
from calmesh.models import BookingPage
from calmesh.services import calendars
from tests.mcp.conftest import text

pytestmark = pytest.mark.anyio


@pytest.fixture
def work(alice):
    return calendars.create(alice, "work", "Work", "Europe/Berlin")


async def test_a_page_made_with_its_settings_is_listed_and_read_back(tools, alice, work):
    async with tools(alice) as agent:
        made = await agent.call(
            "calmesh_create_booking_page",
            slug="intro",
            title="Intro call",
            calendar="work",
            timezone="Europe/Berlin",
            durations=[30, 60],
            weekly_hours={"mon": [["09:00", "12:00"]], "fri": [["09:00", "13:00"]]},
            requires_confirmation=True,
            daily_limit=3,
        )
        listed = await agent.call("calmesh_list_booking_pages")
        got = await agent.ok("calmesh_get_booking_page", booking_page="intro")

    assert not made.is_error, text(made)
    page = made.structured_content
    assert (page["durations"], page["daily_limit"], page["requires_confirmation"]) == (
        [30, 60],
        3,
        True,
    )
    assert page["url"].endswith("/alice/intro")
    line = (
        "- intro: 'Intro call', 30/60 min, calendar work, Europe/Berlin, open mon, fri, "
        f"needs confirmation; share {page['url']}"
    )
    assert text(made).startswith("Created booking page:\n" + line)
    assert text(listed).startswith("1 booking page(s):\n" + line)
    assert got == page
    assert BookingPage.get(BookingPage.slug == "intro").user_id == alice.id


async def test_update_changes_what_is_given_clears_what_is_named_and_renames(tools, alice, work):
    async with tools(alice) as agent:
        await agent.ok(
            "calmesh_create_booking_page",
            slug="intro",
            title="Intro call",
            calendar="work",
            timezone="UTC",
            daily_limit=3,
            window_days=30,
        )
        changed = await agent.call(
            "calmesh_update_booking_page",
            booking_page="intro",
            new_slug="hello",
            active=False,
            clear=["daily_limit", "window_days"],
        )
        gone = await agent.refused("calmesh_get_booking_page", booking_page="intro")

    assert not changed.is_error, text(changed)
    page = changed.structured_content
    assert (page["slug"], page["active"], page["title"]) == ("hello", False, "Intro call")
    assert page["daily_limit"] is None and page["window_days"] is None
    assert ", inactive; share " in text(changed)
    assert "HTTP 404 not_found" in gone


async def test_weekly_hours_replace_the_whole_week(tools, alice, work):
    async with tools(alice) as agent:
        await agent.ok(
            "calmesh_create_booking_page", slug="intro", title="t", calendar="work", timezone="UTC"
        )
        page = await agent.ok(
            "calmesh_update_booking_page",
            booking_page="intro",
            weekly_hours={"sat": [["10:00", "12:00"]]},
        )

    assert {day for day, hours in page["weekly_hours"].items() if hours} == {"sat"}


async def test_deleting_a_page_says_so_and_the_page_is_gone(tools, alice, work):
    async with tools(alice) as agent:
        await agent.ok(
            "calmesh_create_booking_page", slug="intro", title="t", calendar="work", timezone="UTC"
        )
        deleted = await agent.call("calmesh_delete_booking_page", booking_page="intro")
        empty = await agent.call("calmesh_list_booking_pages")

    assert text(deleted).startswith("Deleted booking page 'intro'.")
    assert deleted.structured_content["deleted"] is True
    assert text(empty).startswith("No booking pages yet.")
    assert not BookingPage.select().exists()


async def test_a_long_list_tells_the_agent_how_to_get_the_next_page(tools, alice, work):
    async with tools(alice) as agent:
        for slug in ("one", "two"):
            await agent.ok(
                "calmesh_create_booking_page",
                slug=slug,
                title=slug,
                calendar="work",
                timezone="UTC",
            )
        first = await agent.call("calmesh_list_booking_pages", limit=1)
        cursor = first.structured_content["next_cursor"]
        second = await agent.ok("calmesh_list_booking_pages", limit=1, cursor=cursor)

    assert f"More results: call again with cursor={cursor!r}." in text(first)
    assert [p["slug"] for p in first.structured_content["data"] + second["data"]] == ["one", "two"]
    assert second["has_more"] is False


async def test_another_owners_page_is_not_found_by_its_slug(tools, alice, bob, work):
    async with tools(alice) as agent:
        await agent.ok(
            "calmesh_create_booking_page", slug="intro", title="t", calendar="work", timezone="UTC"
        )
    async with tools(bob) as agent:
        refused = await agent.refused("calmesh_delete_booking_page", booking_page="intro")

    assert "HTTP 404 not_found" in refused
    assert BookingPage.select().count() == 1


async def test_every_setting_is_a_parameter_and_clear_offers_the_nullable_ones(tools, alice):
    async with tools(alice) as agent:
        listed = {t.name: t for t in (await agent.client.list_tools()).tools}

    create = listed["calmesh_create_booking_page"].input_schema
    update = listed["calmesh_update_booking_page"].input_schema
    assert set(create["properties"]) == {"slug", *SETTING_NAMES}
    assert set(create["required"]) == {"slug", "title", "calendar", "timezone"}
    assert set(update["properties"]) == {"booking_page", "new_slug", "clear", *SETTING_NAMES}
    assert update["required"] == ["booking_page"]
    assert update["properties"]["clear"]["items"]["enum"] == list(NULLABLE)
