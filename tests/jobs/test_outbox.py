"""calmesh.jobs.outbox: the scheduler's three lanes deliver concurrently, yet
one ordering key's items in order; a slow webhook receiver delays no mail and
holds at most half of its lane; a slow item's lease is renewed while it runs."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from calmesh.effects import mail, outbox
from calmesh.jobs import outbox as jobs_outbox
from calmesh.jobs.outbox import deliver_lane, process_due
from calmesh.jobs.scheduler import JOBS
from calmesh.models import OutboxItem
from calmesh.services.mail import Mail
from tests.conftest import queue_probe as queue
from tests.settings import configure


def test_every_lane_has_its_job_and_deliveries_get_the_apps_settings(app):
    assert {f"outbox-{lane}" for lane in outbox.LANES} <= set(JOBS)
    with app.test_request_context():
        context = jobs_outbox.context(app)
    assert context.settings is app.config["CALMESH"]
    assert context.links.booking_page("alice", "intro").endswith("/alice/intro")


def test_process_due_delivers_every_lane_in_the_current_app(app, probe, smtp_server, monkeypatch):
    configure(monkeypatch, app, smtp_server.settings())
    queue("hook")
    mail.queue(Mail(to="vera@example.net", subject="Hi", body="Hello"))
    with app.test_request_context():
        assert process_due(app) == 2
    assert len(smtp_server.messages) == 1 and [r[0] for r in probe[0]] == ["hook"]


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


def test_a_lane_leaves_the_other_lanes_items_alone(app, probe, smtp_server, monkeypatch):
    configure(monkeypatch, app, smtp_server.settings())
    queue("hook")
    mail.queue(Mail(to="vera@example.net", subject="Hi", body="Hello"))
    with app.app_context():
        assert deliver_lane(app, "mail") == 1
    assert probe[0] == [] and len(smtp_server.messages) == 1


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
