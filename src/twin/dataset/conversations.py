"""From sorted message columns to conversations, turns and sample windows.

A chat is cut into conversations at long pauses; inside one, consecutive messages of a side are
one turn. Your turns are the assistant's, everyone else's the user's — and a conversation you
start never puts your words into a user turn (one competitor leaks the answer into the prompt
that way): your opening turn is dropped, or follows an empty user turn.

Everything up to choosing the messages a sample uses is array work over all messages at once;
Python touches only the messages that end up in samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.dataset.config import BuildConfig
from twin.ingest.table import KIND_CODE, MessageTable
from twin.messages import KINDS

# Why a message is not in the dataset; each message lands under exactly one of these or is used.
SYSTEM = "system message"
RECALL = "recall notice"
EMPTY = "empty message"
GROUP = "group chat (pass --groups to include)"
MEDIA_SPLIT = "media message (media = split)"
OPENER = "conversation opened by me (no prompt before it)"
UNANSWERED = "others' messages after my last reply"
NO_REPLY = "conversation without a reply by me"
TOO_LONG = "turn pair longer than max_tokens"
NOTHING_TO_LEARN = "sample whose replies are all too short, too long, or only emoji/placeholders"
DUPLICATE = "duplicate sample"
BLOCKED = "sample with a blocked word (block_mode = drop)"


@dataclass
class Turns:
    """All turns of all conversations with a reply by me, as columns.

    Conversation c holds turns conv_start[c] : conv_start[c + 1]; each starts with a user turn
    (possibly empty, for opener = "empty-user"), alternates, and ends with my reply.
    """

    text: pa.Array  # per turn, messages joined by newlines
    assistant: np.ndarray  # bool per turn
    n: np.ndarray  # input messages per turn
    conv_start: np.ndarray  # len = conversations + 1
    conv_chat: np.ndarray  # chat index per conversation
    conv_time: np.ndarray  # time of each conversation's first message (with the chat: split key)

    @property
    def conversations(self) -> int:
        return len(self.conv_start) - 1


def _count(dropped: Counter, reason: str, mask: np.ndarray) -> None:
    n = int(np.count_nonzero(mask))
    if n:
        dropped[reason] += n


def conversations(
    table: MessageTable,
    cfg: BuildConfig,
    placeholders: dict[str, str],
    dropped: Counter,
    clean: Callable[[pa.Array], pa.Array] | None = None,
    speaker: Callable[[str], str] | None = None,
) -> Turns:
    """The turns of every conversation with a reply by me, counting every message left out.

    `clean` rewrites message texts (privacy redaction) before they are joined into turns;
    `speaker` gives the name written before others' messages in group chats (the same
    redaction, see twin.dataset.names), the sender's name as it is when not given.
    """
    if len(table) == 0:
        return _no_turns()
    keep, boundary_media = _kept(table, cfg, dropped)
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        return _no_turns()
    role = table.me[rows]
    ts = table.ts[rows]
    chat = table.chat[rows]
    dt = np.diff(ts)
    same_role = role[1:] == role[:-1]
    new_conv = np.ones(len(rows), dtype=bool)
    new_conv[1:] = (
        (chat[1:] != chat[:-1])
        | (dt > cfg.session_gap_minutes * 60)
        | (same_role & (dt > cfg.merge_window_minutes * 60))
    )
    if boundary_media is not None:
        new_conv[1:] |= boundary_media[rows[1:]] != boundary_media[rows[:-1]]
    new_turn = new_conv.copy()
    new_turn[1:] |= ~same_role
    conv_id = np.cumsum(new_conv) - 1
    turn_id = np.cumsum(new_turn) - 1
    conv_starts = np.flatnonzero(new_conv)
    conv_ends = np.append(conv_starts[1:], len(rows)) - 1

    has_reply = np.logical_or.reduceat(role, conv_starts)[conv_id]
    _count(dropped, NO_REPLY, ~has_reply)
    first_turn = turn_id[conv_starts][conv_id]
    last_turn = turn_id[conv_ends][conv_id]
    opener = has_reply & role & (turn_id == first_turn)
    unanswered = has_reply & ~role & (turn_id == last_turn)
    if cfg.opener == "drop":
        _count(dropped, OPENER, opener)
        used = has_reply & ~opener & ~unanswered
    else:
        used = has_reply & ~unanswered
    _count(dropped, UNANSWERED, unanswered)

    picked = np.flatnonzero(used)
    if len(picked) == 0:
        return _no_turns()
    src = rows[picked]
    p_role = role[picked]
    texts = _message_texts(table, src, placeholders)
    if clean is not None:
        texts = clean(texts)
    if cfg.groups:
        texts = _with_speakers(table, src, p_role, texts, speaker or str)

    return _join_turns(texts, p_role, turn_id[picked], conv_id[picked], chat[picked], ts[picked])


def _kept(
    table: MessageTable, cfg: BuildConfig, dropped: Counter
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which messages can be part of a conversation (the rest counted by reason), and with
    media = "split" a running count of media that tells conversations apart."""
    n = len(table)
    kind = table.kind
    text_kind = kind == KIND_CODE["text"]
    system = kind == KIND_CODE["system"]
    recall = kind == KIND_CODE["recall"]
    group = table.chat_group[table.chat] if not cfg.groups else np.zeros(n, dtype=bool)
    empty = text_kind & table.blank()
    _count(dropped, GROUP, group)
    live = ~group
    _count(dropped, SYSTEM, live & system)
    _count(dropped, RECALL, live & recall)
    _count(dropped, EMPTY, live & empty)
    keep = live & ~system & ~recall & ~empty
    media = keep & ~text_kind
    boundary_media = None
    if cfg.media == "split":
        _count(dropped, MEDIA_SPLIT, media)
        keep &= ~media
        boundary_media = np.cumsum(media)
    return keep, boundary_media


def _join_turns(
    texts: pa.Array,
    role: np.ndarray,
    turn_id: np.ndarray,
    conv_id: np.ndarray,
    chat: np.ndarray,
    ts: np.ndarray,
) -> Turns:
    """Consecutive messages with one turn id joined by newlines (one Arrow call), grouped by
    conversation; with opener = "empty-user" an empty user turn goes before a first turn of mine."""
    bounds = np.flatnonzero(np.diff(turn_id)) + 1
    starts = np.concatenate(([0], bounds))
    offsets = np.append(starts, len(turn_id))
    text = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), texts), "\n")
    sizes = np.diff(offsets)
    assistant = role[starts]
    t_conv = conv_id[starts]
    firsts = np.flatnonzero(np.diff(t_conv, prepend=-1))
    conv_chat = chat[starts][firsts]
    conv_time = ts[starts][firsts]
    opened_by_me = np.flatnonzero(assistant[firsts])
    if len(opened_by_me):  # opener = "empty-user": an empty user turn before my first one
        at = firsts[opened_by_me]
        # Each turn's index, with the index of an empty string (appended) where one goes in.
        index = np.insert(np.arange(len(text)), at, len(text))
        text = pa.concat_arrays([text, pa.array([""], text.type)]).take(pa.array(index))
        assistant = np.insert(assistant, at, False)
        sizes = np.insert(sizes, at, 0)
        firsts = firsts + np.searchsorted(at, firsts)  # each start now points at its empty turn
    return Turns(
        text=text,
        assistant=assistant,
        n=sizes,
        conv_start=np.append(firsts, len(assistant)),
        conv_chat=conv_chat,
        conv_time=conv_time,
    )


def _no_turns() -> Turns:
    empty = np.zeros(0, dtype=np.int64)
    return Turns(
        pa.array([], pa.string()),
        np.zeros(0, bool),
        empty,
        np.zeros(1, np.int64),
        empty,
        np.zeros(0),
    )


def _message_texts(table: MessageTable, rows: np.ndarray, placeholders: dict[str, str]) -> pa.Array:
    """Each message as it reads in a turn: text stripped, media as [image] (+ caption),
    forwarded text marked."""
    text = pc.utf8_trim_whitespace(table.take_text(rows))
    kind = table.kind[rows]
    media = kind != KIND_CODE["text"]
    if media.any():
        labels = pa.array([placeholders.get(k, "") for k in KINDS], pa.string()).take(
            pa.array(kind)
        )
        with_caption = pc.binary_join_element_wise(labels, text, " ")
        label_only = pc.equal(text, "")
        text = pc.if_else(pa.array(media), pc.if_else(label_only, labels, with_caption), text)
    forwarded = table.forwarded[rows] & ~media
    if forwarded.any():
        marked = pc.binary_join_element_wise(pa.scalar(placeholders["forwarded"]), text, " ")
        text = pc.if_else(pa.array(forwarded), marked, text)
    return text


def _with_speakers(
    table: MessageTable,
    rows: np.ndarray,
    mine: np.ndarray,
    text: pa.Array,
    speaker: Callable[[str], str],
) -> pa.Array:
    """In group chats, others' messages as "Name: text", the name given by `speaker` (the
    text's redaction does not see it: it is prefixed after)."""
    in_group = table.chat_group[table.chat[rows]] & ~mine
    if not in_group.any():
        return text
    names = table.take_sender(rows).filter(pa.array(in_group))
    encoded = names.dictionary_encode()
    labels = [speaker(n) for n in encoded.dictionary.to_pylist()]
    at = np.flatnonzero(in_group)
    named = pc.binary_join_element_wise(
        pa.array(labels, pa.string()).take(encoded.indices), text.take(pa.array(at)), ": "
    )
    return pc.replace_with_mask(text, pa.array(in_group), named)


def windows(
    start: int,
    end: int,
    tokens: list[int],
    sizes: list[int],
    cfg: BuildConfig,
    budget: int,
    dropped: Counter,
) -> Iterator[range]:
    """Split one conversation's turns (start:end, alternating user/assistant) into windows of
    whole pairs within the token and turn budgets.

    A pair that alone exceeds the token budget is dropped (counted); a window always starts
    with a user turn and ends with my reply.
    """
    max_pairs = max(1, cfg.max_turns // 2)
    first = start
    used = 0
    for i in range(start, end - 1, 2):
        pair = tokens[i] + tokens[i + 1]
        if pair > budget:
            dropped[TOO_LONG] += sizes[i] + sizes[i + 1]
            if i > first:
                yield range(first, i)
            first, used = i + 2, 0
            continue
        if i > first and (used + pair > budget or (i - first) // 2 >= max_pairs):
            yield range(first, i)
            first, used = i, 0
        used += pair
    if end > first:
        yield range(first, end)
