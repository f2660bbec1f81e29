"""The dataset folder as token ids, labels and length-grouped batches.

Only the person's reply tokens carry labels (everything else is -100), and a batch is padded to
its own longest sample, never to a fixed length: on a CPU, padding is pure waste.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from twin.chat_format import ChatFormat, render_with_mask
from twin.errors import InputError, TwinError

IGNORE = -100


@dataclass
class Example:
    ids: list[int]
    labels: list[int]

    @property
    def trained(self) -> int:
        """Tokens the loss covers: the first token is never predicted, so it never counts."""
        return sum(1 for x in self.labels[1:] if x != IGNORE)


def read_split(path: Path) -> list[list[dict]]:
    """Conversations of train.jsonl / dev.jsonl, checked line by line."""
    out = []
    if not path.exists():
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                messages = obj["messages"]
                if not isinstance(messages, list) or not all(
                    isinstance(m, dict)
                    and m.get("role") in ("system", "user", "assistant")
                    and isinstance(m.get("content"), str)
                    for m in messages
                ):
                    raise ValueError("messages must be a list of {role, content}")
            except (ValueError, KeyError, TypeError) as e:
                raise InputError(
                    str(path),
                    f"line {n}",
                    f"not a training sample ({e})",
                    '{"messages": [{"role": …, "content": …}, …]}',
                ) from e
            out.append(messages)
    return out


def read_dataset(folder: str) -> tuple[list[list[dict]], list[list[dict]], dict]:
    """(train, dev, dataset config) of a folder written by `twin build` (or by hand)."""
    from twin.train.folder import check_dataset_folder

    d = check_dataset_folder(folder)
    config = {}
    if (d / "config.json").is_file():
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    train = read_split(d / "train.jsonl")
    if not train:
        raise TwinError(f"{d / 'train.jsonl'}: holds no samples")
    return train, read_split(d / "dev.jsonl"), config


def encode(
    conversations: list[list[dict]], fmt: ChatFormat, tokenizer, max_len: int
) -> list[Example]:
    """Render every conversation; samples with no trained token after truncation are left out."""
    out = []
    for messages in conversations:
        ids, mask = render_with_mask(fmt, tokenizer, messages, max_len)
        labels = [t if m else IGNORE for t, m in zip(ids, mask, strict=True)]
        ex = Example(ids, labels)
        if ex.trained:
            out.append(ex)
    return out


def batch_order(
    examples: list[Example], batch: int, seed: int, epoch: int, group_by_length: bool
) -> list[list[int]]:
    """The batches of one epoch, as example indices; the same for a given (seed, epoch).

    With grouping, samples are shuffled, sorted by length within windows of 50 batches, cut
    into batches, and the batches shuffled again: similar lengths share a batch, order stays random.
    """
    g = torch.Generator().manual_seed(seed * 1000003 + epoch)
    order = torch.randperm(len(examples), generator=g).tolist()
    if group_by_length:
        window = batch * 50
        grouped = []
        for i in range(0, len(order), window):
            chunk = sorted(order[i : i + window], key=lambda j: len(examples[j].ids))
            grouped.extend(chunk)
        order = grouped
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    if group_by_length:
        perm = torch.randperm(len(batches), generator=g).tolist()
        batches = [batches[i] for i in perm]
    return batches


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad to the longest example of this batch (right padding)."""
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.ids)
        ids[i, :n] = torch.tensor(e.ids)
        labels[i, :n] = torch.tensor(e.labels)
        attention[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": attention}
