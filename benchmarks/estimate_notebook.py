#!/usr/bin/env python3
"""The README's notebook time table: an ESTIMATE from twin.notebook.estimate's formula, not a
measurement (nothing here runs on a T4). Prints the table and saves notebook_estimate.json.

    python benchmarks/estimate_notebook.py [--samples 5000] [--tokens-per-sample 200]

The dataset is described by its size alone: `--samples` training conversations averaging
`--tokens-per-sample` tokens (twin's sample export averages 94; multi-turn WeChat samples with
context run longer, hence 200), one epoch, eval with 20 replies per model and the privacy probe.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from twin.notebook.estimate import estimate_time

BASES = [
    ("default", "lora"),
    ("gemma3-270m", "lora"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "lora"),
    ("Qwen/Qwen2.5-1.5B-Instruct", "lora"),
    ("Qwen/Qwen2.5-7B-Instruct", "qlora"),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--tokens-per-sample", type=int, default=200)
    args = p.parse_args()
    tokens = args.samples * args.tokens_per_sample
    rows = []
    print(
        f"ESTIMATE (formula, not measured): {args.samples:,} samples x {args.tokens_per_sample} tokens, 1 epoch"
    )
    print(f"{'base':32} {'method':6} {'T4s':>3} {'train':>7} {'total':>7}  (minutes)")
    for base, method in BASES:
        for gpus in (1, 2):
            e = estimate_time(base, method, tokens, 1.0, args.samples, gpus=gpus)
            rows.append(
                {
                    "base": base,
                    "method": method,
                    "gpus": gpus,
                    "train_min": round(e.train, 1),
                    "download_min": round(e.download, 1),
                    "eval_min": round(e.eval, 1),
                    "install_min": round(e.install, 1),
                    "total_min": round(e.total, 1),
                }
            )
            print(f"{base:32} {method:6} {gpus:>3} {e.train:7.1f} {e.total:7.1f}")
    out = Path(__file__).with_name("notebook_estimate.json")
    out.write_text(
        json.dumps(
            {
                "estimate": True,
                "samples": args.samples,
                "tokens_per_sample": args.tokens_per_sample,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
