"""WeChatMsg / 留痕 / MemoTrace `messages.csv` (WeChat PC 3.x), every version.

The version is told by the header and the field count of the rows (formats.md §1): 0.2.6 added
an unnamed MsgSvrID field, 0.2.7–0.2.9 wrote rows shifted one column right of their header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from twin.errors import InputError
from twin.ingest.formats._common import local_and_unix, strip_markup, unix_time, xml_attr
from twin.ingest.formats._csv import CsvRows
from twin.ingest.report import FileReport
from twin.ingest.shown import header as header_shown
from twin.ingest.shown import value
from twin.ingest.sources import Source
from twin.ingest.table import KIND_CODE, TablePart
from twin.messages import Message

NAME = "wechatmsg-csv"
LABEL = "WeChatMsg/留痕 CSV"
ME = "file"  # how the user's messages are found: twin.ingest.importer.MeRule

HEADER9 = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
]
HEADER12 = HEADER9 + ["Remark", "NickName", "Sender"]
# Versions whose rows carry the server message id (stable across backups) as field 10.
WITH_MSGSVRID = frozenset(["0.2.6", "0.2.6 (hand-edited header)", "0.2.7–0.2.9"])
_REPLACEMSG = re.compile(r"<replacemsg>(.*?)</replacemsg>", re.S)


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


def _is_wxid(sender: str) -> bool:
    return sender.startswith("wxid_") or sender.endswith("@chatroom")


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        header = rows.header
        if header is None:
            return
        # A wrong header is not a bad row: --skip-bad-rows must not read a foreign table.
        if header[:9] != HEADER9:
            raise InputError(
                source.display,
                "line 1 (header)",
                f"header {header_shown(header)}",
                "the WeChatMsg header " + ",".join(HEADER9),
            )
        named = len(header)
        if named == 12 and header[9:] != HEADER12[9:]:
            raise InputError(
                source.display,
                "line 1 (header)",
                f"extra columns {header[9:]}",
                "Remark,NickName,Sender",
            )
        display = source.display
        stem = source.name.rsplit(".", 1)[0]
        layout = None  # decided from the first data row
        wxid_senders = 0
        chats: dict[tuple[str, str, str], tuple[str, str]] = {}
        senders: dict[str, str] = {}
        for where, start, row in rows:
            n = len(row)
            if layout is None:
                layout = _layout(named, row, report)
                with_svrid = layout[0] in WITH_MSGSVRID
            if n not in layout[1]:
                report.bad_row(
                    where,
                    f"{n} fields",
                    f"{' or '.join(map(str, sorted(layout[1])))} fields for WeChatMsg {layout[0]}"
                    + (" (is the file cut short?)" if n < 9 else ""),
                )
                continue
            try:
                type_ = int(row[2])
                sub = int(row[3] or 0)
                is_sender = row[4]
                created = int(row[5])
            except ValueError:
                report.bad_row(
                    where,
                    f"Type={value(row[2])}, SubType={value(row[3])}, CreateTime={value(row[5])}",
                    "integer Type, SubType and CreateTime (Unix seconds)",
                )
                continue
            if is_sender not in ("0", "1"):
                report.bad_row(where, f"IsSender={value(is_sender)}", "IsSender 0 or 1")
                continue
            me = is_sender == "1"
            talker = row[1]
            if layout[0] == ">=1.0":
                remark, nick, sender = row[9], row[10], row[11]
            elif layout[0] == "0.2.7–0.2.9":
                remark = row[10] if n > 10 else ""
                nick = row[11] if n > 11 else ""
                sender = row[12] if n > 12 else ""
            else:
                remark = nick = sender = ""
            chat_key = (talker, remark, nick)
            named_chat = chats.get(chat_key)
            if named_chat is None:
                named_chat = chats[chat_key] = chat_of(talker, remark, nick, stem)
            chat, chat_name = named_chat
            # one string object per distinct sender: a million rows name a few hundred people
            sender = senders.setdefault(sender, sender)
            sender_id = None
            if me:
                sender = sender or "我"
            else:
                if _is_wxid(sender):
                    wxid_senders += 1
                # an empty Sender cell is the friend of a 1:1 chat, named as the filled ones are
                sender = sender or nick or chat_name
                if _is_wxid(sender):  # also a chat named by a wxid, as read_table keys it
                    sender_id = sender
            timed = local_and_unix(row[8], created) if row[8] else None
            if timed is None:
                timed = unix_time(created)
            if timed is None:
                report.bad_row(
                    where,
                    f"CreateTime={value(row[5])}",
                    "CreateTime as Unix seconds in years 1-9999",
                )
                continue
            kind, text = kind_and_text(type_, sub, row[7])
            yield Message(
                chat=chat,
                chat_name=chat_name,
                sender=sender,
                sender_id=sender_id,
                me=me,
                group=None,
                time=timed[0],
                ts=timed[1],
                kind=kind,
                text=text,
                id=(with_svrid and row[9]) or row[0],
                source={"file": display, "line": start},
            )
        if layout is not None:
            version = layout[0]
            if version == ">=1.0" and report.encoding == "utf-8-sig":
                version = ">=1.0.2"
            if wxid_senders:
                version += ", per-contact 2.x (Sender holds wxids)"
            report.version = version


def _layout(named: int, row: list[str], report: FileReport) -> tuple[str, set[int]]:
    """(version, allowed field counts) from the header width and the first data row."""
    if named == 9:
        return ("0.2.6", {10}) if len(row) == 10 else ("<=0.2.5", {9})
    if named == 10:
        return ("0.2.6 (hand-edited header)", {10})
    if named == 12:
        shifted = len(row) == 13 or (len(row) >= 10 and row[9].isdigit() and len(row[9]) >= 15)
        if shifted:
            return ("0.2.7–0.2.9", {10, 11, 12, 13})
        return (">=1.0", {12})
    return (f"unknown ({named} columns)", {named})


# Arrow's CSV blocks: 4 MB, fewer and larger tasks for the threads (10% faster than 1 MB).
BLOCK_SIZE = 1 << 22
# Column types for the column-wise read: Arrow checks every value while parsing, in parallel,
# and any value the row parser would treat differently makes the read fail and fall back.
# Columns with few distinct values are read as dictionaries: faster than strings, and their
# codes are what the table is built from.
_WORDS = pa.dictionary(pa.int32(), pa.string())
_TYPES = {name: pa.string() for name in HEADER12}
_TYPES.update(
    TalkerId=_WORDS,
    Type=pa.int64(),
    SubType=pa.int64(),
    IsSender=_WORDS,  # only "0" and "1", as the row parser takes it ("01" is a bad row)
    CreateTime=pa.int64(),
    StrTime=pa.timestamp("s"),
    Remark=_WORDS,
    NickName=_WORDS,
    Sender=_WORDS,
)
# The columns the table needs (localId and Status are still checked for count, not converted).
_USED = [name for name in HEADER12 if name not in ("localId", "Status")]
# Types whose rows need their text looked at; the others are text (1) or have none.
_NO_TEXT = {3: "image", 43: "video", 47: "sticker", 50: "call"}


def _encode(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray]:
    """(values, code per row) of a dictionary column read in blocks (one dictionary each)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    encoded = column.unify_dictionaries()
    if not encoded.num_chunks:
        return [], np.zeros(0, dtype=np.int32)
    words = encoded.chunk(0).dictionary.to_pylist()
    return words, np.concatenate([c.indices.to_numpy() for c in encoded.chunks])


def _decode(words: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(words, pa.string()).take(pa.array(codes))


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


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks])


def read_table(source: Source, report: FileReport) -> TablePart | None:
    """Read a regular >=1.0 file column-wise with Arrow (an order of magnitude faster than rows).

    Returns None for anything irregular — another version, a short row, a blank line, a bad
    number or time, another encoding — and the row parser then reads the file and reports
    exactly where the problem is. The result equals what `parse` gives (tests hold them equal).
    """
    if source.encoding not in ("utf-8", "utf-8-sig"):
        return None
    with source.open_binary() as f:
        header = f.readline().decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if header != ",".join(HEADER12):
        return None
    try:
        with source.open_binary() as f:
            table = pacsv.read_csv(
                f,
                read_options=pacsv.ReadOptions(use_threads=True, block_size=BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=_TYPES,
                    include_columns=_USED,
                    null_values=[""],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    timestamp_parsers=["%Y-%m-%d %H:%M:%S"],
                ),
            )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    n = table.num_rows
    if table.column_names != _USED or n == 0:
        return None
    col = table.column
    if (
        col("Type").null_count
        or col("IsSender").null_count
        or col("CreateTime").null_count
        or col("StrTime").null_count
    ):
        return None
    first_remark = col("Remark")[0].as_py()
    if first_remark.isdigit() and len(first_remark) >= 15:
        return None  # 0.2.7–0.2.9 rows shifted under a 12-name header
    flags, flag_codes = _encode(col("IsSender"))
    if not set(flags) <= {"0", "1"}:
        return None
    me = np.asarray([f == "1" for f in flags], dtype=bool)[flag_codes]
    type_ = _numpy(col("Type"))
    sub = _numpy(col("SubType").fill_null(0))
    created = _numpy(col("CreateTime")).astype(np.float64)
    strtime = col("StrTime")
    month = _numpy(pc.add(pc.multiply(pc.year(strtime), 100), pc.month(strtime))).astype(np.int32)

    # Kinds: text and media rows are array work, and so are the other rows whose mapping needs
    # no parsing; the rest go through the row parser's mapping, one by one.
    kind = np.full(n, KIND_CODE["text"], dtype=np.int8)
    mask = type_ != 1
    for t, k in _NO_TEXT.items():
        kind[type_ == t] = KIND_CODE[k]
    others = np.flatnonzero(mask & ~np.isin(type_, list(_NO_TEXT)))
    content = col("StrContent")
    other_content = content.take(pa.array(others)).combine_chunks()
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
    text = content
    changed = np.flatnonzero(mask)
    if len(changed):
        pick = np.full(len(changed), len(others), dtype=np.int64)
        pick[np.searchsorted(changed, others)] = np.arange(len(others))
        texts = pa.concat_arrays([other_text, pa.array([""], pa.string())])
        text = pc.replace_with_mask(content, pa.array(mask), texts.take(pa.array(pick)))

    # Chats: one per (TalkerId, Remark, NickName), keyed as the row parser keys them. Each
    # column is encoded on its own and combined with the combinations seen so far, which are
    # renumbered 0..k-1 after each column: the codes stay small enough to count, no string joins.
    stem = source.name.rsplit(".", 1)[0]
    combos = np.zeros((1, 0), dtype=np.int64)  # row c: the column codes of combination c
    inverse = np.zeros(n, dtype=np.int64)
    values = []
    for name in ("TalkerId", "Remark", "NickName"):
        words, codes = _encode(col(name))
        values.append(words)
        distinct, inverse = _distinct(inverse * len(words) + codes, len(combos) * len(words))
        seen, code = np.divmod(distinct, len(words))
        combos = np.column_stack([combos[seen], code])
    keys: dict[str, int] = {}
    chat_keys: list[str] = []
    chat_names: list[str] = []
    remap = []
    for talker, remark, nick in combos.tolist():
        key, chat_name = chat_of(values[0][talker], values[1][remark], values[2][nick], stem)
        if key not in keys:
            keys[key] = len(chat_keys)
            chat_keys.append(key)
            chat_names.append(chat_name)
        remap.append(keys[key])
    chat = np.asarray(remap, dtype=np.int32)[inverse]

    # Senders: mine default to 我, others' to the chat's name, as in the row parser. A
    # sender that is an account id (checked as read) marks the per-contact 2.x layout.
    names, scodes = _encode(col("Sender"))
    wxid = ~me & np.asarray([_is_wxid(name) for name in names], dtype=bool)[scodes]
    blank = np.asarray([n == "" for n in names], dtype=bool)[scodes]
    sender = _decode(names, scodes)
    if blank.any():
        chat_name_col = pa.array(chat_names, pa.string()).take(pa.array(chat))
        nick = _decode(values[2], combos[inverse, 2])
        friend = pc.if_else(pc.equal(nick, ""), chat_name_col, nick)
        sender = pc.if_else(pa.array(blank), pc.if_else(pa.array(me), "我", friend), sender)
        names, scodes = _encode(pc.dictionary_encode(sender))

    # What ingest needs to decide groups: the other senders of each chat.
    counted = ~me & (kind != KIND_CODE["system"]) & (kind != KIND_CODE["recall"])
    width = max(1, len(names))
    pairs, _ = _distinct(
        chat[counted].astype(np.int64) * width + scodes[counted], len(chat_keys) * width
    )
    chat_senders: dict[str, set[tuple[str, str]]] = {k: set() for k in chat_keys}
    for pair in pairs.tolist():
        c, s_ = divmod(pair, width)
        name = names[s_]
        chat_senders[chat_keys[c]].add((name if _is_wxid(name) else "", name))

    version = ">=1.0.2" if source.encoding == "utf-8-sig" else ">=1.0"
    if wxid.any():
        version += ", per-contact 2.x (Sender holds wxids)"
    report.encoding = report.encoding or source.encoding
    report.version = version
    report.messages = n
    report.by_me = int(me.sum())
    report.chats.update(chat_keys)
    report.chat_senders.update(chat_senders)
    counts = np.bincount(kind, minlength=len(KIND_CODE))
    for k, code in KIND_CODE.items():
        if counts[code]:
            report.kinds[k] += int(counts[code])
    return TablePart(
        chat_keys=chat_keys,
        chat_names=chat_names,
        chat_group=[None] * len(chat_keys),
        chat=chat,
        me=me,
        ts=created,
        kind=kind,
        forwarded=np.zeros(n, dtype=bool),
        month=month,
        text=text,
        sender=sender,
        file=source.display,
    )
