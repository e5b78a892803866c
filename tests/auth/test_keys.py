"""Keys per purpose, key rotation, and the database's key fingerprint
(issue 11 item 8, issue 18 item 6)."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from calmesh.auth import crypto, keys, signing
from calmesh.db import db
from calmesh.models import Connection, KeyFingerprint, Webhook
from tests.conftest import ROOT, free_port, fresh_database_url, make_app, make_user, run_cli
from tests.conftest import server_env as base_env

OLD, NEW = "the-old-secret-" + "o" * 40, "the-new-secret-" + "n" * 40


def test_each_purpose_has_its_own_key_and_none_is_the_secret():
    ring = keys.Keyring(OLD)
    derived = {purpose: ring.key(purpose) for purpose in keys.PURPOSES}
    assert len(set(derived.values())) == len(keys.PURPOSES)
    assert OLD.encode() not in derived.values()
    # The credentials key is the one CalMesh always derived: stored credentials stay readable.
    historic = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"calmesh", info=b"credentials")
    assert derived["credentials"] == historic.derive(OLD.encode())
    # The fingerprint names the key without revealing it, and differs per key.
    assert OLD not in ring.fingerprint() and ring.fingerprint() != keys.Keyring(NEW).fingerprint()


def test_previous_keys_come_from_a_list_the_environment_or_a_file(tmp_path):
    from calmesh import config

    listed = config.load({"security.previous_secret_keys": ["a", "b"]}, environ={})
    assert listed["security.previous_secret_keys"] == ["a", "b"]
    env = config.load(environ={"CALMESH_SECURITY_PREVIOUS_SECRET_KEYS": "a, b"})
    assert env["security.previous_secret_keys"] == ["a", "b"]
    (tmp_path / "old").write_text("first\nsecond\n")
    filed = config.load(
        environ={"CALMESH_SECURITY_PREVIOUS_SECRET_KEYS_FILE": str(tmp_path / "old")}
    )
    assert filed["security.previous_secret_keys"] == ["first", "second"]
    with pytest.raises(config.ConfigError, match="list of strings"):
        config.load({"security.previous_secret_keys": [1]}, environ={})


# --- rotation -----------------------------------------------------------------------------------


@pytest.fixture
def shared_url(tmp_path):
    return fresh_database_url(tmp_path)


def app_with(tmp_path, url: str, name: str, secret: str, previous: list[str] | None = None):
    """An app on the shared database with its own data folder and keys."""
    return make_app(
        tmp_path / name,
        database_url=url,
        **{"security.secret_key": secret, "security.previous_secret_keys": previous or []},
    )


def signed_in_cookies(app) -> dict[str, str]:
    """The session and remember-me cookies of a sign-in through the login form."""
    import re

    client = app.test_client()
    with app.app_context():
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        form = {"login": "alice", "password": "alice-password-123", "remember": "1"}
        client.post("/login", data={**form, "csrf_token": token})
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")}


def signed_in_with(app, **cookies: str) -> bool:
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    with app.app_context():
        return client.get("/dashboard").status_code == 200


def test_rotating_the_secret_keeps_everything_readable_and_reencrypting_drops_the_old_key(
    tmp_path, shared_url
):
    from calmesh.services import webhooks

    before = app_with(tmp_path, shared_url, "before", OLD)
    with before.app_context():
        alice = make_user("alice")
        Connection.create(
            user=alice,
            provider="caldav",
            name="Work",
            endpoint="https://dav.example.org/",
            credentials=crypto.encrypt({"username": "alice", "password": "dav-pw"}),
        )
        hook, hook_secret = webhooks.create(
            alice, "https://hooks.example.org/in", ["ping"], settings=before.config["CALMESH"]
        )
        link = signing.sign("booking-manage", {"b": "booking-uid"})
    cookies = signed_in_cookies(before)

    # Without the old key nothing stored can be read: what rotation must avoid.
    lost = app_with(tmp_path, shared_url, "lost", NEW)
    with lost.app_context(), pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt(Connection.get().credentials)

    rotated = app_with(tmp_path, shared_url, "rotated", NEW, [OLD])
    with rotated.app_context():
        assert crypto.decrypt(Connection.get().credentials)["password"] == "dav-pw"
        assert webhooks.secret_of(Webhook.get_by_id(hook.id)) == hook_secret
        assert signing.verify("booking-manage", link) == {"b": "booking-uid"}
    assert signed_in_with(rotated, session=cookies["session"])
    assert signed_in_with(rotated, remember_token=cookies["remember_token"])

    with rotated.app_context():
        counts = crypto.reencrypt_all()
        assert counts == {"connections": 1, "webhooks": 1, "unreadable": 0}
        assert crypto.reencrypt_all() == {"connections": 0, "webhooks": 0, "unreadable": 0}
        new_link = signing.sign("booking-manage", {"b": "booking-uid"})

    after = app_with(tmp_path, shared_url, "after", NEW)
    with after.app_context():
        assert crypto.decrypt(Connection.get().credentials)["password"] == "dav-pw"
        assert webhooks.secret_of(Webhook.get_by_id(hook.id)) == hook_secret
        assert signing.verify("booking-manage", new_link) == {"b": "booking-uid"}
        # Dropping the old key ends what only it signed: documented, not a surprise.
        with pytest.raises(signing.BadToken):
            signing.verify("booking-manage", link)
    assert not signed_in_with(after, session=cookies["session"])
    assert not signed_in_with(after, remember_token=cookies["remember_token"])
    with after.app_context():
        db.close()


def test_links_signed_before_keys_per_purpose_still_verify(app):
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    secret = app.extensions["calmesh.keys"].secret
    old_style = URLSafeTimedSerializer(secret, salt="calmesh:poll-vote")
    assert signing.verify("poll-vote", old_style.dumps({"p": "x", "i": 1})) == {"p": "x", "i": 1}
    # New links are signed with the derived key: the secret alone does not verify them.
    with pytest.raises(BadSignature):
        old_style.loads(signing.sign("poll-vote", {"p": "x", "i": 1}))


# --- the fingerprint: two data folders on one database ----------------------------------------


def cli_env(tmp_path, url: str, name: str, **extra: str) -> dict[str, str]:
    env = base_env(tmp_path / name, **extra)
    env["CALMESH_DATABASE_URL"] = url
    return env


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if "secret key differs" in line]
    assert lines, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "data_dir/secret_key" in lines[0] and "security.secret_key_file" in lines[0]
    return lines[0]


def test_a_host_with_another_key_refuses_to_start(tmp_path, shared_url):
    first = cli_env(tmp_path, shared_url, "a")
    assert run_cli("init", env=first).returncode == 0
    recorded = db_fingerprints(shared_url)
    assert len(recorded) == 1
    key_a = (tmp_path / "a" / "data" / "secret_key").read_text().strip()
    assert key_a not in recorded[0]

    # A second data folder generates its own key: every entry point refuses it.
    second = cli_env(tmp_path, shared_url, "b")
    for command in (["init"], ["worker"], ["create-user", "--email", "x@y.org", "--handle", "x"]):
        result = run_cli(*command, env=second)
        assert result.returncode == 2, (command, result.stderr)
        one_line_refusal(result)
    serve = run_cli("serve", "--port", str(free_port()), env=second)
    assert serve.returncode != 0
    one_line_refusal(serve)
    assert db_fingerprints(shared_url) == recorded

    # Pointed at the first host's key, the second host starts.
    shared = {**second, "CALMESH_SECURITY_SECRET_KEY_FILE": str(tmp_path / "a/data/secret_key")}
    assert run_cli("init", env=shared).returncode == 0

    # A rotation: the new key with the old one as previous matches, and becomes the recorded
    # one; a host still on the old key alone is refused from then on.
    rotated = {
        **second,
        "CALMESH_SECURITY_SECRET_KEY": NEW,
        "CALMESH_SECURITY_PREVIOUS_SECRET_KEYS": key_a,
    }
    result = run_cli("rotate-keys", env=rotated)
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 0 connection credential(s)" in result.stdout
    assert db_fingerprints(shared_url) == [keys.fingerprint(NEW)]
    assert run_cli("init", env=rotated).returncode == 0
    one_line_refusal(run_cli("init", env=first))
    assert run_cli("init", env={**first, "CALMESH_SECURITY_SECRET_KEY": NEW}).returncode == 0


def test_gunicorn_with_another_key_stops_with_one_line(tmp_path, shared_url):
    assert run_cli("init", env=cli_env(tmp_path, shared_url, "a")).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{free_port()}", "app:app"],
        cwd=ROOT,
        env=cli_env(tmp_path, shared_url, "b"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "secret key differs" in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_the_app_factory_checks_and_records_the_fingerprint(tmp_path, shared_url):
    first = app_with(tmp_path, shared_url, "one", OLD)
    keys.check_fingerprint(first)
    keys.check_fingerprint(first)  # again: still fine
    other = app_with(tmp_path, shared_url, "two", NEW)
    with pytest.raises(keys.KeyMismatch, match="copy data_dir/secret_key"):
        keys.check_fingerprint(other)
    with first.app_context():
        assert KeyFingerprint.get().fingerprint == keys.fingerprint(OLD)
        db.close()


def db_fingerprints(url: str) -> list[str]:
    from calmesh.db import make_database

    database = make_database(url)
    try:
        rows = database.execute_sql("SELECT fingerprint FROM key_fingerprint").fetchall()
    finally:
        database.close()
    return [row[0] for row in rows]


def test_fingerprint_is_not_any_derived_key():
    ring = keys.Keyring(OLD)
    digest = bytes.fromhex(ring.fingerprint())
    assert all(digest != ring.key(p) for p in keys.PURPOSES)
    assert base64.urlsafe_b64encode(ring.key("credentials")).decode() not in ring.fingerprint()
