"""A database that refuses writes (a full disk on SQLite, a read-only session on
PostgreSQL): every request answers 503 with Retry-After, the log gets one line
for the condition instead of a traceback per request, and health and the
dashboard say what is wrong."""

from __future__ import annotations

import logging

import peewee as pw
import pytest

from calmesh import faults
from calmesh.db import db, is_sqlite
from calmesh.models import RateCounter
from tests.conftest import CSRF, signed_in_client


@pytest.fixture
def full_disk(app):
    """``full_disk()`` makes the test's database connection refuse writes, as a
    full disk does (SQLite) or a read-only session (PostgreSQL)."""
    faults._active.clear()

    def refuse_writes() -> None:
        if is_sqlite():
            pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
            db.execute_sql(f"PRAGMA max_page_count = {pages}")
            # Fill what is left of the last pages, the way a growing table does.
            try:
                for n in range(100_000):
                    RateCounter.insert(key=f"filler:{n:06d}", window=0, hits=1).execute()
            except pw.OperationalError as exc:
                assert "full" in str(exc)
        else:
            db.execute_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")

    yield refuse_writes
    if is_sqlite():
        db.execute_sql("PRAGMA max_page_count = 1073741823")
    else:
        db.execute_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
    faults._active.clear()


def test_writes_refused_answer_503_with_retry_after_and_log_one_line(
    app, alice, api_as, full_disk, caplog
):
    client = api_as(alice, "full")  # the key exists before the disk filled up
    full_disk()
    caplog.set_level(logging.INFO, logger="calmesh")
    caplog.clear()

    answers = [client.get("/api/v1/me") for _ in range(5)]

    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["Retry-After"] == "30" for a in answers)
    assert {a.get_json()["error"]["code"] for a in answers} == {"unavailable"}
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].getMessage().startswith("database writes failing: ")
    assert lines[0].exc_info is None, "no traceback"


def test_health_and_the_dashboard_show_that_writes_fail(app, alice, stranger, full_disk):
    session = signed_in_client(app, alice)
    full_disk()
    answer = session.post("/api/v1/calendars", json={"name": "W", "slug": "w", "timezone": "UTC"},
                          headers={"X-CSRF-Token": CSRF})  # fmt: skip
    assert answer.status_code == 503

    health = stranger.get("/api/health").get_json()
    assert health["status"] == "degraded"
    assert health["database"]["ok"] is True, "it answers reads"
    assert health["database"]["write_error"]

    page = session.get("/dashboard").get_data(as_text=True)
    assert "The database refuses writes" in page
