"""calmesh.effects.kinds: the one table from outbox kind to module; every kind's
module has the same shape, and every lane delivers some kind."""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module

import calmesh.effects
from calmesh.effects.kinds import KINDS, kinds_of
from calmesh.effects.outbox import LANES


def test_every_kind_has_a_module_of_the_same_shape():
    for kind, module in KINDS.items():
        assert (module.KIND, module.__name__) == (kind, module.__name__)
        assert module.LANE in LANES, module.__name__
        for name in ("queue", "deliver", "gave_up"):
            assert callable(getattr(module, name, None)), f"{module.__name__}.{name}"
        assert list(inspect.signature(module.deliver).parameters) == ["payload", "context"]
        assert list(inspect.signature(module.gave_up).parameters) == [
            "payload",
            "error",
            "context",
        ]


def test_every_module_that_declares_a_kind_is_in_the_table():
    declared = {}
    for info in pkgutil.iter_modules(calmesh.effects.__path__):
        module = import_module(f"calmesh.effects.{info.name}")
        if hasattr(module, "KIND"):
            declared[module.KIND] = module
    assert declared == KINDS


def test_the_lanes_split_the_kinds_between_them():
    by_lane = {lane: kinds_of(lane) for lane in LANES}
    assert all(by_lane.values()), "no lane is idle"
    assert sorted(k for kinds in by_lane.values() for k in kinds) == sorted(KINDS)
    assert set(by_lane["mail"]) == {"mail", "booking.mail"}
    assert set(by_lane["writeback"]) == {"booking.writeback", "poll.writeback"}
    assert by_lane["webhooks"] == ["webhook.deliver"]
    assert kinds_of("no such lane") == []
