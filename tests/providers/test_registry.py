"""calmesh.providers.registry: the one list of integrations, in the dashboard's
order, filtered by how they connect and where their events are expanded, and
the provider built for a connection's kind."""

from __future__ import annotations

import pytest

from calmesh.config import SCHEMA
from calmesh.providers import registry
from calmesh.providers.base import ConnectionInfo, Integration, Provider, ProviderError
from calmesh.providers.caldav import CalDavProvider, ICloudProvider
from calmesh.providers.ics import IcsProvider


def test_the_integrations_are_listed_once_in_the_dashboards_order():
    assert registry.kinds() == ["caldav", "icloud", "ics", "google", "microsoft"]
    for kind, integration in registry.INTEGRATIONS.items():
        assert isinstance(integration, Integration) and integration.kind == kind
        assert issubclass(integration.provider, Provider)
        assert registry.get(kind) is integration
    assert registry.get("exchange") is None


def test_kinds_filter_by_consent_and_by_where_events_are_expanded():
    assert registry.kinds(consent=True) == ["google", "microsoft"]
    assert registry.kinds(consent=False) == ["caldav", "icloud", "ics"]
    assert registry.kinds(expanded_here=True) == ["caldav", "icloud", "ics"]
    assert registry.kinds(expanded_here=False) == ["google", "microsoft"]
    assert registry.kinds(consent=True, expanded_here=True) == []


def test_every_integration_names_settings_that_exist():
    keys = {key.dotted for key in SCHEMA}
    sections = {key.section for key in SCHEMA}
    for integration in registry.INTEGRATIONS.values():
        assert integration.interval_key in keys, integration.kind
        if integration.settings_section:
            assert integration.settings_section in sections, integration.kind


def test_build_gives_the_kinds_provider_and_refuses_an_unknown_kind_for_good():
    provider = registry.build(ConnectionInfo("ics", "https://example.org/feed.ics", {}))
    assert isinstance(provider, IcsProvider) and provider.info.endpoint.endswith("feed.ics")
    assert type(registry.build(ConnectionInfo("icloud", "", {}))) is ICloudProvider
    assert type(registry.build(ConnectionInfo("caldav", "", {}))) is CalDavProvider
    with pytest.raises(ProviderError, match="unknown provider 'exchange'") as refused:
        registry.build(ConnectionInfo("exchange", "", {}))
    assert refused.value.permanent
