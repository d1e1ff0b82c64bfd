"""core.memo.BoundedMemo: the per-process memo of the report's table and the network's cells (issue 12)."""

from __future__ import annotations

import pytest

from core.memo import BoundedMemo


def test_the_least_recently_used_entry_goes_first():
    memo: BoundedMemo[str] = BoundedMemo(2)
    memo.put("a", "A")
    memo.put("b", "B")
    assert memo.get("a") == "A"  # "a" is now the most recently used
    memo.put("c", "C")
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == ("A", None, "C", 2)
    memo.clear()
    assert memo.get("a") is None and len(memo) == 0


def test_an_empty_value_is_remembered_and_a_memo_has_room():
    memo: BoundedMemo[list[int]] = BoundedMemo(1)
    memo.put(("run", 1), [])
    assert memo.get(("run", 1)) == []  # remembered: not the None of a miss
    with pytest.raises(ValueError):
        BoundedMemo(0)
