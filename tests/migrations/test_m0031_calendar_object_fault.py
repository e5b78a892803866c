"""m0031: each calendar object keeps why a cap cut its expansion ("" when whole)."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import CalendarObject, RemoteCalendar
from tests.factories import make_connection

NAME = "m0031_calendar_object_fault"


def test_existing_objects_get_an_empty_fault(app, alice):
    remote = RemoteCalendar.get(RemoteCalendar.connection == make_connection(alice))
    migrator = db.migrator_for(db.db.obj)
    run_ops(migrator.drop_column("calendar_object", "fault"))
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()
    table = pw.Table("calendar_object", ("calendar_id", "href", "etag", "uid", "ical"))
    table.bind(db.db.obj).insert(
        calendar_id=remote.id, href="/cal/a.ics", etag="e1", uid="a", ical="BEGIN:VCALENDAR"
    ).execute()

    assert db.migrate() == [NAME]

    assert [o.fault for o in CalendarObject.select()] == [""]
