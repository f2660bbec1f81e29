"""A WeChatMsg `messages.csv` as checked columns, whatever its version (docs/formats.md).

Two tokenizers fill the same `Columns`:

- Arrow, in parallel, for the regular case: UTF-8, every row as wide as the layout says, every
  number a number. Arrow checks each value while parsing; anything it would read differently
  from Python's csv module makes it fail, and the file goes to
- the csv module, row by row, which reads every encoding and version (the 0.2.7–0.2.9 rows are
  10 to 13 fields wide) and reports each bad row by row and line (an error, or a counted skip
  with --skip-bad-rows), as the row parser did.

`twin build` reads a whole file at once (`read_columns`); `twin ingest`, which makes a Python
object of every message, reads a block at a time (`read_in_batches`), so that the memory Arrow
used is not left behind beneath the messages.

The version is told by the header and the first data row: 0.2.6 added an unnamed MsgSvrID field
(the tutorial has people name it `_` by hand), 0.2.7–0.2.9 wrote rows shifted one column right of
their 12-name header, >=1.0 rows match it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from twin.accounts import is_account_id
from twin.errors import InputError
from twin.ingest.formats._common import local_and_unix, offset_suffix, unix_time
from twin.ingest.formats._csv import CsvRows
from twin.ingest.report import FileReport
from twin.ingest.shown import header as header_shown
from twin.ingest.shown import value
from twin.ingest.sources import Source

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
SHIFTED = "0.2.7–0.2.9"
# Per-contact files (`<contact>_utf8.csv`) of some >=1.0 versions: 1:1 rows without the three
# name fields the header still lists.
NAMELESS = ">=1.0 per-contact, 9 fields"
# Versions whose rows carry the server message id (stable across backups) as field 10.
WITH_MSGSVRID = frozenset(["0.2.6", "0.2.6 (hand-edited header)", SHIFTED])
# CreateTime must be a time Python can show (years 1 to 9999, a day's margin for the zone).
CREATED_RANGE = (-62_135_596_800 + 86_400, 253_402_300_799 - 86_400)
_INT64 = (-(2**63), 2**63 - 1)
_IDS = ("localId", "Status", "MsgSvrID")

# Arrow's CSV blocks: 4 MB, fewer and larger tasks for the threads (10% faster than 1 MB).
BLOCK_SIZE = 1 << 22
# Blocks of the read in batches: Arrow reads some 30 blocks ahead of the batch in hand.
BATCH_BLOCK_SIZE = 1 << 20
# Columns with few distinct values are read as dictionaries: faster than strings, and their
# codes are what the table is built from.
_WORDS = pa.dictionary(pa.int32(), pa.string())
_TYPES = {
    "TalkerId": _WORDS,
    "Type": pa.int64(),
    "SubType": pa.int64(),
    "IsSender": _WORDS,  # only "0" and "1" are taken ("01" is a bad row, as in the csv read)
    "CreateTime": pa.int64(),
    "Status": _WORDS,
    "Remark": _WORDS,
    "NickName": _WORDS,
    "Sender": _WORDS,
}


@dataclass
class Columns:
    """Every readable row of one file, in file order; bad rows already reported and left out."""

    version: str  # the layout, e.g. "0.2.6" (report.version adds to it)
    talker: pa.ChunkedArray
    type_: np.ndarray  # int64 (-1 for a number too large to be a type)
    sub: np.ndarray  # int64
    me: np.ndarray  # bool
    created: np.ndarray  # int64 Unix seconds
    content: pa.ChunkedArray
    strtime: pa.ChunkedArray
    remark: pa.ChunkedArray
    nick: pa.ChunkedArray
    sender: pa.ChunkedArray
    # MsgSvrID where the version has it (and it is filled), else localId ("" when not asked for)
    msg_id: pa.ChunkedArray
    line: np.ndarray | None  # the line each row starts on (when asked for)
    next_line: int = 0  # the line after the last row (when `line` is known)

    def __len__(self) -> int:
        return len(self.me)

    def rows_from(self, start: int) -> Columns:
        """The rows from `start` on."""
        return replace(
            self,
            talker=self.talker.slice(start),
            type_=self.type_[start:],
            sub=self.sub[start:],
            me=self.me[start:],
            created=self.created[start:],
            content=self.content.slice(start),
            strtime=self.strtime.slice(start),
            remark=self.remark.slice(start),
            nick=self.nick.slice(start),
            sender=self.sender.slice(start),
            msg_id=self.msg_id.slice(start),
            line=None if self.line is None else self.line[start:],
        )


def layout(named: int, row: list[str]) -> tuple[str, set[int]]:
    """(version, allowed field counts) from the header width and the first data row."""
    if named == 9:
        return ("0.2.6", {10}) if len(row) == 10 else ("<=0.2.5", {9})
    if named == 10:
        return ("0.2.6 (hand-edited header)", {10})
    if named == 12:
        shifted = len(row) == 13 or (len(row) >= 10 and row[9].isdigit() and len(row[9]) >= 15)
        if shifted:
            return (SHIFTED, {10, 11, 12, 13})
        if len(row) == 9:
            return (NAMELESS, {9})
        return (">=1.0", {12})
    return (f"unknown ({named} columns)", {named})


def check_header(header: list[str], source: Source) -> None:
    """A wrong header is not a bad row: --skip-bad-rows must not read a foreign table."""
    if header[:9] != HEADER9:
        raise InputError(
            source.display,
            "line 1 (header)",
            f"header {header_shown(header)}",
            "the WeChatMsg header " + ",".join(HEADER9),
        )
    if len(header) == 12 and header[9:] != HEADER12[9:]:
        raise InputError(
            source.display,
            "line 1 (header)",
            f"extra columns {header[9:]}",
            "Remark,NickName,Sender",
        )


def read_columns(source: Source, report: FileReport) -> Columns | None:
    """The whole file's rows as columns, read by Arrow's threads where it can (None for a file
    with a header only). Without ids and line numbers: `twin build` needs neither."""
    start = _arrow_start(source)
    if start is not None:
        names, version = start
        try:
            with _arrow_input(source) as f:
                table = pacsv.read_csv(f, **_arrow_options(names, lines=False))
        except _ARROW_ERRORS:
            table = None
        cols = None if table is None else _from_arrow(table, version, names, first_line=None)
        if cols is not None:
            _read_by_arrow(source, report)
            return cols
    return _read_rows(source, report)


def read_in_batches(source: Source, report: FileReport, arrow: bool = True) -> Iterator[Columns]:
    """The file's rows as columns a block (1 MB) at a time, with ids and line numbers, for
    `twin ingest`: it makes a Python object of every message, and a whole-file read would leave
    the memory Arrow used behind, beneath them (1M messages: 1.1 GB at peak instead of 0.7).

    A block Arrow cannot read as the csv module would ends the Arrow read; the csv module then
    reads the file and the rows from there on come from it (the earlier ones read the same).
    Without `arrow`, the csv module reads the whole file (one batch).
    """
    done = 0
    start = _arrow_start(source) if arrow else None
    if start is not None:
        names, version = start
        with _arrow_input(source) as f:
            batches = _arrow_batches(f, names, version)
            for cols in batches:
                if cols is None:
                    break
                done += len(cols)
                yield cols
            else:
                _read_by_arrow(source, report)
                return
    cols = _read_rows(source, report)
    if cols is not None:
        yield cols.rows_from(done)  # (no rows left at all still tells the version)


def _first_rows(source: Source) -> tuple[list[str], list[str]] | None:
    """The header and the first data row, read as the csv module reads them."""
    with source.open_binary() as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace"))
        try:
            return [h.strip() for h in next(reader)], next(reader)
        except (StopIteration, csv.Error):
            return None


def _arrow_names(version: str, width: int) -> list[str] | None:
    if version in ("<=0.2.5", NAMELESS):
        return HEADER9
    if version.startswith("0.2.6"):
        return HEADER9 + ["MsgSvrID"]
    if version == ">=1.0":
        return HEADER12
    if version == SHIFTED and 10 <= width <= 13:
        return (HEADER9 + ["MsgSvrID", "Remark", "NickName", "Sender"])[:width]
    return None


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError)


def per_contact_file(source: Source) -> bool | None:
    """Is this a per-contact file (rows of 9 fields under 12 names, or `is_per_contact`)? Read
    before `read_in_batches` maps the first block, since that decides how chats are keyed. False
    for the other layouts; None when only the csv module's read of the whole file can tell."""
    start = _arrow_start(source)
    if start is None:
        return None
    names, version = start
    if version != ">=1.0":
        return version == NAMELESS
    options = _arrow_options(names, lines=False)
    options["convert_options"].include_columns = ["TalkerId", "Type", "IsSender", "Sender"]
    try:
        with _arrow_input(source) as f:
            table = pacsv.read_csv(f, **options)
    except _ARROW_ERRORS:
        return None
    flags, flag_codes = encode(table.column("IsSender"))
    if table.column("Type").null_count or not set(flags) <= {"0", "1"}:
        return None  # a blank or bad row: the csv module's read decides, as it reads the file
    me = np.asarray([f == "1" for f in flags], dtype=bool)[flag_codes]
    return is_per_contact(table.column("TalkerId"), table.column("Sender"), me, source.name)


def is_per_contact(
    talker: pa.ChunkedArray, sender: pa.ChunkedArray, me: np.ndarray, file_name: str
) -> bool:
    """A per-contact file of a >=1.0 layout: named as WeChatMsg names them (`<contact>_utf8.csv`)
    with one TalkerId in it, or others' filled Sender cells all account ids (a `messages.csv`
    names people there; an old account's id can look like a name, hence the file name)."""
    if file_name.endswith("_utf8.csv") and len(encode(talker)[0]) == 1:
        return True
    return senders_are_account_ids(sender, me)


def senders_are_account_ids(sender: pa.ChunkedArray, me: np.ndarray) -> bool:
    """Are the filled Sender cells of rows not mine all account ids (and is there one)?"""
    words, codes = encode(sender)
    ids = np.asarray([is_account_id(x) for x in words], dtype=bool)[codes]
    others = ~me & np.asarray([x != "" for x in words], dtype=bool)[codes]
    return bool(others.any() and ids[others].all())


def _arrow_start(source: Source) -> tuple[list[str], str] | None:
    """(Arrow's column names, version) of a file Arrow may read: UTF-8, with a data row, in a
    layout it has names for. A wrong header raises, as in any read."""
    if source.encoding not in ("utf-8", "utf-8-sig"):
        return None
    first = _first_rows(source)
    if first is None:
        return None
    header, row = first
    check_header(header, source)
    version = layout(len(header), row)[0]
    names = _arrow_names(version, len(row))
    return None if names is None else (names, version)


def _arrow_input(source: Source) -> BinaryIO:
    """Arrow's own reader for a file on disk: through a Python file, every block Arrow reads is
    first a Python bytes object in fresh memory (1M messages: 18k more page faults, a sixth
    of the build's system time), and in `twin ingest` that memory stays beneath the messages."""
    if source.member is None and source.path is not None:
        return pa.OSFile(str(source.path))
    return source.open_binary()


def _read_by_arrow(source: Source, report: FileReport) -> None:
    report.encoding = report.encoding or source.encoding
    if report.on_bytes is not None:
        report.on_bytes(source.size())


def _arrow_batches(f: BinaryIO, names: list[str], version: str) -> Iterator[Columns | None]:
    """Columns per block, then None if a block is irregular (the csv read then takes over)."""
    try:
        reader = pacsv.open_csv(f, **_arrow_options(names, lines=True))
    except _ARROW_ERRORS:
        yield None
        return
    line = 2
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except _ARROW_ERRORS:
            yield None
            return
        cols = _from_arrow(pa.Table.from_batches([batch]), version, names, first_line=line)
        if cols is None:
            yield None
            return
        line = cols.next_line
        yield cols


def _arrow_options(names: list[str], lines: bool) -> dict:
    return {
        "read_options": pacsv.ReadOptions(
            use_threads=True,
            block_size=BATCH_BLOCK_SIZE if lines else BLOCK_SIZE,
            column_names=names,
            skip_rows=1,
        ),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        "convert_options": pacsv.ConvertOptions(
            column_types={k: _TYPES.get(k, pa.string()) for k in names},
            # ids and line numbers are for messages.jsonl; a build needs neither (the fields
            # are still counted in every row)
            include_columns=names if lines else [k for k in names if k not in _IDS],
            null_values=[""],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _from_arrow(
    table: pa.Table, version: str, names: list[str], first_line: int | None
) -> Columns | None:
    """Columns of what Arrow read, or None when a value is one the csv read would refuse.
    With `first_line` (the line the table's first row starts on): ids and line numbers too."""
    col = table.column
    if col("Type").null_count or col("IsSender").null_count or col("CreateTime").null_count:
        return None  # an empty number: a bad row
    if _lone_cr(table):
        return None
    flags, flag_codes = encode(col("IsSender"))
    created = _numpy(col("CreateTime"))
    if not set(flags) <= {"0", "1"} or not _in_range(created):
        return None
    n = table.num_rows
    empty = _blank(n)
    msg_id = empty
    if first_line is not None:
        msg_id = col("localId")
        if version in WITH_MSGSVRID:
            svrid = col("MsgSvrID")
            msg_id = pc.if_else(pc.equal(svrid, ""), msg_id, svrid)
    cols = Columns(
        version=version,
        talker=col("TalkerId"),
        type_=_numpy(col("Type")),
        sub=_numpy(col("SubType").fill_null(0)),
        me=np.asarray([f == "1" for f in flags], dtype=bool)[flag_codes],
        created=created,
        content=col("StrContent"),
        strtime=col("StrTime"),
        remark=col("Remark") if "Remark" in names else empty,
        nick=col("NickName") if "NickName" in names else empty,
        sender=col("Sender") if "Sender" in names else empty,
        msg_id=_chunked(msg_id),
        line=None,
    )
    if first_line is not None:
        cols.line, cols.next_line = _row_lines(table, first_line)
    return cols


def _lone_cr(table: pa.Table) -> bool:
    """Does a value hold a carriage return not followed by a line feed?

    Arrow 26 drops the line feed of a quoted `\\r\\n` that a block boundary falls between
    (`a\\r\\nb` comes out `a\\rb`; measured: about half of all block sizes hit some value in a
    file where every third message has one). What it leaves is a lone `\\r`, which WeChat text
    hardly ever holds: such a file is read by the csv module instead."""
    for column in table.columns:
        if pa.types.is_integer(column.type):
            continue
        for chunk in column.chunks:
            values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
            data = values.buffers()[2]
            if data is None or b"\r" not in data.to_pybytes():
                continue  # no carriage return at all (a byte search: the usual case, 20x faster)
            with_cr = pc.match_substring(values, "\r")
            if not pc.any(with_cr).as_py():
                continue
            suspects = values.filter(with_cr)
            lone = pc.subtract(
                pc.sum(pc.count_substring(suspects, "\r")),
                pc.sum(pc.count_substring(suspects, "\r\n")),
            )
            if lone.as_py():
                return True
    return False


def _row_lines(table: pa.Table, first: int) -> tuple[np.ndarray, int]:
    """The line each row starts on, and the line after the last row: one line per row plus
    the line breaks inside its quoted fields (counted as the csv module counts lines: \\r\\n,
    \\r or \\n)."""
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_integer(column.type):
            continue
        text = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
        for pattern, sign in (("\n", 1), ("\r", 1), ("\r\n", -1)):
            breaks += sign * _numpy(pc.count_substring(text, pattern)).astype(np.int64)
    ends = np.cumsum(breaks)
    starts = first + np.arange(table.num_rows) + ends - breaks
    return starts, first + table.num_rows + (int(ends[-1]) if len(ends) else 0)


def _read_rows(source: Source, report: FileReport) -> Columns | None:
    """Columns from the csv module's rows: every encoding, version and bad row."""
    with report.open_text(source, newline="") as f:
        rows = CsvRows(f, report)
        if rows.header is None:
            return None
        check_header(rows.header, source)
        named = len(rows.header)
        found = None  # decided from the first data row
        keep: list[list[str]] = []
        numbers: list[tuple[int, int, int, int, int]] = []  # type, sub, me, created, line
        for where, start, row in rows:
            if found is None:
                found = layout(named, row)
            checked = _check_row(row, found, where, report)
            if checked is not None:
                keep.append(row)
                numbers.append((*checked, start))
    if found is None:
        return None
    return _from_rows(found[0], keep, numbers)


def _check_row(
    row: list[str], found: tuple[str, set[int]], where: str, report: FileReport
) -> tuple[int, int, int, int] | None:
    """(Type, SubType, me, CreateTime) of a row, or None after reporting why it is bad."""
    n = len(row)
    version, allowed = found
    if n not in allowed:
        report.bad_row(
            where,
            f"{n} fields",
            f"{' or '.join(map(str, sorted(allowed)))} fields for WeChatMsg {version}"
            + (" (is the file cut short?)" if n < 9 else ""),
        )
        return None
    try:
        type_, sub, created = int(row[2]), int(row[3] or 0), int(row[5])
    except ValueError:
        report.bad_row(
            where,
            f"Type={value(row[2])}, SubType={value(row[3])}, CreateTime={value(row[5])}",
            "integer Type, SubType and CreateTime (Unix seconds)",
        )
        return None
    if row[4] not in ("0", "1"):
        report.bad_row(where, f"IsSender={value(row[4])}", "IsSender 0 or 1")
        return None
    if not CREATED_RANGE[0] <= created <= CREATED_RANGE[1]:
        report.bad_row(
            where, f"CreateTime={value(row[5])}", "CreateTime as Unix seconds (years 1 to 9999)"
        )
        return None
    # A number too large for a column is no type WeChat has: -1 maps to what any unknown does.
    type_ = type_ if _INT64[0] <= type_ <= _INT64[1] else -1
    sub = sub if _INT64[0] <= sub <= _INT64[1] else -1
    return type_, sub, row[4] == "1", created


def _from_rows(version: str, rows: list[list[str]], numbers: list[tuple]) -> Columns:
    if version == ">=1.0":
        names = [r[9:12] for r in rows]
    elif version == SHIFTED:
        names = [(r[10:13] + ["", "", ""])[:3] for r in rows]
    else:
        names = [["", "", ""]] * len(rows)
    with_svrid = version in WITH_MSGSVRID
    type_, sub, me, created, line = np.array(numbers, dtype=np.int64).reshape(-1, 5).T

    def strings(values: list[str]) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(values, pa.string())])

    return Columns(
        version=version,
        talker=strings([r[1] for r in rows]),
        type_=type_.copy(),
        sub=sub.copy(),
        me=me.astype(bool),
        created=created.copy(),
        content=strings([r[7] for r in rows]),
        strtime=strings([r[8] for r in rows]),
        remark=strings([x[0] for x in names]),
        nick=strings([x[1] for x in names]),
        sender=strings([x[2] for x in names]),
        msg_id=strings([(with_svrid and r[9]) or r[0] for r in rows]),
        line=line.copy(),
    )


def encode(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray]:
    """(values, code per row) of a column (a dictionary read in blocks has one per block)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    encoded = column.unify_dictionaries()
    if not encoded.num_chunks:
        return [], np.zeros(0, dtype=np.int32)
    words = encoded.chunk(0).dictionary.to_pylist()
    return words, np.concatenate([c.indices.to_numpy() for c in encoded.chunks])


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    if not column.num_chunks:
        return np.zeros(0, dtype=column.type.to_pandas_dtype())
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks])


def _chunked(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def _blank(n: int) -> pa.ChunkedArray:
    """n empty strings, as a dictionary column (one word, n zero codes)."""
    codes = pa.array(np.zeros(n, dtype=np.int32))
    return pa.chunked_array([pa.DictionaryArray.from_arrays(codes, pa.array([""], pa.string()))])


def _in_range(created: np.ndarray) -> bool:
    return not len(created) or bool(
        created.min() >= CREATED_RANGE[0] and created.max() <= CREATED_RANGE[1]
    )


# --- times ----------------------------------------------------------------------------------


@dataclass
class Times:
    """Each row's month (YYYYMM), sort key and, where asked, ISO time, as the csv read gives
    them: StrTime as written with the zone offset it implies beside CreateTime."""

    month: np.ndarray  # int32
    ts: np.ndarray  # float64
    iso: list[str] | None


def times(strtime: pa.ChunkedArray, created: np.ndarray, iso: bool) -> Times:
    """StrTime `YYYY-MM-DD HH:MM:SS` within 14 h of CreateTime (nearly every row) is read
    column-wise; the other rows go through the row-wise function (local_and_unix) one by one."""
    ok, wall, month = _wall_clock(strtime)
    quarters = np.zeros(len(created), dtype=np.int64)
    quarters[ok] = np.rint((wall[ok] - created[ok]) / 900)
    ok &= np.abs(quarters) <= 56
    ts = created.astype(np.float64)
    texts: list[str] | None = None
    if iso:
        suffixes = {q: offset_suffix(q) for q in np.unique(quarters[ok]).tolist()}
        texts = [
            f"{s[:10]}T{s[11:]}{suffixes[q]}" if good else ""
            for s, q, good in zip(strtime.to_pylist(), quarters.tolist(), ok.tolist(), strict=True)
        ]
    rest = np.flatnonzero(~ok)
    if len(rest):
        raw = strtime.take(pa.array(rest)).to_pylist()
        for i, text, unix in zip(rest.tolist(), raw, created[rest].tolist(), strict=True):
            timed = local_and_unix(text, unix) if text else None
            if timed is None:
                timed = unix_time(unix)
            month[i] = int(timed[0][:4]) * 100 + int(timed[0][5:7])
            ts[i] = timed[1]
            if texts is not None:
                texts[i] = timed[0]
    return Times(month=month, ts=ts, iso=texts)


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = {4: ord("-"), 7: ord("-"), 10: ord(" "), 13: ord(":"), 16: ord(":")}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _wall_clock(strtime: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is a valid `YYYY-MM-DD HH:MM:SS`, its seconds since 1970 as if UTC, YYYYMM) per row,
    from the strings' bytes: no string object is made."""
    found = [_wall_chunk(chunk) for chunk in strtime.chunks]
    if not found:
        return np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0, np.int32)
    ok, seconds, month = (np.concatenate(x) for x in zip(*found, strict=True))
    return ok, seconds, month


def _wall_chunk(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(arr)
    ok = np.zeros(n, dtype=bool)
    seconds = np.zeros(n, dtype=np.int64)
    month = np.zeros(n, dtype=np.int32)
    buffers = arr.buffers()
    if n == 0 or buffers[2] is None or arr.null_count:
        return ok, seconds, month
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    rows = np.flatnonzero(np.diff(offsets) == 19)
    chars = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[rows][:, None] + np.arange(19)]
    good = np.ones(len(rows), dtype=bool)
    for p in _DIGITS:
        good &= (chars[:, p] >= 48) & (chars[:, p] <= 57)
    for p, c in _SEPARATORS.items():
        good &= chars[:, p] == c

    def number(*positions: int) -> np.ndarray:
        value = np.zeros(len(rows), dtype=np.int64)
        for p in positions:
            value = value * 10 + chars[:, p].astype(np.int64) - 48
        return value

    y, m, d = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hh, mm, ss = number(11, 12), number(14, 15), number(17, 18)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    days_in_month = _MONTH_DAYS[np.clip(m, 0, 12)] + ((m == 2) & leap)
    good &= (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= days_in_month)
    good &= (hh < 24) & (mm < 60) & (ss < 60)
    # days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    yy = y - (m <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    ok[rows] = good
    seconds[rows] = days * 86400 + hh * 3600 + mm * 60 + ss
    month[rows] = (y * 100 + m).astype(np.int32)
    return ok, seconds, month
