"""A page of a list: how many, and from where (the ``next_cursor`` of the last)."""

from __future__ import annotations

from calmesh.schema import Integer, String

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

PAGE_QUERY = {
    "limit": Integer(minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT, description="Page size"),
    "cursor": String(
        max_length=500,
        pattern=r"[A-Za-z0-9_-]+",
        pattern_help="must be a next_cursor this API gave out",
        default=None,
        description="next_cursor of the previous page",
    ),
}
