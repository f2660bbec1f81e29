"""Write a ready-to-run Kaggle or Colab notebook that trains your clone on a free GPU.

Writes OUT/NAME.ipynb and OUT/NAME.zip. Upload the zip (your dataset, the training settings and
this twin as a wheel) as a Kaggle Dataset, or put it in Google Drive for Colab; open the
notebook, turn on the GPU and press Run All. The notebook's first cell says every step, in
English and Chinese, and how long it should take (an estimate). It checks the GPU (T4: fp16; two
T4s: both, data-parallel), installs the bundled twin, downloads the base model, trains (resuming
after an interruption), compares the clone with the untuned model, lets you chat with it, and
saves the run for `twin chat` / `twin serve` / `twin export` at home.

Training settings: the flags below, a twin.toml [train] table (--config), or any [train] key
with --set KEY=VALUE (e.g. --set lora_dropout=0.05 --set early_stopping=3).
"""

from __future__ import annotations

import argparse
import sys

NOTEBOOK_BASE = "Qwen/Qwen2.5-1.5B-Instruct"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET_DIR", help="folder written by `twin build`")
    p.add_argument("--target", required=True, choices=["kaggle", "colab"], help="where it runs")
    p.add_argument(
        "--base",
        help=f"a Hugging Face hub id, or 'default' for the embedded model (default: {NOTEBOOK_BASE})",
    )
    p.add_argument(
        "--method", choices=["lora", "qlora", "ptuning"], help="lora (default), qlora, ptuning"
    )
    p.add_argument(
        "-o",
        "--output",
        default="notebook",
        metavar="OUT",
        help="output folder (default: notebook)",
    )
    p.add_argument("--name", help="name of the notebook, the zip and the Kaggle dataset")
    p.add_argument("--space", action="store_true", help="the notebook also writes a Space folder")
    p.add_argument("--gguf", action="store_true", help="the notebook also writes a GGUF file")
    t = p.add_argument_group("training (as `twin train`)")
    steps = t.add_mutually_exclusive_group()
    steps.add_argument("--max-steps", type=int, help="optimizer steps to run")
    steps.add_argument("--epochs", type=float, help="passes over the training set (default 1)")
    t.add_argument("--lr", type=float, help="learning rate (default: 2e-4 LoRA, 2e-2 P-tuning)")
    t.add_argument("--rank", type=int, help="LoRA rank (default 8)")
    t.add_argument("--max-len", type=int, help="tokens per sample (default 1024)")
    t.add_argument("--batch", type=int, help="samples per step per GPU (default 4)")
    t.add_argument("--accum", type=int, help="gradient accumulation steps (default 4)")
    t.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], help="default auto")
    t.add_argument("--config", metavar="TOML", help="a twin.toml with a [train] table")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any [train] setting, VALUE in TOML syntax (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from twin.notebook.make import make_notebook

    flags = {
        "base": args.base,
        "method": args.method,
        "max_steps": args.max_steps,
        "epochs": args.epochs,
        "lr": args.lr,
        "rank": args.rank,
        "max_len": args.max_len,
        "batch": args.batch,
        "accum": args.accum,
        "precision": args.precision,
    }
    made = make_notebook(
        Path(args.dataset),
        args.target,
        Path(args.output),
        flags=flags,
        config=args.config,
        sets=args.set,
        name=args.name,
        space=args.space,
        gguf=args.gguf,
        default_base=NOTEBOOK_BASE,
        trust_remote_code=args.trust_remote_code,
    )
    print(made.summary())
    sys.stdout.flush()
    return 0
