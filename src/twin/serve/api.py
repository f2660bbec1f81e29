"""An OpenAI-compatible API for the twin: `GET /v1/models`, `POST /v1/chat/completions`.

Any OpenAI client (the official SDKs, chat front-ends, LangChain…) can talk to the twin by
pointing its base URL at `http://HOST:PORT/v1`. Compatible where it matters:
- streaming as server-sent events (`data: {chunk}` lines, then `data: [DONE]`), non-streaming as one
  JSON body, `usage` in both (with `stream_options.include_usage`);
- errors as `{"error": {"message", "type", "param", "code"}}` with a 4xx status for anything a
  client got wrong — a malformed request never becomes a 500;
- `Authorization: Bearer KEY` when a key is set (always, when bound beyond loopback).
One model answers one request at a time: requests wait in a first-come queue (one worker thread),
and are refused with 503 when the queue is full rather than piling up without bound.

The twin keeps the persona it was trained with: client `system` messages are ignored (the run's
own system prompt is used), and any `model` name is accepted (there is only one).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from twin.generate import Generator, Settings, _partial_stop, _stop_at

log = logging.getLogger("twin.serve")

MAX_BODY = 1 << 20  # bytes
ROLES = ("system", "developer", "user", "assistant")


class ApiError(Exception):
    """An error returned to the client as OpenAI's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = (
            status,
            message,
            param,
            code,
            kind,
        )

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass
class ChatRequest:
    history: list[dict]
    settings: Settings
    stream: bool
    stops: list[str]
    include_usage: bool


def _number(body: dict, key: str, lo: float, hi: float, default):
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ApiError(400, f"'{key}' must be a number from {lo} to {hi}", key, "invalid_value")
    return float(value)


def _content(value, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        out = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(400, f"{where}: only text content parts are supported", where)
            if not isinstance(part.get("text"), str):
                raise ApiError(400, f"{where}: a text part needs a 'text' string", where)
            out.append(part["text"])
        return "".join(out)
    raise ApiError(400, f"{where}: 'content' must be a string or a list of text parts", where)


def parse_request(raw: bytes, defaults: Settings, max_input_chars: int, max_tokens: int):
    """A ChatRequest from a request body, or ApiError(4xx) saying what is wrong."""
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"request body over {MAX_BODY} bytes", None, "body_too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON ({e})", None, "invalid_json") from e
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", None, "invalid_json")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list", "messages", "missing_messages")
    if "model" in body and not isinstance(body["model"], str):
        raise ApiError(400, "'model' must be a string", "model", "invalid_type")
    history = []
    total = 0
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(400, f"{where} must be an object", where, "invalid_type")
        role = m.get("role")
        if role not in ROLES:
            raise ApiError(
                400,
                f"{where}.role must be one of {', '.join(ROLES)} (tools are not supported), not {role!r}",
                f"{where}.role",
                "invalid_value",
            )
        content = _content(m.get("content"), f"{where}.content")
        total += len(content)
        if role in ("user", "assistant"):
            history.append({"role": role, "content": content})
    if not history or history[-1]["role"] != "user":
        raise ApiError(400, "the last message must be from the user", "messages", "invalid_value")
    last = len(history[-1]["content"])
    if last > max_input_chars or total > 20 * max_input_chars:
        raise ApiError(
            400,
            f"input too long: the last message has {last} characters (limit {max_input_chars}), "
            f"all messages {total} (limit {20 * max_input_chars})",
            "messages",
            "input_too_long",
        )
    for key in ("tools", "functions"):
        if body.get(key):
            raise ApiError(400, f"'{key}' is not supported by this server", key, "unsupported")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type", "text") != "text"):
        raise ApiError(
            400, "only the text response format is supported", "response_format", "unsupported"
        )
    n = body.get("n", 1)
    if n != 1 or isinstance(n, bool):
        raise ApiError(400, "'n' must be 1", "n", "unsupported")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", "stream", "invalid_type")
    opts = body.get("stream_options") or {}
    if not isinstance(opts, dict):
        raise ApiError(400, "'stream_options' must be an object", "stream_options", "invalid_type")
    cap = defaults.max_new_tokens
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_tokens:
            raise ApiError(
                400, f"'{key}' must be an integer from 1 to {max_tokens}", key, "invalid_value"
            )
        cap = value
        break
    stops = body.get("stop")
    if stops is None:
        stops = []
    elif isinstance(stops, str):
        stops = [stops]
    if (
        not isinstance(stops, list)
        or len(stops) > 4
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise ApiError(
            400, "'stop' must be a string or a list of up to 4 strings", "stop", "invalid_value"
        )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "'seed' must be an integer", "seed", "invalid_type")
    for key in ("presence_penalty", "frequency_penalty"):  # accepted, not used
        _number(body, key, -2.0, 2.0, 0.0)
    temperature = _number(body, "temperature", 0.0, 2.0, defaults.temperature)
    top_p = _number(body, "top_p", 0.0, 1.0, defaults.top_p)
    if top_p == 0:  # only the most likely token survives: greedy
        temperature, top_p = 0.0, 1.0
    settings = Settings(
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=cap,
        repetition_penalty=_number(
            body, "repetition_penalty", 0.01, 10.0, defaults.repetition_penalty
        ),
        seed=seed,
    )
    return ChatRequest(history, settings, stream, stops, bool(opts.get("include_usage")))


def _cut_stops(pieces: Iterator[str], stops: list[str], hit: list[str]) -> Iterator[str]:
    """The pieces up to the first client stop string (text that may start one is held back).

    Appends the stop string found to `hit`.
    """
    pending = ""
    for piece in pieces:
        pending += piece
        cut = _stop_at(pending, stops)
        if cut is not None:
            if pending[:cut]:
                yield pending[:cut]
            hit.append(pending[cut:])
            return
        keep = _partial_stop(pending, stops)
        if len(pending) > keep:
            yield pending[: len(pending) - keep]
            pending = pending[len(pending) - keep :]
    if pending:
        yield pending


class ChatService:
    """Runs requests one at a time on the model, first come first served."""

    def __init__(self, gen: Generator, model_id: str, max_pending: int = 64) -> None:
        self.gen = gen
        self.model_id = model_id
        self.created = int(time.time())
        self.max_pending = max_pending
        self._pending = 0
        self._count_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twin-gen")

    def shutdown(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def tokens(self, text: str) -> int:
        return len(self.gen.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def pieces(self, req: ChatRequest, usage: dict) -> AsyncIterator[str]:
        """The reply's pieces as they come; `usage` is filled in when it ends."""
        with self._count_lock:
            if self._pending >= self.max_pending:
                raise ApiError(
                    503,
                    "the server is busy; try again shortly",
                    None,
                    "server_busy",
                    "server_error",
                )
            self._pending += 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def put(item) -> None:
            # RuntimeError: the event loop is gone, the server is stopping
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                if cancel.is_set():
                    return
                usage["prompt_tokens"] = len(
                    self.gen.prompt_ids(req.history, req.settings.max_new_tokens)
                )
                stream = self.gen.stream(req.history, req.settings)
                reply = ""
                hit: list[str] = []
                try:
                    for piece in _cut_stops(stream, req.stops, hit):
                        reply += piece
                        put(("piece", piece))
                        if cancel.is_set():
                            break
                finally:
                    stream.close()
                n = self.tokens(reply)
                usage["completion_tokens"] = n
                usage["total_tokens"] = usage["prompt_tokens"] + n
                # counted by re-tokenizing the reply: the engines do not report their count
                usage["finish_reason"] = (
                    "length" if n >= req.settings.max_new_tokens and not hit else "stop"
                )
            except BaseException as e:
                put(("error", e))
            finally:
                put(("end", None))

        try:
            self._worker.submit(work)
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    log.error("generation failed: %s: %s", type(value).__name__, str(value)[:200])
                    raise ApiError(
                        500,
                        "generation failed; the server log has the reason",
                        None,
                        "generation_failed",
                        "server_error",
                    )
                yield value
        finally:
            cancel.set()
            with self._count_lock:
                self._pending -= 1


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _sse(data) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def add_api(app, gen: Generator, model_id: str, api_key: str | None, max_input_chars: int):
    """Add the /v1 routes to a FastAPI app; returns the ChatService (shut it down on exit)."""
    service = ChatService(gen, model_id)
    defaults = gen.defaults()
    max_tokens = max(defaults.max_new_tokens, min(4096, max(64, gen.context // 2)))

    def error_response(e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse(e.body(), status_code=e.status, headers=headers)

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), api_key.encode()
        ):
            raise ApiError(
                401,
                "missing or incorrect API key; send it as 'Authorization: Bearer KEY'",
                None,
                "invalid_api_key",
            )

    def model_card() -> dict:
        return {
            "id": model_id,
            "object": "model",
            "created": service.created,
            "owned_by": "twin",
        }

    async def list_models(request: Request):
        try:
            check_key(request)
        except ApiError as e:
            return error_response(e)
        return {"object": "list", "data": [model_card()]}

    async def get_model(request: Request, model: str):
        try:
            check_key(request)
        except ApiError as e:
            return error_response(e)
        if model != model_id:
            return error_response(
                ApiError(404, f"no model {model!r}; this server has {model_id!r}", "model",
                         "model_not_found")
            )  # fmt: skip
        return model_card()

    async def chat_completions(request: Request):
        try:
            check_key(request)
            req = parse_request(await request.body(), defaults, max_input_chars, max_tokens)
        except ApiError as e:
            return error_response(e)
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        usage: dict = {}
        if not req.stream:
            try:
                reply = "".join([p async for p in service.pieces(req, usage)])
            except ApiError as e:
                return error_response(e)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model_id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.strip()},
                        "logprobs": None,
                        "finish_reason": usage.get("finish_reason", "stop"),
                    }
                ],
                "usage": _usage(usage),
            }

        pieces = service.pieces(req, usage)
        try:  # wait for the first piece so a busy server is a 503, not a broken stream
            first = await anext(pieces)
        except StopAsyncIteration:
            first = None
        except ApiError as e:
            return error_response(e)

        async def events() -> AsyncIterator[bytes]:
            yield _sse(_chunk(cid, created, model_id, {"role": "assistant", "content": ""}, None))
            try:
                if first is not None:
                    yield _sse(_chunk(cid, created, model_id, {"content": first}, None))
                    async for piece in pieces:
                        yield _sse(_chunk(cid, created, model_id, {"content": piece}, None))
            except ApiError as e:
                yield _sse(e.body())
                yield _sse("[DONE]")
                return
            finally:
                await pieces.aclose()
            finish = usage.get("finish_reason", "stop")
            yield _sse(_chunk(cid, created, model_id, {}, finish))
            if req.include_usage:
                chunk = _chunk(cid, created, model_id, {}, None)
                chunk["choices"] = []
                chunk["usage"] = _usage(usage)
                yield _sse(chunk)
            yield _sse("[DONE]")

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    known = {"/v1/models": ("GET",), "/v1/chat/completions": ("POST",)}

    async def fallback(request: Request, rest: str):
        path = f"/v1/{rest}".rstrip("/")
        if path in known:
            e = ApiError(
                405, f"{request.method} is not allowed on {path}", None, "method_not_allowed"
            )
            return JSONResponse(
                e.body(), status_code=405, headers={"Allow": ", ".join(known[path])}
            )
        return error_response(ApiError(404, f"no such endpoint: {path}", None, "not_found"))

    app.add_api_route("/v1/models", list_models, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/v1/models/{model:path}", get_model, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(
        "/v1/chat/completions", chat_completions, methods=["POST"], include_in_schema=False
    )
    app.add_api_route(
        "/v1/{rest:path}",
        fallback,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    return service


def _usage(usage: dict) -> dict:
    return {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
    }
