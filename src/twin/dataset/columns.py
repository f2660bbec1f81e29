"""Helpers for column-wise work: ranges of rows, sums over them, and 64-bit hashes for grouping,
so that no step needs a Python object per message."""

from __future__ import annotations

import hashlib

import numpy as np


def ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """start[0]..stop[0]-1, then start[1]..stop[1]-1, …, as one index array."""
    lengths = stop - start
    before = np.cumsum(lengths) - lengths
    return np.repeat(start - before, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def range_sums(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """values[start[i]:stop[i]].sum() for every i."""
    total = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    return total[stop] - total[start]


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads nearby integers over all 64 bits (wraps, never raises)."""
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def string_hashes(values: list[str], seed: int = 0) -> np.ndarray:
    """A 64-bit hash of each string, the same in every process (unlike Python's hash)."""
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(f"{seed}\x1f{v}".encode(), digest_size=8).digest(), "little"
            )
            for v in values
        ],
        dtype=np.uint64,
    )


def window_hashes(codes: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each window codes[start[i]:stop[i]] as a sequence (order counts).

    Like hashing a tuple: two different windows share a hash with odds of about one in 2^64.
    """
    if not len(start):
        return np.zeros(0, dtype=np.uint64)
    items = ranges(start, stop)
    position = items - np.repeat(start, stop - start)
    keyed = (codes[items].astype(np.uint64) << np.uint64(24)) | position.astype(np.uint64)
    offsets = np.concatenate([[0], np.cumsum(stop - start)[:-1]])
    return np.add.reduceat(mix64(keyed), offsets) ^ mix64(stop - start)
