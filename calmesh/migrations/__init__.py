"""Schema migrations, applied in name order by :func:`calmesh.db.migrate`.

Add ``mNNNN_what.py`` with ``def up(migrator, db)`` using
``playhouse.migrate`` operations, e.g.::

    from playhouse.migrate import migrate
    import peewee as pw

    def up(migrator, db):
        migrate(migrator.add_column("user", "locale", pw.CharField(default="en")))

A fresh database is created from the current models and stamped with every
migration, so a migration only ever runs against the schema that preceded it.
"""
