"""Webhooks' input, declared once: REST and the dashboard's form."""

from __future__ import annotations

import pytest

from calmesh.inputs import webhooks as inputs
from calmesh.models.webhooks import EVENTS
from calmesh.schema import Invalid
from tests.inputs.declared import assert_body


def test_the_rest_routes_parse_with_these_declarations():
    assert_body("POST", "/webhooks", inputs.NEW_WEBHOOK)
    assert_body("PATCH", "/webhooks/{webhook_id}", inputs.WEBHOOK_PATCH)


def test_a_subscription_names_known_events_and_an_http_url():
    parsed = inputs.NEW_WEBHOOK.parse({"url": "https://x.example/h", "events": list(EVENTS)})
    assert parsed["active"] is True
    with pytest.raises(Invalid) as exc:
        inputs.NEW_WEBHOOK.parse({"url": "ftp://x", "events": ["booking.eaten"]})
    assert {d["field"] for d in exc.value.details} == {"url", "events[0]"}
    assert inputs.WEBHOOK_PATCH.parse({}) == {"rotate_secret": False}
