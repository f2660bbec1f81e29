"""Does each start-up trick of `twin build` pay for itself? (issue: the build's start-up layer)

Runs `twin build` on the generated 1,000,000-message WeChatMsg CSV with every trick on, and
with one trick switched off at a time, round-robin: every round runs each variant once, and the
order is rotated and reversed from round to round, so a drift in the machine's speed (it is
shared) spreads over all variants alike. Prints, per trick, the median wall time with and
without it, the spread (the larger interquartile range of the two), and whether the median moved
by more than the spread. CPU seconds (build + report worker) are shown beside: they are less
sensitive to other work on the machine than wall time.

A trick is switched off by patching it out before the CLI runs (see VARIANTS), never by a
setting in twin itself.

    python benchmarks/bench_startup.py [-n 1000000] [--rounds 11] [--csv FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import compile_twin, ensure_csv, machine, measure, save

VARIANTS = {
    "all on": "nothing switched off",
    "pandas blocker": "fast_start.keep_pandas_out_of_arrow does nothing",
    "report process": "the report is drawn in the build's own process (no fork)",
    "fork before numpy": "twin.ingest's pipeline (numpy, pyarrow) imported before the fork, "
    "as an eager twin.ingest (no lazy __getattr__) would",
    "second fork": "the report worker draws every chart itself (no helper fork)",
    "OpenBLAS 1 thread": "numpy loads with OpenBLAS's default thread count",
    "gc.freeze": "fast_start.freeze_imports does nothing",
}


def _switch_off(variant: str) -> None:
    """Patch one trick out of this process before the CLI runs."""
    import twin.fast_start as fs

    if variant == "pandas blocker":
        fs.keep_pandas_out_of_arrow = lambda: None
    elif variant == "OpenBLAS 1 thread":
        fs.one_blas_thread = contextlib.nullcontext
    elif variant == "gc.freeze":
        fs.freeze_imports = lambda: None
    elif variant == "fork before numpy":
        import twin.ingest.pipeline  # noqa: F401
    elif variant in ("report process", "second fork"):
        from twin.dataset import report_worker as rw

        if variant == "second fork":
            draw = rw._draw
            rw._draw = lambda charts, processes: draw(charts, 1)
        else:

            def no_fork(self) -> None:  # noqa: ANN001
                self._process = self._conn = self._folder = None

            rw.ReportWorker.__init__ = no_fork


def _variant_main(variant: str, argv: list[str]) -> int:
    _switch_off(variant)
    from twin.cli import main

    return main(argv)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1_000_000, help="messages in the generated CSV")
    p.add_argument("--rounds", type=int, default=11, help="runs of each variant")
    p.add_argument("--csv", help="an existing CSV instead of the generated one")
    p.add_argument("--only", nargs="*", help="variants to run besides 'all on'")
    args = p.parse_args()
    csv_path = Path(args.csv) if args.csv else ensure_csv(args.n)
    compile_twin()
    variants = ["all on"] + [
        v for v in VARIANTS if v != "all on" and (not args.only or v in args.only)
    ]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dataset"
        for r in range(args.rounds):
            shift = r % len(variants)
            order = variants[shift:] + variants[:shift]
            for variant in order[::-1] if r % 2 else order:
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, __file__, "--variant", variant, "--", "build",
                       str(csv_path), "-o", str(out)]  # fmt: skip
                runs[variant].append(measure(cmd))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    rows = {}
    base = [x["seconds"] for x in runs["all on"]]
    base_cpu = [x["cpu_seconds"] for x in runs["all on"]]
    b1, bmed, b3 = _quartiles(base)
    for variant in variants[1:]:
        off = [x["seconds"] for x in runs[variant]]
        o1, omed, o3 = _quartiles(off)
        spread = max(b3 - b1, o3 - o1)
        rows[variant] = {
            "switched_off": VARIANTS[variant],
            "median_with_s": round(bmed, 3),
            "median_without_s": round(omed, 3),
            "gain_s": round(omed - bmed, 3),
            "spread_s": round(spread, 3),
            "pays": omed - bmed > spread,
            "cpu_median_with_s": round(statistics.median(base_cpu), 3),
            "cpu_median_without_s": round(
                statistics.median(x["cpu_seconds"] for x in runs[variant]), 3
            ),
            "peak_rss_mb_with": round(statistics.median(x["peak_rss_mb"] for x in runs["all on"])),
            "peak_rss_mb_without": round(
                statistics.median(x["peak_rss_mb"] for x in runs[variant])
            ),
            "all_seconds_without": off,
        }
    result = {
        "benchmark": "startup",
        "messages": None if args.csv else args.n,
        "csv": csv_path.name,
        "rounds": args.rounds,
        "machine": machine(),
        "all_seconds_with": base,
        "tricks": rows,
        "rule": "a trick pays when switching it off moves the median wall time up by more than "
        "the spread (the larger interquartile range of the two variants)",
    }
    path = save("startup", result)
    head = f"{'trick':<20} {'with':>7} {'without':>8} {'gain':>7} {'spread':>7}  {'CPU with/without':>17}  pays"
    print(head)
    for variant, row in rows.items():
        print(
            f"{variant:<20} {row['median_with_s']:>7.3f} {row['median_without_s']:>8.3f} "
            f"{row['gain_s']:>+7.3f} {row['spread_s']:>7.3f}  "
            f"{row['cpu_median_with_s']:>7.2f} / {row['cpu_median_without_s']:<7.2f}  {row['pays']}"
        )
    print(f"saved {path}")
    return result


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        raise SystemExit(_variant_main(sys.argv[2], sys.argv[4:]))
    main()
