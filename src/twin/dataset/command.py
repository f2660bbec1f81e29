"""Build a training set from chat exports (or a messages.jsonl): multi-turn conversations where
your own messages are the replies, personal data redacted, split into train and dev by
conversation, with stats.json, report.html and exports for other tools.

Settings beyond these flags go in the [build] table of a twin.toml (see README).
"""

from __future__ import annotations

import argparse

from twin.config_file import add_flags
from twin.dataset.config import BuildConfig
from twin.ingest.command import add_ingest_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="export files/folders/zips, or a messages.jsonl"
    )
    add_ingest_options(p)
    p.add_argument(
        "-o",
        "--output",
        default="dataset",
        metavar="DATASET_DIR",
        help="output folder (default: dataset)",
    )
    p.add_argument("--config", metavar="TOML", help="a twin.toml with a [build] table")
    add_flags(p, BuildConfig)  # --name, --groups, --tokenizer, --seed from the settings' fields
    p.add_argument("--no-report", action="store_true", help="skip report.html and its charts")


def run(args: argparse.Namespace) -> int:
    from twin.config_file import flag_values
    from twin.dataset.build import build
    from twin.dataset.config import BuildConfig, load_config
    from twin.ingest.no_pandas import keep_pandas_out_of_arrow

    keep_pandas_out_of_arrow()
    cfg = load_config(args.config, flag_values(args, BuildConfig))
    stats = build(
        args.inputs,
        args.output,
        cfg,
        fmt=args.format,
        me=args.me,
        skip_bad_rows=args.skip_bad_rows,
        report=not args.no_report,
    )
    m, s = stats["messages"], stats["samples"]
    print(
        f"Built {args.output}: {s['total']} samples ({s['train']} train, {s['dev']} dev) from {m['input']} messages"
    )
    print(f"  used {m['used']} messages; left out:")
    for reason, n in m["dropped"].items():
        print(f"    {n:>8}  {reason}")
    if stats["redactions"]:
        print("  redacted: " + ", ".join(f"<{k}> {v}" for k, v in stats["redactions"].items()))
    print(f"  system prompt: {stats['system_prompt']}")
    if not args.no_report:
        print(f"  report: {args.output}/report.html")
    print(f"  took {stats['seconds']:.1f} s")
    return 0
