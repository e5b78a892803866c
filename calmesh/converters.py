"""URL converters for the ids in paths, so that routing refuses what cannot be
an id, and the OpenAPI document states the same pattern (see api/openapi.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, IntegerConverter

from calmesh.schema import SLUG_MAX, Integer


class IdConverter(IntegerConverter):
    """``<int:...>`` everywhere: an id larger than the API's integers is a 404,
    not a number the database cannot hold (an error on PostgreSQL, an overflow
    on SQLite). Raised here, not by refusing to match: then a route of the same
    path with another method would answer 405."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > Integer.LIMIT:
            raise NotFound("no such object: the id is out of range")
        return number


_SLUG = rf"[a-z0-9](?:[a-z0-9-]{{0,{SLUG_MAX - 2}}}[a-z0-9])?"


class SlugConverter(BaseConverter):
    """A calendar's or booking page's slug."""

    regex = _SLUG
    schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": f"^{_SLUG}$",
        "maxLength": SLUG_MAX,
    }


class TokenConverter(BaseConverter):
    """A public random id (a booking's uid, a poll's id)."""

    regex = r"[A-Za-z0-9_-]{1,64}"
    schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "maxLength": 64,
    }


CONVERTERS = {"int": IdConverter, "slug": SlugConverter, "token": TokenConverter}
