"""The one door in front of every route of `twin serve`: the key, the Host header, body size.

It wraps the whole app (an ASGI middleware), so the page, Gradio's own API (`/config`,
`/gradio_api/...`: queue, call, info, file, upload) and `/v1` are guarded alike, and a route
added by a future Gradio cannot slip past it.

- The key: once set (always when the server is reachable from other machines or shared), every
  request needs it, either as `Authorization: Bearer KEY` (API clients) or as the cookie the
  login form sets (a friend opening the page types the key once; the cookie holds an HMAC of
  the key, not the key).
- Uploads: the chat page needs none, so Gradio's upload routes are refused outright.
- Host: bound to loopback, only loopback Host headers are answered, so a web page that points
  its own domain name at 127.0.0.1 (DNS rebinding) cannot read the twin from a visitor's browser.
- Body size: a declared Content-Length over the limit is refused before anything is read, and
  a chunked body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
from urllib.parse import parse_qs, quote

from twin.serve.texts import text

LOGIN_PATH = "/twin-login"
COOKIE = "twin_session"
MAX_BODY = 1 << 20  # bytes: a chat message is a few kB; only uploads would need more
MAX_LOGIN_BODY = 4096
UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/upload_progress")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def session_token(key: str) -> str:
    """The cookie value for `key`: proves the key was typed without being the key."""
    return hmac.new(key.encode(), b"twin-session-1", hashlib.sha256).hexdigest()


def bearer_matches(authorization: str, key: str) -> bool:
    """Whether an Authorization header is `Bearer KEY` (compared in constant time)."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode())


def host_name(host_header: str) -> str:
    """The name part of a Host header (`[::1]:7860` -> `::1`, `a.b:80` -> `a.b`)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware; `key` None means open (allowed only on loopback, see check_options)."""

    def __init__(
        self,
        app,
        key: str | None = None,
        loopback_hosts_only: bool = True,
        lang: str = "en",
        max_body: int = MAX_BODY,
        max_upload: int = 0,
    ) -> None:
        self.app = app
        self.key = key
        self.token = session_token(key) if key else None
        self.loopback_hosts_only = loopback_hosts_only
        self.lang = lang
        self.max_body = max_body
        # 0: Gradio's upload routes are refused (the chat page takes no files); the studio
        # takes export files and allows them up to this many bytes.
        self.max_upload = max_upload

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "")
        refusal = self._refusal(scope, headers, path)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await refusal(send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if self.key and path == LOGIN_PATH:
            await self._login(scope, receive, send)
            return
        await self._capped(scope, receive, send, headers)

    def _refusal(self, scope, headers: dict, path: str):
        """A coroutine function that sends the refusal, or None to let the request in."""
        if self.loopback_hosts_only and host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
            return _plain(403, "this server answers only to localhost / 127.0.0.1")
        if path.rstrip("/") in UPLOAD_PATHS and not self.max_upload:
            return _plain(403, "uploads are disabled on this server")
        declared = headers.get("content-length", "")
        limit = self._limit(path)
        if declared.isdigit() and int(declared) > limit:
            return _error(path, 413, f"request body over {limit} bytes", "body_too_large")
        if not self.key or self._authorized(headers) or path == LOGIN_PATH:
            return None
        if path.startswith("/v1"):
            return _error(
                path,
                401,
                "missing or incorrect API key; send it as 'Authorization: Bearer KEY'",
                "invalid_api_key",
            )
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            return self._login_page(path, wrong=False)
        return _error(path, 401, "this server needs its key", "invalid_api_key")

    def _limit(self, path: str) -> int:
        return self.max_upload if path.rstrip("/") in UPLOAD_PATHS else self.max_body

    def _authorized(self, headers: dict) -> bool:
        if bearer_matches(headers.get("authorization", ""), str(self.key)):
            return True
        cookie = _cookies(headers.get("cookie", "")).get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), str(self.token).encode())

    def _login_page(self, next_path: str, wrong: bool):
        t = self.lang
        note = f'<p class="wrong">{html.escape(text(t, "login_wrong"))}</p>' if wrong else ""
        page = LOGIN_HTML.format(
            title=html.escape(text(t, "login_title")),
            prompt=html.escape(text(t, "login_prompt")),
            button=html.escape(text(t, "login_button")),
            action=LOGIN_PATH,
            next=html.escape(next_path, quote=True),
            note=note,
        ).encode()
        return _respond(401, page, "text/html; charset=utf-8")

    async def _login(self, scope, receive, send) -> None:
        """GET: the form. POST key=…&next=…: the cookie and back to the page, or the form again."""
        if scope.get("method") != "POST":
            await self._login_page("/", wrong=False)(send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                await _plain(413, "login form too large")(send)
                return
            if not message.get("more_body"):
                break
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("key") or [""])[0]
        next_path = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), str(self.key).encode()):
            await asyncio.sleep(0.5)  # slows guessing down
            await self._login_page(next_path, wrong=True)(send)
            return
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Lax"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", quote(next_path, safe="/?=&%:").encode()),
                    (b"set-cookie", cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _capped(self, scope, receive, send, headers: dict) -> None:
        """Run the app with the body cut off past `max_body`; then it gets a 413 instead."""
        seen = 0
        over = False
        started = False
        limit = self._limit(scope.get("path", ""))

        async def capped_receive():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}  # the app stops reading
            return message

        async def guarded_send(message) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a body it never got whole is dropped
            started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            path = scope.get("path", "")
            await _error(path, 413, f"request body over {limit} bytes", "body_too_large")(send)


def _headers(scope) -> dict:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        out[key] = out.get(key, "") + ("; " if key in out else "") + value.decode("latin-1")
    return out


def _cookies(header: str) -> dict:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        out.setdefault(name, value)
    return out


def _safe_next(path: str) -> str:
    """Only a path on this server: never `//elsewhere` or `https://elsewhere`."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _respond(status: int, body: bytes, content_type: str, extra: list | None = None):
    async def sender(send) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return sender


def _plain(status: int, message: str):
    return _respond(status, message.encode(), "text/plain; charset=utf-8")


def _error(path: str, status: int, message: str, code: str):
    """OpenAI's error body under /v1, FastAPI's `detail` body elsewhere."""
    if path.startswith("/v1"):
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    else:
        body = {"detail": message}
    extra = [(b"www-authenticate", b"Bearer")] if status == 401 else None
    return _respond(status, json.dumps(body).encode(), "application/json", extra)


LOGIN_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem}}
input{{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.5rem 0}}
button{{font-size:1.1rem;padding:.5rem 1.5rem}}.wrong{{color:#b00}}</style></head>
<body><h1>{title}</h1><p>{prompt}</p>{note}
<form method="post" action="{action}"><input type="hidden" name="next" value="{next}">
<input type="password" name="key" autocomplete="current-password" autofocus required>
<button type="submit">{button}</button></form></body></html>
"""
