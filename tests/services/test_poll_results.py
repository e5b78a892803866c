"""calmesh.services.poll_results: the tally and its ranking, labels across DST,
the zone a participant reads the options in, public data without addresses,
whether a poll takes votes, and the CSV export that no spreadsheet runs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from calmesh.models import PollOption
from calmesh.services import poll_results, polls
from tests.services import test_polls
from tests.services.test_polls import cast, new_poll, slot

# The votes' signed links are built on the instance's URL (a fixture, used by name).
ctx = test_polls.ctx


def test_ranking_prefers_the_score_then_more_yes_then_the_earlier(ctx, alice):
    poll = new_poll(alice, [slot(10, 9), slot(10, 14), slot(11, 9), slot(12, 9)])
    cast(poll, "A", ("ifneedbe", "yes", "no", "ifneedbe"))
    cast(poll, "B", ("ifneedbe", "no", "yes", "ifneedbe"))

    found = poll_results.results(poll)

    order = [t.option.start.day * 100 + t.option.start.hour for t in found.ranked()]
    # Scores: 2, 2, 2, 2; yes: 0, 1, 1, 0 -> the two with a yes, earlier first.
    assert order == [1014, 1109, 1009, 1209]
    assert all(t.best for t in found.ranked())


def test_nothing_is_best_before_anyone_votes(alice):
    found = poll_results.results(new_poll(alice))
    assert [t.best for t in found.ranked()] == [False, False, False]


def test_labels_follow_the_zone_across_dst_and_midnight(alice):
    # Europe/Berlin moves to summer time on 30 March 2031.
    poll = new_poll(alice, [slot(29, 8), slot(31, 8), slot(31, 22, 180)])
    before, after, late = PollOption.of(poll)
    assert poll_results.label(before, "Europe/Berlin") == "Sat 29 Mar 2031, 09:00–10:00"
    assert poll_results.label(after, "Europe/Berlin") == "Mon 31 Mar 2031, 10:00–11:00"
    assert poll_results.label(late, "Europe/Berlin") == "Tue 1 Apr 2031, 00:00–03:00"
    assert poll_results.label(late, "UTC") == "Mon 31 Mar 2031, 22:00–01:00 (+1d)"
    heading = poll_results.heading(after, "America/New_York")
    assert (heading.weekday, heading.day, heading.month, heading.time) == (
        "Mon",
        31,
        "Mar 2031",
        "04:00–05:00",
    )


def test_display_zone_is_the_participants_unless_locked_or_unknown(alice):
    poll = new_poll(alice)
    assert poll_results.display_zone(poll, "Asia/Tokyo") == "Asia/Tokyo"
    assert poll_results.display_zone(poll, "Not/AZone") == "Europe/Berlin"
    poll.zone_mode = "locked"
    assert poll_results.display_zone(poll, "Asia/Tokyo") == "Europe/Berlin"


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_public_data_has_no_email_field_anywhere(ctx, alice):
    poll = new_poll(alice)
    vera = cast(poll, "Vera", ("yes",), email="vera@example.net")
    data = poll_results.public_data(poll, None, vera)
    assert "email" not in _keys(data)
    assert "vera@example.net" not in repr(data)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(text):
    assert poll_results._cell(text) == "'" + text


def test_csv_leaves_plain_cells_and_numbers_alone():
    assert (
        poll_results._cell("Vera") == "Vera"
        and poll_results._cell(3) == 3
        and poll_results._cell("") == ""
    )


def test_a_poll_takes_votes_until_it_closes_or_its_deadline_passes(ctx, alice):
    poll = new_poll(alice, deadline=datetime.now(UTC) + timedelta(hours=1))
    assert poll_results.accepts_votes(poll) and poll_results.closed_reason(poll) is None
    poll.deadline = datetime.now(UTC) - timedelta(seconds=1)
    assert not poll_results.accepts_votes(poll)
    assert poll_results.closed_reason(poll)[1] == "deadline_passed"
    closed = polls.close(new_poll(alice))
    assert not poll_results.accepts_votes(closed)
    assert poll_results.closed_reason(closed)[1] == "poll_closed"


def test_the_csv_export_lists_each_vote_and_the_totals(ctx, alice):
    poll = new_poll(alice)
    cast(poll, "Vera", ("yes", "ifneedbe", "no"), email="vera@example.net")
    cast(poll, "=Otto", ("yes", "yes"))
    rows = list(csv.reader(io.StringIO(poll_results.csv_export(poll))))
    assert rows[0][:3] == ["Participant", "E-mail", "Mon 10 Mar 2031, 10:00–11:00"]
    assert rows[1] == ["Vera", "vera@example.net", "yes", "if need be", "no"]
    assert rows[2][0] == "'=Otto", "a name that looks like a formula is quoted"
    totals = {row[0]: row[2:] for row in rows[3:]}
    assert totals["Total yes"] == ["2", "1", "0"]
    assert totals["Score"][0] > totals["Score"][2]
    assert poll_results.csv_name(poll) == f"poll-{poll.public_id}.csv"
