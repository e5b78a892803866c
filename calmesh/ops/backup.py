"""``calmesh backup PATH`` and ``calmesh restore PATH``.

A backup is one gzipped tar file holding what an instance cannot be rebuilt
without: a consistent snapshot of the database, the secret key material
(``secret_key``: the key in use, whether it comes from the configuration,
``security.secret_key_file`` or ``data_dir/secret_key``; ``previous_secret_keys``
when a rotation is under way: every key is derived from them, so a database
without them cannot read its stored credentials, sessions or links), and
``manifest.json`` with each file's SHA-256.

* SQLite: SQLite's online backup API copies every page in one step inside a
  read transaction. In WAL mode writers go on meanwhile; the copy is the
  database as of one instant, never half a booking.
* PostgreSQL: ``pg_dump --format=custom`` (one snapshot transaction). Without
  ``pg_dump`` on this machine the command says what to install or run instead.

``restore`` brings a backup into an empty data folder (a non-empty one is
refused: nothing is ever overwritten) and, for PostgreSQL, an empty database.
The key goes to ``data_dir/secret_key`` unless the configuration names a key
of its own, which must then be the backed-up one (or list it among the
previous keys). An older backup is fine: migrations run when the app starts.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from calmesh.config import Config

FORMAT = 1
KEY_NAME = "secret_key"
PREVIOUS_NAME = "previous_secret_keys"
SQLITE_NAME = "calmesh.db"
PG_NAME = "calmesh.pgdump"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass
class Outcome:
    path: Path
    database: str  # what was saved or restored, for the summary line
    keys: list[str]
    notes: list[str]


# --- backup ---------------------------------------------------------------------------


def backup(settings: Config, path: Path) -> Outcome:
    """Write the backup archive to ``path`` (which must not exist), mode 600."""
    path = path.expanduser().resolve()
    if path.exists():
        raise BackupError(f"{path} already exists: give the backup a new name")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    notes = []
    with tempfile.TemporaryDirectory(prefix=".calmesh-backup-", dir=path.parent) as work:
        staging = Path(work)
        url = settings.database_url
        if _is_sqlite(url):
            name, what = SQLITE_NAME, _snapshot_sqlite(_sqlite_path(url), staging / SQLITE_NAME)
        else:
            name, what = PG_NAME, _dump_postgres(url, staging / PG_NAME)
        keys, source = _key_material(settings)
        for key, text in keys.items():
            _write_private(staging / key, text.encode())
        if not keys:
            notes.append(f"no secret key in {settings.data_dir} yet (it is made on first start)")
        files = [name, *keys]
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": _version(),
            "engine": "sqlite" if name == SQLITE_NAME else "postgresql",
            "secret_key_source": source,
            "files": {f: _sha256(staging / f) for f in files},
        }
        partial = staging / "archive.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            for f in files:
                tar.add(staging / f, arcname=f, recursive=False)
        os.replace(partial, path)  # whole or not at all
    return Outcome(path, what, list(keys), notes)


def _snapshot_sqlite(source: Path, target: Path) -> str:
    if not source.exists():
        raise BackupError(f"no database at {source} (nothing to back up yet)")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.backup(dst)  # every page in one step: a snapshot of one instant
        _integrity(dst, "the snapshot")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    return f"SQLite {source}"


def _dump_postgres(url: str, target: Path) -> str:
    pg_dump = _pg_tool("pg_dump")
    dsn, env = _libpq(url)
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not installed here: install the PostgreSQL client of your server's "
            "major version (Debian: apt-get install postgresql-client) and run this again, "
            f"or run `pg_dump --format=custom --file=calmesh.pgdump '{dsn}'` yourself and keep "
            "data_dir/secret_key with it"
        )
    _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
          f"--file={target}", dsn], env)  # fmt: skip
    return f"PostgreSQL {urlsplit(dsn).hostname or 'localhost'}/{urlsplit(dsn).path.lstrip('/')}"


# --- restore --------------------------------------------------------------------------


def restore(settings: Config, path: Path) -> Outcome:
    """Unpack the backup at ``path`` into the (empty) data folder and database."""
    path = path.expanduser().resolve()
    folder = settings.data_dir
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"data folder {folder} is not empty: restore into an empty or new one")
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            manifest, contents = _read_archive(tar)
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{path} is not a CalMesh backup ({exc})") from None
    url = settings.database_url
    engine = "sqlite" if _is_sqlite(url) else "postgresql"
    if manifest["engine"] != engine:
        raise BackupError(
            f"the backup holds a {manifest['engine']} database but database_url is {engine}: "
            "restore it to the engine it came from"
        )
    keys, notes = _keys_to_write(settings, contents)
    # Everything that can refuse is checked before the first file is written.
    if engine == "sqlite":
        target = _sqlite_path(url)
        if target.exists():
            raise BackupError(f"{target} already exists: restore into a new database path")
    else:
        pg_restore = _ready_for_pg_restore(url, path)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        for name in keys:
            _write_private(folder / name, contents[name])
        if engine == "sqlite":
            what = _restore_sqlite(contents[SQLITE_NAME], target)
        else:
            what = _restore_postgres(pg_restore, contents[PG_NAME], url)
    except BaseException:
        # Leave the folder as empty as it was, so that a second try is not refused.
        for name in keys:
            (folder / name).unlink(missing_ok=True)
        if created:
            folder.rmdir()
        raise
    return Outcome(path, what, [f"{name} (in {folder})" for name in keys], notes)


def _keys_to_write(settings: Config, contents: dict[str, bytes]) -> tuple[list[str], list[str]]:
    """Which key files to write into the data folder, and notes for the user.

    Refuses when the configuration brings a key of its own that cannot read the
    backup: the app would refuse to start on that database anyway.
    """
    notes: list[str] = []
    backed_up = contents.get(KEY_NAME, b"").decode().strip()
    previous = contents.get(PREVIOUS_NAME, b"").decode().split()
    configured, _ = _key_material(settings, include_data_dir=False)
    write = []
    if KEY_NAME in configured:
        readable = {configured[KEY_NAME].strip(), *settings["security.previous_secret_keys"]}
        if backed_up and backed_up not in readable:
            raise BackupError(
                "the configuration names a secret key (security.secret_key or "
                "secret_key_file) that is not the backup's: use the backed-up key, or list it "
                "in security.previous_secret_keys"
            )
    elif backed_up:
        write.append(KEY_NAME)
    if previous and not set(previous) <= set(settings["security.previous_secret_keys"]):
        write.append(PREVIOUS_NAME)
        notes.append(
            f"the backup has previous secret keys (a rotation was under way): point "
            f"CALMESH_SECURITY_PREVIOUS_SECRET_KEYS_FILE at {settings.data_dir / PREVIOUS_NAME}"
        )
    return write, notes


def _read_archive(tar: tarfile.TarFile) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every file it lists, each checked against its SHA-256.

    Members are read as bytes, never extracted: a crafted archive cannot write
    outside the data folder, and only the names a backup has are accepted.
    """
    member = tar.extractfile("manifest.json")
    if member is None:
        raise tarfile.TarError("no manifest.json")
    manifest = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise tarfile.TarError(f"unknown backup format {manifest.get('format')!r}")
    contents = {}
    for name, digest in manifest["files"].items():
        expected = name in {SQLITE_NAME, PG_NAME, KEY_NAME, PREVIOUS_NAME}
        if "/" in name or not expected:
            raise tarfile.TarError(f"unexpected file {name!r}")
        handle = tar.extractfile(name)
        if handle is None:
            raise tarfile.TarError(f"{name} is missing")
        data = handle.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise tarfile.TarError(f"{name} does not match its checksum (damaged)")
        contents[name] = data
    return manifest, contents


def _restore_sqlite(data: bytes, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    _write_private(partial, data)
    try:
        connection = sqlite3.connect(partial)
        try:
            _integrity(connection, "the backed-up database")
        finally:
            connection.close()
    except (sqlite3.Error, BackupError) as exc:
        partial.unlink()
        raise BackupError(f"the backed-up database cannot be used: {exc}") from None
    os.replace(partial, target)
    return f"SQLite {target}"


def _ready_for_pg_restore(url: str, archive: Path) -> str:
    """pg_restore's path, once the target database is known to be empty."""
    from calmesh import db

    database = db.make_database(url)
    try:
        with database.connection_context():
            if database.get_tables():
                raise BackupError("the PostgreSQL database is not empty: restore into a new one")
    finally:
        database.close()
    pg_restore = _pg_tool("pg_restore")
    if pg_restore is None:
        dsn, _ = _libpq(url)
        raise BackupError(
            "pg_restore is not installed here (Debian: apt-get install postgresql-client); "
            f"or by hand: `tar -xzf {archive} -C DATA_DIR {KEY_NAME} && tar -xzOf {archive} "
            f"{PG_NAME} | pg_restore --no-owner --dbname='{dsn}'`"
        )
    return pg_restore


def _restore_postgres(pg_restore: str, data: bytes, url: str) -> str:
    dsn, env = _libpq(url)
    with tempfile.NamedTemporaryFile(suffix=".pgdump") as dump:
        dump.write(data)
        dump.flush()
        _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error",
              f"--dbname={dsn}", dump.name], env)  # fmt: skip
    return f"PostgreSQL {urlsplit(dsn).hostname or 'localhost'}/{urlsplit(dsn).path.lstrip('/')}"


# --- helpers --------------------------------------------------------------------------


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _key_material(settings: Config, include_data_dir: bool = True) -> tuple[dict[str, str], str]:
    """The keys in use, by archive name, and where the current one comes from:
    the same order of sources as the app (:func:`calmesh._secret_key`)."""
    keys, source = {}, "none"
    if settings["security.secret_key"]:
        keys[KEY_NAME], source = settings["security.secret_key"], "configuration"
    elif settings["security.secret_key_file"]:
        path = Path(settings["security.secret_key_file"]).expanduser()
        try:
            keys[KEY_NAME], source = path.read_text().strip(), "secret_key_file"
        except OSError as exc:
            raise BackupError(
                f"security.secret_key_file: cannot read {path} ({exc.strerror})"
            ) from None
    elif include_data_dir and (settings.data_dir / KEY_NAME).is_file():
        keys[KEY_NAME] = (settings.data_dir / KEY_NAME).read_text().strip()
        source = "data_dir"
    if settings["security.previous_secret_keys"]:
        keys[PREVIOUS_NAME] = "\n".join(settings["security.previous_secret_keys"]) + "\n"
    return keys, source


def _integrity(connection: sqlite3.Connection, what: str) -> None:
    result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {result}")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version() -> str:
    from calmesh import __version__

    return __version__


def _pg_tool(name: str) -> str | None:
    """``name`` on PATH, else the newest of Debian's server binaries."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    return candidates[-1] if candidates else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except (ValueError, IndexError):
        return 0


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (it would show in ``ps``), and PGPASSWORD."""
    parts = urlsplit(url)
    scheme = "postgresql"
    env = dict(os.environ)
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = parts.password
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit((scheme, netloc, parts.path, parts.query, "")), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)  # noqa: S603 - our own arguments
    except OSError as exc:
        raise BackupError(f"{command[0]} could not run: {exc}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise BackupError(f"{Path(command[0]).name} failed: {first}")
