"""The studio's web server: the page mounted on a FastAPI app, run by uvicorn (as `twin serve`)."""

from __future__ import annotations

import logging

from twin.errors import TwinError
from twin.serve.server import Server, bind, is_loopback
from twin.studio.project import Project

log = logging.getLogger("twin.studio")


def check_access(host: str, key: str | None, share: bool) -> None:
    """The rule of `twin serve`: beyond this machine, a key."""
    if (share or not is_loopback(host)) and not key:
        where = "a public share link" if share else f"--host {host}"
        raise TwinError(
            f"{where} lets other machines reach your messages and models: set a key with the "
            "TWIN_API_KEY environment variable or --api-key-file FILE (friends type it once)"
        )


def build_app(project: Project, host: str, port: int, key: str | None):
    """(FastAPI app, the Blocks) with the studio at /, every route behind the key if one is set."""
    import gradio as gr
    from fastapi import FastAPI

    from twin.studio.page import CSS, build_studio

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
        css=CSS,
    )
    app = _protect(app, host, key)
    return app, demo


def _protect(app, host: str, key: str | None):
    from twin.serve.server import protect

    return protect(app, host, key)


def serve_studio(project: Project, host: str, port: int, key: str | None, share: bool = False) -> int:
    check_access(host, key, share)
    if share:
        return _serve_shared(project, host, port, key)
    sock = bind(host, port)
    app, _ = build_app(project, host, port, key)
    server = Server(app, sock)
    print(f"twin studio on {server.url}/  (Ctrl-C to stop)")
    server.run()
    return 0


def _serve_shared(project: Project, host: str, port: int, key: str | None) -> int:
    """Gradio's own launcher, which is what opens a share link; its login asks for the key."""
    from twin.studio.page import CSS, build_studio

    demo = build_studio(project)
    demo.launch(
        server_name=host,
        server_port=port,
        share=True,
        auth=lambda _user, password: password == key,
        auth_message="Type the key you were given (any user name).",
        show_error=True,
        ssr_mode=False,
        allowed_paths=[str(project.folder)],
        css=CSS,
    )
    return 0
