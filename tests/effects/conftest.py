"""The delivery context the scheduler would hand a kind's module, built from
the app's settings as they are when it is used (a test may change them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from calmesh.effects import delivery
from calmesh.effects.outbox import Context
from calmesh.urls import links


@pytest.fixture
def context(app) -> Callable[[], Context]:
    """``context()``: the Context of the app's current settings."""

    def build() -> Context:
        with app.test_request_context():
            return Context(settings=app.config["CALMESH"], links=links())

    return build


@pytest.fixture
def deliver_due(context) -> Callable[..., int]:
    """``deliver_due(now=...)``: deliver every due item, one after another."""
    return lambda limit=50, now=None: delivery.process_due(context(), limit, now)
