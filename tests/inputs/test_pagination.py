"""A page of a list, declared once: every list endpoint and every MCP list tool."""

from __future__ import annotations

from calmesh.inputs.pagination import MAX_LIMIT, PAGE_QUERY
from tests.inputs.declared import advertised, assert_query_fields, declared, tool_schemas


def test_every_list_endpoint_pages_with_it():
    for path in ("/bookings", "/polls", "/calendars", "/booking-pages", "/webhooks", "/api-keys"):
        assert_query_fields("GET", path, PAGE_QUERY)


def test_every_mcp_list_tool_advertises_the_same_page_size_and_cursor():
    listing = [name for name, schema in tool_schemas().items() if "cursor" in schema["properties"]]
    assert "calmesh_list_bookings" in listing
    for name in listing:
        assert advertised(name, "limit") == declared(PAGE_QUERY["limit"]), name
        assert advertised(name, "cursor") == declared(PAGE_QUERY["cursor"]), name
    assert PAGE_QUERY["limit"].maximum == MAX_LIMIT
