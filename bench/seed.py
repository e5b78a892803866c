"""Seed a benchmark instance's database directly: a user, a key, three
connections with 5,000 stored occurrences between them, and a unified
calendar over all three. Run as ``python bench/seed.py`` with the server's
CALMESH_* environment; prints the API key on the last line."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calmesh import create_app, db
from calmesh.auth import apikeys
from calmesh.services import calendars
from calmesh.services.sync import insert_occurrences
from calmesh.services.users import create_user
from tests.factories import make_connection

OCCURRENCES = 5_000


def seed(occurrences: int = OCCURRENCES) -> str:
    app = create_app()
    db.migrate()
    rng = random.Random(42)
    with app.app_context(), db.db.atomic():
        user = create_user(
            email="bench@example.org",
            handle="bench",
            password="bench-password-1",
            timezone="Europe/Berlin",
        )
        calendar = calendars.create(user, "work", "Work", "Europe/Berlin")
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=30
        )
        from calmesh.models import CalendarObject, RemoteCalendar

        for n in range(3):
            connection = make_connection(user, name=f"Source {n}")
            calendars.add_source(calendar, connection.id)
            remote = RemoteCalendar.get(RemoteCalendar.connection == connection)
            rows = []
            for i in range(occurrences // 3 + (1 if n < occurrences % 3 else 0)):
                begin = start + timedelta(
                    days=rng.randrange(395),
                    hours=rng.randrange(7, 19),
                    minutes=rng.choice((0, 15, 30, 45)),
                )
                obj = CalendarObject.create(
                    calendar=remote, href=f"/e/{n}/{i}.ics", uid=f"{n}-{i}@bench"
                )
                rows.append(
                    {
                        "object": obj.id,
                        "calendar": remote.id,
                        "uid": obj.uid,
                        "start": begin,
                        "end": begin + timedelta(minutes=rng.choice((30, 45, 60, 90))),
                        "busy": rng.random() > 0.1,
                        "status": "confirmed",
                        "summary": f"Event {i}",
                    }
                )
            insert_occurrences(rows)
        _, key = apikeys.create(user, "bench", "full")
    return key


if __name__ == "__main__":
    print(seed())
