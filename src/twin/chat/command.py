"""Chat with your clone in the terminal, using the run's own template, system prompt and settings.

Replies stream as they are generated; the conversation is remembered (the oldest turns are
dropped when it no longer fits the model's context). Type /help in the chat for commands.
--prompt TEXT answers once and exits, printing only the reply (for scripts).
--base MODEL (without a run) chats with the untuned model, to hear the difference training made.
--base auto DATASET_OR_RUN chats with the untuned base `twin train --base auto` picks for that
dataset (or that run was trained on), with the same system prompt.

Temperature: lower is more precise and repeatable (0 always picks the likeliest word), higher
is more creative and varied (around 0.7 sounds natural; above 1.2 rambles).
"""

from __future__ import annotations

import argparse
import sys

from twin.generate import add_sampling_flags


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", metavar="RUN_DIR", help="run folder from `twin train`")
    p.add_argument(
        "--base",
        metavar="MODEL",
        help="chat with an untuned model instead of a run: auto (with a DATASET_OR_RUN) | "
        "default | gemma3-270m | ALIAS | HUB_ID | DIR | FILE.gguf",
    )
    add_sampling_flags(p)
    p.add_argument("--prompt", metavar="TEXT", help="answer this one message and exit")
    p.add_argument("--seed", type=int, help="make replies reproducible (same input, same reply)")


def run(args: argparse.Namespace) -> int:
    from twin.chat.session import Session
    from twin.errors import TwinError

    system_prompt = None
    if args.base == "auto":
        if not args.run:
            raise TwinError(
                "--base auto chooses from your data: give the dataset folder (or a run), "
                "e.g. twin chat --base auto dataset"
            )
        from twin.base_choice import auto_spec

        choice = auto_spec(args.run)
        print(choice.line(), file=sys.stderr)
        system_prompt = _system_prompt(args.run)
        args.run, args.base = None, choice.spec
    if args.run and args.base:
        raise TwinError(
            "give a RUN_DIR or --base MODEL, not both (a run already names its base model)"
        )
    if not args.run and not args.base:
        raise TwinError(
            "nothing to chat with: give a RUN_DIR (made by `twin train`), "
            "or --base MODEL to try an untuned model (--base default: the embedded one)"
        )
    if args.prompt is not None and not args.prompt.strip():
        raise TwinError("--prompt is empty")

    gen = _load(args.run, args.base, system_prompt)
    settings = gen.defaults().updated(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    name = "base" if args.run is None else None
    session = Session(gen, settings, name=name)

    if args.prompt is not None:
        if session.ask(args.prompt.strip()) is None:
            return 1
        return 0

    info = gen.info
    if info.folder:
        print(
            f"Chatting with {info.name or 'your clone'} (run {info.folder}, base {info.base().display})."
        )
    else:
        print(f"Chatting with {info.base().display}, untuned.")
    print(f"{session.describe_settings()}. /help for commands, /quit or Ctrl-D to leave.")
    if sys.stdin.isatty():
        import contextlib

        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and ↑ for earlier lines in input())
    session.loop()
    return 0


def _system_prompt(folder: str) -> str | None:
    """The system prompt a dataset (config.json) or a run (twin_run.json) was made with."""
    import json
    from pathlib import Path

    for name in ("twin_run.json", "config.json"):
        path = Path(folder) / name
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8")).get("system_prompt")
            except (OSError, ValueError):
                return None
    return None


def _load(run_dir: str | None, base: str | None, system_prompt: str | None = None):
    """A Generator for the run or the base, with load problems as TwinErrors."""
    import warnings

    from twin.errors import TwinError
    from twin.generate import Generator
    from twin.runs import base_info, read_run

    info = read_run(run_dir) if run_dir else base_info(str(base), system_prompt)
    print(f"loading {info.label} …", file=sys.stderr, flush=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter the chat
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return Generator(info)
    except TwinError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise TwinError(f"{info.label}: could not load the model ({e})") from e
