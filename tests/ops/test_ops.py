"""calmesh.ops (the package): the ``check`` (alias ``doctor``), ``backup`` and
``restore`` commands: what each prints and how a refusal ends, without building
the app (nothing is created as a side effect)."""

from __future__ import annotations

import argparse
import os

import pytest

from calmesh.cli import CliError, build_parser
from calmesh.ops import cmd_backup, cmd_check, cmd_restore


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An instance configured by the environment, with nothing in its data folder yet."""
    for name in [n for n in os.environ if n.startswith("CALMESH_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    monkeypatch.setenv("CALMESH_DATA_DIR", str(data))
    return data


def test_check_doctor_backup_and_restore_are_commands_with_their_arguments():
    parser = build_parser()

    assert parser.parse_args(["check"]).func is cmd_check
    assert parser.parse_args(["doctor"]).func is cmd_check
    backup = parser.parse_args(["backup", "/tmp/x.tar.gz"])
    assert (backup.func, backup.path) == (cmd_backup, "/tmp/x.tar.gz")
    assert parser.parse_args(["restore", "b.tar.gz"]).func is cmd_restore
    with pytest.raises(SystemExit):
        parser.parse_args(["backup"])  # PATH is required


def test_a_backup_of_an_instance_with_no_database_is_refused_and_creates_nothing(
    instance, tmp_path
):
    with pytest.raises(CliError, match="nothing to back up yet"):
        cmd_backup(argparse.Namespace(path=str(tmp_path / "backup.tar.gz")))

    assert not (tmp_path / "backup.tar.gz").exists()
    assert not instance.exists()  # the command read the configuration only


def test_a_restore_from_a_missing_file_is_refused(instance, tmp_path):
    missing = tmp_path / "nope.tar.gz"

    with pytest.raises(CliError, match="does not exist"):
        cmd_restore(argparse.Namespace(path=str(missing)))


def test_check_prints_each_problem_on_a_line_and_counts_them(instance, capsys):
    with pytest.raises(CliError) as refused:
        cmd_check(argparse.Namespace())

    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"database: {instance / 'calmesh.db'} does not exist yet")
    assert str(refused.value) == "1 problem(s) found"
    assert not instance.exists()
