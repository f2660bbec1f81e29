"""Benchmark `twin ingest` on a generated 1,000,000-message WeChatMsg CSV.

Baseline in the same run: pandas.read_csv of the same file, which is how the tutorial read it
(and all it did at this stage). Prints and saves messages/s, peak RSS and the ratios.

    python benchmarks/bench_ingest.py [-n 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import compile_twin, ensure_csv, machine, measure, save, twin_cmd


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1_000_000, help="messages in the generated CSV")
    args = p.parse_args()
    csv_path = ensure_csv(args.n)
    compile_twin()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "messages.jsonl"
        twin = measure(twin_cmd("ingest", str(csv_path), "-o", str(out), "--quiet"))
        baseline = measure(
            [sys.executable, "-c", f"import pandas; pandas.read_csv({str(csv_path)!r})"]
        )
        with open(out, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
    result = {
        "benchmark": "ingest",
        "messages": args.n,
        "machine": machine(),
        "twin_ingest": {k: twin[k] for k in ("seconds", "peak_rss_mb")}
        | {"messages_per_s": round(args.n / twin["seconds"])},
        "baseline_pandas_read_csv": {k: baseline[k] for k in ("seconds", "peak_rss_mb")},
        "time_ratio_twin_over_baseline": round(twin["seconds"] / baseline["seconds"], 2),
        "rss_ratio_twin_over_baseline": round(twin["peak_rss_mb"] / baseline["peak_rss_mb"], 2),
        "written_lines": lines,
    }
    assert lines == args.n, f"ingest wrote {lines} lines for {args.n} messages"
    path = save("ingest", result)
    print(
        f"twin ingest: {result['twin_ingest']['messages_per_s']:,} messages/s, "
        f"{twin['seconds']:.1f} s, peak RSS {twin['peak_rss_mb']:.0f} MB"
    )
    print(
        f"pandas.read_csv (baseline): {baseline['seconds']:.1f} s, peak RSS {baseline['peak_rss_mb']:.0f} MB"
    )
    print(
        f"ratio twin/baseline: time {result['time_ratio_twin_over_baseline']}x, RSS {result['rss_ratio_twin_over_baseline']}x"
    )
    print(f"saved {path}")
    return result


if __name__ == "__main__":
    main()
