"""The one list of integrations: every kind of connection CalMesh offers.

Each provider module declares its :class:`~calmesh.providers.base.Integration`
(client class, connect body and form, MCP help, sync settings) next to its
client; this module lists them, in the order the dashboard shows them. The
REST API, the dashboard, the MCP tools and the sync service iterate over
:data:`INTEGRATIONS` and never name a kind themselves.

Adding a provider: write ``calmesh/providers/<kind>.py`` with a
:class:`~calmesh.providers.base.Provider` subclass and its ``Integration``,
add it to :data:`INTEGRATIONS` below, its interval (and any client settings,
under its ``settings_section``) to ``config.SCHEMA``, and a server or
stand-in for it to the contract suite (``tests/providers/test_contract.py``).
"""

from __future__ import annotations

from calmesh.providers.base import ConnectionInfo, Integration, Provider, ProviderError
from calmesh.providers.caldav import CALDAV, ICLOUD
from calmesh.providers.google import GOOGLE
from calmesh.providers.ics import ICS
from calmesh.providers.microsoft import MICROSOFT

INTEGRATIONS: dict[str, Integration] = {
    integration.kind: integration for integration in (CALDAV, ICLOUD, ICS, GOOGLE, MICROSOFT)
}


def get(kind: str) -> Integration | None:
    return INTEGRATIONS.get(kind)


def kinds(*, consent: bool | None = None, expanded_here: bool | None = None) -> list[str]:
    """The kinds, in order; only those connected by consent (or not), or whose
    objects are expanded here (or not), when asked."""
    return [
        kind
        for kind, integration in INTEGRATIONS.items()
        if (consent is None or integration.consent == consent)
        and (expanded_here is None or integration.expanded_here == expanded_here)
    ]


def build(info: ConnectionInfo) -> Provider:
    """The provider for ``info.kind``."""
    integration = INTEGRATIONS.get(info.kind)
    if integration is None:
        raise ProviderError(f"unknown provider {info.kind!r}", permanent=True)
    return integration.provider(info)
