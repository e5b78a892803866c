"""calmesh.mcp (the package): the ``calmesh mcp`` command, its options, and its
refusals before the MCP SDK loads."""

from __future__ import annotations

import pytest

from calmesh.cli import build_parser
from calmesh.mcp import run
from tests.conftest import run_cli
from tests.mcp.conftest import plain_env


def test_the_command_serves_stdio_on_loopback_port_3100_by_default():
    args = build_parser().parse_args(["mcp"])
    http = build_parser().parse_args(
        ["mcp", "--transport", "http", "--host", "::1", "--port", "8080"]
    )

    assert (args.func, args.transport, args.host, args.port) == (run, "stdio", "127.0.0.1", 3100)
    assert (http.transport, http.host, http.port) == ("http", "::1", 8080)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mcp", "--transport", "sse"])


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ((), {}, "error: CALMESH_API_KEY is not set"),
        (
            ("--transport", "http"),
            {"CALMESH_API_KEY": "cm_live_x"},
            "CALMESH_HTTP_SECRET is not set",
        ),
        (("--port", "0"), {"CALMESH_API_KEY": "cm_live_x"}, "expected 1-65535"),
    ],
    ids=["no-key", "no-secret", "port"],
)
def test_mcp_command_refuses_to_start_without_what_it_needs(args, env, says):
    result = run_cli("mcp", *args, env=plain_env(**env))

    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # stdout is the stdio transport's: never a stray line
