"""Train/dev split by conversation, never by row: windows of one conversation stay together, so
dev replies are never half-seen in training. Deterministic for a seed."""

from __future__ import annotations

import hashlib
import math


def split_keys(
    sample_keys: list[tuple], dev_fraction: float, min_dev: int, seed: int
) -> set[tuple]:
    """The conversation keys that go to dev.

    Dev gets `dev_fraction` of the samples, at least `min_dev`, but never more than a fifth of the
    conversations (and none when there is only one).
    """
    counts: dict[tuple, int] = {}
    for key in sample_keys:
        counts[key] = counts.get(key, 0) + 1
    conversations = len(counts)
    if conversations < 2:
        return set()
    target = max(min_dev, math.ceil(dev_fraction * len(sample_keys)))
    max_conversations = max(1, conversations // 5)

    def order(key: tuple) -> bytes:
        return hashlib.blake2b(repr((seed, key)).encode("utf-8"), digest_size=8).digest()

    dev: set[tuple] = set()
    taken = 0
    for key in sorted(counts, key=order):
        if taken >= target or len(dev) >= max_conversations:
            break
        dev.add(key)
        taken += counts[key]
    return dev
