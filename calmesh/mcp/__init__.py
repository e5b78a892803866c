"""CalMesh's MCP server: a client of the REST API that offers it to AI agents as tools.

``python -m calmesh mcp`` serves over stdio, ``--transport http`` over
streamable HTTP. This module only adds the command: the MCP SDK is imported
when the command runs, so the rest of the CLI stays quick.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def run(args: argparse.Namespace) -> None:
    from calmesh.mcp.client import Settings, http_secret

    # Check the environment before the MCP SDK loads: a refusal should be instant.
    settings = Settings.from_env()
    if args.transport == "http":
        secret = http_secret()
        from calmesh.mcp.server import serve_http

        serve_http(settings, args.host, args.port, secret)
    else:
        from calmesh.mcp.server import serve_stdio

        serve_stdio(settings)


def add_command(subparsers: argparse._SubParsersAction, add: Callable) -> None:
    """Register ``mcp`` (called by :func:`calmesh.cli.build_parser`)."""
    from calmesh.cli import _positive  # here, not at import: calmesh.cli imports this module

    p = add(
        "mcp",
        run,
        "Serve the MCP server (AI agents' tools) over stdio, or over HTTP with --transport "
        "http. Reads CALMESH_URL, CALMESH_API_KEY and, for HTTP, CALMESH_HTTP_SECRET.",
    )
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP only; default 127.0.0.1")
    p.add_argument("--port", type=_positive, default=3100, help="HTTP only; default 3100")
