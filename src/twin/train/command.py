"""Fine-tune a chat model on a dataset folder (from `twin build`) so it replies like you.

Offline by default: --base auto (the default) picks the embedded base that writes the language of
your replies — SmolLM2-135M-Instruct for English, the multilingual Gemma 3 270M for Chinese or
mixed — and says why; with a GPU and hub access it also prints a stronger hub base to try.
`twin models` lists the bases with their languages, memory and training time. Writes a standard PEFT adapter
plus everything chat/serve/eval need into the run folder. Ctrl-C saves a checkpoint; --resume
continues from it. Several processes: torchrun --nproc-per-node 2 -m twin train …
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET_DIR", help="folder written by `twin build`")
    from twin.config_file import add_flags
    from twin.train.config import TrainConfig

    p.add_argument(
        "-o", "--output", default="run", metavar="RUN_DIR", help="run folder (default: run)"
    )
    add_flags(p, TrainConfig)  # --base, --method, --max-steps, … from the settings' fields
    p.add_argument(
        "--resume", action="store_true", help="continue from the run folder's last checkpoint"
    )
    p.add_argument("--config", metavar="TOML", help="a twin.toml with a [train] table")
    p.add_argument(
        "--show-mask",
        action="store_true",
        help="print the first sample with its trained tokens highlighted, and exit",
    )


def run(args: argparse.Namespace) -> int:
    from twin.config_file import flag_values
    from twin.train.config import TrainConfig, load_train_config
    from twin.train.folder import check_dataset_folder

    check_dataset_folder(args.dataset)  # before seconds of loading torch and the model

    cfg = load_train_config(args.config, flag_values(args, TrainConfig))
    if args.show_mask:
        return _show_mask(args.dataset, cfg)
    from twin.train.loop import train

    result = train(args.dataset, args.output, cfg, resume=args.resume)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        _record_speed(args.output)
        print(
            f"Trained {args.output}: {result['steps']} steps in {result['seconds']:.0f} s ({result['stopped']})"
        )
        if "first_train_loss" in result:
            print(
                f"  train loss {result['first_train_loss']:.3f} -> {result['final_train_loss']:.3f}"
            )
        if result.get("best_dev_loss") is not None:
            print(f"  best dev loss {result['best_dev_loss']:.3f} at step {result['best_step']}")
        print(f"  adapter: {result.get('adapter')}; loss curve: {args.output}/loss.png")
        print(f"  try it: twin chat {args.output}")
    return 0


def _record_speed(run_dir: str) -> None:
    """Remember this base's training speed on this CPU for `twin models` (twin.speed)."""
    import json
    from pathlib import Path

    try:
        info = json.loads((Path(run_dir) / "twin_run.json").read_text(encoding="utf-8"))
        lines = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        last = json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return
    import torch

    if not torch.cuda.is_available() and last.get("tokens_per_s") and len(lines) > 2:
        from twin.speed import record

        record(info["base"]["spec"], last["tokens_per_s"], "twin train")


def _show_mask(dataset: str, cfg) -> int:
    import sys

    from twin.chat_format import choose_format, render_with_mask, show_mask
    from twin.models import load_config, load_tokenizer, resolve_base
    from twin.train.data import read_dataset

    spec = cfg.base
    if spec == "auto":
        from twin.base_choice import choose

        choice = choose(dataset)
        print(choice.line(), file=sys.stderr)
        spec = choice.spec
    ref = resolve_base(spec)
    tok = load_tokenizer(ref)
    fmt = choose_format(tok, load_config(ref))
    train, _, _ = read_dataset(dataset)
    ids, mask = render_with_mask(fmt, tok, train[0], cfg.max_len)
    print(show_mask(tok, ids, mask, color=sys.stdout.isatty()))
    print(
        f"\n{sum(mask)} of {len(ids)} tokens trained (highlighted{'' if sys.stdout.isatty() else ' as [[…]]'})"
    )
    return 0
