"""Credentials and tokens in connection URLs move into the encrypted credentials.

A ``user:password@`` and the query of a connection's URL (an iCal link's
``?token=...``) were stored in ``endpoint`` as typed. They join the encrypted
credentials (a username stored apart wins, as it did when connecting), the
endpoint keeps scheme, host and path, and the last error no longer quotes
them. CalDAV calendar URLs were built on the ``user:password@`` URL: they
lose it too, and so still match what the server lists. Runs in the app's
context (see :func:`calmesh.db.migrate`): it encrypts with the secret key.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import peewee as pw

from calmesh.auth import crypto
from calmesh.providers.net import masked, split_secrets


def up(migrator, db) -> None:
    connection = pw.Table("connection", ("id", "endpoint", "credentials", "last_error")).bind(db)
    remote = pw.Table("remote_calendar", ("id", "connection_id", "remote_id")).bind(db)
    for row in list(connection.select()):
        endpoint, secret = split_secrets(row["endpoint"])
        if endpoint == row["endpoint"]:
            continue
        try:
            credentials = crypto.decrypt(row["credentials"])
        except crypto.CredentialsUnreadable:
            credentials = {}  # unusable already: the URL's parts are all there is
        if not (credentials.get("username") or credentials.get("password")):
            credentials.update({k: v for k, v in secret.items() if k != "query"})
        if "query" in secret:
            credentials["query"] = secret["query"]
        error = row["last_error"].replace(row["endpoint"], masked(row["endpoint"]))
        for value in secret.values():
            error = error.replace(value, "…") if len(value) >= 4 else error
        connection.update(
            endpoint=endpoint, credentials=crypto.encrypt(credentials), last_error=error
        ).where(connection.id == row["id"]).execute()
        for calendar in list(remote.select().where(remote.connection_id == row["id"])):
            cleaned = _without_userinfo(calendar["remote_id"])
            if cleaned != calendar["remote_id"]:
                remote.update(remote_id=cleaned).where(remote.id == calendar["id"]).execute()


def _without_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
