"""A booking page's settings, declared once: REST create/update, slots query, MCP tools."""

from __future__ import annotations

import pytest

from calmesh.inputs import booking_pages as inputs
from calmesh.schema import MAX_SLOT_DAYS, Invalid
from calmesh.services import booking_pages as service
from tests.inputs.declared import advertised, assert_body, assert_query_fields, declared


def test_the_rest_routes_parse_with_these_declarations():
    assert_body("POST", "/booking-pages", inputs.NEW_PAGE)
    assert_body("PATCH", "/booking-pages/{slug}", inputs.PAGE_PATCH)
    for path in ("/booking-pages/{slug}/slots", "/public/{handle}/{slug}/slots"):
        assert_query_fields("GET", path, inputs.SLOTS_QUERY.fields)
    assert f"{MAX_SLOT_DAYS} days" in inputs.SLOTS_QUERY.fields["end"].description


def test_the_service_and_the_dashboard_see_the_same_objects():
    assert service.NEW_PAGE is inputs.NEW_PAGE and service.SETTINGS is inputs.SETTINGS


def test_every_setting_is_a_checked_mcp_parameter():
    for key in ("title", "buffer_before", "window_days", "questions", "weekly_hours"):
        for tool in ("calmesh_create_booking_page", "calmesh_update_booking_page"):
            assert advertised(tool, key) == declared(inputs.SETTINGS[key]), (tool, key)


def test_a_new_page_needs_its_four_settings_and_a_change_none():
    with pytest.raises(Invalid) as exc:
        inputs.NEW_PAGE.parse({})
    missing = {d["field"] for d in exc.value.details}
    assert missing == {"slug", "title", "calendar", "timezone"}
    assert inputs.PAGE_PATCH.parse({}) == {}
