"""Share a trained run: a chat page in the browser and/or an OpenAI-compatible API.

  twin serve RUN                      chat page on http://127.0.0.1:7860
  twin serve RUN --api                the page plus /v1/chat/completions on the same port
  TWIN_API_KEY=KEY twin serve RUN --api-only --host 0.0.0.0
                                      only the API, reachable from other machines (key required)
  twin serve RUN --engine llamacpp    replies through llama.cpp (faster on a CPU: README, Benchmarks)
  twin serve RUN --share --api-key-file key.txt
                                      also a public *.gradio.live link (for friends elsewhere)

Once a key is set — and it must be when the server is reachable from other machines (--host
beyond loopback, --share) — every route needs it: the page asks for it once (a cookie keeps it),
the API takes it as 'Authorization: Bearer KEY'. Keep the key out of `ps`: TWIN_API_KEY or
--api-key-file rather than --api-key.

Title, description, examples, theme and language come from the flags, else from a "serve" table
in the run's twin_run.json (--save writes the flags there), else from the run's name.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from twin.errors import TwinError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from twin.serve.config import add_page_flags
    from twin.serve.engine import ENGINES

    p.add_argument("run", metavar="RUN_DIR", help="a run folder written by `twin train`")
    net = p.add_argument_group("network")
    net.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network)",
    )
    net.add_argument(
        "--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)"
    )
    net.add_argument(
        "--share",
        action="store_true",
        help="also open a public Gradio share link (anyone with the link can chat)",
    )
    api = p.add_argument_group("OpenAI-compatible API")
    api.add_argument(
        "--api", action="store_true", help="serve /v1/chat/completions beside the page"
    )
    api.add_argument("--api-only", action="store_true", help="serve the API without the page")
    api.add_argument(
        "--api-key",
        help="the key every route needs, page and API (default: $TWIN_API_KEY); required when "
        "--host is not a loopback address or with --share. Visible in `ps`: prefer the "
        "environment variable or --api-key-file",
    )
    api.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="read the key from the first line of FILE (not visible in `ps`)",
    )
    api.add_argument(
        "--model-name", help="the model id the API reports (default: from the run's name)"
    )
    eng = p.add_argument_group("engine")
    eng.add_argument(
        "--engine",
        choices=ENGINES,
        default="transformers",
        help="transformers (default, nothing extra to install) or llamacpp (faster on CPU; "
        "needs llama-cpp-python)",
    )
    eng.add_argument(
        "--gguf",
        metavar="FILE",
        help="llamacpp: a GGUF from `twin export --to gguf` (default: one made once into the cache)",
    )
    eng.add_argument(
        "--lora", metavar="FILE", help="llamacpp: a GGUF LoRA adapter to apply to --gguf"
    )
    eng.add_argument("--threads", type=int, help="CPU threads for generation")
    page = p.add_argument_group("page")
    add_page_flags(page)
    page.add_argument(
        "--save",
        action="store_true",
        help="remember the page flags given here in the run (twin_run.json) for next time, "
        "and for `twin export --to space`",
    )


def model_id(info, name: str | None) -> str:
    if name:
        return name
    base = info.name or (info.folder.name if info.folder else "twin")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-").lower()
    return f"twin-{slug}" if slug else "twin"


def run(args: argparse.Namespace) -> int:
    from twin.runs import read_run
    from twin.serve.config import page_config, page_flags
    from twin.serve.server import ServeOptions, check_options

    _setup_logging()
    info = read_run(args.run)
    flags = page_flags(args)
    if args.save:
        from twin.serve.config import save_settings

        path = save_settings(info, flags)
        print(f"page settings saved in {path}", file=sys.stderr)
    cfg = page_config(info, **flags)
    opts = ServeOptions(
        host=args.host,
        port=args.port,
        page=not args.api_only,
        api=args.api or args.api_only,
        api_key=read_key(args.api_key, args.api_key_file),
        model_id=model_id(info, args.model_name),
        share=args.share,
    )
    check_options(opts)
    from twin.serve.engine import load_engine
    from twin.serve.server import Server, bind, build_app

    # A busy port fails now, not after loading the model. A share link's tunnel reaches the
    # server on loopback.
    sock = bind("127.0.0.1" if opts.share else opts.host, opts.port)
    print(f"loading {info.label} ({args.engine})…", file=sys.stderr)
    gen = load_engine(info, args.engine, args.gguf, args.lora, args.threads)
    app, close = build_app(gen, cfg, opts)
    server = Server(app, sock)
    try:
        _announce(server, opts)
        server.run()
    finally:
        close()
        getattr(gen, "close", lambda: None)()
    return 0


def read_key(given: str | None, key_file: str | None) -> str | None:
    """The key from --api-key, else --api-key-file, else $TWIN_API_KEY; None when none is set."""
    if given and key_file:
        raise TwinError("give the key once: --api-key or --api-key-file, not both")
    if key_file:
        path = Path(key_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise TwinError(f"--api-key-file {path}: cannot read it ({e})") from e
        key = lines[0].strip() if lines else ""
        if not key:
            raise TwinError(f"--api-key-file {path}: the first line is empty; write the key there")
        return key
    if given:
        print(
            "note: a key given with --api-key shows in `ps`; TWIN_API_KEY or --api-key-file "
            "keep it private",
            file=sys.stderr,
        )
        return given
    return os.environ.get("TWIN_API_KEY") or None


def _announce(server, opts) -> None:
    from twin.serve.server import is_loopback

    if not is_loopback(opts.host):
        print(
            f"listening on {opts.host}:{server.port}: reachable from other machines",
            file=sys.stderr,
        )
    if opts.share:
        from twin.serve.server import open_share_link

        url = open_share_link(server.port)
        print(f"public share link: {url}/ (the key is needed there too)", file=sys.stderr)
    keyed = "key required" if opts.api_key else "no key"
    if opts.page:
        print(f"chat page: {server.url}/ ({keyed})", file=sys.stderr)
    if opts.api:
        print(f"OpenAI API: {server.url}/v1 (model {opts.model_id!r}, {keyed})", file=sys.stderr)
    print("press Ctrl+C to stop", file=sys.stderr)


def _setup_logging() -> None:
    log = logging.getLogger("twin.serve")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
