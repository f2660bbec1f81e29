"""One web server for the page and the API: a FastAPI app run by uvicorn.

The Gradio page is mounted on a FastAPI app (both ship with gradio) so the OpenAI-compatible
routes can live beside it on the same port; `--api-only` serves the routes alone. One `Guard`
(twin.serve.guard) wraps the whole app: key, Host header, uploads and body size are checked once
for every route. The same `Server` object runs in the foreground for `twin serve` (also behind a
share link) and in a thread for tests, always on the host it is given (127.0.0.1 unless told
otherwise).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass

from twin.errors import TwinError
from twin.generate import Generator
from twin.serve.config import PageConfig

log = logging.getLogger("twin.serve")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7860
    page: bool = True
    api: bool = False
    api_key: str | None = None  # the key of every route, page and API alike
    model_id: str = "twin"
    share: bool = False  # also reachable through a public share link

    @property
    def exposed(self) -> bool:
        """Reachable from other machines: then nothing is served without the key."""
        return self.share or not is_loopback(self.host)


def check_options(opts: ServeOptions) -> None:
    """Refuse setups that would expose the model carelessly."""
    if not opts.page and not opts.api:
        raise TwinError("nothing to serve: --api-only needs the API (it implies --api)")
    if opts.exposed and not opts.api_key:
        where = "--share publishes" if opts.share else f"--host {opts.host} exposes"
        raise TwinError(
            f"{where} the twin beyond this machine: set a key in the TWIN_API_KEY environment "
            "variable or with --api-key-file FILE (or --api-key KEY, which shows in `ps`). "
            "Friends type it once on the page; API clients send it as "
            "'Authorization: Bearer KEY'"
        )
    if not 0 <= opts.port <= 65535:
        raise TwinError(f"--port must be 0-65535, not {opts.port}")


def build_app(gen: Generator, page_cfg: PageConfig, opts: ServeOptions):
    """(FastAPI app, closer) with the page at / and/or the API under /v1."""
    from fastapi import FastAPI

    check_options(opts)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    closers = []
    if opts.api:
        from twin.serve.api import add_api

        service = add_api(app, gen, opts.model_id, opts.api_key, page_cfg.max_input_chars)
        closers.append(service.shutdown)
    if opts.page:
        import gradio as gr

        from twin.serve.page import build_page

        demo = build_page(gen, page_cfg)
        gr.mount_gradio_app(
            app,
            demo,
            path="/",
            server_name=opts.host,
            server_port=opts.port,
            theme=page_cfg.theme,
            show_error=False,
            ssr_mode=False,
            run_history=False,
            footer_links=["api", "gradio", "settings"],
            max_file_size=1024,  # the chat takes no files; the guard refuses uploads anyway
        )
    else:

        @app.get("/", include_in_schema=False)
        def root() -> dict:
            return {"api": "/v1", "models": "/v1/models"}

    from twin.serve.guard import Guard

    app.add_middleware(
        Guard,
        key=opts.api_key,
        # a share link's requests arrive through a tunnel with the public Host name
        loopback_hosts_only=is_loopback(opts.host) and not opts.share,
        lang=page_cfg.lang,
    )

    def close() -> None:
        for c in closers:
            c()

    return app, close


class Server:
    """uvicorn serving an app, in the foreground (`run`) or in a thread (`start`/`stop`)."""

    def __init__(self, app, sock: socket.socket) -> None:
        import uvicorn

        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # request lines would log who chatted when
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until interrupted."""
        try:
            self.server.run(sockets=[self._sock])
        finally:
            self._sock.close()

    def start(self, timeout: float = 60.0) -> Server:
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()


def open_share_link(port: int) -> str:
    """A public Gradio share link tunnelled to this machine's loopback port (the Guard in front
    of the app still asks for the key there)."""
    import secrets

    from gradio import networking

    return networking.setup_tunnel(
        local_host="127.0.0.1",
        local_port=port,
        share_token=secrets.token_urlsafe(32),
        share_server_address=None,
        share_server_tls_certificate=None,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound now so a busy port is a clear error before the model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise TwinError(
            f"cannot listen on {host}:{port} ({e.strerror}); pick another --port"
        ) from e
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
