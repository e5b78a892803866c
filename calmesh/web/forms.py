"""Form handling for pages: the same declarations as the API, errors per field."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import request

from calmesh.schema import SLUG_MAX, Invalid, Object


def parse_form(
    schema: Object, fields: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse ``request.form`` with ``schema``; returns (values, errors by field).

    Empty optional inputs count as absent, as a browser always sends them.
    """
    raw = {
        key: value
        for key in (fields or schema.fields)
        if (value := request.form.get(key)) is not None
        and (value != "" or key in schema.required_keys)
    }
    try:
        return schema.parse(raw), {}
    except Invalid as exc:
        return raw, {d["field"]: d["message"] for d in exc.details}


def slug_from(title: str) -> str:
    """The slug a title suggests: "Café Intro call!" -> "cafe-intro-call" (app.js
    proposes the same while the owner types)."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:SLUG_MAX].rstrip("-")
