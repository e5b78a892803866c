"""calmesh.web.owner_time: the template filters write times the signed-in
owner's way (their zone, their clock); anyone else reads UTC on 24 hours, and
what is not a time is left blank."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template_string

from calmesh.auth import sessions
from calmesh.models import User

# 13:30 UTC on Monday 16 March 2026: 9:30am in New York (EDT).
AT = datetime(2026, 3, 16, 13, 30, tzinfo=UTC)
END = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
TEMPLATE = (
    "{{ at | owner_time }}|{{ at | owner_day }}|{{ at | owner_long_day }}|"
    "{{ at | owner_moment }}|{{ at | owner_stamp }}|{{ owner_span(at, end, True) }}|"
    "{{ owner_habits().week_start }}|{{ nothing | owner_time }}"
)


def render() -> list[str]:
    return render_template_string(TEMPLATE, at=AT, end=END, nothing=None).split("|")


def test_a_signed_in_owner_reads_their_zone_and_clock(app, bob):
    User.update(clock="12", week_start=6).where(User.id == bob.id).execute()
    with app.test_request_context():
        sessions.sign_in(User.get_by_id(bob.id))
        assert render() == [
            "9:30am",
            "Mon 16 Mar 2026",
            "Monday, 16 March 2026",
            "Mon 16 Mar 2026, 9:30am",
            "2026-03-16 9:30am EDT",
            "Monday, 16 March 2026, 9:30am–10:00am (America/New_York)",
            "6",
            "",
        ]


def test_without_a_signed_in_owner_times_are_utc_on_24_hours(app):
    with app.test_request_context():
        assert render()[:2] == ["13:30", "Mon 16 Mar 2026"]
        assert render()[4:7] == [
            "2026-03-16 13:30 UTC",
            "Monday, 16 March 2026, 13:30–14:00 (UTC)",
            "0",
        ]
