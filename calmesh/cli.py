"""``calmesh <command>`` (or ``python -m calmesh``): set-up, serving and maintenance.

Every wrong argument ends with a one-line message and exit status 2; nothing
prints a traceback to the user.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable

from calmesh.config import ConfigError
from calmesh.mcp import add_command as add_mcp_command
from calmesh.ops import add_commands as add_ops_commands


class CliError(Exception):
    """A user-facing failure: printed as ``error: ...``, exit status 2."""


def _app(**overrides):
    from calmesh import create_app

    return create_app(overrides or None)


def _migrate(app) -> list[str]:
    """Create or migrate the database, then make sure this key is the database's."""
    from calmesh import db
    from calmesh.auth import keys

    applied = db.migrate()
    keys.check_fingerprint(app)
    return applied


def cmd_init(args: argparse.Namespace) -> None:

    app = _app()
    applied = _migrate(app)
    where = app.config["CALMESH"].database_url.split("@")[-1]
    if applied == ["<created>"]:
        print(f"Created the database ({where}).")
    elif applied:
        print(f"Migrated the database ({where}): {', '.join(applied)}.")
    else:
        print(f"The database is up to date ({where}).")
    from calmesh.auth import setup as first_run

    with app.app_context():
        url = first_run.setup_url()
    if url:
        print(f"No account yet. Create the owner at {url}")


def cmd_setup_url(args: argparse.Namespace) -> None:
    from calmesh import db
    from calmesh.auth import setup as first_run

    app = _app()
    db.migrate()
    with app.app_context():
        url = first_run.setup_url(renew=args.new)
    if url is None:
        raise CliError("an account exists already: setup is over (use create-user for more)")
    if args.new:
        print("Made a new setup token; the previous link no longer works.")
    print(url)


def cmd_create_user(args: argparse.Namespace) -> None:
    from calmesh.schema import Invalid
    from calmesh.services import users

    _migrate(_app())
    password = args.password or secrets.token_urlsafe(12)
    try:
        user = users.create_user(
            email=args.email,
            handle=args.handle,
            password=password,
            name=args.name or "",
            timezone=args.timezone,
        )
    except Invalid as exc:
        raise CliError(str(exc)) from None
    except users.UserExists as exc:
        raise CliError(f"{exc.field} is already taken") from None
    print(f"Created user {user.handle} <{user.email}> (time zone {user.timezone}).")
    if not args.password:
        print(f"Generated password: {password}")


def cmd_create_api_key(args: argparse.Namespace) -> None:
    from calmesh.auth import apikeys
    from calmesh.models import User

    _migrate(_app())
    user = User.get_or_none(User.handle == args.user)
    if user is None:
        raise CliError(f"no user with handle {args.user!r}")
    name = args.name or f"{args.scope} key"
    if not name.strip() or len(name) > 100:
        raise CliError("--name must be 1-100 characters")
    row, key = apikeys.create(user, name.strip(), args.scope)
    print(f"Created {args.scope} key {row.name!r} for {user.handle}. It is shown only once:")
    print(key)


def cmd_serve(args: argparse.Namespace) -> None:
    from calmesh.server import serve

    overrides = {
        k: v
        for k, v in {
            "server.host": args.host,
            "server.port": args.port,
            "server.workers": args.workers,
        }.items()
        if v is not None
    }
    serve(overrides)


def cmd_worker(args: argparse.Namespace) -> None:
    from calmesh import create_app
    from calmesh.jobs.scheduler import run_forever

    app = create_app({"scheduler.embedded": False})
    _migrate(app)
    run_forever(app)


def cmd_sync(args: argparse.Namespace) -> None:
    import time

    from calmesh.models import Connection
    from calmesh.services import sync

    app = _app()
    _migrate(app)
    with app.app_context():
        query = Connection.select().order_by(Connection.id)
        if args.connection is not None:
            query = query.where(Connection.id == args.connection)
        connections = list(query)
        if args.connection is not None and not connections:
            raise CliError(f"no connection with id {args.connection}")
        failed = 0
        for n, connection in enumerate(connections, 1):
            kind = f"{connection.provider}, id {connection.id}"
            print(f"[{n}/{len(connections)}] {connection.name} ({kind})", flush=True)
            started = time.monotonic()
            report = sync.sync_connection(
                connection.id,
                app.config["CALMESH"],
                progress=lambda msg: print(f"    {msg}", flush=True),
            )
            took = time.monotonic() - started
            if report.status == "ok":
                print(
                    f"    ok in {took:.1f} s: {report.changed} changed, {report.deleted} deleted, "
                    f"{report.occurrences} occurrences stored, {report.requests} requests"
                )
                if report.message:
                    print(f"    note: {report.message}")
            else:
                failed += 1
                print(f"    {report.status}: {report.message}")
        if not connections:
            print("No connections yet.")
    if failed:
        raise CliError(f"{failed} of {len(connections)} connection(s) failed to sync")


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from calmesh.auth import crypto

    app = _app()
    _migrate(app)
    with app.app_context():
        counts = crypto.reencrypt_all()
    print(
        f"Re-encrypted {counts['connections']} connection credential(s) and "
        f"{counts['webhooks']} webhook secret(s) under the current secret key."
    )
    if counts["unreadable"]:
        print(
            f"{counts['unreadable']} value(s) no configured key can read were left as they "
            "are: reconnect those connections, rotate those webhooks' secrets."
        )
    print(
        "Stored secrets no longer need security.previous_secret_keys. Keep the old key "
        "listed as long as sessions and links signed with it should work (visitors' links: "
        "up to 400 days)."
    )


def cmd_config_example(args: argparse.Namespace) -> None:
    from calmesh.config import example_toml

    sys.stdout.write(example_toml())


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected 1-65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calmesh", description="CalMesh: self-hosted scheduling.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "Create or migrate the database.")
    p = add("create-user", cmd_create_user, "Create an account.")
    p.add_argument("--email", required=True)
    p.add_argument("--handle", required=True, help="lowercase letters, digits, hyphens")
    p.add_argument("--password", help="at least 10 characters; generated and printed when left out")
    p.add_argument("--name")
    p.add_argument("--timezone", default="UTC", help="IANA name, e.g. Europe/Berlin")
    p = add(
        "setup-url",
        cmd_setup_url,
        "Print the first-run link (with the setup token) while no account exists.",
    )
    p.add_argument(
        "--new", action="store_true", help="make a new token; the old link stops working"
    )
    p = add(
        "create-api-key", cmd_create_api_key, "Create an API key; prints it once, on the last line."
    )
    p.add_argument("--user", required=True, metavar="HANDLE")
    p.add_argument("--scope", required=True, choices=["read", "book", "full"])
    p.add_argument("--name")
    p = add("serve", cmd_serve, "Serve the app with gunicorn (and the scheduler in one worker).")
    p.add_argument("--host")
    p.add_argument("--port", type=_positive)
    p.add_argument("--workers", type=_positive)
    add(
        "worker",
        cmd_worker,
        "Run the scheduler alone (set scheduler.embedded=false for the web workers).",
    )
    p = add("sync", cmd_sync, "Sync calendar connections now, showing progress.")
    p.add_argument("--connection", type=int, metavar="ID", help="only this connection")
    add(
        "rotate-keys",
        cmd_rotate_keys,
        "Re-encrypt stored credentials and webhook secrets under the current secret key "
        "(after moving the old one to security.previous_secret_keys).",
    )
    add(
        "config-example",
        cmd_config_example,
        "Print config.example.toml: every key with its default.",
    )
    for extra in EXTRA_COMMANDS:
        extra(sub, add)
    return parser


# Later modules (sync, mcp) add their commands here: f(subparsers, add).
EXTRA_COMMANDS: list[Callable] = []
EXTRA_COMMANDS.append(add_mcp_command)
EXTRA_COMMANDS.append(add_ops_commands)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (CliError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last guard: a message, never a traceback
        from peewee import PeeweeException

        if isinstance(exc, PeeweeException | OSError):
            first_line = (str(exc).splitlines() or [""])[0]
            print(f"error: {type(exc).__name__}: {first_line}", file=sys.stderr)
            return 1
        raise
    return 0
