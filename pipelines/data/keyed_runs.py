"""Sorted runs of 64-bit keys with integer payloads: an in-memory index that grows by appending.

Why runs and not one sorted array: a label request adds a few rows at a time, and re-sorting everything on each
add would cost O(n). Runs are merged like a binary counter (a run absorbs the next when it is not at least
twice its size), so an add costs O(log n) amortised per row and a lookup O(runs x log n), runs <= log2(n).
Where one key has several rows, the one with the smallest (`keep="min"`) or largest (`keep="max"`) leading
payload columns wins, compared in order, so adding the same rows twice changes nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


class KeyedRuns:
    """uint64 keys, each with `width` int64 payload columns; `rank` leading columns decide which row of a key
    wins (`keep`). width 0: a set of keys."""

    def __init__(self, width: int, rank: int = 0, keep: Literal["min", "max"] = "min") -> None:
        self.width, self.rank, self.keep = width, rank, keep
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._runs)

    def add(self, keys: np.ndarray, payload: np.ndarray | None = None) -> None:
        if not len(keys):
            return
        rows = np.empty((len(keys), self.width), dtype=np.int64) if payload is None else payload
        self._runs.append(self._reduce(np.asarray(keys, dtype=np.uint64), np.asarray(rows, dtype=np.int64)))
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            (keys_b, rows_b), (keys_a, rows_a) = self._runs.pop(), self._runs.pop()
            self._runs.append(self._reduce(np.concatenate([keys_a, keys_b]), np.concatenate([rows_a, rows_b])))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found per key, the winning payload per key: rows of zeros where not found)."""
        keys = np.asarray(keys, dtype=np.uint64)
        positions, rows = [], []
        for run_keys, run_rows in self._runs:
            at = np.searchsorted(run_keys, keys)
            inside = at < len(run_keys)
            hit = np.zeros(len(keys), dtype=bool)
            hit[inside] = run_keys[at[inside]] == keys[inside]
            positions.append(np.flatnonzero(hit))
            rows.append(run_rows[at[hit]])
        found = np.zeros(len(keys), dtype=bool)
        payload = np.zeros((len(keys), self.width), dtype=np.int64)
        if positions:
            where, winners = self._reduce(np.concatenate(positions).astype(np.uint64), np.concatenate(rows))
            found[where.astype(np.int64)] = True
            payload[where.astype(np.int64)] = winners
        return found, payload

    def _reduce(self, keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique keys, each with its winning row."""
        sign = 1 if self.keep == "min" else -1
        order = np.lexsort([sign * rows[:, column] for column in reversed(range(self.rank))] + [keys])
        keys, rows = keys[order], rows[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return keys[first], rows[first]
