"""The OpenAPI 3.1 document, generated from the routes' own declarations."""

from __future__ import annotations

from typing import Any

from calmesh.api.framework import ROUTES, Route
from calmesh.converters import CONVERTERS
from calmesh.schema import Integer, Object

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
STANDARD_ERRORS = {
    400: "Invalid input (validation_error, invalid_json)",
    401: "Missing or bad credentials",
    403: "Scope too small, or CSRF token missing",
    404: "Not found (also another user's object)",
    409: "Conflict",
    413: "Body too large",
    422: "Cannot be processed",
    414: "Request line too long (uri_too_long): send long input in a body",
    429: "Rate limited; see Retry-After",
    503: "The database is unavailable (a full disk, ...); see Retry-After",
}
SECURITY = {
    "public": [{}],
    "session": [{"session": []}],
}


def _path_schema(converter: str) -> dict[str, Any]:
    if converter == "int":
        return {"type": "integer", "minimum": 0, "maximum": Integer.LIMIT}
    if converter in CONVERTERS:
        return dict(CONVERTERS[converter].schema)
    return {"type": "string", "maxLength": 200}


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.view.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "security": SECURITY.get(route.auth, [{"bearer": []}, {"session": []}]),
    }
    if route.description:
        op["description"] = route.description
    if route.auth in {"read", "book", "full"}:
        op["x-calmesh-scope"] = route.auth
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _path_schema(conv),
        }
        for name, conv in route.path_params
    ]
    if route.query:
        params += [
            {
                "name": name,
                "in": "query",
                "required": name in route.query.required_keys,
                "schema": f.json_schema(),
            }
            for name, f in route.query.fields.items()
        ]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    ok: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(route.response)}}
    # Any request may be refused by the server in front (414) or meet a
    # database that cannot write (503).
    codes = set(route.errors) | {414, 429, 503}
    if route.auth != "public":
        codes |= {401, 403}
    if route.query or route.body or route.path_params:
        codes |= {400}
    if route.path_params:
        codes |= {404}
    op["responses"] = {str(route.status): ok} | {
        str(code): {
            "description": STANDARD_ERRORS.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in sorted(codes)
    }
    return op


_components: dict[str, Any] = {}


def _ref(field) -> dict[str, Any]:
    if isinstance(field, Object) and field.name:
        _components[field.name] = field.json_schema()
        return {"$ref": f"#/components/schemas/{field.name}"}
    return field.json_schema()


def document(version: str) -> dict[str, Any]:
    _components.clear()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CalMesh API",
            "version": version,
            "description": "Unified calendars, booking pages and polls. Authenticate with "
            "'Authorization: Bearer cm_live_...'. Scopes nest: read < book < full. "
            'Errors are JSON: {"error": {"code", "message", "details"}}.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, **dict(sorted(_components.items()))},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "cm_live_... API key",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
