"""Run the whole journey on a sample export that ships with twin: build a dataset from a
WeChat-style export of an invented persona, train an embedded model on it for a few minutes,
compare the clone with the untuned model, and open the chat page.

--lang en (default): Mia, who texts in English; the base chosen is SmolLM2-135M-Instruct.
--lang zh: 小雨 (林小雨), who texts in Chinese; the base chosen is the multilingual Gemma 3 270M.

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
# language: (persona, export file, base the demo expects `--base auto` to choose)
SAMPLES = {"en": ("Mia", "messages.csv"), "zh": ("小雨", "messages_zh.csv")}


def sample_export(lang: str = "en") -> Path:
    """The sample WeChatMsg export shipped inside the package, in English or Chinese."""
    path = Path(str(resources.files("twin") / "data" / "sample" / SAMPLES[lang][1]))
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
    p.add_argument(
        "--lang",
        choices=sorted(SAMPLES),
        default="en",
        help="en: Mia's English export (default); zh: 小雨's Chinese export (中文示例)",
    )


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
    persona = SAMPLES[args.lang][0]
    export = sample_export(args.lang)
    print(
        f"twin demo: a clone of {persona}, an invented persona whose WeChat export ships with twin.\n"
        f"Files go to {out}/. The embedded models are small: the demo shows the journey, not the\n"
        "quality a larger model gives (`twin models` lists them)."
    )
    if args.lang == "zh":
        print(
            "中文示例：小雨（虚构人物）的微信聊天记录。twin 会根据她回复的语言自动选择多语言的内置模型\n"
            "Gemma 3 270M，全程离线。"
        )
    t = _step(1, "build a private training set from the export")
    _run(["build", str(export), "--name", persona, "-o", str(dataset)])
    print(
        f"-> {dataset}/ (train.jsonl, dev.jsonl, stats.json, report.html) in {time.perf_counter() - t:.0f} s"
    )

    t = _step(2, f"train the base --base auto picks for these replies ({args.steps} LoRA steps)")
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
        "  twin train dataset -o run          # the base is chosen from your replies' language\n"
        "  twin models                        # stronger bases (e.g. --base qwen2.5-1.5b on a GPU)\n"
        "  twin chat run                      # talk to it in the terminal\n"
        "  twin serve run                     # a chat page for friends (twin export run --to space to share)"
    )
    if args.no_serve:
        return 0
    _step(4, "chat with the clone in your browser (Ctrl-C to stop)")
    serve = ["serve", str(run_dir), "--port", str(args.port)]
    _run([*serve, "--lang", "zh"] if args.lang == "zh" else serve, stop_ok=True)
    return 0


def main() -> int:  # pragma: no cover - convenience for `python -m twin.demo.command`
    from twin.cli import main as cli

    return cli(["demo", *sys.argv[1:]])
