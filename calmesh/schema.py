"""Input declared once: each field checks a value and describes itself as JSON Schema.

The REST layer parses bodies and query strings with these declarations and the
OpenAPI document is generated from the very same objects, so the document
cannot drift from the code. The CLI and the HTML forms use them too.

``parse`` returns Python values (aware UTC datetimes, dates, ints) or raises
:class:`Invalid` with one entry per bad field, each naming its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

MISSING: Any = object()
# Dates and instants a scheduler can mean; beyond them date arithmetic overflows.
SANE_YEARS = (1900, 2200)


# A lone UTF-16 surrogate ("\ud800" in JSON, with no partner) is valid syntax but
# no character: it cannot be encoded as UTF-8 to be stored, mailed or answered.
# PostgreSQL cannot store NUL. (json decodes a surrogate pair into one character.)
UNUSABLE = re.compile("[\x00\ud800-\udfff]")


def unusable_text(text: str) -> str:
    """Why ``text`` cannot be used as input (a NUL or a lone surrogate), or ""."""
    found = UNUSABLE.search(text)
    if found is None:
        return ""
    if found.group() == "\x00":
        return "text must not contain NUL (\\u0000)"
    return "text must not contain a lone UTF-16 surrogate"


def unusable_in(value: Any) -> str:
    """The first problem of :func:`unusable_text` in any string (or key) of a
    decoded JSON value, or "". Iterative: nesting depth costs no recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = unusable_text(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return ""


def iso(value: datetime | None) -> str | None:
    """An instant as the API and the links write it: ISO 8601, UTC as ``Z``."""
    return value.isoformat().replace("+00:00", "Z") if value else None


class Invalid(ValueError):
    """Input that does not match its declaration; ``details`` lists each problem."""

    def __init__(self, details: list[dict[str, str]]):
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))


def _fail(path: str, message: str) -> Invalid:
    return Invalid([{"field": path or "body", "message": message}])


@cache
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA zone, else ValueError with a readable message."""
    if name not in iana_zones():
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin")
    return name


class Field:
    """Base of all declarations. ``default`` makes a field optional."""

    json_type: str | None = None

    def __init__(
        self,
        *,
        default: Any = MISSING,
        required: bool | None = None,
        nullable: bool = False,
        description: str = "",
        example: Any = MISSING,
    ):
        self.default = default
        self.required = (default is MISSING) if required is None else required
        self.nullable = nullable
        self.description = description
        self.example = example

    # -- parsing --------------------------------------------------------------
    def parse(self, value: Any, path: str = "") -> Any:
        if value is None:
            if self.nullable:
                return None
            raise _fail(path, "must not be null")
        return self.check(value, path)

    def check(self, value: Any, path: str) -> Any:  # overridden
        return value

    def parse_text(self, text: str, path: str) -> Any:
        """A query-string value: text first converted to the field's type."""
        return self.parse(text, path)

    # -- description ----------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        schema = self.describe()
        if self.nullable and "type" in schema:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        if self.description:
            schema["description"] = self.description
        if self.default is not MISSING and self.default is not None and not callable(self.default):
            schema["default"] = self.default
        if self.example is not MISSING:
            schema["examples"] = [self.example]
        return schema

    def describe(self) -> dict[str, Any]:
        return {"type": self.json_type} if self.json_type else {}


class String(Field):
    json_type = "string"

    def __init__(
        self,
        *,
        min_length: int = 0,
        max_length: int = 1000,
        pattern: str | None = None,
        pattern_help: str = "",
        strip: bool = True,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.min_length, self.max_length = min_length, max_length
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_help = pattern_help
        self.strip = strip

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _fail(path, "must be a string")
        if "\x00" in value:
            raise _fail(path, "must not contain NUL characters")
        if self.strip:
            value = value.strip()
        if len(value) < self.min_length:
            raise _fail(
                path,
                "is required"
                if self.min_length == 1
                else f"must be at least {self.min_length} characters",
            )
        if len(value) > self.max_length:
            raise _fail(path, f"must be at most {self.max_length} characters")
        if self.pattern and not self.pattern.fullmatch(value):
            raise _fail(path, self.pattern_help or f"must match {self.pattern.pattern}")
        return value

    def describe(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            # With stripping, whitespace-only text is too short: say so in the schema.
            schema["minLength"] = self.min_length
            if self.strip and not self.pattern:
                schema["pattern"] = r"\S"
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern.pattern})$"
        return schema


class Email(String):
    # No spaces, control characters or the separators of address lists: what passes
    # can be carried by a mail header and an iCalendar ATTENDEE alike.
    _re = r"[^@\s,;:<>()\[\]\"\\]+@[^@\s,;:<>()\[\]\"\\]+\.[^@\s,;:<>()\[\]\"\\]+"

    def __init__(self, **kw: Any):
        super().__init__(
            min_length=3,
            max_length=254,
            pattern=self._re,
            pattern_help="must be an e-mail address",
            **kw,
        )

    def check(self, value: Any, path: str) -> Any:
        return super().check(value, path).lower()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "format": "email"}


class Url(String):
    def __init__(self, **kw: Any):
        super().__init__(
            min_length=1,
            max_length=2000,
            pattern=r"https?://[^\s/$.?#][^\s]*",
            pattern_help="must be an http:// or https:// URL",
            **kw,
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "format": "uri"}


class TimeZone(String):
    def __init__(self, **kw: Any):
        kw.setdefault("description", "IANA time zone name, e.g. Europe/Berlin")
        super().__init__(min_length=1, max_length=64, **kw)

    def check(self, value: Any, path: str) -> Any:
        value = super().check(value, path)
        try:
            return check_timezone(value)
        except ValueError as exc:
            raise _fail(path, str(exc)) from None

    def describe(self) -> dict[str, Any]:
        # The schema cannot list 600 zone names usefully; a pattern keeps fuzzers near.
        return {"type": "string", "maxLength": 64, "examples": ["Europe/Berlin", "UTC"]}


class Integer(Field):
    json_type = "integer"

    # Ids and counts fit a signed 64-bit column with room to spare; beyond this a
    # number cannot name anything, and SQLite would overflow on it.
    LIMIT = 2**53 - 1

    def __init__(self, *, minimum: int | None = None, maximum: int | None = None, **kw: Any):
        super().__init__(**kw)
        self.minimum = -self.LIMIT if minimum is None else minimum
        self.maximum = self.LIMIT if maximum is None else maximum

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise _fail(path, f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise _fail(path, f"must be at most {self.maximum}")
        return value

    def parse_text(self, text: str, path: str) -> Any:
        if not re.fullmatch(r"-?\d{1,18}", text.strip()):
            raise _fail(path, "must be an integer")
        return self.parse(int(text), path)

    def describe(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class Boolean(Field):
    json_type = "boolean"

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false")
        return value

    def parse_text(self, text: str, path: str) -> Any:
        lowered = text.strip().lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        raise _fail(path, "must be true or false")


class Choice(Field):
    json_type = "string"

    def __init__(self, *values: str, **kw: Any):
        super().__init__(**kw)
        self.values = values

    def check(self, value: Any, path: str) -> Any:
        if value not in self.values:
            raise _fail(path, "must be one of " + ", ".join(self.values))
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


class DateTime(Field):
    """ISO 8601 with an offset; returns an aware UTC datetime. Naive times are refused."""

    json_type = "string"

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _fail(path, "must be an ISO 8601 date-time string")
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(
                path, "must be an ISO 8601 date-time such as 2026-03-15T09:00:00+01:00"
            ) from None
        if parsed.tzinfo is None:
            raise _fail(
                path,
                "needs a UTC offset or Z (e.g. 2026-03-15T09:00:00+01:00); "
                "naive times are ambiguous",
            )
        if not (SANE_YEARS[0] <= parsed.year <= SANE_YEARS[1]):
            raise _fail(path, f"must be between the years {SANE_YEARS[0]} and {SANE_YEARS[1]}")
        return parsed.astimezone(UTC)

    def describe(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


class Date(Field):
    json_type = "string"

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise _fail(path, "must be a date YYYY-MM-DD")
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise _fail(path, "is not a valid calendar date") from None
        if not (SANE_YEARS[0] <= parsed.year <= SANE_YEARS[1]):
            raise _fail(path, f"must be between the years {SANE_YEARS[0]} and {SANE_YEARS[1]}")
        return parsed

    def describe(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


class List(Field):
    json_type = "array"

    def __init__(self, item: Field, *, min_items: int = 0, max_items: int = 500, **kw: Any):
        super().__init__(**kw)
        self.item, self.min_items, self.max_items = item, min_items, max_items

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _fail(path, "must be a list")
        if len(value) < self.min_items:
            raise _fail(path, f"needs at least {self.min_items} item(s)")
        if len(value) > self.max_items:
            raise _fail(path, f"takes at most {self.max_items} items")
        out, problems = [], []
        for i, item in enumerate(value):
            try:
                out.append(self.item.parse(item, f"{path}[{i}]"))
            except Invalid as exc:
                problems.extend(exc.details)
        if problems:
            raise Invalid(problems)
        return out

    def describe(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": self.item.json_schema(),
            "maxItems": self.max_items,
        }
        if self.min_items:
            schema["minItems"] = self.min_items
        return schema


class Object(Field):
    """A JSON object with declared fields; unknown fields are refused (typos surface)."""

    json_type = "object"

    def __init__(
        self,
        fields: dict[str, Field] | None = None,
        *,
        name: str = "",
        required: Iterable[str] | None = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.fields = fields or {}
        self.name = name  # component name in the OpenAPI document
        # Which keys must be present: by default the fields without a default;
        # ``required=`` lets one set of field declarations serve a create (some
        # required) and a partial update (none required).
        self.required_keys = (
            set(required)
            if required is not None
            else {k for k, f in self.fields.items() if f.required}
        )

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(path, "must be a JSON object")
        prefix = f"{path}." if path else ""
        problems = [
            {"field": prefix + key, "message": "is not a known field"}
            for key in value
            if key not in self.fields
        ]
        return self._parse_fields(value, prefix, "parse", problems)

    def parse_query(self, args: dict[str, str]) -> dict[str, Any]:
        """Query-string parameters: text converted by each field; unknown ones ignored."""
        return self._parse_fields(args, "", "parse_text", [])

    def _parse_fields(
        self, given: Mapping[str, Any], prefix: str, how: str, problems: list[dict[str, str]]
    ) -> dict[str, Any]:
        """Each declared field of ``given`` parsed by its ``how`` method (``parse`` or
        ``parse_text``), defaults filled in; every problem (after those already found)
        raised at once."""
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            if key not in given:
                if key in self.required_keys:
                    problems.append({"field": prefix + key, "message": "is required"})
                elif field.default is not MISSING:
                    out[key] = field.default() if callable(field.default) else field.default
                continue
            try:
                out[key] = getattr(field, how)(given[key], prefix + key)
            except Invalid as exc:
                problems.extend(exc.details)
        if problems:
            raise Invalid(problems)
        return out

    def describe(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        required = [k for k in self.fields if k in self.required_keys]
        if required:
            schema["required"] = required
        return schema


class Any_(Field):
    """Anything JSON (for free-form ``details``-like output)."""

    def describe(self) -> dict[str, Any]:
        return {}


class TextOrFlag(Field):
    """A string or a boolean (answers to custom questions)."""

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) <= 5000 and "\x00" not in value:
            return value
        raise _fail(path, "must be text (at most 5000 characters) or true/false")

    def describe(self) -> dict[str, Any]:
        return {"type": ["string", "boolean"], "maxLength": 5000}


class Map(Field):
    """A JSON object with free keys and declared values."""

    json_type = "object"

    def __init__(self, value: Field, *, max_items: int = 100, **kw: Any):
        super().__init__(**kw)
        self.value, self.max_items = value, max_items

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(path, "must be a JSON object")
        if len(value) > self.max_items:
            raise _fail(path, f"takes at most {self.max_items} entries")
        prefix = f"{path}." if path else ""
        out, problems = {}, []
        for key, item in value.items():
            try:
                out[key] = self.value.parse(item, prefix + key)
            except Invalid as exc:
                problems.extend(exc.details)
        if problems:
            raise Invalid(problems)
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": self.value.json_schema(),
            "maxProperties": self.max_items,
        }


# --- limits shared by the REST API, the pages, the CLI and the MCP tools ------------------
# Declared once here; everything else refers to these names.

MAX_MINUTES = 1440  # a duration, or the shortest free range asked for: one day
SLUG_MAX = 60  # a unified calendar's or booking page's slug
SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
MAX_SLOT_DAYS = 62  # how far one slots query reaches
MAX_WINDOW_DAYS = 366  # one events, availability or conflicts window


def slug_field(**kw: Any) -> String:
    """A slug: lowercase letters, digits and inner hyphens, at most SLUG_MAX."""
    return String(
        min_length=1,
        max_length=SLUG_MAX,
        pattern=SLUG_PATTERN,
        pattern_help="lowercase letters, digits and inner hyphens",
        **kw,
    )


def minutes_field(minimum: int = 1, **kw: Any) -> Integer:
    """Minutes, at most MAX_MINUTES (one day)."""
    return Integer(minimum=minimum, maximum=MAX_MINUTES, **kw)


# The languages visitors' pages and mails are translated into (calmesh/translations/).
LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}
