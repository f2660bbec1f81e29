"""The `twin` command: one sub-command per stage, each defined beside its code.

Each verb lives in `twin/<verb>/command.py` with `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their verb runs, so `twin --help` does not load torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from twin import __version__
from twin.errors import TwinError
from twin.quiet import quiet_libraries, verbose_requested

VERBS = {
    "ingest": ("twin.ingest.command", "read chat exports into one messages.jsonl"),
    "build": (
        "twin.dataset.command",
        "build a training set (train/dev, stats, report) from exports",
    ),
    "train": (
        "twin.train.command",
        "fine-tune a chat model on a dataset (LoRA, QLoRA, P-tuning v2)",
    ),
    "chat": ("twin.chat.command", "talk to a trained run (or an untuned base) in the terminal"),
    "eval": (
        "twin.eval.command",
        "measure how much runs sound like you (metrics, samples, privacy)",
    ),
    "serve": ("twin.serve.command", "share a run: a chat page and an OpenAI-compatible API"),
    "export": (
        "twin.export.command",
        "export a run: Hugging Face Space, merged model, GGUF (llama.cpp), Ollama",
    ),
    "models": (
        "twin.models_command",
        "the base models worth using: languages, memory, training time; download one",
    ),
    "notebook": (
        "twin.notebook.command",
        "write a Kaggle or Colab notebook (and the zip to upload) that trains on a free GPU",
    ),
    "demo": ("twin.demo.command", "the whole journey on a sample export and the embedded model"),
    "studio": (
        "twin.studio.command",
        "the whole journey in the browser, for people who prefer a page",
    ),
}


# Verbs that load a base model: they accept --trust-remote-code.
# `notebook` records the choice in its bundle, for the training and eval it runs elsewhere.
LOADS_MODELS = ("build", "train", "chat", "eval", "serve", "export", "notebook")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every verb, or, with `only`, of that verb alone (the others are listed but
    their modules not imported: each costs start-up time)."""
    parser = argparse.ArgumentParser(
        prog="twin",
        description="Turn your own chat history into a chatbot that talks like you.",
        epilog="Run 'twin COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"twin {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show the libraries' warnings, logs and progress bars (transformers, torch, "
        "gradio…); allowed after COMMAND too",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (module_name, help_text) in VERBS.items():
        p = sub.add_parser(
            verb, help=help_text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        if only is not None and verb != only:
            continue
        module = importlib.import_module(module_name)
        p.description = module.__doc__
        module.add_arguments(p)
        if verb in LOADS_MODELS:
            p.add_argument(
                "--trust-remote-code",
                action="store_true",
                help="let a base model run the Python code shipped with it (ChatGLM2/3 need "
                "this); only for models whose source you trust",
            )
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = verbose_requested(argv)
    if verbose:
        os.environ["TWIN_VERBOSE"] = "1"  # for the commands `twin demo` runs in turn
    argv = [a for a in argv if a != "--verbose"]
    quiet_libraries(verbose)
    verb = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(verb if verb in VERBS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from twin.models import allow_remote_code

    allow_remote_code(getattr(args, "trust_remote_code", False))
    try:
        return int(args._run(args) or 0)
    except TwinError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        allow_remote_code(False)  # per command (matters when commands run in one process)


if __name__ == "__main__":
    raise SystemExit(main())
