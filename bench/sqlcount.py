"""Count the SQL statements one booking request runs (``--page SLUG``: books the
last free slot of the page's next 31 days through the app in this process), or
print how many bookings there are (``--count-bookings``). Run with the server's
CALMESH_* environment; the last line printed is the answer."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calmesh import create_app, db
from calmesh.models import Booking


def count_statements(slug: str) -> str:
    app = create_app()
    client = app.test_client()
    first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=200)
    answer = client.get(
        f"/api/v1/booking-pages/{slug}/slots",
        query_string={"start": first.isoformat(), "end": (first + timedelta(days=31)).isoformat()},
    ).get_json()
    first_start, start = [s["start"] for day in answer["dates"].values() for s in day][-2:]
    # One booking first: the process warms up (the rate counter takes hits from the
    # shared table 50 at a time, see calmesh.auth.ratelimit.BATCH); then the count.
    warm = {"start": first_start, "attendee": {"name": "Warm", "email": "warm@example.net"}}
    client.post(f"/api/v1/booking-pages/{slug}/book", json=warm)
    statements: list[str] = []
    database = db.db.obj  # the proxy's database: a proxy takes no attributes
    original = database.execute_sql

    def counted(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    if db.is_sqlite():
        # Every statement SQLite runs, BEGIN and COMMIT included.
        db.db.connect(reuse_if_open=True)
        db.db.connection().set_trace_callback(statements.append)
    else:
        database.execute_sql = counted
    body = {"start": start, "attendee": {"name": "Count", "email": "count@example.net"}}
    response = client.post(f"/api/v1/booking-pages/{slug}/book", json=body)
    if response.status_code != 201:
        raise SystemExit(f"booking failed: {response.status_code} {response.get_data(True)}")
    if not db.is_sqlite():
        statements.append("COMMIT")  # psycopg's commit is no execute_sql call
    for sql in statements:
        print("   ", " ".join(sql.split())[:150])
    return f"{len(statements)} statements"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page")
    parser.add_argument("--count-bookings", action="store_true")
    args = parser.parse_args()
    if args.count_bookings:
        create_app()
        print(Booking.select().count())
    else:
        print(count_statements(args.page))


if __name__ == "__main__":
    main()
