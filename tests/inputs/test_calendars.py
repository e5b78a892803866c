"""Unified calendars' input, declared once: REST, the dashboard's form, MCP tools."""

from __future__ import annotations

import pytest

from calmesh.inputs import calendars as inputs
from calmesh.models.calendars import FEED_MODES
from calmesh.schema import Invalid
from tests.inputs.declared import advertised, assert_body, assert_query_fields, declared


def test_the_rest_routes_parse_with_these_declarations():
    assert_body("POST", "/calendars", inputs.NEW_CALENDAR)
    assert_body("PATCH", "/calendars/{slug}", inputs.CALENDAR_PATCH)
    assert_body("POST", "/calendars/{slug}/sources", inputs.NEW_SOURCE)
    assert_body("PATCH", "/calendars/{slug}/sources/reorder", inputs.SOURCE_ORDER)
    assert_body("POST", "/calendars/{slug}/events", inputs.NEW_EVENT)
    assert_query_fields("DELETE", "/calendars/{slug}/events", inputs.EVENT_REF.fields)
    for path in ("/calendars/{slug}/events", "/calendars/{slug}/conflicts"):
        assert_query_fields("GET", path, inputs.RANGE_QUERY.fields)
    assert_query_fields("GET", "/calendars/{slug}/availability", inputs.AVAILABILITY_QUERY.fields)


def test_the_mcp_tools_advertise_the_same_limits():
    event = inputs.NEW_EVENT.fields
    for key in ("summary", "description", "location", "uid", "source_id"):
        assert advertised("calmesh_create_event", key) == declared(event[key]), key
    assert advertised("calmesh_delete_event", "uid") == declared(inputs.EVENT_REF.fields["uid"])
    name = declared(inputs.NEW_CALENDAR.fields["name"])
    assert advertised("calmesh_create_calendar", "name") == name
    assert advertised("calmesh_manage_calendar", "name") == name
    assert advertised("calmesh_manage_calendar", "feed_mode") == declared(
        inputs.CALENDAR_PATCH.fields["feed_mode"]
    )


def test_the_feed_modes_are_the_models_and_off():
    assert inputs.CALENDAR_PATCH.fields["feed_mode"].values == ("off", *FEED_MODES)
    with pytest.raises(Invalid):
        inputs.CALENDAR_PATCH.parse({"feed_mode": "public"})


def test_the_source_order_is_checked_as_the_reorder_endpoint_checks_it():
    assert advertised("calmesh_manage_calendar", "source_order") == declared(
        inputs.SOURCE_ORDER.fields["source_ids"]
    )
