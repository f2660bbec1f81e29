"""Messages counted twice are dropped, and counted under a named reason.

How people end up giving twin the same messages twice: an iOS WhatsApp zip beside the
`_chat.txt` they extracted from it (the two get different chat names), the same file in two
folders, overlapping exports of one chat taken on two dates, and a Discord export that repeats
a message id. Left alone, every turn of such a chat reads `X\\nX` and the build reports twice
the messages.

Two rules:
- a file whose messages are exactly those of a file read before it (time, sender, kind and
  text, in order; the chat name may differ) is a duplicate file: all its messages are dropped;
- within one chat, a message whose id (with the same sender and time: some exporters reuse
  ids, and an edited copy keeps its id and time) was seen before is dropped, and
  so is one whose (time, sender, kind, text) another file already gave. Repeats inside one file
  are kept: "ok" sent twice in a minute is two messages in a WhatsApp file, and only the count
  a single file holds is kept when another file gives them again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa

from twin.ingest.table import TablePart
from twin.messages import Message

DUPLICATE_FILE = "duplicate file (the same messages as a file read before it)"
DUPLICATE_MESSAGE = "duplicate message (same chat, time, sender and text, or same message id)"


def drop_duplicates(
    chats: dict[str, list[Message]], parts: list[TablePart], message_files: int = 2
) -> tuple[Counter, dict[str, list[str]]]:
    """Drop duplicates from both (in place); returns (messages dropped by reason, what each
    file lost, as notes for its summary). Runs once ingest has sorted each chat by time.

    `message_files`: how many files gave `chats`; with one, only the id rule can apply.
    """
    dropped: Counter = Counter()
    per_file: dict[str, Counter] = {}
    copies: dict[str, str] = {}
    if message_files > 1:
        _drop_message_duplicates(chats, dropped, per_file, copies)
    else:
        _drop_repeated_ids(chats, dropped, per_file)
    parts[:] = _drop_part_duplicates(parts, dropped, per_file, copies)
    notes: dict[str, list[str]] = {}
    for file, counts in per_file.items():
        for reason, n in counts.items():
            same = f": the same messages as {copies[file]}" if reason == DUPLICATE_FILE else ""
            notes.setdefault(file, []).append(f"{n} messages dropped as {reason}{same}")
    return dropped, notes


def _count(dropped: Counter, per_file: dict[str, Counter], file: str, reason: str, n: int) -> None:
    if n:
        dropped[reason] += n
        per_file.setdefault(file, Counter())[reason] += n


def _file_of(m: Message) -> str:
    return str(m.source.get("file", "")) if isinstance(m.source, Mapping) else ""


def _drop_message_duplicates(
    chats: dict[str, list[Message]],
    dropped: Counter,
    per_file: dict[str, Counter],
    copies: dict[str, str],
) -> None:
    by_file: dict[str, list[Message]] = {}
    for key in sorted(chats):
        for m in chats[key]:
            by_file.setdefault(_file_of(m), []).append(m)
    copies.update(
        _duplicate_files(
            list(by_file),
            [len(v) for v in by_file.values()],
            lambda f: [(m.time, m.sender, m.kind, m.text) for m in by_file[f]],
        )
    )
    same = {f for f in by_file if f in copies}
    for f in same:
        _count(dropped, per_file, f, DUPLICATE_FILE, len(by_file[f]))
    files_of_chat = {k: {_file_of(m) for m in msgs} for k, msgs in chats.items()}
    for key in list(chats):
        msgs = chats[key]
        if same and files_of_chat[key] & same:
            msgs = [m for m in msgs if _file_of(m) not in same]
        shared = len(files_of_chat[key] - same) > 1
        if shared or any(m.id is not None for m in msgs):
            msgs = _unique(msgs, shared, dropped, per_file)
        if msgs:
            chats[key] = msgs
        else:
            del chats[key]


def _drop_repeated_ids(
    chats: dict[str, list[Message]], dropped: Counter, per_file: dict[str, Counter]
) -> None:
    """One file: only a repeated id can be a duplicate; most chats have none (one set each)."""
    for key, msgs in chats.items():
        ids = [m.id for m in msgs if m.id is not None]
        if len(set(ids)) != len(ids):
            chats[key] = _unique(msgs, False, dropped, per_file)


def _unique(
    msgs: list[Message], shared: bool, dropped: Counter, per_file: dict[str, Counter]
) -> list[Message]:
    """One chat's messages without repeated ids, and (when several files give the chat)
    without what another file already gave."""
    ids: set[tuple[str, str, float]] = set()
    first_file: dict[tuple, str] = {}
    occurrences: Counter = Counter()
    kept = []
    for m in msgs:
        file = _file_of(m)
        who = m.sender_id or m.sender
        if m.id is not None and m.id.strip("0"):  # WeChat gives local notices id 0
            id_key = (m.id, who, m.ts)
            if id_key in ids:
                _count(dropped, per_file, file, DUPLICATE_MESSAGE, 1)
                continue
            ids.add(id_key)
        if shared:
            content = (m.ts, who, m.kind, m.text)
            occurrences[file, content] += 1
            key = (content, occurrences[file, content])
            if first_file.setdefault(key, file) != file:
                _count(dropped, per_file, file, DUPLICATE_MESSAGE, 1)
                continue
        kept.append(m)
    return kept


def _duplicate_files(files: list[str], sizes: list[int], content) -> dict[str, str]:  # noqa: ANN001
    """{file: the earlier file of the same size and content}."""
    same: dict[str, str] = {}
    by_size: dict[int, list[int]] = {}
    for i, n in enumerate(sizes):
        if n:
            by_size.setdefault(n, []).append(i)
    for group in by_size.values():
        if len(group) < 2:
            continue
        seen: list[tuple[str, object]] = []
        for i in group:
            c = content(files[i])
            original = next((f for f, other in seen if c == other), None)
            if original is not None:
                same[files[i]] = original
            else:
                seen.append((files[i], c))
    return same


class _PartContent:
    """Equality of two parts' messages, column by column (Arrow compares the strings)."""

    def __init__(self, part: TablePart) -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _PartContent):
            return NotImplemented
        a, b = self.part, other.part
        return (
            np.array_equal(a.ts, b.ts)
            and np.array_equal(a.kind, b.kind)
            and np.array_equal(a.me, b.me)
            and _chunked(a.text).equals(_chunked(b.text))
            and _chunked(a.sender).equals(_chunked(b.sender))
        )

    __hash__ = None  # type: ignore[assignment]


def _chunked(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _drop_part_duplicates(
    parts: list[TablePart],
    dropped: Counter,
    per_file: dict[str, Counter],
    copies: dict[str, str],
) -> list[TablePart]:
    """The same rules for files read column-wise (WeChatMsg CSV)."""
    if len(parts) < 2:
        return parts
    names = [str(i) for i in range(len(parts))]
    same = _duplicate_files(names, [len(p) for p in parts], lambda i: _PartContent(parts[int(i)]))
    kept = []
    for i, p in enumerate(parts):
        if names[i] in same:
            copies[p.file] = parts[int(same[names[i]])].file
            _count(dropped, per_file, p.file, DUPLICATE_FILE, len(p))
        else:
            kept.append(p)
    return _drop_shared_rows(kept, dropped, per_file)


def _drop_shared_rows(
    parts: list[TablePart], dropped: Counter, per_file: dict[str, Counter]
) -> list[TablePart]:
    """Rows of a chat that several parts give (overlapping exports): the content rule, in
    Python over those chats' rows only (rare, and never the one-file fast path)."""
    owners: Counter = Counter(k for p in parts for k in set(p.chat_keys))
    shared = {k for k, n in owners.items() if n > 1}
    if not shared:
        return parts
    first_file: dict[tuple, int] = {}
    out = []
    for i, p in enumerate(parts):
        codes = [c for c, k in enumerate(p.chat_keys) if k in shared]
        rows = np.flatnonzero(np.isin(p.chat, codes)) if codes else np.zeros(0, np.int64)
        if not len(rows):
            out.append(p)
            continue
        keep = np.ones(len(p), dtype=bool)
        occurrences: Counter = Counter()
        for row, content in zip(rows.tolist(), _contents(p, rows), strict=True):
            occurrences[content] += 1
            if first_file.setdefault((content, occurrences[content]), i) != i:
                keep[row] = False
        _count(dropped, per_file, p.file, DUPLICATE_MESSAGE, int((~keep).sum()))
        out.append(p if keep.all() else _filter(p, keep))
    return out


def _contents(p: TablePart, rows: np.ndarray) -> Iterable[tuple]:
    take = pa.array(rows)
    chat_keys = [p.chat_keys[c] for c in p.chat[rows].tolist()]
    return zip(
        chat_keys,
        p.ts[rows].tolist(),
        p.sender.take(take).to_pylist(),
        p.kind[rows].tolist(),
        p.text.take(take).to_pylist(),
        strict=True,
    )


def _filter(p: TablePart, keep: np.ndarray) -> TablePart:
    mask = pa.array(keep)
    return TablePart(
        chat_keys=p.chat_keys,
        chat_names=p.chat_names,
        chat_group=p.chat_group,
        chat=p.chat[keep],
        me=p.me[keep],
        ts=p.ts[keep],
        kind=p.kind[keep],
        forwarded=p.forwarded[keep],
        month=p.month[keep],
        text=p.text.filter(mask),
        sender=p.sender.filter(mask),
        file=p.file,
    )
