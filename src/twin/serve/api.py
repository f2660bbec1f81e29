"""An OpenAI-compatible API for the twin: `GET /v1/models`, `POST /v1/chat/completions`.

Any OpenAI client (the official SDKs, chat front-ends, LangChain…) can talk to the twin by
pointing its base URL at `http://HOST:PORT/v1`. Compatible where it matters:
- streaming as server-sent events (`data: {chunk}` lines, then `data: [DONE]`), non-streaming as one
  JSON body, `usage` in both (with `stream_options.include_usage`);
- errors as `{"error": {"message", "type", "param", "code"}}` with a 4xx status for anything a
  client got wrong — a malformed request never becomes a 500;
- `Authorization: Bearer KEY` when a key is set (always, when bound beyond loopback); the key,
  the Host header and the body size are checked for every route by `twin.serve.guard`, and again
  here by the router's dependency;
- a client that disconnects cancels its generation, streaming or not.
One model answers one request at a time: requests wait in a first-come queue (one worker thread),
and are refused with 503 when the queue is full rather than piling up without bound.

The twin keeps the persona it was trained with: client `system` messages are ignored (the run's
own system prompt is used), and any `model` name is accepted (there is only one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from twin.generate import Generator, Settings, cut_at_stops
from twin.serve.config import MAX_MESSAGES
from twin.serve.guard import bearer_matches

log = logging.getLogger("twin.serve")

ROLES = ("system", "developer", "user", "assistant")
SEED_RANGE = (-(1 << 63), (1 << 64) - 1)  # what torch.manual_seed accepts


class ApiError(Exception):
    """An error returned to the client as OpenAI's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers
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


class ClientGone(Exception):
    """The client disconnected before its reply was ready."""


@dataclass
class ChatRequest:
    history: list[dict]
    settings: Settings
    stream: bool
    stops: list[str]
    include_usage: bool


@dataclass
class Limits:
    max_input_chars: int  # the last message
    max_total_chars: int  # all messages
    max_tokens: int  # max_tokens a client may ask for
    max_messages: int = MAX_MESSAGES


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


def _json_object(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply", None, "invalid_json") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON ({e})", None, "invalid_json") from e
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", None, "invalid_json")
    return body


def _history(body: dict, limits: Limits) -> list[dict]:
    """The user/assistant turns of `messages`, checked against the limits."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list", "messages", "missing_messages")
    if len(messages) > limits.max_messages:
        raise ApiError(
            400,
            f"too many messages: {len(messages)} (limit {limits.max_messages}); "
            "send only the recent part of the conversation",
            "messages",
            "too_many_messages",
        )
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
    if last > limits.max_input_chars or total > limits.max_total_chars:
        raise ApiError(
            400,
            f"input too long: the last message has {last} characters (limit "
            f"{limits.max_input_chars}), all messages {total} (limit {limits.max_total_chars})",
            "messages",
            "input_too_long",
        )
    return history


def _unsupported(body: dict) -> None:
    if "model" in body and not isinstance(body["model"], str):
        raise ApiError(400, "'model' must be a string", "model", "invalid_type")
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


def _stops(body: dict) -> list[str]:
    stops = body.get("stop")
    if stops is None:
        return []
    if isinstance(stops, str):
        stops = [stops]
    if (
        not isinstance(stops, list)
        or len(stops) > 4
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise ApiError(
            400, "'stop' must be a string or a list of up to 4 strings", "stop", "invalid_value"
        )
    return stops


def _settings(body: dict, defaults: Settings, max_tokens: int) -> Settings:
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
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "'seed' must be an integer", "seed", "invalid_type")
    if seed is not None and not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise ApiError(400, "'seed' must fit in 64 bits", "seed", "invalid_value")
    for key in ("presence_penalty", "frequency_penalty"):  # accepted, not used
        _number(body, key, -2.0, 2.0, 0.0)
    temperature = _number(body, "temperature", 0.0, 2.0, defaults.temperature)
    top_p = _number(body, "top_p", 0.0, 1.0, defaults.top_p)
    if top_p == 0:  # only the most likely token survives: greedy
        temperature, top_p = 0.0, 1.0
    return Settings(
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=cap,
        repetition_penalty=_number(
            body, "repetition_penalty", 0.01, 10.0, defaults.repetition_penalty
        ),
        seed=seed,
    )


def parse_request(raw: bytes, defaults: Settings, limits: Limits) -> ChatRequest:
    """A ChatRequest from a request body, or ApiError(4xx) saying what is wrong."""
    body = _json_object(raw)
    history = _history(body, limits)
    _unsupported(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", "stream", "invalid_type")
    opts = body.get("stream_options") or {}
    if not isinstance(opts, dict):
        raise ApiError(400, "'stream_options' must be an object", "stream_options", "invalid_type")
    settings = _settings(body, defaults, limits.max_tokens)
    return ChatRequest(history, settings, stream, _stops(body), bool(opts.get("include_usage")))


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

    def _generate(self, req: ChatRequest, usage: dict, put, cancel: threading.Event) -> None:
        """Runs on the worker thread: the reply's pieces go to `put` until done or cancelled."""
        if cancel.is_set():  # the client left while the request waited its turn
            return
        ids = self.gen.prompt_ids(req.history, req.settings.max_new_tokens)
        usage["prompt_tokens"] = len(ids)
        stream = self.gen.stream(req.history, req.settings, prompt=ids)
        reply = ""
        hit: list[str] = []
        try:
            for piece in cut_at_stops(stream, req.stops, hit):
                reply += piece
                put(("piece", piece))
                if cancel.is_set():
                    break
        finally:
            stream.close()  # stops the model at its next token
        n = self.tokens(reply)  # the engines do not report their count
        usage["completion_tokens"] = n
        usage["total_tokens"] = usage["prompt_tokens"] + n
        usage["finish_reason"] = (
            "length" if n >= req.settings.max_new_tokens and not hit else "stop"
        )

    async def pieces(self, req: ChatRequest, usage: dict) -> AsyncIterator[str]:
        """The reply's pieces as they come; `usage` is filled in when it ends.

        Closing this iterator early (the client left) cancels the generation.
        """
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
                self._generate(req, usage, put, cancel)
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


def _usage(usage: dict) -> dict:
    return {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
    }


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body has been read: only that can come now)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_gone(request: Request, awaitable):
    """The awaitable's result; ClientGone (and the awaitable cancelled) if the client leaves."""
    task = asyncio.ensure_future(awaitable)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ApiError):
        await task
    raise ClientGone


def key_dependency(api_key: str | None):
    """A dependency that refuses a request without `Authorization: Bearer KEY`."""

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        if not bearer_matches(request.headers.get("authorization", ""), api_key):
            raise ApiError(
                401,
                "missing or incorrect API key; send it as 'Authorization: Bearer KEY'",
                None,
                "invalid_api_key",
            )

    return check_key


async def api_error_response(request: Request, e: Exception) -> Response:
    """The one error handler: an ApiError as OpenAI's error body."""
    if isinstance(e, ClientGone):
        return Response(status_code=499)  # nobody reads it
    assert isinstance(e, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else e.headers
    return JSONResponse(e.body(), status_code=e.status, headers=headers)


class Completions:
    """The handler of POST /v1/chat/completions, streaming or not."""

    def __init__(self, service: ChatService, defaults: Settings, limits: Limits) -> None:
        self.service, self.defaults, self.limits = service, defaults, limits

    async def __call__(self, request: Request):
        req = parse_request(await request.body(), self.defaults, self.limits)
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        usage: dict = {}
        if not req.stream:
            reply = await unless_gone(request, self._collect(req, usage))
            return self._body(cid, reply, usage)
        pieces = self.service.pieces(req, usage)
        try:  # wait for the first piece so a busy server is a 503, not a broken stream
            first = await unless_gone(request, anext(pieces, None))
        except BaseException:
            await pieces.aclose()
            raise
        return StreamingResponse(
            self._events(cid, req, usage, first, pieces),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _collect(self, req: ChatRequest, usage: dict) -> str:
        pieces = self.service.pieces(req, usage)
        try:
            return "".join([p async for p in pieces])
        finally:
            await pieces.aclose()

    def _body(self, cid: str, reply: str, usage: dict) -> dict:
        return {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.service.model_id,
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

    async def _events(self, cid, req, usage, first, pieces) -> AsyncIterator[bytes]:
        created, model = int(time.time()), self.service.model_id
        yield _sse(_chunk(cid, created, model, {"role": "assistant", "content": ""}, None))
        try:
            if first is not None:
                yield _sse(_chunk(cid, created, model, {"content": first}, None))
                async for piece in pieces:
                    yield _sse(_chunk(cid, created, model, {"content": piece}, None))
        except ApiError as e:
            yield _sse(e.body())
            yield _sse("[DONE]")
            return
        finally:
            await pieces.aclose()  # also when the client left mid-stream: cancels generation
        yield _sse(_chunk(cid, created, model, {}, usage.get("finish_reason", "stop")))
        if req.include_usage:
            chunk = _chunk(cid, created, model, {}, None)
            chunk["choices"] = []
            chunk["usage"] = _usage(usage)
            yield _sse(chunk)
        yield _sse("[DONE]")


KNOWN = {"/v1/models": "GET", "/v1/chat/completions": "POST"}


def api_router(service: ChatService, api_key: str | None, defaults: Settings, limits: Limits):
    """The /v1 routes, each behind the key."""
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(key_dependency(api_key))], include_in_schema=False
    )
    model_id = service.model_id

    def model_card() -> dict:
        return {"id": model_id, "object": "model", "created": service.created, "owned_by": "twin"}

    @router.get("/models")
    async def list_models():
        return {"object": "list", "data": [model_card()]}

    @router.get("/models/{model:path}")
    async def get_model(model: str):
        if model != model_id:
            raise ApiError(
                404, f"no model {model!r}; this server has {model_id!r}", "model", "model_not_found"
            )
        return model_card()

    router.add_api_route(
        "/chat/completions", Completions(service, defaults, limits), methods=["POST"]
    )

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def fallback(request: Request, rest: str):
        path = f"/v1/{rest}".rstrip("/")
        if path in KNOWN:
            raise ApiError(
                405,
                f"{request.method} is not allowed on {path}",
                None,
                "method_not_allowed",
                headers={"Allow": KNOWN[path]},
            )
        raise ApiError(404, f"no such endpoint: {path}", None, "not_found")

    return router


def add_api(app, gen: Generator, model_id: str, api_key: str | None, max_input_chars: int):
    """Add the /v1 routes to a FastAPI app; returns the ChatService (shut it down on exit)."""
    service = ChatService(gen, model_id)
    defaults = gen.defaults()
    limits = Limits(
        max_input_chars=max_input_chars,
        max_total_chars=20 * max_input_chars,
        max_tokens=max(defaults.max_new_tokens, min(4096, max(64, gen.context // 2))),
    )
    app.include_router(api_router(service, api_key, defaults, limits))
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(ClientGone, api_error_response)
    return service
