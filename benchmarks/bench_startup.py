"""Does each start-up trick of `twin build` pay for itself? (issue: the build's start-up layer)

Runs `twin build` on the generated 1,000,000-message WeChatMsg CSV with every trick on, and
with one trick switched off at a time, round-robin: every round runs each variant once, and the
order is rotated and reversed from round to round, so a drift in the machine's speed (it is
shared) spreads over all variants alike. For each trick it reports wall time and CPU seconds
(build + report worker; far less sensitive than wall time to other work on the machine): the
medians with and without it, each with its spread (interquartile range), and the per-round
paired difference (without - with, same round) with its interquartile range. A trick pays when
switching it off moves the median up by more than the spread (the larger interquartile range of
the two variants), or makes the paired median worse by more than its range, in wall time, in CPU
seconds, or in the build process's own CPU seconds (the report worker's left out: the critical
path when a core is free, which a busy machine's wall time cannot show).

A trick is switched off by patching it out before the CLI runs (see VARIANTS), never by a
setting in twin itself.

Measured this way on an idle 2-core VM (11 rounds; medians with / without the trick, each with
its interquartile range, then the median of the per-round paired differences ± its
interquartile range; seconds, positive: slower without the trick):

| switched off | wall | CPU (all processes) | build's own CPU | kept |
|---|---|---|---|---|
| the report process | 1.77 (0.13) / 2.56 (0.32); +0.81 ± 0.32 | -0.09 ± 0.41 | +0.81 ± 0.45 | yes |
| pyarrow kept from importing pandas | 1.77 (0.13) / 2.12 (0.30); +0.20 ± 0.23 | +0.17 ± 0.34 | +0.17 ± 0.28 | yes |

Earlier, on a saturated machine (7 rounds, paired differences only), these did not pay and were
removed: the report process forked before numpy loads (-0.36 ± 0.58 CPU), OpenBLAS on one
thread (-0.00 ± 0.14), gc.freeze after the imports (+0.24 ± 0.40), a second fork inside the report
worker (at most one extra process).

    python benchmarks/bench_startup.py [-n 1000000] [--rounds 11] [--csv FILE]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import compile_twin, ensure_csv, machine, measure, save

VARIANTS = {
    "all on": "nothing switched off",
    "report process": "the report is drawn in the build's own process (no fork)",
    "pandas": "pyarrow imports pandas (twin.ingest.no_pandas switched off)",
}


def _switch_off(variant: str) -> None:
    """Patch one trick out of this process before the CLI runs."""
    if variant == "pandas":
        from twin.ingest import no_pandas

        no_pandas.keep_pandas_out_of_arrow = lambda: None
    if variant == "report process":
        from twin.dataset import report_worker as rw

        def no_fork(self) -> None:  # noqa: ANN001
            self._process = self._conn = self._folder = None

        rw.ReportWorker.__init__ = no_fork


def _variant_main(variant: str, argv: list[str]) -> int:
    _switch_off(variant)
    from twin.cli import main

    code = main(argv)
    # The build's own CPU seconds, without the report worker's: the critical path when the
    # machine has a core to spare, which a shared machine's wall time cannot show.
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(f"OWN_CPU {own.ru_utime + own.ru_stime:.3f}")
    return code


def _iqr(values: list[float]) -> float:
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q3 - q1


def _compare(with_: list[dict], without: list[dict]) -> dict:
    """Medians, spreads and paired differences of wall and CPU seconds."""
    out: dict = {}
    pays = False
    for name, key in (("wall", "seconds"), ("cpu", "cpu_seconds"), ("build_cpu", "own_cpu")):
        a = [r[key] for r in with_]
        b = [r[key] for r in without]
        diff = [y - x for x, y in zip(a, b, strict=True)]
        paired, spread = statistics.median(diff), _iqr(diff)
        out[name] = {
            "median_with": round(statistics.median(a), 3),
            "iqr_with": round(_iqr(a), 3),
            "median_without": round(statistics.median(b), 3),
            "iqr_without": round(_iqr(b), 3),
            "paired_median": round(paired, 3),
            "paired_iqr": round(spread, 3),
            "all_without": b,
        }
        # the median moved by more than the run-to-run spread, or the paired differences
        # are above their own spread
        moved = statistics.median(b) - statistics.median(a)
        pays |= paired > spread or moved > max(_iqr(a), _iqr(b))
    out["pays"] = pays
    return out


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
                run = measure(cmd)
                run["own_cpu"] = float(run["stdout"].rsplit("OWN_CPU ", 1)[1].split()[0])
                runs[variant].append(run)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    rows = {variant: _compare(runs["all on"], runs[variant]) for variant in variants[1:]}
    for variant, row in rows.items():
        row["switched_off"] = VARIANTS[variant]
    result = {
        "benchmark": "startup",
        "messages": None if args.csv else args.n,
        "csv": csv_path.name,
        "rounds": args.rounds,
        "machine": machine(),
        "note": "the machine was shared with other work: see the spreads",
        "all_on": {
            k: [x[k] for x in runs["all on"]] for k in ("seconds", "cpu_seconds", "own_cpu")
        },
        "tricks": rows,
        "rule": "a trick pays when switching it off moves the median up by more than the larger "
        "interquartile range of the two variants, or makes the median of the per-round paired "
        "differences worse by more than their interquartile range, in wall time, CPU seconds "
        "or the build process's own CPU seconds",
    }
    path = save("startup", result)
    print(f"{'trick off':<18} " + "  ".join(f"{m:>30}" for m in ("wall", "CPU", "build's own CPU")))
    for variant, r in rows.items():
        cells = [
            f"{r[m]['median_with']:.2f}/{r[m]['median_without']:.2f} "
            f"{r[m]['paired_median']:+.2f}±{r[m]['paired_iqr']:.2f}"
            for m in ("wall", "cpu", "build_cpu")
        ]
        print(f"{variant:<18} " + "  ".join(f"{c:>30}" for c in cells) + f"  {r['pays']}")
    print(f"saved {path}")
    return result


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        raise SystemExit(_variant_main(sys.argv[2], sys.argv[4:]))
    main()
