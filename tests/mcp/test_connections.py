"""calmesh.mcp.connections: calendar connections as tools: what an agent reads of
a connection, connecting an iCal feed (checked before anything is stored), the
fields each kind needs, syncing and removing."""

from __future__ import annotations

import pytest

from calmesh.mcp.connections import CONSENT_KINDS, CREDENTIAL_KINDS, REQUIRED
from calmesh.models import Connection
from calmesh.providers import registry
from tests.factories import make_connection
from tests.mcp.conftest import text
from tests.providers.feeds import FeedServer

pytestmark = pytest.mark.anyio

FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:holiday@test
DTSTART;VALUE=DATE:20300101
DTEND;VALUE=DATE:20300102
SUMMARY:Holiday
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def feed_url():
    with FeedServer() as feeds:
        feeds.set("holidays.ics", FEED)
        yield feeds.url_for("holidays.ics")


async def test_an_ical_feed_is_checked_then_connected_read_only(tools, alice, feed_url):
    async with tools(alice) as agent:
        answer = await agent.call(
            "calmesh_start_credential_connection", provider="ics", name="Holidays", url=feed_url
        )

    assert not answer.is_error, text(answer)
    connection = answer.structured_content
    (calendar,) = connection["calendars"]
    assert text(answer).startswith(
        f"Connected:\n- {connection['id']}: 'Holidays' (ics), status {connection['status']}, "
        "last sync never; calendars: "
    )
    assert f"(id {calendar['id']}, read-only)" in text(answer)
    assert Connection.get_by_id(connection["id"]).user_id == alice.id


async def test_a_dead_feed_is_refused_and_nothing_is_stored(tools, alice, feed_url):
    async with tools(alice) as agent:
        refused = await agent.refused(
            "calmesh_start_credential_connection",
            provider="ics",
            name="Gone",
            url=feed_url.replace("holidays.ics", "missing.ics"),
        )

    assert refused.startswith("CalMesh refused (HTTP 4")
    assert not Connection.select().exists()


async def test_each_credential_kind_is_told_the_fields_it_lacks(tools, alice):
    async with tools(alice) as agent:
        refusals = {
            kind: await agent.refused(
                "calmesh_start_credential_connection", provider=kind, name="x"
            )
            for kind in CREDENTIAL_KINDS
            if REQUIRED[kind]
        }

    assert set(refusals) >= {"caldav", "ics"}
    for kind, refused in refusals.items():
        for field in REQUIRED[kind]:
            assert f"{field}: is required for {kind}" in refused, kind
    assert not Connection.select().exists()


async def test_the_connect_tools_offer_exactly_the_registrys_kinds(tools, alice):
    async with tools(alice) as agent:
        listed = {t.name: t for t in (await agent.client.list_tools()).tools}

    oauth = listed["calmesh_start_oauth_connection"].input_schema["properties"]["provider"]
    credential = listed["calmesh_start_credential_connection"].input_schema["properties"]
    assert oauth["enum"] == CONSENT_KINDS == registry.kinds(consent=True)
    assert credential["provider"]["enum"] == CREDENTIAL_KINDS
    assert set(CONSENT_KINDS) | set(CREDENTIAL_KINDS) == set(registry.INTEGRATIONS)
    for kind in CREDENTIAL_KINDS:
        assert (
            f"{kind}: {registry.INTEGRATIONS[kind].mcp_help}"
            in credential["provider"]["description"]
        )


async def test_a_connection_is_described_with_its_calendars_and_last_error(tools, alice):
    broken = make_connection(alice, name="Work", calendars=2)
    Connection.update(status="error", last_error="401 Unauthorized").execute()
    first, second = broken.calendars
    second.enabled = False
    second.save()

    async with tools(alice) as agent:
        status = await agent.call("calmesh_check_connection_status", connection_id=broken.id)
        listed = await agent.call("calmesh_list_connections")

    line = (
        f"- {broken.id}: 'Work' (caldav), status error, last sync never; last error: "
        f"401 Unauthorized; calendars: Work 0 (id {first.id}), Work 1 (id {second.id}, disabled)"
    )
    assert line in text(status)
    assert line in text(listed) and text(listed).startswith("1 connection(s):")


async def test_a_sync_is_requested_and_a_removed_connection_is_gone(tools, alice, bob):
    mine = make_connection(alice)
    theirs = make_connection(bob, name="Bob's")
    async with tools(alice) as agent:
        synced = await agent.call("calmesh_sync_connection", connection_id=mine.id)
        removed = await agent.call("calmesh_remove_connection", connection_id=mine.id)
        other = await agent.refused("calmesh_remove_connection", connection_id=theirs.id)
        empty = await agent.call("calmesh_list_connections")

    assert not synced.is_error, text(synced)
    assert text(synced).startswith(f"Sync requested:\n- {mine.id}: 'Work' (caldav)")
    assert text(removed).startswith(f"Removed connection {mine.id}.")
    assert "HTTP 404" in other and Connection.get_or_none(Connection.id == theirs.id)
    assert not Connection.select().where(Connection.user == alice).exists()
    assert text(empty).startswith("No calendar connections yet.")
