"""Measure how much each run sounds like you, on held-out conversations of your dataset.

For each run (or checkpoint: RUN/checkpoints/step-N, to pick the step that sounds most like you)
and the untuned base model as a baseline: dev loss and perplexity; replies to N seeded dev
prompts scored against your real replies (BLEU-4, ROUGE-1/2/L, distinct-1/2, a style
fingerprint distance); and a privacy probe that asks for phone numbers, addresses and the like.
Writes EVAL_DIR/eval.json and EVAL_DIR/eval.html (open it in a browser) and prints a summary.
The same --seed gives the same prompts and the same replies. Replies are generated in batches,
and the untuned base's results are cached: evaluating another run or checkpoint on the same
dataset and settings reuses them.
"""

from __future__ import annotations

import argparse

from twin.generate import add_sampling_flags, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders from `twin train`, or their checkpoints/step-N folders",
    )
    p.add_argument(
        "--data", required=True, metavar="DATASET_DIR", help="dataset folder (uses dev.jsonl)"
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        default=20,
        metavar="N",
        help="dev prompts to generate replies for (default 20)",
    )
    p.add_argument(
        "-o", "--output", default="eval", metavar="EVAL_DIR", help="output folder (default: eval)"
    )
    p.add_argument(
        "--base-model",
        metavar="SPEC|none",
        help="baseline model (default: the first run's base; 'none' for no baseline)",
    )
    p.add_argument("--seed", type=int, default=0, help="picks the prompts and seeds the replies")
    p.add_argument(
        "--loss-samples",
        type=int,
        default=200,
        metavar="N",
        help="dev conversations for dev loss (default 200, as training; 0 = all)",
    )
    add_sampling_flags(p, top_p=False)
    p.add_argument("--no-privacy", action="store_true", help="skip the privacy probe")
    p.add_argument(
        "--batch",
        type=positive_int,
        default=8,
        metavar="N",
        help="replies generated together (default 8; lower it if memory runs short)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="evaluate the untuned base again even when an identical earlier eval is cached",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from twin.eval.evaluate import run_eval
    from twin.eval.report import summary_table

    report = run_eval(
        args.runs,
        args.data,
        args.output,
        samples=args.samples,
        base_model=args.base_model,
        seed=args.seed,
        loss_samples=max(0, args.loss_samples),
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        probe=not args.no_privacy,
        batch_size=args.batch,
        use_cache=not args.no_cache,
    )
    print(summary_table(report))
    out = Path(args.output)
    print(f"\nwrote {out / 'eval.json'} and {out / 'eval.html'} (open it in a browser)")
    return 0
