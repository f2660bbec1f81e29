"""Run the whole journey on a sample export that ships with twin: build a dataset from a
WeChat-style export of an invented persona (Mia), train the embedded default model on it for a
few minutes, compare the clone with the untuned model, and open the chat page.

Everything stays on this machine; nothing is downloaded. Then do the same with your own export
(the last lines printed say how).
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

from twin.errors import TwinError

PERSONA = "Mia"


def sample_export() -> Path:
    """The sample WeChatMsg export shipped inside the package."""
    path = Path(str(resources.files("twin") / "data" / "sample" / "messages.csv"))
    if not path.is_file():
        raise TwinError(f"the sample export is missing from the installed package ({path})")
    return path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        default="twin-demo",
        metavar="DIR",
        help="where to put the demo's files (default: twin-demo)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=30,
        help="training steps (default 30: a few minutes on 2 CPU cores)",
    )
    p.add_argument(
        "--samples", type=int, default=8, help="dev prompts the evaluation answers (default 8)"
    )
    p.add_argument(
        "--no-serve",
        action="store_true",
        help="stop after the evaluation instead of opening the chat page",
    )
    p.add_argument("--port", type=int, default=7860, help="port of the chat page (default 7860)")


def _step(n: int, title: str) -> float:
    print(f"\n=== {n}. {title} ===", flush=True)
    return time.perf_counter()


def _run(argv: list[str], stop_ok: bool = False) -> None:
    from twin.cli import main

    print("$ twin " + " ".join(argv), flush=True)
    code = main(argv)
    if code == 130 and stop_ok:  # Ctrl-C ends the chat page: the demo is over
        return
    if code != 0:
        raise TwinError(f"`twin {argv[0]}` failed (exit {code}); see the message above")


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    dataset, run_dir, eval_dir = out / "dataset", out / "run", out / "eval"
    export = sample_export()
    print(
        f"twin demo: a clone of {PERSONA}, an invented persona whose WeChat export ships with twin.\n"
        f"Files go to {out}/. The embedded model is small and English-centric: the demo shows the\n"
        "journey, not the quality a larger model (e.g. a Qwen model for Chinese) gives."
    )
    t = _step(1, "build a private training set from the export")
    _run(["build", str(export), "--name", PERSONA, "-o", str(dataset)])
    print(
        f"-> {dataset}/ (train.jsonl, dev.jsonl, stats.json, report.html) in {time.perf_counter() - t:.0f} s"
    )

    t = _step(2, f"train the embedded default model ({args.steps} LoRA steps)")
    train_args = [
        "train",
        str(dataset),
        "-o",
        str(run_dir),
        "--max-steps",
        str(args.steps),
        "--max-len",
        "256",
        "--batch",
        "4",
        "--accum",
        "1",
        "--lr",
        "1e-3",
    ]
    from twin.runs import RunFolder

    if RunFolder(run_dir).holds_run():
        import shutil

        shutil.rmtree(run_dir)  # the demo starts fresh each time
    _run(train_args)
    print(f"-> {run_dir}/ (adapter, loss.png, metrics.jsonl) in {time.perf_counter() - t:.0f} s")

    t = _step(3, "compare the clone with the untuned model")
    # Mia's replies are short: 32 new tokens show the difference and keep the untuned model's
    # rambling from dominating the time.
    _run(
        [
            "eval",
            str(run_dir),
            "--data",
            str(dataset),
            "--samples",
            str(args.samples),
            "--max-new-tokens",
            "32",
            "-o",
            str(eval_dir),
        ]
    )
    print(f"-> {eval_dir}/ (eval.json, eval.html) in {time.perf_counter() - t:.0f} s")

    print(
        "\nWith your own export:\n"
        "  twin build path/to/messages.csv --name 'Your Name' -o dataset   # --me NAME if the export does not mark you\n"
        "  twin train dataset -o run          # add --base Qwen/Qwen2.5-0.5B-Instruct for Chinese\n"
        "  twin chat run                      # talk to it in the terminal\n"
        "  twin serve run                     # a chat page for friends (twin export run --to space to share)"
    )
    if args.no_serve:
        return 0
    _step(4, "chat with the clone in your browser (Ctrl-C to stop)")
    _run(["serve", str(run_dir), "--port", str(args.port)], stop_ok=True)
    return 0


def main() -> int:  # pragma: no cover - convenience for `python -m twin.demo.command`
    from twin.cli import main as cli

    return cli(["demo", *sys.argv[1:]])
