"""``calmesh backup`` while a real serve takes bookings, then ``calmesh restore`` into a
new data folder and a serve on it: every booking acknowledged before the backup
began is there. On whichever engine this run uses (PostgreSQL through pg_dump)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from calmesh.ops import backup as backup_module
from tests.conftest import PG_URL, require, run_cli, server_env, start_server, stop_server

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("Europe/Berlin")
LIMITS = {
    "CALMESH_API_PUBLIC_BOOK_PER_MINUTE": "100000",
    "CALMESH_API_RATE_LIMIT_PER_MINUTE": "100000",
}


def weekday_slots(count: int) -> list[datetime]:
    """``count`` distinct 15-minute slots inside the default weekday hours."""
    slots: list[datetime] = []
    day = datetime.now(ZONE).date() + timedelta(days=2)
    while len(slots) < count:
        if day.weekday() < 5:
            start = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE)
            slots += [start + timedelta(minutes=15 * i) for i in range(28)]
        day += timedelta(days=1)
    return slots[:count]


def all_bookings(url: str, key: str) -> set[str]:
    found: set[str] = set()
    params = {"limit": 200}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api:
        while True:
            answer = api.get("/api/v1/bookings", params=params)
            assert answer.status_code == 200, answer.text
            found |= {b["id"] for b in answer.json()["data"]}
            if not answer.json()["has_more"]:
                return found
            params["cursor"] = answer.json()["next_cursor"]


def test_backup_under_booking_load_restores_every_acknowledged_booking(tmp_path):
    if PG_URL:
        require(backup_module._pg_tool("pg_dump") is not None, "pg_dump is not installed")
    (tmp_path / "live").mkdir()
    server = start_server(tmp_path / "live", workers=2, **LIMITS)
    try:
        made = server.cli(
            "create-user", "--email=o@example.org", "--handle=owner", "--password=owner-pass-12"
        )
        assert made.returncode == 0, made.stderr
        key = server.cli("create-api-key", "--user=owner", "--scope=full").stdout.split()[-1]
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"})
        calendar = {"slug": "c", "name": "C", "timezone": "Europe/Berlin"}
        assert api.post("/api/v1/calendars", json=calendar).status_code == 201
        page = {
            "slug": "load",
            "title": "Load",
            "calendar": "c",
            "timezone": "Europe/Berlin",
            "duration": 15,
            "min_notice": 0,
        }
        assert api.post("/api/v1/booking-pages", json=page).status_code == 201

        # Steady load: visitors book distinct slots until told to stop; each
        # acknowledgement (201) is stamped with when its answer arrived.
        slots = weekday_slots(600)
        acked: list[tuple[float, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def visitor(mine: list[datetime]) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for n, slot in enumerate(mine):
                    if stop.is_set():
                        return
                    answer = client.post(
                        "/api/v1/booking-pages/load/book",
                        json={
                            "start": slot.isoformat(),
                            "attendee": {"name": f"V {n}", "email": f"v{n}@example.net"},
                        },
                    )
                    if answer.status_code == 201:
                        with lock:
                            acked.append((time.monotonic(), answer.json()["id"]))

        threads = [threading.Thread(target=visitor, args=(slots[i::3],)) for i in range(3)]
        for thread in threads:
            thread.start()

        def count_acked(after: float = 0.0) -> int:
            with lock:
                return sum(1 for at, _ in acked if at > after)

        try:
            deadline = time.monotonic() + 120
            while count_acked() < 15 and time.monotonic() < deadline:
                time.sleep(0.05)
            archive = tmp_path / "calmesh-backup.tar.gz"
            began = time.monotonic()
            done = server.cli("backup", str(archive))
            ended = time.monotonic()
            assert done.returncode == 0, done.stdout + done.stderr
            while count_acked(ended) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)  # the load went on after the backup, too
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert count_acked(ended) >= 5, "the load stopped during the backup"
        before = {uid for at, uid in acked if at < began}
        assert len(before) >= 15
        original_key = (Path(server.env["CALMESH_DATA_DIR"]) / "secret_key").read_bytes()
    finally:
        stop_server(server)

    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the secret key
    # The new home: an empty data folder (and, on PostgreSQL, an empty database).
    home = tmp_path / "restored"
    home.mkdir()
    env = server_env(home)
    done = run_cli("restore", str(archive), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home / "data" / "secret_key").read_bytes() == original_key

    restored = start_server(home, workers=1, CALMESH_DATABASE_URL=env["CALMESH_DATABASE_URL"])
    try:
        found = all_bookings(restored.url, key)  # the key, too, came back
    finally:
        stop_server(restored)
    assert before <= found, f"lost: {sorted(before - found)}"
    assert found <= {uid for _, uid in acked}  # nothing that was never acknowledged


def test_restore_refuses_a_folder_that_is_not_empty(tmp_path):
    env = server_env(tmp_path)
    assert run_cli("init", env=env).returncode == 0
    done = run_cli("backup", str(tmp_path / "b.tar.gz"), env=env)
    assert done.returncode == 0, done.stderr
    done = run_cli("restore", str(tmp_path / "b.tar.gz"), env=env)  # its own, full folder
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: data folder ") and "not empty" in done.stderr
    assert "Traceback" not in done.stderr


def test_backup_never_overwrites_and_restore_refuses_a_damaged_archive(tmp_path):
    env = server_env(tmp_path)
    assert run_cli("init", env=env).returncode == 0
    archive = tmp_path / "b.tar.gz"
    assert run_cli("backup", str(archive), env=env).returncode == 0
    again = run_cli("backup", str(archive), env=env)
    assert again.returncode == 2 and "already exists" in again.stderr

    # The same archive with its secret key changed: the checksum gives it away.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "secret_key":
                data = b"0" * len(data)
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    other = server_env(tmp_path / "other")
    done = run_cli("restore", str(damaged), env=other)
    assert done.returncode == 2 and "does not match its checksum" in done.stderr, done.stderr
    assert not (tmp_path / "other" / "data" / "secret_key").exists()

    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["engine"] == ("postgresql" if PG_URL else "sqlite")
    assert set(manifest["files"]) >= {"secret_key"}


def test_configured_keys_and_previous_keys_are_backed_up_and_restored(tmp_path):
    # A rotation under way: the key in the configuration, the old one still readable.
    current, old = "c" * 40, "o" * 40
    keys = {"CALMESH_SECURITY_SECRET_KEY": current, "CALMESH_SECURITY_PREVIOUS_SECRET_KEYS": old}
    (tmp_path / "live").mkdir()
    env = server_env(tmp_path / "live", **keys)
    assert run_cli("init", env=env).returncode == 0
    archive = tmp_path / "b.tar.gz"
    done = run_cli("backup", str(archive), env=env)
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        assert tar.extractfile("secret_key").read().decode() == current
        assert tar.extractfile("previous_secret_keys").read().decode().split() == [old]

    # A configuration with another key of its own cannot read the backup: refused.
    (tmp_path / "wrong").mkdir()
    wrong = server_env(tmp_path / "wrong", CALMESH_SECURITY_SECRET_KEY="w" * 40)
    done = run_cli("restore", str(archive), env=wrong)
    assert done.returncode == 2 and "not the backup's" in done.stderr, done.stderr
    assert not (tmp_path / "wrong" / "data").exists()

    # A plain new home gets both into its data folder and starts on them.
    (tmp_path / "new").mkdir()
    home = server_env(tmp_path / "new")
    done = run_cli("restore", str(archive), env=home)
    assert done.returncode == 0, done.stderr
    data = tmp_path / "new" / "data"
    assert (data / "secret_key").read_text() == current
    assert "CALMESH_SECURITY_PREVIOUS_SECRET_KEYS_FILE" in done.stdout
    restored = start_server(
        tmp_path / "new",
        workers=1,
        CALMESH_DATABASE_URL=home["CALMESH_DATABASE_URL"],
        CALMESH_SECURITY_PREVIOUS_SECRET_KEYS_FILE=str(data / "previous_secret_keys"),
    )
    try:
        assert httpx.get(restored.url + "/api/health").status_code == 200
    finally:
        stop_server(restored)


def test_a_restore_that_fails_leaves_the_folder_as_it_was(tmp_path):
    env = server_env(tmp_path)
    assert run_cli("init", env=env).returncode == 0
    archive = tmp_path / "b.tar.gz"
    assert run_cli("backup", str(archive), env=env).returncode == 0
    # A database that is not one, with a manifest that vouches for it: it passes the
    # checksums and fails at the database step, after the keys were written.
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(archive) as source:
        manifest = json.loads(source.extractfile("manifest.json").read())
        files = {name: source.extractfile(name).read() for name in manifest["files"]}
    database = next(name for name in files if not name.startswith("secret_key"))
    files[database] = b"not a database " * 100
    manifest["files"][database] = hashlib.sha256(files[database]).hexdigest()
    with tarfile.open(broken, "w:gz") as target:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    other = server_env(tmp_path / "other")
    done = run_cli("restore", str(broken), env=other)
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "other" / "data").exists()  # a second try is not refused


def test_without_pg_dump_the_guidance_says_what_to_run(tmp_path, monkeypatch):
    from calmesh.config import load

    monkeypatch.setattr(backup_module, "_pg_tool", lambda name: None)  # a machine without it
    settings = load(
        environ={
            "CALMESH_DATA_DIR": str(tmp_path / "data"),
            "CALMESH_DATABASE_URL": "postgresql://calmesh:pw-s3cret@db.internal/calmesh",
        }
    )
    with pytest.raises(backup_module.BackupError) as refused:
        backup_module.backup(settings, tmp_path / "b.tar.gz")
    message = str(refused.value)
    assert "apt-get install postgresql-client" in message and "pg_dump --format=custom" in message
    assert "pw-s3cret" not in message
    assert not (tmp_path / "b.tar.gz").exists()
