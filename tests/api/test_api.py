"""calmesh.api (the package): the REST blueprints and the served OpenAPI document."""

from __future__ import annotations

from calmesh import __version__
from calmesh.api.framework import ROUTES


def test_the_document_is_served_to_anyone_and_built_once_per_app(app, stranger):
    first = stranger.get("/api/v1/openapi.json")
    built = app.extensions["OPENAPI"]
    second = stranger.get("/api/v1/openapi.json")

    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.get_json()["info"]["version"] == __version__
    assert app.extensions["OPENAPI"] is built  # the second answer reused it
    assert second.get_json() == first.get_json()


def test_every_declared_route_is_registered_under_the_api_and_system_blueprints(app):
    registered = {
        (rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods
    }

    for route in ROUTES:
        assert (route.extra["prefix"] + route.rule, route.method) in registered, route.path
    assert {"api", "system"} <= set(app.blueprints)
    assert ("/api/health", "GET") in registered and ("/api/v1/openapi.json", "GET") in registered
