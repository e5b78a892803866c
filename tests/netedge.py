"""The network edge for tests of the SSRF guard: a DNS that answers what the
test says, and an internet that is never reached.

``FakeNetwork().install(monkeypatch)`` replaces ``socket.getaddrinfo`` for the
names a test gives (any other name resolves as usual) and ``connect`` of every
socket for addresses that are not loopback: such a connect is recorded in
``attempts`` and refused, so a test can show where a client tried to go
without leaving the machine. Loopback connects go through for real.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from typing import Any

import pytest

_GETADDRINFO = socket.getaddrinfo
_CONNECT = socket.socket.connect


class FakeNetwork:
    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: Counter[str] = Counter()
        self.attempts: list[tuple[str, int]] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        """``name`` resolves to ``answers[0]`` at the first lookup, ``answers[1]`` at
        the second, ...; the last answer repeats."""
        self.answers[name] = [list(a) for a in answers]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", self._connect_through(self))
        return self

    def _getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, *rest: Any):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return _GETADDRINFO(host, port, family, type, *rest)
        answers = self.answers[name]
        addresses = answers[min(self.lookups[name], len(answers) - 1)]
        self.lookups[name] += 1
        return [info for a in addresses for info in _GETADDRINFO(a, port, family, type, *rest)]

    @staticmethod
    def _connect_through(network: FakeNetwork):
        def connect(sock: socket.socket, address: Any) -> None:
            host = address[0] if isinstance(address, tuple) else None
            if host is not None and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                network.attempts.append((host, address[1]))
                raise ConnectionRefusedError(111, "refused by the test network")
            return _CONNECT(sock, address)

        return connect


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    return FakeNetwork().install(monkeypatch)


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's servers on loopback count as public hosts: for tests of what is
    kept only from public ones (a webhook answer's excerpt)."""
    from calmesh.providers import net

    monkeypatch.setattr(net, "is_public", lambda address: True)
