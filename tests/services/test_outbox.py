"""The outbox: lanes that deliver concurrently yet in order per key, short
leases renewed while working, retries that outlast a day's outage (an injected
clock), and a Message-ID that stays the same on every retry."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from calmesh.auth import crypto
from calmesh.config import Config
from calmesh.db import utcnow
from calmesh.effects import mail, outbox
from calmesh.effects.kinds import KINDS
from calmesh.jobs.outbox import deliver_lane, process_due
from calmesh.models import MailMessage, OutboxItem
from calmesh.services.mail import Mail


def configure(monkeypatch, app, values: dict) -> None:
    monkeypatch.setitem(
        app.config, "CALMESH", Config({**app.config["CALMESH"].as_dict(), **values})
    )


@pytest.fixture
def probe(monkeypatch):
    """A handler kind ``test.probe`` in the webhooks lane that records each run."""
    runs: list[tuple[str, float, float]] = []  # (payload name, started, ended)
    behaviour: dict[str, object] = {"sleep": 0.0, "raise": None, "started": threading.Event()}
    lock = threading.Lock()

    def run(payload: dict, context) -> None:
        started = time.monotonic()
        behaviour["started"].set()
        time.sleep(payload.get("sleep", behaviour["sleep"]))
        with lock:
            runs.append((payload["name"], started, time.monotonic()))
        if behaviour["raise"] is not None:
            raise behaviour["raise"]

    kind = SimpleNamespace(
        KIND="test.probe", LANE="webhooks", deliver=run, gave_up=lambda payload, error, ctx: None
    )
    monkeypatch.setitem(KINDS, "test.probe", kind)
    return runs, behaviour


def queue(name: str, key: str = "", **payload) -> OutboxItem:
    return outbox.add(outbox.Item("test.probe", {"name": name, **payload}, ordering_key=key))


# --- concurrency, order, lanes ------------------------------------------------------------


def test_a_lane_delivers_different_keys_at_once_and_one_keys_items_in_order(app, probe):
    runs, behaviour = probe
    behaviour["sleep"] = 0.3
    for n in range(4):
        for step in range(2):
            queue(f"k{n}-{step}", key=f"booking:{n}")

    assert deliver_lane(app, "webhooks", workers=4) == 8

    by_key: dict[str, list[tuple[str, float, float]]] = {}
    for run in runs:
        by_key.setdefault(run[0].split("-")[0], []).append(run)
    for key_runs in by_key.values():
        (first, _a_start, a_end), (second, b_start, _) = sorted(key_runs, key=lambda r: r[1])
        assert (first, second) == (f"{first[:-2]}-0", f"{first[:-2]}-1"), "in order"
        assert b_start >= a_end, "one at a time within a key"
    overlapping = max(sum(1 for _, s, e in runs if s <= t < e) for _, t, _ in runs)
    assert overlapping >= 3, "different keys run at once"
    assert OutboxItem.select().where(OutboxItem.status != "done").count() == 0


def test_a_slow_webhook_receiver_delays_no_mail(app, probe, smtp_server, monkeypatch):
    configure(monkeypatch, app, smtp_server.settings())
    runs, behaviour = probe
    behaviour["sleep"] = 1.0
    for n in range(8):
        queue(f"hook-{n}", key=f"webhook:1:booking-{n}")
    mail.queue(Mail(to="vera@example.net", subject="Confirmed", body="See you."))
    hooks = threading.Thread(target=deliver_lane, args=(app, "webhooks", 2))
    with app.app_context():
        hooks.start()
        started = time.monotonic()
        deliver_lane(app, "mail")
        mail_took = time.monotonic() - started
    hooks.join(30)

    assert len(smtp_server.messages) == 1 and len(runs) == 8
    hooks_took = max(e for _, _, e in runs) - min(s for _, s, _ in runs)
    assert mail_took < hooks_took / 4, "the mail did not wait behind the slow receiver"


def test_one_receiver_takes_at_most_half_of_its_lanes_threads(app, probe):
    runs, behaviour = probe
    behaviour["sleep"] = 0.3
    for n in range(6):
        queue(f"slow-{n}", key=f"webhook:1:b{n}")
    queue("other", key="webhook:2:b0")

    deliver_lane(app, "webhooks", workers=4)

    slow = [r for r in runs if r[0].startswith("slow")]
    at_once = max(sum(1 for _, s, e in slow if s <= t < e) for _, t, _ in slow)
    assert at_once <= 2
    other = next(r for r in runs if r[0] == "other")
    assert other[1] < max(s for _, s, _ in slow), "the other receiver did not queue behind"


# --- leases ---------------------------------------------------------------------------------


def test_a_crashed_workers_item_is_free_again_after_the_short_lease(app, probe):
    first = queue("first", key="booking:1")
    queue("second", key="booking:1")
    assert outbox.claim(first.id)  # ... and the worker died here, before finishing
    now = utcnow()
    assert outbox.due_items(now=now) == [], "held by its lease; the next waits behind it"

    later = now + outbox.LEASE + timedelta(seconds=1)
    assert outbox.due_items(now=later) == [first.id]
    process_due(app, now=later)
    process_due(app, now=later)
    runs, _ = probe
    assert [name for name, _, _ in runs] == ["first", "second"]


def test_a_slow_item_keeps_its_lease_and_is_never_taken_twice(app, probe, monkeypatch):
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=0.6))
    runs, behaviour = probe
    behaviour["sleep"] = 2.0  # more than three leases
    item = queue("slow")
    stolen: list[bool] = []

    def thief() -> None:
        from calmesh.db import db

        with app.app_context(), db.connection_context():
            # From the moment the item runs (it is claimed) until it is done,
            # not a window of time: the same on a busy machine.
            assert behaviour["started"].wait(60)
            while not runs:
                # Another scheduler's view: the item is due only if its lease ran out.
                stolen.append(item.id in outbox.due_items())
                time.sleep(0.05)

    other = threading.Thread(target=thief)
    other.start()
    deliver_lane(app, "webhooks", workers=1)
    other.join()
    assert stolen and not any(stolen), "the renewed lease kept it from everyone else"
    assert len(runs) == 1 and OutboxItem.get_by_id(item.id).status == "done"


# --- retries that outlast an outage (an injected clock) --------------------------------------


def test_retries_go_on_for_a_day_with_capped_back_off_then_fail(app, probe):
    runs, behaviour = probe
    behaviour["raise"] = outbox.Retry("receiver down")
    item = queue("down")
    config = app.config["CALMESH"]
    now = utcnow()
    waits = []
    while OutboxItem.get_by_id(item.id).status == "pending":
        process_due(app, now=now)
        row = OutboxItem.get_by_id(item.id)
        if row.status == "pending":
            waits.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
    row = OutboxItem.get_by_id(item.id)
    assert row.status == "failed" and "gave up" in row.last_error
    assert waits[:4] == [30, 60, 120, 240], "exponential back-off"
    assert max(waits) == config["outbox.max_backoff_seconds"], "capped"
    tried_for = timedelta(seconds=sum(waits))
    assert tried_for >= timedelta(hours=config["outbox.retry_hours"])
    assert len(runs) == row.attempts == len(waits) + 1


def test_a_receiver_back_after_twenty_hours_gets_everything_in_order(app, probe):
    runs, behaviour = probe
    behaviour["raise"] = outbox.Retry("down")
    for step in ("created", "rescheduled", "cancelled"):
        queue(step, key="webhook:1:booking-a")
    now = utcnow()
    end = now + timedelta(hours=20)
    while now < end:
        process_due(app, now=now)
        now += timedelta(minutes=30)
    assert {name for name, _, _ in runs} == {"created"}, "the later ones wait behind the first"
    runs.clear()
    behaviour["raise"] = None  # back up
    for _ in range(3):
        now += timedelta(hours=1)
        process_due(app, now=now)
    assert [name for name, _, _ in runs] == ["created", "rescheduled", "cancelled"]


def test_what_this_host_cannot_decrypt_is_never_given_up(app, probe):
    _runs, behaviour = probe
    behaviour["raise"] = crypto.CredentialsUnreadable("encrypted with another secret key")
    item = queue("locked")
    now = utcnow()
    for _ in range(60):
        process_due(app, now=now)
        now = OutboxItem.get_by_id(item.id).next_attempt_at
    row = OutboxItem.get_by_id(item.id)
    assert now - utcnow() > timedelta(hours=48)
    assert row.status == "pending" and "cannot read the stored credentials" in row.last_error


# --- the same Message-ID on every retry ---------------------------------------------------


def test_a_retried_mail_keeps_its_message_id(app, smtp_server, monkeypatch):
    configure(monkeypatch, app, smtp_server.settings())
    mail.queue(Mail(to="vera@example.net", subject="Confirmed", body="Hi"))
    smtp_server.data_reply = "451 4.3.0 try again later"
    process_due(app)
    smtp_server.data_reply = None
    process_due(app, now=utcnow() + timedelta(minutes=1))

    (received,) = smtp_server.messages
    stable = received.message["Message-ID"]
    assert stable.startswith("<") and stable.endswith(">")
    assert [m.message_id for m in MailMessage.select().order_by(MailMessage.id)] == [stable] * 2


def test_a_retried_booking_mail_keeps_its_message_id(app, alice, smtp_server, monkeypatch):
    from tests.services.test_webhooks import book, make_page

    configure(monkeypatch, app, smtp_server.settings())
    book(make_page(alice), 0)
    smtp_server.data_reply = "451 4.3.0 try again later"
    process_due(app)
    smtp_server.data_reply = None
    process_due(app, now=utcnow() + timedelta(minutes=1))

    ids = [m.message_id for m in MailMessage.select().order_by(MailMessage.id)]
    assert len(ids) == 4 and len(set(ids)) == 2  # two mails, each tried twice
    assert sorted(m.message["Message-ID"] for m in smtp_server.messages) == sorted(set(ids))


def test_booking_mails_are_queued_as_intents_with_their_own_message_ids(app, alice):
    from tests.services.test_webhooks import book, make_page

    book(make_page(alice), 0)
    queued = list(OutboxItem.select().where(OutboxItem.kind == "booking.mail"))
    assert sorted(i.payload["role"] for i in queued) == ["attendee", "owner"]
    keys = [i.payload["message_key"] for i in queued]
    assert len(set(keys)) == 2
    # Nothing is rendered on the request path: no text, no .ics, no address.
    assert not any({"body", "ics", "subject", "to"} & set(i.payload) for i in queued)
