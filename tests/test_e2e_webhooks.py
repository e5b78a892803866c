"""End to end: a real ``python -m calmesh serve`` (its embedded scheduler runs
the outbox every 5 seconds) and a real receiver. A webhook created over REST
hears of a booking made on the public endpoint within seconds, signed so that
the README's check passes, without anyone calling the outbox by hand."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server, stop_server
from tests.webhook_receiver import Receiver, verify_signature

pytestmark = [
    pytest.mark.slow,
    # conftest.start_server leaks its log file object (see the report); nothing else.
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

PASSWORD = "hooked-pass-123"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def server(tmp_path):
    live = start_server(tmp_path, workers=2, CALMESH_SCHEDULER_HEARTBEAT_SECONDS="1")
    try:
        yield live
    finally:
        stop_server(live)


def test_a_public_booking_reaches_the_receiver_signed(server):
    done = server.cli(
        "create-user", "--email", "hooked@example.org", "--handle", "hooked",
        "--password", PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = server.cli("create-api-key", "--user", "hooked", "--scope", "full")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    owner = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    visitor = httpx.Client(base_url=server.url, timeout=30)

    with Receiver() as receiver, owner, visitor:
        created = owner.post(
            "/api/v1/webhooks", json={"url": receiver.url, "events": ["booking.created"]}
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        every_day = {day: [["00:00", "24:00"]] for day in DAYS}
        calendar = {"slug": "main", "name": "Main", "timezone": "UTC"}
        assert owner.post("/api/v1/calendars", json=calendar).status_code == 201
        page = owner.post(
            "/api/v1/booking-pages",
            json={"slug": "hooked-call", "title": "Call", "calendar": "main", "timezone": "UTC",
                  "duration": 30, "min_notice": 0, "weekly_hours": every_day},
        )  # fmt: skip
        assert page.status_code == 201, page.text
        slots = visitor.get("/api/v1/booking-pages/hooked-call/slots").json()["dates"]
        start = next(s["start"] for day in slots.values() for s in day)

        booked = visitor.post(
            "/api/v1/booking-pages/hooked-call/book",
            json={"start": start,
                  "attendee": {"name": "Vera", "email": "vera@example.net", "timezone": "UTC"}},
        )  # fmt: skip
        assert booked.status_code == 201, booked.text

        (got,) = receiver.wait_for(1, timeout=20)

    assert got.verified
    assert verify_signature(receiver.secret, got.headers["x-calmesh-signature"], got.body)
    assert got.headers["x-calmesh-event"] == "booking.created"
    assert got.json["data"]["uid"] == booked.json()["id"]
    log = httpx.get(
        f"{server.url}/api/v1/webhooks/{created.json()['id']}/deliveries",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["data"]
    assert [(d["event"], d["status"], d["delivery_id"]) for d in log] == [
        ("booking.created", "delivered", got.delivery_id)
    ]
