"""API keys, managed from a signed-in session only."""

from __future__ import annotations

from calmesh.api.framework import ApiError, endpoint, not_found
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import API_KEY_OUT, NEW_API_KEY_OUT, api_key_out
from calmesh.auth import apikeys
from calmesh.inputs import keys as inputs
from calmesh.models import ApiKey
from calmesh.schema import Object


@endpoint(
    "/api-keys",
    "POST",
    auth="session",
    body=inputs.NEW_KEY,
    response=NEW_API_KEY_OUT,
    status=201,
    summary="Create an API key (the key is returned once)",
    tag="API keys",
    errors=(422,),
)
def create_api_key(body):
    try:
        row, key = apikeys.create(who().user, body["name"], body["scope"], body["expires_at"])
    except ValueError as exc:
        raise ApiError(422, "unprocessable", str(exc)) from None
    return {**api_key_out(row), "key": key}


@endpoint(
    "/api-keys",
    "GET",
    auth="session",
    query=Object(PAGE_QUERY),
    response=page_of(API_KEY_OUT, "ApiKeyPage"),
    summary="List API keys (prefix and metadata only)",
    tag="API keys",
)
def list_api_keys(query):
    return paginate(
        ApiKey.for_user(who().user),
        order=[ApiKey.id],
        descending=True,
        serialize=api_key_out,
        **query,
    )


@endpoint(
    "/api-keys/<int:key_id>",
    "DELETE",
    auth="session",
    response=API_KEY_OUT,
    summary="Revoke an API key",
    tag="API keys",
)
def revoke_api_key(key_id):
    row = apikeys.revoke(who().user, key_id)
    if row is None:
        raise not_found("API key")
    return api_key_out(row)
