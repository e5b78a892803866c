"""Form handling for pages: the same declarations as the API, errors per field."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import request

from calmesh.schema import LANGUAGES, SLUG_MAX, Choice, Invalid, Object


def parse_form(
    schema: Object, fields: list[str] | None = None, blank: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse ``request.form`` with ``schema``; returns (values, errors by field).

    Empty optional inputs count as absent, as a browser always sends them;
    ``blank`` gives the value of an input left empty (a slug from the name).
    """
    raw = {}
    for key in fields or schema.fields:
        value = request.form.get(key)
        if value == "" and (blank or {}).get(key):
            value = blank[key]
        if value is not None and (value != "" or key in schema.required_keys):
            raw[key] = value
    try:
        return schema.parse(raw), {}
    except Invalid as exc:
        return raw, {d["field"]: d["message"] for d in exc.details}


def slug_from(title: str) -> str:
    """The slug a title suggests: "Café Intro call!" -> "cafe-intro-call" (app.js
    proposes the same while the owner types)."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:SLUG_MAX].rstrip("-")


def language_choices(field: Choice) -> dict[str, str]:
    """The languages a declared ``language`` field takes, by code, with their names
    (for the editors' select: the declaration says which, not the template)."""
    return {code: LANGUAGES[code] for code in field.values}
