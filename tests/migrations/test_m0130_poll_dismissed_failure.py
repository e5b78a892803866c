"""m0130: polls get a dismissed write-back failure; old polls have none."""

from __future__ import annotations

from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import Poll
from calmesh.services import polls

NAME = "m0130_poll_dismissed_failure"


def test_old_polls_have_no_dismissed_failure(app, alice):
    poll = polls.create(
        alice, polls.NEW_POLL.parse({"title": "Old", "options": [{"date": "2031-03-10"}]})
    )
    run_ops(db.migrator_for(db.db.obj).drop_column("poll", "dismissed_failure"))
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()
    assert "dismissed_failure" not in {c.name for c in db.db.get_columns("poll")}

    assert db.migrate() == [NAME]

    assert Poll.get_by_id(poll.id).dismissed_failure is None
    assert db.migrate() == []
