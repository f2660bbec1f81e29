"""The row loop every CSV importer shares: the header, then each data row with where it is.

Rows are numbered from 1 after the header and located by the line they start on (a quoted
field may span lines, so the two differ); a blank row is counted as skipped, never passed on.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import TextIO

from twin.ingest.report import FileReport

# Exporters write whole documents into one cell (merged forwards, long XML).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class CsvRows:
    """`header` (None for an empty file), then `for where, line, row in rows:`.

    `where` is "row N (line L)", as errors and skips name a row; `line` the line it starts on.
    """

    def __init__(self, f: TextIO, report: FileReport) -> None:
        self._reader = csv.reader(f)
        self._report = report
        try:
            self.header: list[str] | None = [h.strip().lstrip("\ufeff") for h in next(self._reader)]
        except StopIteration:
            self.header = None

    def __iter__(self) -> Iterator[tuple[str, int, list[str]]]:
        reader = self._reader
        line = reader.line_num
        for number, row in enumerate(reader, 1):
            start, line = line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                self._report.skip("blank row")
                continue
            yield f"row {number} (line {start})", start, row
