"""A bounded, thread-safe per-process memo: the least recently used entry goes first once it is full.

For values that depend only on their key and are costly to build on every request (a rendered report table, a
finished run's network cells). Each web or worker process keeps its own; nothing is shared between processes, so a
key must name everything the value depends on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedMemo(Generic[V]):
    """At most ``size`` entries (``size`` ≥ 1); ``get`` marks an entry as used, ``put`` drops the oldest beyond."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a memo needs room for at least one entry, got {size}")
        self.size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value remembered under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Remember ``value`` under ``key``, dropping the least recently used entries beyond ``size``."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
