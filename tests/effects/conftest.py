"""The delivery context the scheduler would hand a kind's module, built from
the app's settings as they are when it is used (a test may change them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from calmesh.effects import delivery
from calmesh.effects.outbox import Context
from calmesh.urls import links
from tests.providers import conftest as dav_fixtures

# The session's Radicale (tests/providers/conftest.py), used here by name.
radicale = dav_fixtures.radicale


@pytest.fixture
def context(app) -> Callable[[], Context]:
    """``context()``: the Context of the app's current settings."""

    def build() -> Context:
        with app.test_request_context():
            return Context(settings=app.config["CALMESH"], links=links())

    return build


@pytest.fixture
def deliver_due(context) -> Callable[..., int]:
    """``deliver_due(now=...)``: deliver every due item, one after another."""
    return lambda limit=50, now=None: delivery.process_due(context(), limit, now)


@pytest.fixture
def dav_work(app, alice, radicale):
    """alice's calendar "work", its one source a fresh Radicale calendar:
    (calendar, the Radicale calendar's URL, the server)."""
    from calmesh.services import calendars, connections
    from tests.settings import cfg

    url = radicale.new_calendar("Work")
    connection = connections.create_with_credentials(
        alice, "caldav", "Radicale", radicale.url, radicale.username, radicale.password,
        settings=cfg(),
    )  # fmt: skip
    calendar = calendars.create(alice, "work", "Work", "Europe/Berlin")
    remote = next(c for c in connection.calendars if c.remote_id == url)
    calendars.add_source(calendar, connection.id, remote.id)
    return calendar, url, radicale


def events_at(radicale, url: str) -> list:
    """The VEVENTs in the Radicale calendar at ``url``, as another client sees them."""
    import caldav
    import icalendar

    with radicale.client() as client:
        calendar = caldav.Calendar(client=client, url=url)
        return [
            e
            for obj in calendar.events()
            for e in icalendar.Calendar.from_ical(obj.data).walk("VEVENT")
        ]
