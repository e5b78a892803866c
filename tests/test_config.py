from __future__ import annotations

import tomllib

import pytest

from calmesh import config
from tests.conftest import ROOT


def test_example_file_lists_exactly_the_schema_keys_with_their_defaults():
    with open(ROOT / "config.example.toml", "rb") as fh:
        doc = tomllib.load(fh)
    flat = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    assert flat == {key.dotted: key.default for key in config.SCHEMA}


def test_example_file_is_what_the_generator_prints():
    assert (ROOT / "config.example.toml").read_text() == config.example_toml()


def test_defaults_run_with_no_configuration_at_all():
    loaded = config.load(environ={})
    assert loaded["server.port"] == 8000
    assert loaded["server.host"] == "127.0.0.1"
    assert loaded.data_dir.name == "data"
    assert loaded.database_url == f"sqlite:///{loaded.data_dir / 'calmesh.db'}"


def test_file_then_environment_then_overrides_win_in_that_order(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('data_dir = "/srv/cal"\n[server]\nport = 9000\nworkers = 5\n')
    env = {"CALMESH_CONFIG": str(path), "CALMESH_SERVER_PORT": "9100"}
    loaded = config.load({"server.workers": 7}, environ=env)
    assert loaded["data_dir"] == "/srv/cal"
    assert loaded["server.port"] == 9100
    assert loaded["server.workers"] == 7


def test_shortcut_variables_set_the_data_folder_and_database(tmp_path):
    env = {"CALMESH_DATA_DIR": str(tmp_path), "CALMESH_DATABASE_URL": "postgresql://u@h/db"}
    loaded = config.load(environ=env)
    assert loaded.data_dir == tmp_path.resolve()
    assert loaded.database_url == "postgresql://u@h/db"


def test_secret_is_read_from_a_file_variable(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-file\n")
    loaded = config.load(environ={"CALMESH_SECURITY_SECRET_KEY_FILE": str(secret)})
    assert loaded["security.secret_key"] == "s3cret-from-file"


def test_file_variables_exist_only_for_secrets(tmp_path):
    path = tmp_path / "port"
    path.write_text("1234")
    loaded = config.load(environ={"CALMESH_SERVER_PORT_FILE": str(path)})
    assert loaded["server.port"] == 8000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALMESH_SERVER_PORT": "eighty"}, "server.port"),
        ({"CALMESH_SCHEDULER_EMBEDDED": "maybe"}, "scheduler.embedded"),
        ({"CALMESH_SERVER_WORKERS": "0"}, "at least 1"),
        ({"CALMESH_LOGGING_LEVEL": "LOUD"}, "logging.level"),
        ({"CALMESH_CONFIG": "/nonexistent/calmesh.toml"}, "cannot read"),
        ({"CALMESH_SECURITY_SECRET_KEY_FILE": "/nonexistent/secret"}, "cannot read"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=env)


def test_unknown_keys_in_the_file_are_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nprot = 80\n")
    with pytest.raises(config.ConfigError, match=r"unknown key\(s\) server.prot"):
        config.load(environ={"CALMESH_CONFIG": str(path)})


def test_keys_of_an_older_release_start_with_a_warning_saying_what_replaced_them(tmp_path, caplog):
    path = tmp_path / "c.toml"
    path.write_text("[outbox]\nmax_attempts = 8\n[security]\nsetup_token = 'x'\n")
    loaded = config.load(environ={"CALMESH_CONFIG": str(path)})
    assert "outbox.max_attempts" not in loaded.as_dict()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("outbox.max_attempts is no longer used" in w and "retry_hours" in w for w in warned)
    assert any("security.setup_token is no longer used" in w for w in warned)


def test_broken_toml_is_refused_clearly(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server\nport = ")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(environ={"CALMESH_CONFIG": str(path)})
