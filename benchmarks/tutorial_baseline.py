"""The tutorial notebook's cleaning step, written the way the tutorial wrote it (pandas), as the
baseline for `twin build`. It keeps only text messages, sorts by chat with pandas' default
(unstable) sort, pairs each of my messages longer than 5 characters with the row above it, and
writes {"content": previous, "summary": mine} lines. No redaction, no sessions, no split.

    python benchmarks/tutorial_baseline.py messages.csv out.json
"""

from __future__ import annotations

import json
import sys

import pandas as pd


def tutorial_clean(csv_path: str, out_path: str) -> int:
    df = pd.read_csv(csv_path)
    df = df[df["Type"] == 1]
    df = df.sort_values(by="TalkerId")
    pairs = []
    prev = None
    for _, row in df.iterrows():
        if (
            prev is not None
            and row["IsSender"] == 1
            and prev["IsSender"] == 0
            and prev["TalkerId"] == row["TalkerId"]
            and len(str(row["StrContent"])) > 5
        ):
            pairs.append({"content": str(prev["StrContent"]), "summary": str(row["StrContent"])})
        prev = row
    with open(out_path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    return len(pairs)


if __name__ == "__main__":
    n = tutorial_clean(sys.argv[1], sys.argv[2])
    print(f"{n} pairs")
