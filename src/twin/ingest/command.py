"""Read chat exports into one messages.jsonl (its fields: docs/architecture.md; the formats
read: docs/formats.md).

EXPORT may be a file, a folder (walked), or a zip. The format of each file is detected from its
content; --format overrides. Who "me" is comes from the file where it says so, otherwise from
--me (a name or id as it appears in the export).
"""

from __future__ import annotations

import argparse
import sys

from twin.ingest.formats import names


def add_ingest_options(p: argparse.ArgumentParser) -> None:
    """The options shared by every command that reads exports (ingest, build)."""
    p.add_argument(
        "--format",
        default="auto",
        metavar="NAME",
        help="auto (default) or one of: " + ", ".join(names()),
    )
    p.add_argument(
        "--me",
        metavar="NAME_OR_ID",
        help="your name or id, for exports that do not mark your messages",
    )
    p.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="count unreadable rows as skipped (shown in the summary) instead of stopping",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("exports", nargs="+", metavar="EXPORT", help="export file, folder or zip")
    add_ingest_options(p)
    p.add_argument(
        "-o", "--output", default="messages.jsonl", help="output file (default: messages.jsonl)"
    )
    p.add_argument("--quiet", action="store_true", help="print nothing on success")


def run(args: argparse.Namespace) -> int:
    from twin.ingest.no_pandas import keep_pandas_out_of_arrow
    from twin.ingest.pipeline import ingest, summary, write_jsonl

    keep_pandas_out_of_arrow()
    result = ingest(args.exports, fmt=args.format, me=args.me, skip_bad_rows=args.skip_bad_rows)
    write_jsonl(result, args.output)
    if not args.quiet:
        print(summary(result, args.output), file=sys.stdout)
    return 0
