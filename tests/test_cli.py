"""``python -m calmesh sync [--connection ID]``: run as a user would, in its own
process, against a database prepared here and feeds from a loopback server."""

from __future__ import annotations

from dataclasses import dataclass

from calmesh.db import db
from calmesh.models import Connection, Occurrence
from tests.conftest import make_app, make_user, run_cli, server_env
from tests.providers.feeds import FeedServer
from tests.services import test_sync as shared
from tests.services.test_sync import subscribe, two_events

# A fixture of the sync tests, bound as a plain name (see tests/services/test_sync.py).
feeds = shared.feeds


@dataclass
class Instance:
    env: dict[str, str]
    app: object
    ids: dict[str, int]

    def cli(self, *args: str):
        return run_cli(*args, env=self.env)

    def connection(self, name: str) -> Connection:
        with self.app.app_context(), db.connection_context():
            return Connection.get_by_id(self.ids[name])

    def occurrences(self) -> int:
        with self.app.app_context(), db.connection_context():
            return Occurrence.select().count()


def prepare(tmp_path, feeds: FeedServer, *names: str) -> Instance:
    """A data folder and database with alice's iCal connections, one per name."""
    env = server_env(tmp_path)
    app = make_app(
        tmp_path, data_dir=env["CALMESH_DATA_DIR"], database_url=env["CALMESH_DATABASE_URL"]
    )
    ids = {}
    with app.app_context(), db.connection_context():
        alice = make_user("alice")
        for name in names:
            ids[name] = subscribe(alice, feeds, name, two_events()).id
    return Instance(env, app, ids)


def test_sync_shows_progress_and_a_summary_per_connection(tmp_path, feeds):
    instance = prepare(tmp_path, feeds, "home.ics", "work.ics")

    result = instance.cli("sync")

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == f"[1/2] home.ics (ics, id {instance.ids['home.ics']})"
    assert "syncing Team" in lines
    assert "2 changed, 0 deleted, 2 occurrences" in lines
    summaries = [line for line in lines if line.startswith("ok in ")]
    assert len(summaries) == 2
    assert summaries[0].endswith(": 2 changed, 0 deleted, 2 occurrences stored, 1 requests")
    assert f"[2/2] work.ics (ics, id {instance.ids['work.ics']})" in lines
    assert instance.connection("home.ics").status == instance.connection("work.ics").status == "ok"
    assert instance.occurrences() == 4


def test_sync_of_one_connection_touches_only_that_one(tmp_path, feeds):
    instance = prepare(tmp_path, feeds, "home.ics", "work.ics")

    result = instance.cli("sync", "--connection", str(instance.ids["work.ics"]))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"[1/1] work.ics (ics, id {instance.ids['work.ics']})"
    assert "home.ics" not in result.stdout
    assert instance.connection("work.ics").status == "ok"
    assert instance.connection("home.ics").status == "pending"
    assert feeds.requests["home.ics"] == 1, "only the check when it was connected"


def test_a_failing_connection_is_reported_and_exits_non_zero(tmp_path, feeds):
    instance = prepare(tmp_path, feeds, "down.ics", "fine.ics")
    feeds.set("down.ics", "oops", status=500)

    result = instance.cli("sync")

    assert result.returncode == 2
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "error: 127.0.0.1 is unavailable right now (500); retrying later" in lines
    assert "error: 1 of 2 connection(s) failed to sync" in result.stderr
    assert "Traceback" not in result.stderr
    assert instance.connection("down.ics").status == "error"
    assert instance.connection("fine.ics").status == "ok", "the failure did not stop the other"


def test_an_unknown_connection_is_a_one_line_error(tmp_path, feeds):
    instance = prepare(tmp_path, feeds, "home.ics")

    result = instance.cli("sync", "--connection", "999")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: no connection with id 999"
    assert "Traceback" not in result.stderr
    assert feeds.requests["home.ics"] == 1


def test_sync_with_no_connections_says_so(tmp_path, feeds):
    instance = prepare(tmp_path, feeds)

    result = instance.cli("sync")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No connections yet."
