"""Jinja filters that write times the signed-in owner's way (zone, 12h/24h):
``{{ booking.start | owner_time }}``, ``owner_day``, ``owner_moment``,
``owner_long_day`` and ``{{ owner_span(start, end) }}``; ``owner_habits()``
gives the :class:`~calmesh.engine.timefmt.Habits` themselves (e.g. its
``week_start``). Mails use :mod:`calmesh.engine.timefmt` with the owner's
habits directly."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_login import current_user

from calmesh.engine import timefmt


def _habits() -> timefmt.Habits:
    if current_user and current_user.is_authenticated:
        return timefmt.habits_of(current_user)
    return timefmt.Habits()


def init_app(app: Flask) -> None:
    def wrap(func):
        return lambda moment: func(moment, _habits()) if isinstance(moment, datetime) else ""

    app.add_template_filter(wrap(timefmt.time_of), "owner_time")
    app.add_template_filter(wrap(timefmt.day_of), "owner_day")
    app.add_template_filter(wrap(timefmt.long_day), "owner_long_day")
    app.add_template_filter(wrap(timefmt.moment_of), "owner_moment")
    app.add_template_global(
        lambda start, end, zone_name=False: timefmt.span_of(start, end, _habits(), zone_name),
        "owner_span",
    )
    app.add_template_global(_habits, "owner_habits")
