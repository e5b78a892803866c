"""Keyset pagination for every list endpoint.

A list answers ``{"data": [...], "has_more": bool, "next_cursor": str|null}``;
the client passes ``next_cursor`` back as ``cursor`` for the next page. A cursor
is the sort key of the last row, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import peewee as pw

from calmesh.api.framework import ApiError
from calmesh.inputs.pagination import DEFAULT_LIMIT, MAX_LIMIT, PAGE_QUERY  # noqa: F401 - by the API too
from calmesh.schema import Any_, Boolean, Field, Integer, List, Object, String


def page_of(item: Field, name: str) -> Object:
    """The response declaration of a list of ``item``."""
    return Object(
        {
            "data": List(item, max_items=MAX_LIMIT),
            "has_more": Boolean(),
            "next_cursor": String(nullable=True, description="Pass as ?cursor= for the next page"),
        },
        name=name,
    )


def _encode(values: list[Any]) -> str:
    plain = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, order: list[pw.Field]) -> list[Any]:
    """The sort key a cursor holds, each value checked against its field's type."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError
        return [_value(v, f) for v, f in zip(values, order, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise ApiError(400, "validation_error", "cursor: not a cursor this API gave out") from None


def _value(value: Any, field: pw.Field) -> Any:
    if isinstance(field, pw.DateTimeField):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed.astimezone(UTC)
    if isinstance(field, pw.IntegerField | pw.AutoField):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > Integer.LIMIT:
            raise ValueError
        return value
    if not isinstance(value, str):
        raise ValueError
    return value


def paginate(
    query: pw.ModelSelect,
    *,
    order: list[pw.Field],
    limit: int,
    cursor: str | None,
    serialize: Callable[[Any], dict],
    descending: bool = False,
) -> dict[str, Any]:
    """One page of ``query`` sorted by ``order`` (whose last field must be unique)."""
    if cursor:
        key = pw.Tuple(*order)
        after = pw.Tuple(
            *[f.db_value(v) for f, v in zip(order, _decode(cursor, order), strict=True)]
        )
        query = query.where(key < after if descending else key > after)
    query = query.order_by(*[f.desc() if descending else f.asc() for f in order]).limit(limit + 1)
    rows = list(query)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        last = rows[-1]
        next_cursor = _encode([getattr(last, f.name) for f in order])
    return {"data": [serialize(r) for r in rows], "has_more": has_more, "next_cursor": next_cursor}


__all__ = ["PAGE_QUERY", "Any_", "page_of", "paginate"]
