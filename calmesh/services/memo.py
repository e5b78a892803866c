"""A small per-process memo for answers that are costly to compute and cheap to key.

Callers key an entry by *every* input of the computation — including version
stamps read from the database, so a change made by any process on any host
is seen at the next request. An entry is never invalidated, only outgrown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class Memo:
    def __init__(self, size: int = 256):
        self.size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            self._entries.move_to_end(key)
            return self._entries[key]  # type: ignore[return-value]
        except KeyError:
            value = compute()
            self._entries[key] = value
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value

    def clear(self) -> None:
        self._entries.clear()
