"""The MCP server as an agent uses it: the SDK's own client, over stdio and streamable
HTTP, against a live ``serve`` with alice's Radicale calendars.

Each transport gets its own world, built through the tools themselves (a CalDAV
connection, a unified calendar with two sources) plus a booking page made over REST
(there is no tool for pages besides listing). The scope tests run over stdio with a
server per key, as a user would configure one.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from tests.conftest import ROOT, LiveServer, free_port, start_server, stop_server, wait_until
from tests.providers import conftest as dav_fixtures

radicale = dav_fixtures.radicale

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

BERLIN = ZoneInfo("Europe/Berlin")
SECRET = secrets.token_urlsafe(24)
SCOPES = ("read", "book", "full")
TOOLS = {
    "read": {
        "calmesh_list_calendars",
        "calmesh_get_events",
        "calmesh_check_availability",
        "calmesh_find_conflicts",
        "calmesh_list_booking_pages",
        "calmesh_get_booking_page",
        "calmesh_list_polls",
        "calmesh_get_poll_overlap",
    },
    "book": {
        "calmesh_get_slots",
        "calmesh_list_bookings",
        "calmesh_get_booking",
        "calmesh_create_booking",
        "calmesh_cancel_booking",
        "calmesh_reschedule_booking",
        "calmesh_confirm_booking",
        "calmesh_decline_booking",
        "calmesh_create_poll",
        "calmesh_decide_poll",
        "calmesh_close_poll",
        "calmesh_reopen_poll",
    },
    "full": {
        "calmesh_list_connections",
        "calmesh_check_connection_status",
        "calmesh_start_oauth_connection",
        "calmesh_start_credential_connection",
        "calmesh_sync_connection",
        "calmesh_remove_connection",
        "calmesh_create_calendar",
        "calmesh_manage_calendar",
        "calmesh_create_event",
        "calmesh_delete_event",
        "calmesh_create_booking_page",
        "calmesh_update_booking_page",
        "calmesh_delete_booking_page",
    },
}
READ_ONLY = TOOLS["read"] | {
    "calmesh_get_slots",
    "calmesh_list_bookings",
    "calmesh_get_booking",
    "calmesh_list_connections",
    "calmesh_check_connection_status",
}
DESTRUCTIVE = {
    "calmesh_cancel_booking",
    "calmesh_decline_booking",
    "calmesh_remove_connection",
    "calmesh_decide_poll",
    "calmesh_reopen_poll",
    "calmesh_manage_calendar",
    "calmesh_delete_event",
    "calmesh_delete_booking_page",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


# --- the instance --------------------------------------------------------------------


@dataclass
class Instance:
    server: LiveServer
    keys: dict[str, str]
    dav: Any
    logs: Path

    @property
    def url(self) -> str:
        return self.server.url

    def rest(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The REST API with alice's full key (what the tests set up beside the tools)."""
        headers = {"Authorization": f"Bearer {self.keys['full']}"}
        return httpx.request(method, self.url + "/api/v1" + path, headers=headers, timeout=30, **kw)

    def env(self, scope: str) -> dict[str, str]:
        return {"CALMESH_URL": self.url, "CALMESH_API_KEY": self.keys[scope]}


@pytest.fixture(scope="module")
def instance(tmp_path_factory, radicale) -> Iterator[Instance]:
    folder = tmp_path_factory.mktemp("mcp")
    server = start_server(
        folder,
        workers=2,
        CALMESH_API_RATE_LIMIT_PER_MINUTE="5000",
        CALMESH_API_PUBLIC_BOOK_PER_MINUTE="1000",
        CALMESH_GOOGLE_CLIENT_ID="mcp-test-client",
        CALMESH_GOOGLE_CLIENT_SECRET="mcp-test-client-secret",
    )
    try:
        made = server.cli(
            "create-user",
            "--email=alice@example.org",
            "--handle=alice",
            "--password=alice-password-123",
            "--timezone=Europe/Berlin",
        )
        assert made.returncode == 0, made.stderr
        keys = {}
        for scope in SCOPES:
            made = server.cli("create-api-key", "--user=alice", f"--scope={scope}")
            assert made.returncode == 0, made.stderr
            keys[scope] = made.stdout.strip().splitlines()[-1]
        yield Instance(server, keys, radicale, folder)
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def http_mcp(instance) -> Iterator[str]:
    """``python -m calmesh mcp --transport http`` with the full key; yields its /mcp URL."""
    port = free_port()
    log = open(instance.logs / "mcp-http.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "calmesh", "mcp", "--transport", "http", "--port", str(port)],
        cwd=ROOT,
        env={**instance.server.env, **instance.env("full"), "CALMESH_HTTP_SECRET": SECRET},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(
            lambda: process.poll() is None and httpx.post(url).status_code == 401,
            what="the MCP HTTP server",
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


# --- MCP sessions ----------------------------------------------------------------------


@asynccontextmanager
async def stdio_session(env: dict[str, str], errlog: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "calmesh", "mcp"], env=env, cwd=ROOT
    )
    with open(errlog, "a") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, secret: str) -> AsyncIterator[ClientSession]:
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    async with (
        client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@dataclass
class Agent:
    """One MCP session; ``call`` returns the result, ``ok`` insists it succeeded."""

    session: ClientSession
    transport: str

    async def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return await self.session.call_tool(tool, arguments)

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        answer = await self.call(tool, **arguments)
        assert not answer.is_error, text(answer)
        assert answer.structured_content is not None
        assert text(answer).strip()
        return answer.structured_content


def text(answer: CallToolResult) -> str:
    return "\n".join(block.text for block in answer.content if block.type == "text")


@pytest.fixture(scope="module")
async def sessions(instance, http_mcp) -> AsyncIterator[dict[tuple[str, str], Agent]]:
    """stdio servers for every key, and the HTTP server (full key)."""
    async with AsyncExitStack() as stack:
        agents = {}
        for scope in SCOPES:
            session = await stack.enter_async_context(
                stdio_session(instance.env(scope), instance.logs / f"mcp-{scope}.log")
            )
            agents["stdio", scope] = Agent(session, "stdio")
        session = await stack.enter_async_context(http_session(http_mcp, SECRET))
        agents["http", "full"] = Agent(session, "http")
        yield agents


@pytest.fixture(scope="module", params=["stdio", "http"])
def agent(request, sessions) -> Agent:
    """The full-scope agent, once per transport."""
    return sessions[request.param, "full"]


# --- alice's world, built through the tools ------------------------------------------


@dataclass
class World:
    tag: str
    day: datetime  # midnight in Berlin, three days ahead
    connection: dict[str, Any]
    calendar: dict[str, Any]
    page: dict[str, Any]
    source_ids: dict[str, int] = field(default_factory=dict)

    def at(self, hour: int, minute: int = 0, days: int = 0) -> datetime:
        return self.day.replace(hour=hour, minute=minute) + timedelta(days=days)


@pytest.fixture(scope="module")
async def world(agent, instance) -> World:
    tag = f"{agent.transport}-{secrets.token_hex(3)}"
    work = instance.dav.new_calendar(f"Work {tag}")
    home = instance.dav.new_calendar(f"Home {tag}")
    connection = await agent.ok(
        "calmesh_start_credential_connection",
        provider="caldav",
        name=f"Radicale {tag}",
        url=instance.dav.url,
        username=instance.dav.username,
        password=instance.dav.password,
    )
    remote = {c["remote_id"].rstrip("/"): c["id"] for c in connection["calendars"]}
    calendar = await agent.ok(
        "calmesh_create_calendar", slug=f"main-{tag}", name=f"Main {tag}", timezone="Europe/Berlin"
    )
    assert calendar["sources"] == []
    calendar = await agent.ok(
        "calmesh_manage_calendar",
        calendar=calendar["slug"],
        add_sources=[
            {"connection_id": connection["id"], "remote_calendar_id": remote[work.rstrip("/")]},
            {"connection_id": connection["id"], "remote_calendar_id": remote[home.rstrip("/")]},
        ],
    )
    by_remote = {s["remote_calendar_id"]: s["id"] for s in calendar["sources"]}
    source_ids = {
        "work": by_remote[remote[work.rstrip("/")]],
        "home": by_remote[remote[home.rstrip("/")]],
    }
    today = datetime.now(BERLIN).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today + timedelta(days=3)
    # Written to Radicale through CalMesh: a meeting at work over a dentist's appointment.
    for summary, source, start, end in (
        ("Planning", "work", (10, 0), (11, 0)),
        ("Dentist", "home", (10, 30), (11, 30)),
    ):
        made = instance.rest(
            "POST",
            f"/calendars/{calendar['slug']}/events",
            json={
                "summary": summary,
                "start": day.replace(hour=start[0], minute=start[1]).isoformat(),
                "end": day.replace(hour=end[0], minute=end[1]).isoformat(),
                "source_id": source_ids[source],
            },
        )
        assert made.status_code == 201, made.text
    page = instance.rest(
        "POST",
        "/booking-pages",
        json={
            "slug": f"intro-{tag}",
            "title": "Intro call",
            "calendar": calendar["slug"],
            "timezone": "Europe/Berlin",
            "duration": 30,
            "min_notice": 0,
            "weekly_hours": {
                d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            "requires_confirmation": True,
        },
    )
    assert page.status_code == 201, page.text
    return World(tag, day, connection, calendar, page.json(), source_ids)


# --- the tool list ---------------------------------------------------------------------


async def test_lists_exactly_the_33_tools_with_scopes_and_annotations(agent):
    tools = {t.name: t for t in (await agent.session.list_tools()).tools}

    assert set(tools) == set().union(*TOOLS.values())
    assert len(tools) == 33
    for scope, names in TOOLS.items():
        for name in names:
            tool = tools[name]
            hints = tool.annotations
            assert hints is not None and hints.title, name
            assert hints.read_only_hint is (name in READ_ONLY), name
            assert hints.destructive_hint is (name in DESTRUCTIVE), name
            assert f"Scope: {scope}. Needs an API key with the '{scope}' scope" in (
                tool.description
            ), name
            assert tool.input_schema["type"] == "object"
            for param, prop in tool.input_schema["properties"].items():
                assert prop.get("description"), (name, param)
    assert tools["calmesh_cancel_booking"].annotations.idempotent_hint is True
    assert tools["calmesh_create_booking"].annotations.idempotent_hint is False
    events = tools["calmesh_get_events"]
    assert events.input_schema["required"] == ["calendar", "start", "end"]
    assert "offset" in events.input_schema["properties"]["start"]["description"]
    assert "a date alone" in events.input_schema["properties"]["start"]["description"]
    assert "IANA" in events.input_schema["properties"]["timezone"]["description"]


# --- calendars and connections ------------------------------------------------------------


async def test_reads_the_merged_radicale_calendar(agent, world):
    slug = world.calendar["slug"]
    window = {"start": world.day.isoformat(), "end": world.at(0, days=1).isoformat()}

    calendars = await agent.ok("calmesh_list_calendars")
    assert slug in [c["slug"] for c in calendars["data"]]

    events = await agent.ok("calmesh_get_events", calendar=slug, **window)
    found = {e["summary"]: e for e in events["data"]}
    assert set(found) == {"Planning", "Dentist"}
    assert found["Planning"]["source_id"] == world.source_ids["work"]
    assert found["Dentist"]["start_local"] == world.at(10, 30).isoformat()

    free = await agent.ok(
        "calmesh_check_availability",
        calendar=slug,
        date=world.day.date().isoformat(),
        timezone="Europe/Berlin",
    )
    assert [(b["start_local"], b["end_local"]) for b in free["busy"]] == [
        (world.at(10).isoformat(), world.at(11, 30).isoformat())
    ]
    assert free["free"][0]["start_local"] == world.day.isoformat()

    clash = await agent.call("calmesh_find_conflicts", calendar=slug, **window)
    assert not clash.is_error, text(clash)
    (conflict,) = clash.structured_content["data"]
    assert {conflict["a"]["summary"], conflict["b"]["summary"]} == {"Planning", "Dentist"}
    assert conflict["overlap"]["start_local"] == world.at(10, 30).isoformat()
    assert "1 conflict(s)" in text(clash) and "Planning" in text(clash)


async def test_lists_connections_and_checks_their_status(agent, world):
    listed = await agent.ok("calmesh_list_connections", limit=200)
    assert world.connection["id"] in [c["id"] for c in listed["data"]]

    status = await agent.call(
        "calmesh_check_connection_status", connection_id=world.connection["id"]
    )
    assert not status.is_error, text(status)
    assert status.structured_content["provider"] == "caldav"
    assert status.structured_content["status"] in {"pending", "syncing", "ok"}
    assert f"Radicale {world.tag}" in text(status)
    assert instance_password_hidden(status, world)


def instance_password_hidden(answer: CallToolResult, world: World) -> bool:
    return "alice-secret-pw" not in text(answer) and "alice-secret-pw" not in str(
        answer.structured_content
    )


async def test_creates_a_calendar_from_a_connection_and_manages_its_sources(agent, world):
    slug = f"side-{world.tag}"
    made = await agent.ok(
        "calmesh_create_calendar",
        slug=slug,
        name="Side",
        timezone="America/New_York",
        sources=[{"connection_id": world.connection["id"]}],  # add_sources' shape
    )
    (whole,) = made["sources"]
    assert whole["connection_id"] == world.connection["id"]
    assert whole["remote_calendar_id"] is None  # all of the connection's calendars

    work = next(c for c in world.connection["calendars"] if world.tag in c["name"])
    changed = await agent.call(
        "calmesh_manage_calendar",
        calendar=slug,
        name="Side projects",
        new_slug=f"{slug}-2",
        timezone="Asia/Tokyo",
        feed_mode="busy",
        add_sources=[{"connection_id": world.connection["id"], "remote_calendar_id": work["id"]}],
    )
    assert not changed.is_error, text(changed)
    data = changed.structured_content
    assert (data["slug"], data["name"], data["timezone"]) == (
        f"{slug}-2",
        "Side projects",
        "Asia/Tokyo",
    )
    assert data["feed_mode"] == "busy" and data["feed_url"]
    first, second = (s["id"] for s in data["sources"])

    reordered = await agent.ok(
        "calmesh_manage_calendar", calendar=f"{slug}-2", source_order=[second, first]
    )
    assert [s["id"] for s in reordered["sources"]] == [second, first]
    assert reordered["sources"][0]["sort_order"] == 0

    removed = await agent.ok(
        "calmesh_manage_calendar", calendar=f"{slug}-2", remove_sources=[first]
    )
    assert [s["id"] for s in removed["sources"]] == [second]


async def test_a_failing_step_of_manage_calendar_says_what_was_done(agent, world):
    answer = await agent.call(
        "calmesh_manage_calendar",
        calendar=world.calendar["slug"],
        name=f"Main {world.tag}",
        remove_sources=[999_999],
    )

    assert answer.is_error
    assert "could not remove source 999999 (done: update the settings)" in text(answer)
    assert "HTTP 404" in text(answer)
    assert answer.structured_content["error"]["code"] == "not_found"


async def test_oauth_connection_answers_the_consent_url_and_can_be_removed(agent):
    started = await agent.ok("calmesh_start_oauth_connection", provider="google", name="Gmail")
    assert started["authorization_url"].startswith("https://accounts.google.com/")
    assert "client_id=mcp-test-client" in started["authorization_url"]
    connection_id = started["connection"]["id"]

    removed = await agent.call("calmesh_remove_connection", connection_id=connection_id)
    assert not removed.is_error, text(removed)
    assert removed.structured_content == {"id": connection_id, "deleted": True}

    gone = await agent.call("calmesh_check_connection_status", connection_id=connection_id)
    assert gone.is_error
    assert "connection not found" in text(gone)


# --- booking ------------------------------------------------------------------------------


async def test_books_a_slot_then_confirms_reschedules_and_cancels(agent, world):
    slug = world.page["slug"]
    pages = await agent.ok("calmesh_list_booking_pages")
    assert slug in [p["slug"] for p in pages["data"]]

    slots = await agent.call(
        "calmesh_get_slots",
        booking_page=slug,
        start=world.day.isoformat(),
        end=world.at(0, days=1).isoformat(),
        timezone="America/New_York",
    )
    assert not slots.is_error, text(slots)
    (day,) = [d for d, found in slots.structured_content["dates"].items() if found]
    starts = [
        datetime.fromisoformat(s["start_local"]).astimezone(BERLIN)
        for s in slots.structured_content["dates"][day]
    ]
    assert starts[0] == world.at(8)
    assert world.at(10) not in starts and world.at(11) not in starts  # the busy hour and a half
    assert world.at(11, 30) in starts
    assert "(times in America/New_York; the owner's zone is Europe/Berlin)" in text(slots)
    assert f"alice's page {slug!r}" in text(slots)

    first = slots.structured_content["dates"][day][0]["start"]
    booked = await agent.ok(
        "calmesh_create_booking",
        booking_page=slug,
        start=first,
        attendee_name="Carol Agent",
        attendee_email="carol@example.org",
        attendee_timezone="America/New_York",
        notes="Booked by an agent",
    )
    assert booked["status"] == "pending"
    booking_id = booked["id"]

    listed = await agent.ok("calmesh_list_bookings", status="pending", attendee="carol")
    assert booking_id in [b["id"] for b in listed["data"]]
    fetched = await agent.ok("calmesh_get_booking", booking_id=booking_id)
    assert fetched["attendee"]["email"] == "carol@example.org"

    confirmed = await agent.ok("calmesh_confirm_booking", booking_id=booking_id)
    assert confirmed["status"] == "accepted"

    later = world.at(14)
    moved = await agent.ok(
        "calmesh_reschedule_booking",
        booking_id=booking_id,
        start=later.isoformat(),
        reason="Clashes with lunch",
    )
    assert moved["id"] == booking_id
    assert datetime.fromisoformat(moved["start"]) == later

    taken = await agent.call(
        "calmesh_create_booking",
        booking_page=slug,
        start=later.isoformat(),
        attendee_name="Dan",
        attendee_email="dan@example.org",
    )
    assert taken.is_error
    assert "HTTP 409" in text(taken)

    cancelled = await agent.ok("calmesh_cancel_booking", booking_id=booking_id, reason="Sorry")
    assert cancelled["status"] == "cancelled"
    again = await agent.call("calmesh_get_booking", booking_id=booking_id)
    assert again.structured_content["status"] == "cancelled"


# --- polls --------------------------------------------------------------------------------


async def test_creates_a_poll_reads_the_overlap_and_decides(agent, world, instance):
    busy, free = (world.at(10), world.at(11)), (world.at(15), world.at(16))
    poll = await agent.ok(
        "calmesh_create_poll",
        title=f"Team lunch {world.tag}",
        options=[
            {"start": busy[0].isoformat(), "end": busy[1].isoformat()},
            {"start": free[0].isoformat(), "end": free[1].isoformat()},
        ],
        timezone="Europe/Berlin",
        calendar=world.calendar["slug"],
    )
    assert poll["status"] == "open"
    first, second = (o["id"] for o in poll["options"])

    listed = await agent.ok("calmesh_list_polls", status="open", limit=200)
    assert poll["id"] in [p["id"] for p in listed["data"]]

    for name, votes in (("Bob", ("yes", "yes")), ("Eve", ("no", "ifneedbe"))):
        voted = httpx.post(
            f"{instance.url}/api/v1/polls/{poll['id']}/votes",
            json={
                "name": name,
                "votes": [
                    {"option_id": first, "value": votes[0]},
                    {"option_id": second, "value": votes[1]},
                ],
            },
            timeout=30,
        )
        assert voted.status_code == 201, voted.text

    overlap = await agent.call("calmesh_get_poll_overlap", poll_id=poll["id"])
    assert not overlap.is_error, text(overlap)
    assert "score" in text(overlap)
    rows = overlap.structured_content["options"]
    assert [row["id"] for row in rows] == [second, first]  # best first: 3 points against 2
    assert (rows[0]["yes"], rows[0]["ifneedbe"], rows[0]["busy"]) == (1, 1, False)
    assert (rows[1]["yes"], rows[1]["no"], rows[1]["busy"]) == (1, 1, True)
    assert "owner busy" in text(overlap) and 'yes: ⟦untrusted: "Bob"⟧' in text(overlap)
    assert "options[].answers.yes[].name" in overlap.structured_content["untrusted_fields"]

    decided = await agent.ok("calmesh_decide_poll", poll_id=poll["id"], option_id=second)
    assert decided["status"] == "closed"
    assert decided["decided_option_id"] == second


# --- bad arguments and the API's refusals -------------------------------------------------

BAD = [
    pytest.param(
        "calmesh_get_events",
        {"calendar": "x", "start": "2026-03-16T09:00:00", "end": "2026-03-17T09:00:00+01:00"},
        "start: needs a UTC offset or Z (e.g. 2026-03-15T09:00:00+01:00); naive times are "
        "ambiguous",
        id="naive-datetime",
    ),
    pytest.param(
        "calmesh_list_bookings", {"limit": "many"}, "limit: must be an integer", id="wrong-type"
    ),
    pytest.param(
        "calmesh_get_events",
        {"start": "2026-03-16T09:00:00Z", "end": "2026-03-17T09:00:00Z"},
        "calendar: is required",
        id="missing-required",
    ),
    pytest.param(
        "calmesh_check_availability",
        {"calendar": "x", "date": "2026-03-16", "timezone": "Mars/Olympus"},
        "unknown time zone 'Mars/Olympus'",
        id="unknown-zone",
    ),
    pytest.param(
        "calmesh_check_availability",
        {"calendar": "x", "date": "2026-03-16", "start": "2026-03-16T09:00:00Z"},
        "date: give either date, or start and end, not both",
        id="date-and-start",
    ),
    pytest.param(
        "calmesh_start_credential_connection",
        {"provider": "caldav", "name": "x", "url": "https://dav.example.org/"},
        "username: is required for caldav",
        id="caldav-without-credentials",
    ),
    pytest.param(
        "calmesh_start_credential_connection",
        {"provider": "exchange", "name": "x"},
        "provider: must be one of caldav, icloud, ics",
        id="unknown-provider",
    ),
    pytest.param(
        "calmesh_create_poll",
        {"title": "x", "options": [{"date": "2026-03-16", "start": "2026-03-16T09:00:00Z"}]},
        "either a date or a start",
        id="poll-option-both-kinds",
    ),
    pytest.param(
        "calmesh_create_booking",
        {
            "booking_page": "x",
            "start": "2026-03-16T09:00:00Z",
            "attendee_name": "x",
            "attendee_email": "not-an-address",
        },
        "attendee_email",
        id="bad-email",
    ),
    pytest.param(
        "calmesh_check_availability",
        {"calendar": "x", "date": "2026-03-16", "duration": 1441},
        "duration: must be at most 1440",  # the REST declaration's limit and words
        id="shared-limit",
    ),
    pytest.param(
        "calmesh_get_events",
        {"calendar": "Not A Slug", "start": "now", "end": "2026-03-17"},
        "calendar: lowercase letters, digits and inner hyphens",
        id="slug-pattern",
    ),
    pytest.param(
        "calmesh_create_booking_page",
        {"slug": "x", "title": "x", "calendar": "x", "timezone": "UTC", "durations": [1]},
        "durations[0]: must be at least 5",
        id="page-setting",
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "says"), BAD)
async def test_bad_arguments_are_a_tool_error(agent, tool, arguments, says):
    """In the REST API's shape and words: never pydantic's text or its URLs."""
    answer = await agent.call(tool, **arguments)

    assert answer.is_error
    assert says in text(answer)
    assert text(answer).startswith("Invalid arguments (validation_error")
    error = answer.structured_content["error"]
    assert error["code"] == "validation_error"
    assert all({"field", "message"} == d.keys() for d in error["details"])
    assert "pydantic" not in text(answer) and "http" not in text(answer).lower()
    assert "Field required" not in text(answer) and "Input should" not in text(answer)


async def test_api_errors_come_back_with_code_message_and_details(agent, world):
    missing = await agent.call("calmesh_get_booking", booking_id="no-such-booking")
    assert missing.is_error
    assert text(missing).startswith("CalMesh refused (HTTP 404 not_found): booking not found")
    for walk in ("..", "../connections", "%2e%2e"):  # stays inside /bookings/
        escaped = await agent.call("calmesh_get_booking", booking_id=walk)
        assert escaped.is_error and "HTTP 404 not_found" in text(escaped), walk

    backwards = await agent.call(
        "calmesh_get_events",
        calendar=world.calendar["slug"],
        start=world.at(12).isoformat(),
        end=world.at(9).isoformat(),
    )
    assert backwards.is_error
    assert "HTTP 400 validation_error" in text(backwards)
    assert "  - end: must be after start" in text(backwards)
    error = backwards.structured_content["error"]
    assert error["status"] == 400
    assert error["details"] == [{"field": "end", "message": "must be after start"}]

    taken = await agent.call(
        "calmesh_create_calendar",
        slug=world.calendar["slug"],
        name="Again",
        timezone="UTC",
    )
    assert taken.is_error and "HTTP 409" in text(taken)


# --- what each key may do -------------------------------------------------------------------

ALLOWED = {"read": {"read"}, "book": {"read", "book"}, "full": {"read", "book", "full"}}


@pytest.mark.parametrize("scope", SCOPES)
async def test_the_key_scope_decides_what_the_agent_may_do(sessions, instance, scope):
    agent = sessions["stdio", scope]
    tag = f"{scope}-{secrets.token_hex(3)}"
    calls = {
        "read": ("calmesh_list_calendars", {}),
        "book": (
            "calmesh_create_poll",
            {"title": f"Scope {tag}", "options": [{"date": "2030-01-02"}], "timezone": "UTC"},
        ),
        "full": (
            "calmesh_create_calendar",
            {"slug": f"scope-{tag}", "name": "Scope", "timezone": "UTC"},
        ),
    }
    for needed, (tool, arguments) in calls.items():
        answer = await agent.call(tool, **arguments)
        if needed in ALLOWED[scope]:
            assert not answer.is_error, (tool, text(answer))
        else:
            assert answer.is_error, tool
            assert (
                f"CalMesh refused (HTTP 403 forbidden): this needs the '{needed}' scope; "
                f"the key has '{scope}'"
            ) in text(answer)
            assert answer.structured_content["error"]["status"] == 403


async def test_a_read_key_cannot_book_cancel_or_change_anything(sessions):
    agent = sessions["stdio", "read"]
    refused = {
        "calmesh_create_booking": {
            "booking_page": "any",
            "start": "2030-01-02T09:00:00Z",
            "attendee_name": "Mallory",
            "attendee_email": "mallory@example.org",
        },
        "calmesh_cancel_booking": {"booking_id": "any"},
        "calmesh_reschedule_booking": {"booking_id": "any", "start": "2030-01-02T09:00:00Z"},
        "calmesh_confirm_booking": {"booking_id": "any"},
        "calmesh_decide_poll": {"poll_id": "any", "option_id": 1},
        "calmesh_remove_connection": {"connection_id": 1},
        # Slots and bookings name attendees: 'book', as the seed documents.
        "calmesh_get_slots": {"booking_page": "any"},
        "calmesh_list_bookings": {},
        "calmesh_get_booking": {"booking_id": "any"},
        "calmesh_list_connections": {},
    }
    for tool, arguments in refused.items():
        answer = await agent.call(tool, **arguments)
        assert answer.is_error, tool
        assert "HTTP 403 forbidden" in text(answer), (tool, text(answer))
        assert "the key has 'read'" in text(answer)


async def test_a_book_key_cannot_touch_connections_or_calendars(sessions):
    agent = sessions["stdio", "book"]
    refused = {
        "calmesh_start_credential_connection": {
            "provider": "ics",
            "name": "x",
            "url": "https://example.org/cal.ics",
        },
        "calmesh_start_oauth_connection": {"provider": "google", "name": "x"},
        "calmesh_remove_connection": {"connection_id": 1},
        "calmesh_manage_calendar": {"calendar": "any", "name": "x"},
        "calmesh_list_connections": {},
        "calmesh_check_connection_status": {"connection_id": 1},
        "calmesh_create_booking_page": {
            "slug": "x",
            "title": "x",
            "calendar": "any",
            "timezone": "UTC",
        },
    }
    for tool, arguments in refused.items():
        answer = await agent.call(tool, **arguments)
        assert answer.is_error, tool
        assert "this needs the 'full' scope; the key has 'book'" in text(answer), tool


async def test_an_unknown_key_is_refused_with_a_hint(instance, tmp_path):
    env = {"CALMESH_URL": instance.url, "CALMESH_API_KEY": "cm_live_not-a-real-key"}
    async with stdio_session(env, tmp_path / "mcp.log") as session:
        answer = await session.call_tool("calmesh_list_calendars", {})

    assert answer.is_error
    assert "(HTTP 401 unauthorized): unknown, revoked or expired API key" in text(answer)
    assert "Check CALMESH_API_KEY" in text(answer)
