"""WeChatMsg / 留痕 / MemoTrace `messages.csv` (WeChat PC 3.x), every version, read as columns.

`_wechatmsg_columns` turns the file into checked columns (Arrow in parallel for regular files,
the csv module for the rest, with the same result); this module maps them to messages: kinds and
texts, chats keyed as (TalkerId, Remark, NickName), senders named. `read_table` gives `twin build`
the columns themselves; `parse` gives `twin ingest` one Message per row. Both are tested against
a row-by-row reference parser (tests/wechatmsg_reference.py) on every version's layout.
The versions and their quirks: docs/formats.md §1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.accounts import is_account_id
from twin.ingest.formats._common import strip_markup, xml_attr
from twin.ingest.formats._wechatmsg_columns import (
    HEADER9,
    HEADER12,
    NAMELESS,
    Columns,
    Times,
    encode,
    is_per_contact,
    per_contact_file,
    read_columns,
    read_in_batches,
    times,
)
from twin.ingest.report import FileReport
from twin.ingest.sources import Source
from twin.ingest.table import KIND_CODE, TablePart
from twin.messages import KINDS, FileLine, Message

NAME = "wechatmsg-csv"
LABEL = "WeChatMsg/留痕 CSV"
ME = "file"  # IsSender; see twin.ingest.importer.MeRule
__all__ = ["HEADER9", "HEADER12", "NAME", "LABEL", "ME", "sniff", "parse", "read_table"]

_REPLACEMSG = re.compile(r"<replacemsg>(.*?)</replacemsg>", re.S)
# Types whose rows need their text looked at; the others are text (1) or have none.
_NO_TEXT = {3: "image", 43: "video", 47: "sticker", 50: "call"}
_SLICE = 1 << 16  # rows turned into Message objects at a time

SIMPLE_KINDS = {
    1: "text",
    3: "image",
    34: "voice",
    43: "video",
    47: "sticker",
    48: "location",
    50: "call",
}
APP_KINDS = {
    1: "text",
    3: "link",
    5: "link",
    6: "file",
    8: "sticker",
    33: "link",
    36: "link",
    51: "link",
    57: "text",
}


def sniff(head: str, source: Source) -> bool:
    return head.lstrip("\ufeff").startswith("localId,TalkerId,Type,SubType,IsSender,CreateTime")


def kind_and_text(type_: int, sub: int, content: str) -> tuple[str, str]:
    """Map WeChat's Type/SubType to a kind, and keep what text the row has that a person wrote."""
    kind = SIMPLE_KINDS.get(type_)
    if kind == "text":
        return kind, content
    if kind is not None:
        if kind == "voice":
            return kind, xml_attr(content, "transtext") or ""
        if kind == "location":
            return kind, xml_attr(content, "poiname") or xml_attr(content, "label") or ""
        return kind, ""
    if type_ == 49:
        kind = APP_KINDS.get(sub, "other")
        text = "" if content.startswith("<") else content
        if kind == "text" and not text:
            kind = "other"  # quote/pasted-text rows whose text was never exported
        return kind, text
    if type_ == 10000:
        text = strip_markup(content)
        return ("recall" if "撤回了一条消息" in text else "system"), text
    if type_ == 10002:
        if "revokemsg" in content:
            # The notice shown in the chat; the rest of the XML is ids.
            notice = _REPLACEMSG.search(content)
            return "recall", strip_markup(notice.group(1)) if notice else ""
        return "system", strip_markup(content)
    if type_ in (37, 42):
        return "other", ""
    return "other", "" if content.startswith("<") else content


def chat_of(talker: str, remark: str, nick: str, stem: str) -> tuple[str, str]:
    """Chat key and name. TalkerId is only stable within one file, so a name goes in the key."""
    if remark or nick:
        return f"wechat:{talker}:{nick or remark}", remark or nick
    return f"wechat:{stem}:{talker}", f"TalkerId {talker}"


def _plain_kinds(
    type_: np.ndarray, sub: np.ndarray, content: pa.Array
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kind_and_text over a column, for the common rows that need no parsing.

    Returns (kind code, text = the content (else empty), rows still to map one by one). Each
    case is what kind_and_text does: a voice note without a transcription has no text; a system
    line without markup is its own text, a recall notice when it says so; an app message is
    its sub-type's kind, with its content as text unless it is XML.
    """
    n = len(type_)
    kind = np.full(n, KIND_CODE["other"], dtype=np.int8)
    keep_text = np.zeros(n, dtype=bool)
    parse = np.ones(n, dtype=bool)

    def has(pattern: str) -> np.ndarray:
        return pc.match_substring(content, pattern).to_numpy(zero_copy_only=False)

    voice = (type_ == 34) & ~has("transtext")
    kind[voice] = KIND_CODE["voice"]
    parse[voice] = False

    system = (type_ == 10000) & ~has("<")
    kind[system] = np.where(has("撤回了一条消息")[system], KIND_CODE["recall"], KIND_CODE["system"])
    keep_text[system] = True
    parse[system] = False

    app = type_ == 49
    if app.any():
        xml = pc.starts_with(content, "<").to_numpy(zero_copy_only=False)
        empty = (pc.binary_length(content).to_numpy(zero_copy_only=False) == 0) | xml
        app_kind = np.array([KIND_CODE[APP_KINDS.get(x, "other")] for x in sub[app].tolist()])
        app_kind[(app_kind == KIND_CODE["text"]) & empty[app]] = KIND_CODE["other"]
        kind[app] = app_kind
        keep_text[app] = ~xml[app]
        parse[app] = False
    return kind, keep_text, parse


def _distinct(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) for integers in [0, size): counted, not sorted,
    when size is small beside the row count."""
    if size > 4 * len(values) + (1 << 20):
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, inverse.reshape(-1)
    present = np.zeros(size, dtype=bool)
    present[values] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[values]


def _kinds(
    type_: np.ndarray, sub: np.ndarray, content: pa.ChunkedArray
) -> tuple[np.ndarray, pa.ChunkedArray]:
    """(kind code, text) per row, as kind_and_text maps them.

    Text and media rows are array work, and so are the other rows whose mapping needs no
    parsing (_plain_kinds); the rest go through kind_and_text one by one.
    """
    n = len(type_)
    kind = np.full(n, KIND_CODE["text"], dtype=np.int8)
    mask = type_ != 1
    for t, k in _NO_TEXT.items():
        kind[type_ == t] = KIND_CODE[k]
    others = np.flatnonzero(mask & ~np.isin(type_, list(_NO_TEXT)))
    if not len(others) and not mask.any():
        return kind, content
    other_content = pa.concat_arrays(
        content.take(pa.array(others)).chunks or [pa.array([], pa.string())]
    )
    other_kind, keep_text, parse = _plain_kinds(type_[others], sub[others], other_content)
    kind[others] = other_kind
    other_text = pc.if_else(pa.array(keep_text), other_content, "")
    rows = np.flatnonzero(parse)
    if len(rows):
        mapped = [
            kind_and_text(t, s, raw)
            for t, s, raw in zip(
                type_[others[rows]].tolist(),
                sub[others[rows]].tolist(),
                other_content.take(pa.array(rows)).to_pylist(),
                strict=True,
            )
        ]
        kind[others[rows]] = [KIND_CODE[k] for k, _ in mapped]
        other_text = pc.replace_with_mask(
            other_text, pa.array(parse), pa.array([t for _, t in mapped], pa.string())
        )
    # Every row that is not plain text gets its text in one pass: media rows none, the others
    # theirs (other_text, with an empty string after it for the media rows to point at).
    changed = np.flatnonzero(mask)
    pick = np.full(len(changed), len(others), dtype=np.int64)
    pick[np.searchsorted(changed, others)] = np.arange(len(others))
    texts = pa.concat_arrays([other_text, pa.array([""], pa.string())])
    text = pc.replace_with_mask(content, pa.array(mask), texts.take(pa.array(pick)))
    return kind, text


@dataclass
class _Chats:
    """One chat per distinct (TalkerId, Remark, NickName), keyed as chat_of keys it."""

    code: np.ndarray  # int32 chat per row
    keys: list[str]
    names: list[str]
    combo: np.ndarray  # int64 (TalkerId, Remark, NickName) combination per row
    friend: list[str]  # per combination: who a blank Sender of another person is


def contact_of(talker: str, stem: str) -> tuple[str, str]:
    """Chat key and name in a per-contact file: the whole file is one conversation, named by
    the file (WeChatMsg writes `<contact>_utf8.csv`); its Remark/NickName cells name each row's
    sender, not the chat."""
    return f"wechat:{stem}:{talker}", stem.removesuffix("_utf8") or f"TalkerId {talker}"


def _combinations(columns: tuple, n: int) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(combination c's code in each column, combination per row, each column's values) of
    the distinct value combinations of string columns. Each column is encoded on its own and
    combined with the combinations seen so far, which are renumbered 0..k-1 after each column:
    the codes stay small enough to count, no joins."""
    combos = np.zeros((1, 0), dtype=np.int64)
    inverse = np.zeros(n, dtype=np.int64)
    values = []
    for column in columns:
        words, codes = encode(column)
        values.append(words)
        distinct, inverse = _distinct(inverse * len(words) + codes, len(combos) * len(words))
        seen, code = np.divmod(distinct, len(words))
        combos = np.column_stack([combos[seen], code])
    return combos, inverse, values


def _chats(cols: Columns, stem: str, per_contact: bool) -> _Chats:
    """One chat per (TalkerId, Remark, NickName); a per-contact file's are its TalkerIds."""
    columns = (cols.talker,) if per_contact else (cols.talker, cols.remark, cols.nick)
    combos, inverse, values = _combinations(columns, len(cols))
    index: dict[str, int] = {}
    keys: list[str] = []
    names: list[str] = []
    remap = []
    friend = []
    for combo in combos.tolist():
        talker = values[0][combo[0]]
        if per_contact:
            key, chat_name = contact_of(talker, stem)
            nick = ""
        else:
            nick = values[2][combo[2]]
            key, chat_name = chat_of(talker, values[1][combo[1]], nick, stem)
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
            names.append(chat_name)
        remap.append(index[key])
        friend.append(nick or names[index[key]])
    return _Chats(
        code=np.asarray(remap, dtype=np.int32)[inverse],
        keys=keys,
        names=names,
        combo=inverse,
        friend=friend,
    )


@dataclass
class _Senders:
    names: list[str]  # per sender code: the name shown
    ids: list[str]  # per sender code: the account id ("" when none)
    code: np.ndarray  # sender code per row


def _senders(cols: Columns, chats: _Chats, per_contact: bool) -> _Senders:
    """Mine default to 我, others' to the chat's NickName or name, as the row parser names them.

    In a per-contact file each row's Remark/NickName are its sender's and Sender holds an
    account id: others are shown by Remark, else NickName, with the id beside; mine are always
    我 (their Sender cell holds my id or, in some versions, the friend's). A blank name depends
    on the row's chat combination and IsSender only, so it is found once per such pair."""
    if per_contact:
        combos, code, (remarks, nicks, ids) = _combinations(
            (cols.remark, cols.nick, cols.sender), len(cols)
        )
        names = [remarks[r] or nicks[k] or ids[i] for r, k, i in combos.tolist()]
        ids = [ids[i] if is_account_id(ids[i]) else "" for i in combos[:, 2].tolist()]
        blank = np.asarray([x == "" for x in names], dtype=bool)[code] | cols.me
    else:
        names, code = encode(cols.sender)
        ids = [x if is_account_id(x) else "" for x in names]
        blank = np.asarray([x == "" for x in names], dtype=bool)[code]
    if not blank.any():
        return _Senders(names=names, ids=ids, code=code)
    pair = chats.combo[blank] * 2 + cols.me[blank]
    distinct, inverse = _distinct(pair, len(chats.friend) * 2)
    filled = ["我" if p % 2 else chats.friend[p // 2] for p in distinct.tolist()]
    code = code.astype(np.int64)
    code[blank] = len(names) + inverse
    return _Senders(
        names=names + filled,
        ids=ids + [x if is_account_id(x) else "" for x in filled],
        code=code,
    )


def _per_contact(cols: Columns, file_name: str) -> bool:
    return cols.version == NAMELESS or (
        cols.version == ">=1.0" and is_per_contact(cols.talker, cols.sender, cols.me, file_name)
    )


def _version(version: str, per_contact: bool, encoding: str) -> str:
    if version not in (">=1.0", NAMELESS):
        return version
    label = ">=1.0.2" if encoding == "utf-8-sig" else ">=1.0"
    if version == NAMELESS:
        return label + ", per-contact 1:1 (rows of 9 fields, no names)"
    if per_contact:  # (per-contact files exist from 1.0.3)
        label += ", per-contact 2.x (Sender holds wxids)"
    return label


def read_table(source: Source, report: FileReport) -> TablePart | None:
    """The file as columns, with the report filled as ingest fills it from `parse`."""
    cols = read_columns(source, report)
    if cols is None:
        return None  # a header and nothing else: parse says so as for any file
    n = len(cols)
    # The times from their bytes beside the other columns' work (numpy and Arrow kernels,
    # which let go of the GIL): the second core would otherwise idle after the read.
    with ThreadPoolExecutor(1) as beside:
        when = beside.submit(times, cols.strtime, cols.created, iso=False)
        kind, text = _kinds(cols.type_, cols.sub, cols.content)
        per_contact = _per_contact(cols, source.name)
        chats = _chats(cols, source.name.rsplit(".", 1)[0], per_contact)
        senders = _senders(cols, chats, per_contact)
        when = when.result()
    # What ingest needs to decide groups: the other senders of each chat.
    counted = ~cols.me & (kind != KIND_CODE["system"]) & (kind != KIND_CODE["recall"])
    width = max(1, len(senders.names))
    pairs, _ = _distinct(
        chats.code[counted].astype(np.int64) * width + senders.code[counted],
        len(chats.keys) * width,
    )
    chat_senders: dict[str, set[tuple[str, str]]] = {k: set() for k in chats.keys}
    for pair in pairs.tolist():
        c, s = divmod(pair, width)
        chat_senders[chats.keys[c]].add((senders.ids[s], senders.names[s]))
    report.version = _version(cols.version, per_contact, report.encoding)
    report.messages = n
    report.by_me = int(cols.me.sum())
    report.chats.update(chats.keys)
    report.chat_senders.update(chat_senders)
    counts = np.bincount(kind, minlength=len(KIND_CODE))
    for k, code in KIND_CODE.items():
        if counts[code]:
            report.kinds[k] += int(counts[code])
    return TablePart(
        chat_keys=chats.keys,
        chat_names=chats.names,
        chat_group=[None] * len(chats.keys),
        chat=chats.code,
        me=cols.me,
        ts=when.ts,
        kind=kind,
        forwarded=np.zeros(n, dtype=bool),
        month=when.month,
        text=text,
        sender=pa.array(senders.names, pa.string()).take(pa.array(senders.code)),
        file=source.display,
    )


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    """One Message per row, in file order (`me` from IsSender; `group` left to ingest)."""
    stem = source.name.rsplit(".", 1)[0]
    version = None
    # Whether it is a per-contact file decides how chats are keyed: known before the first
    # block is mapped (else the csv module reads the file whole, and that read tells).
    ids = per_contact_file(source)
    # One string object per chat and sender for the whole file, not one per block.
    shared: dict[str, str] = {}
    for cols in read_in_batches(source, report, arrow=ids is not None):
        per_contact = ids if ids is not None else _per_contact(cols, source.name)
        kind, text = _kinds(cols.type_, cols.sub, cols.content)
        chats = _chats(cols, stem, per_contact)
        chats.keys = [shared.setdefault(x, x) for x in chats.keys]
        chats.names = [shared.setdefault(x, x) for x in chats.names]
        senders = _senders(cols, chats, per_contact)
        senders.names = [shared.setdefault(x, x) for x in senders.names]
        senders.ids = [shared.setdefault(x, x) for x in senders.ids]
        version = cols.version
        when = times(cols.strtime, cols.created, iso=True)
        yield from _messages(cols, kind, text, chats, senders, when, source.display)
    if version is not None:
        report.version = _version(version, per_contact, report.encoding)


def _messages(
    cols: Columns,
    kind: np.ndarray,
    text: pa.ChunkedArray,
    chats: _Chats,
    senders: _Senders,
    when: Times,
    display: str,
) -> Iterator[Message]:
    ids = [x or None for x in senders.ids]
    # In slices: a million rows as Python lists at once (the csv module's read of a whole
    # file) would double ingest's peak memory.
    for at in range(0, len(cols), _SLICE):
        part = slice(at, at + _SLICE)
        rows = zip(
            chats.code[part].tolist(),
            senders.code[part].tolist(),
            cols.me[part].tolist(),
            when.iso[part],
            when.ts[part].tolist(),
            kind[part].tolist(),
            text.slice(at, _SLICE).to_pylist(),
            cols.msg_id.slice(at, _SLICE).to_pylist(),
            cols.line[part].tolist(),
            strict=True,
        )
        for chat, s, me, iso_time, ts, k, txt, msg_id, line in rows:
            yield Message(
                chat=chats.keys[chat],
                chat_name=chats.names[chat],
                sender=senders.names[s],
                sender_id=None if me else ids[s],
                me=me,
                group=None,
                time=iso_time,
                ts=ts,
                kind=KINDS[k],
                text=txt,
                id=msg_id,
                source=FileLine(display, line),
            )
