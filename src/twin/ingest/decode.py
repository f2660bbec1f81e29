"""Choose a text encoding for an export file.

Exporters write UTF-8 (with or without BOM), a few write UTF-16 with BOM, and Excel re-saves
Chinese CSVs as GBK, which GB18030 decodes. The whole file is checked before parsing starts, so a
stray byte deep in a file is reported with its line number instead of switching codecs halfway.
"""

from __future__ import annotations

import codecs

from twin.errors import InputError
from twin.ingest.sources import Source

_CHUNK = 1 << 20


def _first_bad_offset(source: Source, encoding: str, skip: int) -> tuple[int, bytes] | None:
    """Offset and bytes of the first undecodable sequence, or None if the whole file decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with source.open_binary() as f:
        if skip:
            f.read(skip)
            offset = skip
        while True:
            chunk = f.read(_CHUNK)
            final = not chunk
            # e.start below counts from the decoder's pending bytes, then this chunk
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                return offset - pending + e.start, e.object[e.start : e.end]
            if final:
                return None
            offset += len(chunk)


def _line_of(source: Source, offset: int) -> int:
    with source.open_binary() as f:
        return f.read(offset).count(b"\n") + 1


def sniff_encoding(source: Source, head: bytes) -> str:
    """The encoding to read `source` with, or an InputError naming the first bad byte."""
    if head.startswith(codecs.BOM_UTF8):
        encoding, skip = "utf-8-sig", 0
    elif head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        encoding, skip = "utf-16", 0
    else:
        bad = _first_bad_offset(source, "utf-8", 0)
        if bad is None:
            return "utf-8"
        bad_gb = _first_bad_offset(source, "gb18030", 0)
        if bad_gb is None:
            return "gb18030"
        # Name the stray bytes of the encoding that read further: a GBK file's first Chinese
        # character is not the problem.
        offset, seq = max(bad, bad_gb, key=lambda b: b[0])
        raise InputError(
            source.display,
            f"line {_line_of(source, offset)} (byte {offset})",
            f"undecodable bytes {seq.hex(' ')} (the file is neither UTF-8 nor GB18030)",
            "a text export in UTF-8, UTF-16 with BOM, or GB18030/GBK",
        )
    bad = _first_bad_offset(source, encoding, skip)
    if bad is not None:
        offset, seq = bad
        where = (
            f"byte {offset}"
            if encoding == "utf-16"
            else f"line {_line_of(source, offset)} (byte {offset})"
        )
        raise InputError(
            source.display,
            where,
            f"undecodable bytes {seq.hex(' ')} in a file that starts with a {encoding} byte-order mark",
            f"valid {encoding} throughout",
        )
    return encoding


def guess_encoding(head: bytes) -> str | None:
    """The encoding the start of a file suggests, for format detection only (cheap).

    Readers check the whole file before trusting it: `sniff_encoding` for text readers, and
    Arrow's own UTF-8 check for column-wise reads.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def decode_head(head: bytes, encoding: str) -> str:
    """The start of the file as text, for format detection (a cut character at the end is dropped)."""
    text = head.decode(encoding, errors="ignore")
    return text.lstrip("\ufeff")
