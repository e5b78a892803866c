"""The README's table of every REST endpoint and MCP tool with the scope each needs,
generated from the code: the endpoints' declarations (:data:`calmesh.api.framework.ROUTES`)
and the tools' registrations (:func:`calmesh.mcp.common.tool`).

``python -m calmesh.mcp.scopes`` prints the table; ``--write`` puts it into README.md
between the markers. A test keeps the README in step with the code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

START = "<!-- scope-table:start (python -m calmesh.mcp.scopes --write) -->"
END = "<!-- scope-table:end -->"
AUTH_WORDS = {
    "public": "public",
    "read": "read",
    "book": "book",
    "full": "full",
    "session": "signed-in session only",
}


def _key(path: str) -> str:
    """``/api/v1/bookings/{uid}`` and ``/bookings/:uid`` alike, for matching."""
    path = path.removeprefix("/api/v1")
    return re.sub(r"\{[^}]+\}|:[A-Za-z]+", "*", path)


def catalog() -> dict:
    """Every tool's spec, by name."""
    from calmesh.mcp.common import spec_of
    from calmesh.mcp.server import tools

    return {spec_of(fn).name: spec_of(fn) for fn in tools()}


def routes() -> list:
    from calmesh import create_app  # registers every endpoint
    from calmesh.api.framework import ROUTES

    if not ROUTES:
        create_app({"database_url": "sqlite:///:memory:", "scheduler.embedded": False})
    return sorted(ROUTES, key=lambda r: (r.path, r.method))


def table() -> str:
    """The markdown table: one row per endpoint, with the tools that call it."""
    tools = catalog()
    by_call: dict[tuple[str, str], list[str]] = {}
    for spec in tools.values():
        for call in spec.calls:
            method, _, path = call.partition(" ")
            by_call.setdefault((method, _key(path)), []).append(f"`{spec.name}` ({spec.scope})")
    lines = [
        "| endpoint | scope | MCP tools (scope) |",
        "|---|---|---|",
    ]
    for route in routes():
        used = by_call.pop((route.method, _key(route.path)), [])
        lines.append(
            f"| `{route.method} {route.path}` | "
            f"{route.extra.get('scope_label') or AUTH_WORDS[route.auth]} | "
            f"{', '.join(sorted(used)) or '-'} |"
        )
    if by_call:  # a tool names an endpoint that does not exist
        raise ValueError(f"tools call unknown endpoints: {sorted(by_call)}")
    return "\n".join(lines)


def replace_in(text: str, block: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main(argv: list[str]) -> None:
    block = table()
    if "--write" in argv:
        readme = Path(__file__).resolve().parents[2] / "README.md"
        readme.write_text(replace_in(readme.read_text(), block))
    else:
        print(block)


if __name__ == "__main__":
    main(sys.argv[1:])
