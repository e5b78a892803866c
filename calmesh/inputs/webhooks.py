"""Webhooks: the URL and the events a subscription receives."""

from __future__ import annotations

from calmesh.models.webhooks import EVENTS
from calmesh.schema import Boolean, Choice, List, Object, Url

URL = Url(description="Receives a POST of each event")
EVENT_LIST = List(
    Choice(*EVENTS), min_items=1, max_items=len(EVENTS), description="The events to receive"
)

NEW_WEBHOOK = Object(
    {
        "url": URL,
        "events": EVENT_LIST,
        "active": Boolean(default=True, description="A paused webhook receives nothing"),
    },
    name="NewWebhook",
)
WEBHOOK_PATCH = Object(
    {
        "url": URL,
        "events": EVENT_LIST,
        "active": Boolean(description="A paused webhook receives nothing"),
        "rotate_secret": Boolean(
            default=False, description="Replace the secret; the new one is answered once"
        ),
    },
    name="WebhookUpdate",
    required=(),
)
