"""The studio's web server: the page mounted on a FastAPI app behind `twin serve`'s Guard.

The Guard (twin.serve.guard) is the same door as the chat page's: once a key is set, which it
must be beyond loopback or with a share link, every route asks for it (the page once, by a
login cookie); bound to loopback, only loopback Host headers are answered. Unlike the chat page
the studio takes uploads (export files), capped at MAX_UPLOAD bytes.
"""

from __future__ import annotations

import sys

from twin.errors import TwinError
from twin.serve.server import Server, bind, is_loopback
from twin.studio.project import Project

MAX_UPLOAD = 4 << 30  # bytes: years of WeChat messages as CSV stay well under this


def check_access(host: str, key: str | None, share: bool) -> None:
    """The rule of `twin serve`: beyond this machine, a key."""
    if (share or not is_loopback(host)) and not key:
        where = "a public share link" if share else f"--host {host}"
        raise TwinError(
            f"{where} would let other machines read your messages and models: set a key in the "
            "TWIN_API_KEY environment variable or with --api-key-file FILE (or --api-key KEY, "
            "which shows in `ps`); the page asks for it once"
        )


def build_app(project: Project, host: str, port: int, key: str | None, share: bool = False):
    """(FastAPI app, the Blocks) with the studio at /, every route behind the Guard."""
    import gradio as gr
    from fastapi import FastAPI

    from twin.serve.guard import Guard
    from twin.studio.page import CSS, build_studio

    check_access(host, key, share)
    demo = build_studio(project)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        server_name=host,
        server_port=port,
        show_error=True,
        ssr_mode=False,
        allowed_paths=[str(project.folder)],
        footer_links=["api", "settings"],
        max_file_size=MAX_UPLOAD,
        css=CSS,
    )
    app.add_middleware(
        Guard,
        key=key,
        loopback_hosts_only=is_loopback(host) and not share,
        max_upload=MAX_UPLOAD,
    )
    return app, demo


def serve_studio(
    project: Project, host: str, port: int, key: str | None, share: bool = False
) -> int:
    check_access(host, key, share)
    # A share link's tunnel reaches the server on loopback.
    sock = bind("127.0.0.1" if share else host, port)
    app, _ = build_app(project, host, port, key, share)
    server = Server(app, sock)
    if not is_loopback(host):
        print(f"listening on {host}:{server.port}: reachable from other machines", file=sys.stderr)
    if share:
        from twin.serve.server import open_share_link

        url = open_share_link(server.port)
        print(f"public share link: {url}/ (the key is needed there too)", file=sys.stderr)
    keyed = "key required" if key else "no key"
    print(f"twin studio: {server.url}/ ({keyed}); press Ctrl+C to stop", file=sys.stderr)
    server.run()
    return 0
