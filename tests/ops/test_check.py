"""``calmesh check`` (``doctor``): one line per problem, a non-zero exit on any,
nothing changed — on a real database of the engine under test and a real SMTP server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from calmesh.ops import check
from tests.conftest import PG_URL, free_port, fresh_database_url, run_cli


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    env.update(
        CALMESH_DATA_DIR=str(tmp_path / "data"),
        CALMESH_DATABASE_URL=fresh_database_url(tmp_path),
    )
    env.update(extra)
    return env


@pytest.fixture
def instance(tmp_path) -> dict[str, str]:
    """A data folder and database made by ``calmesh init``, as after a first start."""
    env = environment(tmp_path)
    done = run_cli("init", env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_a_healthy_instance_passes_and_exits_zero(instance):
    done = run_cli("check", env=instance)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("No problems found")
    assert run_cli("doctor", env=instance).returncode == 0


def test_each_problem_is_one_line_and_the_exit_is_non_zero(instance):
    env = dict(
        instance,
        CALMESH_SERVER_BASE_URL="https://cal.example.org",
        CALMESH_SECURITY_SECURE_COOKIES="false",
    )
    done = run_cli("check", env=env)
    assert done.returncode != 0
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    assert "secure_cookies" in lines[0] and "trusted_proxies = 1" in lines[1]
    assert done.stderr.strip() == "error: 2 problem(s) found"
    assert "Traceback" not in done.stderr


def test_the_documented_proxy_settings_pass(instance):
    env = dict(
        instance,
        CALMESH_SERVER_BASE_URL="https://cal.example.org",
        CALMESH_SERVER_TRUSTED_PROXIES="1",
        CALMESH_SECURITY_SECURE_COOKIES="true",
    )
    assert check.run(env) == []
    assert check.run(dict(env, CALMESH_SECURITY_SECURE_COOKIES="auto")) == []


def test_proxy_settings_that_contradict_each_other(instance):
    problems = check.run(
        dict(
            instance,
            CALMESH_SERVER_HOST="0.0.0.0",  # noqa: S104 - the misconfiguration under test
            CALMESH_SERVER_TRUSTED_PROXIES="1",
            CALMESH_SERVER_BASE_URL="http://cal.example.org",
            CALMESH_SECURITY_SECURE_COOKIES="true",
        )
    )
    assert len(problems) == 2, problems
    assert "browsers will not send the session cookie" in problems[0]
    assert "can forge X-Forwarded-For" in problems[1]
    assert check.run(dict(instance, CALMESH_SERVER_BASE_URL="cal.example.org")) == [
        "proxy: server.base_url 'cal.example.org' is not an http(s):// address "
        "(e.g. https://cal.example.org)"
    ]


def test_a_configuration_error_is_one_line(instance):
    assert check.run(dict(instance, CALMESH_SERVER_PORT="eighty")) == [
        "configuration: server.port (CALMESH_SERVER_PORT): expected int, got 'eighty'"
    ]
    problems = check.run(dict(instance, CALMESH_GOOGLE_CLIENT_ID="id-without-a-secret"))
    assert problems == [
        "configuration: google.client_id and google.client_secret must be set together"
    ]


def test_a_database_not_created_yet_is_reported_and_not_created(tmp_path):
    env = environment(tmp_path)
    problems = check.run(env)
    assert len(problems) == 1 and problems[0].startswith("database: "), problems
    assert "calmesh init" in problems[0]
    assert not (tmp_path / "data").exists()  # check changes nothing
    if not PG_URL:
        assert not (tmp_path / "calmesh.db").exists()


def test_an_unreachable_database_names_it_without_its_password(instance):
    url = f"postgresql://calmesh:s3cret-pw@127.0.0.1:{free_port()}/calmesh"
    problems = check.run(dict(instance, CALMESH_DATABASE_URL=url))
    assert len(problems) == 1 and problems[0].startswith("database: cannot open "), problems
    assert "s3cret-pw" not in problems[0] and ":***@" in problems[0]


def test_a_database_migrated_by_a_newer_version_is_reported(instance):
    from calmesh import db

    database = db.make_database(instance["CALMESH_DATABASE_URL"])
    with database.connection_context(), db.SchemaVersion.bind_ctx(database):
        db.SchemaVersion.create(name="m9999_from_the_future")
    database.close()
    problems = check.run(instance)
    assert len(problems) == 1 and "m9999_from_the_future" in problems[0], problems


def test_data_folder_permissions(instance):
    folder = Path(instance["CALMESH_DATA_DIR"])
    key = folder / "secret_key"
    key.write_text("k" * 64)
    key.chmod(0o644)
    folder.chmod(0o777)
    try:
        problems = check.run(instance)
    finally:
        folder.chmod(0o700)
    assert problems == [
        f"data folder: {folder} is writable by everyone (chmod o-w)",
        f"data folder: {key} is readable by other users (chmod 600 secret_key)",
    ]


def test_smtp_is_reached_and_logged_into_when_configured(instance, make_smtp_server):
    server = make_smtp_server(users={"calmesh": "mail-password"})
    env = dict(
        instance,
        CALMESH_MAIL_HOST=server.host,
        CALMESH_MAIL_PORT=str(server.port),
        CALMESH_MAIL_SECURITY="none",
        CALMESH_MAIL_USERNAME="calmesh",
        CALMESH_MAIL_PASSWORD="mail-password",
        CALMESH_MAIL_FROM_ADDRESS="calmesh@example.org",
    )
    assert check.run(env) == []
    assert server.messages == []  # nothing sent

    problems = check.run(dict(env, CALMESH_MAIL_PASSWORD="wrong-password"))
    assert len(problems) == 1 and "refused the login" in problems[0], problems
    assert "wrong-password" not in problems[0]


def test_an_smtp_server_that_is_down_is_one_line(instance):
    port = free_port()
    problems = check.run(dict(instance, CALMESH_MAIL_HOST="127.0.0.1", CALMESH_MAIL_PORT=str(port)))
    assert len(problems) == 1 and problems[0].startswith(f"mail: SMTP server 127.0.0.1:{port}")
