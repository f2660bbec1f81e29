"""The whole journey in the browser: read your export, build a dataset, train, chat, evaluate
and share, on one local page (http://127.0.0.1:7860 by default).

A project is a folder (default ~/twin-studio/NAME, or $TWIN_STUDIO_HOME/NAME) holding exactly
what the twin commands write, so you can switch between the page and the terminal at any step.
Like `twin serve`, the page binds to 127.0.0.1; with --host beyond this machine or --share, a
key is required and every route asks for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", nargs="?", default="my-twin", help="project name (default: my-twin)")
    p.add_argument(
        "--root",
        metavar="DIR",
        help="folder of the projects (default: ~/twin-studio, or $TWIN_STUDIO_HOME)",
    )
    net = p.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    net.add_argument(
        "--share", action="store_true", help="also open a public Gradio share link (needs a key)"
    )
    net.add_argument(
        "--api-key",
        metavar="KEY",
        help="key every route asks for (better: the TWIN_API_KEY environment variable or "
        "--api-key-file, which do not show in the process list)",
    )
    net.add_argument("--api-key-file", metavar="FILE", help="read the key from this file")


def run(args: argparse.Namespace) -> int:
    from twin.serve.command import read_key
    from twin.studio.project import Project, default_root
    from twin.studio.server import check_access, serve_studio

    key = read_key(args.api_key, args.api_key_file)
    check_access(args.host, key, args.share)  # before anything is loaded
    root = Path(args.root).expanduser() if args.root else default_root()
    project = Project.open(root, args.project)
    print(f"twin studio: project {project.folder}", file=sys.stderr)
    return serve_studio(project, args.host, args.port, key, share=args.share)
