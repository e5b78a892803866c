"""Operating an instance: ``check`` (alias ``doctor``), ``backup`` and ``restore``.

The commands read the configuration only: none builds the app, so none creates
a secret key, a data folder or a database as a side effect.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def cmd_check(args: argparse.Namespace) -> None:
    from calmesh.cli import CliError
    from calmesh.ops.check import run

    problems = run()
    for problem in problems:
        print(problem)
    if problems:
        raise CliError(f"{len(problems)} problem(s) found")
    print("No problems found: configuration, data folder, database, mail and proxy settings.")


def cmd_backup(args: argparse.Namespace) -> None:
    from calmesh.cli import CliError
    from calmesh.config import load
    from calmesh.ops.backup import BackupError, backup

    try:
        outcome = backup(load(), Path(args.path))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    _report("Backed up", outcome)


def cmd_restore(args: argparse.Namespace) -> None:
    from calmesh.cli import CliError
    from calmesh.config import load
    from calmesh.ops.backup import BackupError, restore

    try:
        outcome = restore(load(), Path(args.path))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    _report("Restored", outcome)
    print("Start the app on it; migrations of an older backup run on start.")


def _report(verb: str, outcome) -> None:
    keys = ", ".join(outcome.keys) or "no key files"
    print(f"{verb} {outcome.database} and {keys} ({outcome.path}).")
    for note in outcome.notes:
        print(f"note: {note}")


def add_commands(subparsers: argparse._SubParsersAction, add: Callable) -> None:
    """Register the commands (called by :func:`calmesh.cli.build_parser`)."""
    help = (
        "Check the configuration, database, data folder, SMTP and proxy settings; "
        "one line per problem, non-zero exit on any."
    )
    p = subparsers.add_parser("check", aliases=["doctor"], help=help, description=help)
    p.set_defaults(func=cmd_check)
    p = add(
        "backup",
        cmd_backup,
        "Write a consistent snapshot of the database and the secret key material to PATH "
        "(one .tar.gz file; safe while the app runs).",
    )
    p.add_argument("path", metavar="PATH")
    p = add(
        "restore",
        cmd_restore,
        "Restore a backup into an empty data folder (and an empty database).",
    )
    p.add_argument("path", metavar="PATH")
