"""Does each speed device of `twin build` pay for itself? (issues: the build's start-up layer,
the build's speed on every WeChatMsg layout)

Runs `twin build` on the generated 1,000,000-message WeChatMsg CSV with every device on, and
with one switched off at a time, round-robin: every round runs each variant once, and the order
is rotated and reversed from round to round, so a drift in the machine's speed (it is shared)
spreads over all variants alike. For each device it reports wall time and CPU seconds (every
thread of the build; less sensitive than wall time to other work on the machine): the medians
with and without it, each with its spread (interquartile range), and the per-round paired
difference (without - with, same round) with its interquartile range; and the median peak
memory. A device pays when switching it off moves the median up by more than the spread (the
larger interquartile range of the two variants), or makes the paired median worse by more than
its range, in wall time or in CPU seconds.

A device is switched off by patching it out before the CLI runs (see VARIANTS), never by a
setting in twin itself.

Measured on the 1,000,000-message CSV in WeChatMsg 0.2.6's layout
(`--csv benchmarks/data/wechatmsg_0.2.6_1000000.csv`), on a shared 2-core VM, 11 rounds; medians with /
without the device (interquartile range), then the median of the per-round paired differences
± its interquartile range; seconds, positive: slower without the device. Peak memory: medians.

| switched off | wall | CPU | peak memory | pays by the rule |
|---|---|---|---|---|
| slices (outputs made whole) | 1.19 (0.24) / 1.42 (0.23); +0.23 ± 0.19 | +0.41 ± 0.28 | 531 / 638 MB | yes |
| pyarrow kept from importing pandas | 1.19 (0.24) / 1.43 (0.21); +0.17 ± 0.10 | +0.16 ± 0.08 | 531 / 573 MB | yes |
| threads beside the main work | 1.19 (0.24) / 1.32 (0.11); +0.15 ± 0.20 | -0.07 ± 0.32 | 531 / 515 MB | no |

The threads again, 15 rounds (`--only threads`): 1.16 (0.08) / 1.26 (0.12); +0.12 ± 0.13 wall,
-0.10 ± 0.20 CPU, 545 / 501 MB; 12 of the 15 rounds were slower without them. They are kept:
they take a tenth of a second off a build of about 1.2 s in most rounds, at the price of some
CPU (threads waiting for each other) and 44 MB, which the rule, made for start-up tricks, does
not weigh. The report process that drew the charts with matplotlib before (+0.81 ± 0.32 s when
switched off, in its time) is gone: Pillow draws them in 0.08 s (twin.charts).
Earlier, on a saturated machine (7 rounds, paired differences only), these did not pay and were
removed: forking the report process before numpy loads, OpenBLAS on one thread, gc.freeze after
the imports, a second fork inside the report worker.

    python benchmarks/bench_startup.py [-n 1000000] [--rounds 11] [--csv FILE] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from concurrent.futures import Future
from pathlib import Path

from common import compile_twin, ensure_csv, machine, measure, save

VARIANTS = {
    "all on": "nothing switched off",
    "threads": "no work beside the main thread: the times, the JSON encoding of the turns, the "
    "files and the report one after another",
    "slices": "train/dev and the exports put together whole, not a slice of samples at a time",
    "pandas": "pyarrow imports pandas (twin.ingest.no_pandas switched off)",
}


class _InOrder:
    """An executor that runs each job as it is submitted, in the submitting thread."""

    def __init__(self, *_: object) -> None:
        pass

    def __enter__(self) -> _InOrder:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def submit(self, fn, *args, **kwargs) -> Future:  # noqa: ANN001
        done: Future = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001  (handed to whoever asks for the result)
            done.set_exception(e)
        return done

    def shutdown(self, wait: bool = True) -> None:
        pass


def _switch_off(variant: str) -> None:
    """Patch one device out of this process before the CLI runs."""
    if variant == "pandas":
        from twin.ingest import no_pandas

        no_pandas.keep_pandas_out_of_arrow = lambda: None
    if variant == "threads":
        from twin.dataset import build
        from twin.ingest.formats import wechatmsg_csv

        build.ThreadPoolExecutor = wechatmsg_csv.ThreadPoolExecutor = _InOrder
    if variant == "slices":
        from twin.dataset import writers

        writers.SLICE = 1 << 62


def _variant_main(variant: str, argv: list[str]) -> int:
    _switch_off(variant)
    from twin.cli import main

    return main(argv)


def _iqr(values: list[float]) -> float:
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q3 - q1


def _compare(with_: list[dict], without: list[dict]) -> dict:
    """Medians, spreads and paired differences of wall and CPU seconds."""
    out: dict = {}
    pays = False
    for name, key in (("wall", "seconds"), ("cpu", "cpu_seconds")):
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
    out["peak_rss_mb"] = {
        "median_with": round(statistics.median(r["peak_rss_mb"] for r in with_)),
        "median_without": round(statistics.median(r["peak_rss_mb"] for r in without)),
    }
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
                runs[variant].append(measure(cmd))
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
            k: [x[k] for x in runs["all on"]] for k in ("seconds", "cpu_seconds", "peak_rss_mb")
        },
        "devices": rows,
        "rule": "a device pays when switching it off moves the median up by more than the "
        "larger interquartile range of the two variants, or makes the median of the per-round "
        "paired differences worse by more than their interquartile range, in wall time or CPU "
        "seconds",
    }
    path = save("startup", result)
    heads = ("wall", "CPU", "peak memory")
    print(f"{'switched off':<18} " + "  ".join(f"{m:>30}" for m in heads))
    for variant, r in rows.items():
        cells = [
            f"{r[m]['median_with']:.2f}/{r[m]['median_without']:.2f} "
            f"{r[m]['paired_median']:+.2f}±{r[m]['paired_iqr']:.2f}"
            for m in ("wall", "cpu")
        ]
        rss = r["peak_rss_mb"]
        cells.append(f"{rss['median_with']}/{rss['median_without']} MB")
        print(f"{variant:<18} " + "  ".join(f"{c:>30}" for c in cells) + f"  {r['pays']}")
    print(f"saved {path}")
    return result


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        raise SystemExit(_variant_main(sys.argv[2], sys.argv[4:]))
    main()
