"""Two hosts on one database, as README's two-host deployment sets them up: two
``serve`` processes with their own data folders, one shared database (one
PostgreSQL in CI; one SQLite file on the SQLite run) and one shared secret key,
each running its embedded scheduler.

Bookings split across both never double-book; every side effect happens
exactly once (mails counted by Message-ID at a real SMTP server, webhooks by
delivery id at a real receiver); a session cookie and a visitor's link made by
host A are accepted by host B.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import PG_URL, fresh_database_url, start_server, stop_server, wait_until
from tests.smtp import start_smtp_server
from tests.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

PASSWORD = "two-hosts-pass-123"
SLOTS = 12
EVERY_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def pending_outbox_items(database_url: str) -> int:
    sql = "SELECT COUNT(*) FROM outbox_item WHERE status = 'pending'"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchone()[0]
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def hosts(tmp_path):
    with start_smtp_server() as smtp:
        database_url = fresh_database_url(tmp_path)
        shared = {
            "CALMESH_DATABASE_URL": database_url,
            "CALMESH_SECURITY_SECRET_KEY": "one-key-copied-to-every-host-0123456789",
            "CALMESH_MAIL_HOST": smtp.host,
            "CALMESH_MAIL_PORT": str(smtp.port),
            "CALMESH_MAIL_SECURITY": "none",
            "CALMESH_API_PUBLIC_BOOK_PER_MINUTE": "100000",
        }
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
        a = start_server(tmp_path / "a", workers=2, **shared)
        try:
            b = start_server(tmp_path / "b", workers=2, **shared)
            try:
                yield a, b, smtp, database_url
            finally:
                stop_server(b)
        finally:
            stop_server(a)


def test_two_hosts_share_bookings_side_effects_sessions_and_links(hosts, web_login):
    a, b, smtp, database_url = hosts
    assert not PG_URL or database_url.startswith("postgres")
    done = a.cli("create-user", "--email", "two@example.org", "--handle", "two",
                 "--password", PASSWORD)  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = a.cli("create-api-key", "--user", "two", "--scope", "full").stdout.split()[-1]
    owner = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    with Receiver() as receiver, owner:
        hook = owner.post("/api/v1/webhooks", json={"url": receiver.url,
                                                    "events": ["booking.created",
                                                               "booking.cancelled"]})  # fmt: skip
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        assert owner.post("/api/v1/calendars",
                          json={"slug": "main", "name": "Main", "timezone": "UTC"}).status_code == 201  # fmt: skip
        page = owner.post("/api/v1/booking-pages", json={
            "slug": "shared", "title": "Call", "calendar": "main", "timezone": "UTC",
            "duration": 30, "min_notice": 0, "weekly_hours": EVERY_DAY})  # fmt: skip
        assert page.status_code == 201, page.text

        # Every slot is asked for on both hosts at once: exactly one wins it.
        day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=8, minute=0, second=0,
                                                              microsecond=0)  # fmt: skip
        slots = [day + timedelta(minutes=30 * i) for i in range(SLOTS)]
        # Each host reads the page's slots first, so neither meets the race cold: a
        # worker's first request fills its caches and would lose every slot.
        for host in (a, b):
            for _ in range(3):  # the workers of a host take turns
                warm = httpx.get(host.url + "/two/shared", timeout=60)
                assert warm.status_code == 200, warm.text
        results: list[tuple[int, str, int]] = []
        lock = threading.Lock()
        barrier = threading.Barrier(2 * SLOTS)

        def visitor(i: int, host) -> None:
            with httpx.Client(base_url=host.url, timeout=60) as client:
                barrier.wait()
                answer = client.post("/api/v1/booking-pages/shared/book", json={
                    "start": slots[i].isoformat(),
                    "attendee": {"name": f"Visitor {i}", "email": f"v{i}@example.net"}})  # fmt: skip
            with lock:
                results.append((i, host.url, answer.status_code))

        threads = [
            threading.Thread(target=visitor, args=(i, h)) for i in range(SLOTS) for h in (a, b)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        per_slot = Counter(i for i, _, code in results if code == 201)
        assert per_slot == Counter(range(SLOTS)), results
        assert {code for _, _, code in results} <= {201, 409}
        winners = Counter(url for _, url, code in results if code == 201)
        assert set(winners) == {a.url, b.url}, f"both hosts took bookings: {winners}"

        # Every mail and webhook exactly once, whichever host's scheduler sent it.
        wait_until(lambda: len(smtp.messages) >= 2 * SLOTS, timeout=120, what="the mails")
        wait_until(lambda: len(receiver.accepted) >= SLOTS, timeout=120, what="the webhooks")
        wait_until(lambda: pending_outbox_items(database_url) == 0, timeout=120,
                   what="an empty outbox")  # fmt: skip
        ids = Counter(m.message["Message-ID"] for m in smtp.messages)
        assert len(ids) == 2 * SLOTS and set(ids.values()) == {1}, "each mail once"
        assert receiver.duplicates == [] and len(receiver.accepted) == SLOTS

        # A session cookie from A signs in on B.
        session = web_login(a, "two", PASSWORD)
        me = httpx.get(b.url + "/api/v1/me", cookies=session.cookies)
        assert me.status_code == 200 and me.json()["handle"] == "two"

        # A visitor's link mailed by A's scheduler (or B's) cancels on B.
        confirmation = next(m for m in smtp.messages if m.rcpt_tos == ["v0@example.net"])
        text = confirmation.message.get_body(("plain",)).get_content()
        link = re.search(r"To cancel: (\S+)", text).group(1)
        parts = urlsplit(link)
        uid = parts.path.rstrip("/").split("/")[-2]  # /b/<uid>/cancel
        token = parse_qs(parts.query)["token"][0]
        shown = httpx.get(b.url + parts.path, params={"token": token})
        assert shown.status_code == 200, shown.text[:300]
        cancelled = httpx.patch(b.url + f"/api/v1/bookings/{uid}/cancel", json={"token": token})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"

        wait_until(lambda: len(receiver.accepted) >= SLOTS + 1, timeout=60, what="the cancel")
        wait_until(lambda: pending_outbox_items(database_url) == 0, timeout=60,
                   what="an empty outbox")  # fmt: skip
        assert receiver.duplicates == [] and len(receiver.accepted) == SLOTS + 1
        ids = Counter(m.message["Message-ID"] for m in smtp.messages)
        assert len(ids) == 2 * SLOTS + 2 and set(ids.values()) == {1}

    for host in (a, b):
        assert httpx.get(host.url + "/api/health").json()["scheduler"]["ok"] is True
        assert "Traceback" not in host.log()
