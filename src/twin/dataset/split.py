"""Train/dev split by conversation, never by row: windows of one conversation stay together, so
dev replies are never half-seen in training.

Conversations are taken for dev in an order fixed by a hash of (seed, chat, start time): the
split is deterministic for a seed, and a conversation's place in that order does not depend on
the rest of the export.
"""

from __future__ import annotations

import math

import numpy as np

from twin.dataset.columns import mix64, string_hashes


def dev_mask(
    chat_keys: list[str],
    chat: np.ndarray,
    start_time: np.ndarray,
    dev_fraction: float,
    min_dev: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    """(which samples go to dev, how many conversations that is).

    Sample i belongs to the conversation of chat_keys[chat[i]] that started at start_time[i].
    Dev gets `dev_fraction` of the samples, at least `min_dev`, but never more than a fifth of the
    conversations (and none when there is only one).
    """
    n = len(chat)
    time_bits = np.asarray(start_time, dtype=np.float64).view(np.uint64)
    conversation = mix64(string_hashes(chat_keys, seed)[chat] ^ mix64(time_bits))
    # np.unique sorts by hash: that is the (pseudo-random, stable) order conversations go to dev.
    _, inverse, counts = np.unique(conversation, return_inverse=True, return_counts=True)
    conversations = len(counts)
    if conversations < 2:
        return np.zeros(n, dtype=bool), 0
    target = max(min_dev, math.ceil(dev_fraction * n))
    taken_before = np.cumsum(counts) - counts
    take = min(max(1, conversations // 5), int(np.count_nonzero(taken_before < target)))
    return inverse.reshape(-1) < take, take
