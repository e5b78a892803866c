"""calmesh.providers.base: the provider contract's own parts. A provider that
implements only reading is read-only for every write; errors say whether only
the owner can fix them. (Every provider holding the whole contract is
tests/providers/test_contract.py.)"""

from __future__ import annotations

import pytest

from calmesh.engine.ical import EventDraft
from calmesh.providers.base import (
    AuthError,
    ChangeSet,
    ConnectionInfo,
    HttpSettings,
    Integration,
    Provider,
    ProviderError,
    ReadOnlyError,
    RemoteCalendarInfo,
)
from calmesh.schema import Object


class ReadingOnly(Provider):
    kind = "reading"
    read_only = True

    def list_calendars(self) -> list[RemoteCalendarInfo]:
        return [RemoteCalendarInfo("feed", "Feed", writable=False)]

    def changes(self, calendar, token, window) -> ChangeSet:
        return ChangeSet(token="t1", full=token is None)


def test_errors_say_whether_only_the_owner_can_fix_them():
    assert ProviderError("server down").permanent is False
    assert ProviderError("gone", permanent=True).permanent is True
    assert AuthError("401").permanent and ReadOnlyError("no").permanent
    assert AuthError("revoked", permanent=False).permanent is False, "an explicit word wins"
    assert str(AuthError("the server answered 401: check the password")).startswith("the server")


def test_a_provider_without_writing_refuses_every_write_for_good():
    provider = ReadingOnly(ConnectionInfo("reading", "https://example.org/", {}))
    draft = EventDraft(uid="u", summary="s", start=None, end=None)
    for write in (
        lambda: provider.create_event("feed", draft),
        lambda: provider.update_event("feed", "/e.ics", draft),
        lambda: provider.delete_event("feed", "/e.ics"),
    ):
        with pytest.raises(ReadOnlyError, match="reading calendars are read-only") as refused:
            write()
        assert refused.value.permanent
    assert provider.changes(provider.list_calendars()[0], None, (None, None)).full


def test_the_contract_cannot_be_used_half_implemented():
    class Listing(Provider):
        kind = "half"

        def list_calendars(self):
            return []

    with pytest.raises(TypeError):
        Listing(ConnectionInfo("half", "", {}))


def test_an_integration_is_read_only_when_its_provider_is():
    def integration(provider: type[Provider]) -> Integration:
        return Integration("k", "K", provider, "connect", Object({}), "help")

    assert integration(ReadingOnly).read_only
    assert integration(type("Writing", (ReadingOnly,), {"read_only": False})).read_only is False


def test_connection_info_defaults_to_guarded_http_and_no_callback():
    info = ConnectionInfo("caldav", "https://dav.example.org/", {"username": "u"})
    assert info.http == HttpSettings() and info.http.allow_private is False
    assert info.http.max_bytes == 20 * 1024 * 1024 and info.settings == {}
    assert info.on_credentials is None
