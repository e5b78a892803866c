"""calmesh.api.pagination: keyset pages, their cursors, and cursors it never gave out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from calmesh.api.framework import ApiError
from calmesh.api.pagination import page_of, paginate
from calmesh.inputs.pagination import MAX_LIMIT
from calmesh.models import MailMessage, Webhook
from calmesh.schema import Integer, String

AT = datetime(2030, 3, 12, 9, tzinfo=UTC)


def hooks(user, n: int) -> list[Webhook]:
    return [
        Webhook.create(user=user, url=f"https://hooks.example.org/{i}", events=[], secret="x")
        for i in range(n)
    ]


def walk(query, limit: int, **kw) -> list[dict]:
    """Every page of ``query`` in turn, following next_cursor."""
    pages, cursor = [], None
    while True:
        page = paginate(query, limit=limit, cursor=cursor, **kw)
        pages.append(page)
        if not page["has_more"]:
            return pages
        cursor = page["next_cursor"]


def test_pages_follow_one_another_without_gaps_or_repeats(alice, bob):
    made = hooks(alice, 5)
    hooks(bob, 2)

    pages = walk(Webhook.for_user(alice), 2, order=[Webhook.id], serialize=lambda w: w.id)

    assert [p["data"] for p in pages] == [
        [made[0].id, made[1].id],
        [made[2].id, made[3].id],
        [made[4].id],
    ]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert pages[-1]["next_cursor"] is None


def test_a_page_that_fits_exactly_has_no_more(alice):
    hooks(alice, 2)

    page = paginate(
        Webhook.for_user(alice), order=[Webhook.id], limit=2, cursor=None, serialize=lambda w: w.id
    )

    assert len(page["data"]) == 2 and page["has_more"] is False and page["next_cursor"] is None


def test_rows_added_meanwhile_do_not_shift_the_next_page(alice):
    made = hooks(alice, 3)
    first = paginate(
        Webhook.for_user(alice), order=[Webhook.id], limit=2, cursor=None, serialize=lambda w: w.id
    )
    Webhook.delete_by_id(made[0].id)  # a row of the page already read goes away
    later = hooks(alice, 1)  # and one comes after

    second = paginate(
        Webhook.for_user(alice),
        order=[Webhook.id],
        limit=2,
        cursor=first["next_cursor"],
        serialize=lambda w: w.id,
    )

    assert second["data"] == [made[2].id, later[0].id]


def test_newest_first_by_time_then_id_breaks_ties_across_pages(alice):
    def mail(subject, at):
        return MailMessage.create(
            user=alice,
            to_address="x@example.org",
            subject=subject,
            body="",
            status="logged",
            created_at=at,
        )

    old, tied_a, tied_b, new = (
        mail("old", AT - timedelta(days=1)),
        mail("tied a", AT),
        mail("tied b", AT),
        mail("new", AT + timedelta(hours=1)),
    )

    pages = walk(
        MailMessage.select().where(MailMessage.user == alice),
        1,
        order=[MailMessage.created_at, MailMessage.id],
        serialize=lambda m: m.subject,
        descending=True,
    )

    assert [p["data"] for p in pages] == [
        [new.subject],
        [tied_b.subject],
        [tied_a.subject],
        [old.subject],
    ]


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "order"),
    [
        pytest.param("***", ["id"], id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), ["id"], id="not-utf8"),
        pytest.param(cursor_of({"id": 1}), ["id"], id="not-a-list"),
        pytest.param(cursor_of([1, 2]), ["id"], id="too-long"),
        pytest.param(cursor_of([]), ["id"], id="empty"),
        pytest.param(cursor_of([True]), ["id"], id="bool-for-int"),
        pytest.param(cursor_of([1.5]), ["id"], id="float-for-int"),
        pytest.param(cursor_of([Integer.LIMIT + 1]), ["id"], id="int-too-large"),
        pytest.param(cursor_of(["7"]), ["id"], id="text-for-int"),
        pytest.param(cursor_of(["2030-03-12T09:00:00", 1]), ["created_at", "id"], id="naive-time"),
        pytest.param(cursor_of(["yesterday", 1]), ["created_at", "id"], id="not-a-time"),
        pytest.param(cursor_of([3, 1]), ["url", "id"], id="int-for-text"),
    ],
)
def test_a_cursor_this_api_did_not_give_out_is_a_400(alice, cursor, order):
    with pytest.raises(ApiError) as refused:
        paginate(
            Webhook.for_user(alice),
            order=[getattr(Webhook, name) for name in order],
            limit=10,
            cursor=cursor,
            serialize=lambda w: w.id,
        )

    assert (refused.value.status, refused.value.code) == (400, "validation_error")
    assert refused.value.message == "cursor: not a cursor this API gave out"


def test_a_bad_cursor_is_a_clear_400_over_http(api_as, alice):
    answer = api_as(alice, "full").get("/api/v1/webhooks?cursor=bm90LWEtY3Vyc29y")

    assert answer.status_code == 400
    assert answer.get_json()["error"] == {
        "code": "validation_error",
        "message": "cursor: not a cursor this API gave out",
        "details": None,
    }


def test_a_list_is_declared_with_its_items_its_flag_and_its_cursor():
    declared = page_of(String(), "NamePage")

    schema = declared.json_schema()
    assert declared.name == "NamePage"
    assert set(schema["properties"]) == {"data", "has_more", "next_cursor"}
    assert schema["properties"]["data"]["maxItems"] == MAX_LIMIT
    assert declared.parse({"data": ["a"], "has_more": False, "next_cursor": None})["data"] == ["a"]
