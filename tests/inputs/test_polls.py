"""Polls' input, declared once: REST, the dashboard and the public page, MCP tools."""

from __future__ import annotations

import pytest

from calmesh.inputs import polls as inputs
from calmesh.schema import Invalid
from calmesh.services import polls as service
from tests.inputs.declared import advertised, assert_body, assert_query_fields, declared


def test_the_rest_routes_parse_with_these_declarations():
    assert_body("POST", "/polls", inputs.NEW_POLL)
    assert_body("PATCH", "/polls/{poll_id}", inputs.POLL_PATCH)
    assert_body("POST", "/polls/{poll_id}/decide", inputs.DECIDE)
    assert_body("POST", "/polls/{poll_id}/votes", inputs.NEW_VOTE)
    assert_body("PATCH", "/polls/{poll_id}/votes/{participant_id}", inputs.EDIT_VOTE)
    assert_body("POST", "/polls/{poll_id}/comments", inputs.NEW_COMMENT)
    assert_query_fields("GET", "/polls", inputs.POLL_FILTERS)
    assert_query_fields("GET", "/polls/{poll_id}/public", inputs.PUBLIC_QUERY.fields)


def test_the_public_page_checks_names_with_the_same_object():
    assert service.NAME is inputs.NAME is inputs.NEW_VOTE.fields["name"]
    assert inputs.NEW_COMMENT.fields["body"] is inputs.COMMENT


def test_the_mcp_tools_advertise_the_same_limits():
    for key in ("title", "description", "location", "zone_mode", "duration", "calendar"):
        assert advertised("calmesh_create_poll", key) == declared(inputs.SETTINGS[key]), key
    assert advertised("calmesh_decide_poll", "option_id") == declared(inputs.OPTION_ID)
    assert advertised("calmesh_list_polls", "status") == declared(inputs.POLL_FILTERS["status"])
    options = inputs.SETTINGS["options"]
    assert advertised("calmesh_create_poll", "options")["maxItems"] == options.max_items


def test_votes_take_only_the_known_values():
    with pytest.raises(Invalid) as exc:
        inputs.VOTES.parse([{"option_id": 1, "value": "maybe"}])
    assert exc.value.details[0]["field"] == "[0].value"
