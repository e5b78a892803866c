"""calmesh.api.openapi: the OpenAPI 3.1 document, generated from the routes' own
declarations: every route in it, every schema valid JSON Schema (2020-12, the
dialect of OpenAPI 3.1), every reference resolvable, and answers that match it."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from calmesh.api.framework import ROUTES
from calmesh.api.openapi import STANDARD_ERRORS, document

METHODS = {"get", "post", "patch", "put", "delete"}


@pytest.fixture(scope="module")
def doc() -> dict:
    import calmesh.api  # noqa: F401 - the resource modules register their routes

    return document("1.2.3")


def refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, (path, method)
            yield path, method, operation


def test_openapi_document_describes_every_route(stranger):
    doc = stranger.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["responses"], route.path
    assert doc["paths"]["/api/v1/api-keys"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/NewApiKeyRequest"}
    assert doc["components"]["schemas"]["NewApiKeyRequest"]["properties"]["scope"]["enum"] == [
        "read",
        "book",
        "full",
    ]


def test_openapi_document_matches_the_validation_that_runs(stranger):
    """The schema a client reads is the object the server validates with."""
    from calmesh.inputs.keys import NEW_KEY

    doc = stranger.get("/api/v1/openapi.json").get_json()
    assert doc["components"]["schemas"]["NewApiKeyRequest"] == NEW_KEY.json_schema()


def test_every_reference_names_a_component_and_every_component_is_used(doc):
    components = doc["components"]["schemas"]
    used = {r.removeprefix("#/components/schemas/") for r in refs(doc["paths"])}

    assert all(r.startswith("#/components/schemas/") for r in refs(doc))
    assert used == set(components)  # each one named by some operation, none dangling
    names = list(components)
    assert names[0] == "Error" and names[1:] == sorted(names[1:])


def test_every_schema_is_valid_json_schema_2020_12(doc):
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object", name
    for path, method, operation in operations(doc):
        for parameter in operation.get("parameters", []):
            Draft202012Validator.check_schema(parameter["schema"])
            assert parameter["in"] in {"path", "query"}, (path, method)


def test_operations_have_unique_ids_and_declare_their_path_parameters(doc):
    ids = [operation["operationId"] for _, _, operation in operations(doc)]

    assert len(ids) == len(set(ids)) == len(ROUTES)
    for path, method, operation in operations(doc):
        in_path = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == declared, (path, method)
        assert all(p["required"] for p in operation.get("parameters", []) if p["in"] == "path")


def test_the_errors_each_operation_lists_follow_from_its_route(doc):
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        codes = {int(code) for code in operation["responses"]}
        assert {414, 429, 503} <= codes, route.path
        assert set(route.errors) <= codes, route.path
        if route.auth != "public":
            assert {401, 403} <= codes, route.path
        elif 401 not in route.errors:
            assert 401 not in codes, route.path  # no credentials to get wrong
        assert (404 in codes) is (bool(route.path_params) or 404 in route.errors), route.path
        assert route.status in codes
        for code in codes - {route.status}:
            response = operation["responses"][str(code)]
            assert response["description"] == STANDARD_ERRORS.get(code, "Error")
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }


def test_scopes_and_security_follow_the_routes_auth(doc):
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        if route.auth == "public":
            assert operation["security"] == [{}] and "x-calmesh-scope" not in operation
        elif route.auth == "session":
            assert operation["security"] == [{"session": []}]
        else:
            assert operation["x-calmesh-scope"] == route.auth
            assert operation["security"] == [{"bearer": []}, {"session": []}]
    assert doc["info"]["version"] == "1.2.3"
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}


def response_schema(doc: dict, path: str, method: str, status: str = "200") -> Draft202012Validator:
    """A validator of one operation's answer, resolving references into the document."""
    registry = Registry().with_resource(
        "urn:calmesh",
        Resource.from_contents({"$schema": "https://json-schema.org/draft/2020-12/schema", **doc}),
    )
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
    reference = schema["schema"]["$ref"].replace("#", "urn:calmesh#", 1)
    return Draft202012Validator({"$ref": reference}, registry=registry)


def test_real_answers_match_the_documented_schemas(doc, api_as, alice, stranger):
    key = api_as(alice, "full")
    made = key.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    )
    answers = {
        ("/api/v1/calendars", "post", "201"): made.get_json(),
        ("/api/v1/calendars", "get", "200"): key.get("/api/v1/calendars").get_json(),
        ("/api/v1/me", "get", "200"): key.get("/api/v1/me").get_json(),
        ("/api/health", "get", "200"): stranger.get("/api/health").get_json(),
    }
    for (path, method, status), body in answers.items():
        errors = list(response_schema(doc, path, method, status).iter_errors(body))
        assert not errors, (path, [e.message for e in errors])

    refused = key.get("/api/v1/calendars/nope")
    error = response_schema(doc, "/api/v1/calendars/{slug}", "get", "404")
    assert refused.status_code == 404 and error.is_valid(refused.get_json())
    assert not error.is_valid({"error": {"code": "x"}})  # the schema does refuse things
