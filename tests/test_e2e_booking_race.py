"""No double booking under real concurrency: many visitors, a real `serve` with
several workers, the same few slots — on whichever engine this run uses."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(
        tmp_path_factory.mktemp("race"),
        workers=4,
        CALMESH_API_PUBLIC_BOOK_PER_MINUTE="100000",
        CALMESH_API_RATE_LIMIT_PER_MINUTE="100000",
    )
    yield live
    stop_server(live)


def test_concurrent_bookings_of_the_same_slots_have_exactly_one_winner_each(server):
    assert (
        server.cli(
            "create-user",
            "--email",
            "owner@example.org",
            "--handle",
            "owner",
            "--password",
            "owner-password-1",
        ).returncode
        == 0
    )
    key = (
        server.cli("create-api-key", "--user", "owner", "--scope", "full")
        .stdout.strip()
        .splitlines()[-1]
    )
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert (
        api.post(
            "/api/v1/calendars", json={"slug": "c", "name": "C", "timezone": "Europe/Berlin"}
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/api/v1/booking-pages",
            json={
                "slug": "race",
                "title": "Race",
                "calendar": "c",
                "timezone": "Europe/Berlin",
                "duration": 30,
                "min_notice": 0,
            },
        ).status_code
        == 201
    )

    zone = ZoneInfo("Europe/Berlin")
    day = datetime.now(zone).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slots = [
        datetime(day.year, day.month, day.day, 9, tzinfo=zone) + timedelta(minutes=30 * i)
        for i in range(6)
    ]
    attempts_per_slot = 8
    results: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(slots) * attempts_per_slot)

    def visitor(slot_index: int, n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            barrier.wait()
            response = client.post(
                "/api/v1/booking-pages/race/book",
                json={
                    "start": slots[slot_index].isoformat(),
                    "attendee": {
                        "name": f"Visitor {slot_index}-{n}",
                        "email": f"v{slot_index}-{n}@example.net",
                    },
                },
            )
        with lock:
            results.append((slot_index, response.status_code))

    threads = [
        threading.Thread(target=visitor, args=(i, n))
        for i in range(len(slots))
        for n in range(attempts_per_slot)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    by_slot = {i: Counter(code for s, code in results if s == i) for i in range(len(slots))}
    for i, counts in by_slot.items():
        assert counts == Counter({201: 1, 409: attempts_per_slot - 1}), (
            i,
            counts,
            server.log()[-3000:],
        )
    listed = api.get("/api/v1/bookings?limit=200").json()["data"]
    assert sorted(b["start"] for b in listed) == sorted(
        s.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ") for s in slots
    )
    assert "Traceback" not in server.log()
