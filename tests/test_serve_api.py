"""The OpenAI-compatible API, tested with the official `openai` client against the tiny run.

Servers listen on a free port of 127.0.0.1 and are stopped when the module ends.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx
import openai
import pytest

from twin.generate import Generator, Settings
from twin.runs import read_run
from twin.serve.config import page_config
from twin.serve.server import ServeOptions, Server, bind, build_app

KEY = "test-key-123"


@pytest.fixture(scope="module")
def generator(tiny_run) -> Generator:
    return Generator(read_run(tiny_run))


def start(gen, *, page: bool = False, api_key: str | None = KEY, max_input_chars=None):
    info = gen.info
    cfg = page_config(info, max_input_chars=max_input_chars)
    app, close = build_app(
        gen, cfg, ServeOptions(port=0, page=page, api=True, api_key=api_key, model_id="twin-bob")
    )
    server = Server(app, bind("127.0.0.1", 0)).start()
    return server, close


@pytest.fixture(scope="module")
def api(generator):
    server, close = start(generator)
    yield server.url
    server.stop()
    close()


def client(url: str, key: str = KEY, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, **kw)


HELLO = [{"role": "user", "content": "hello there"}]


def test_models_list(api):
    models = client(api).models.list()
    assert [m.id for m in models.data] == ["twin-bob"]
    assert models.data[0].owned_by == "twin"


def test_completion(api, generator):
    r = client(api).chat.completions.create(
        model="twin-bob", messages=HELLO, temperature=0, max_tokens=12
    )
    choice = r.choices[0]
    assert r.object == "chat.completion" and r.model == "twin-bob"
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.total_tokens >= r.usage.prompt_tokens
    # the API answers exactly what the generator answers (greedy)
    expected = generator.reply(HELLO, Settings(temperature=0, max_new_tokens=12))
    assert choice.message.content == expected


def test_streamed_completion_matches_plain(api):
    c = client(api)
    plain = c.chat.completions.create(
        model="anything", messages=HELLO, temperature=0, max_tokens=16
    )
    chunks = list(
        c.chat.completions.create(
            model="anything",
            messages=HELLO,
            temperature=0,
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.strip() == plain.choices[0].message.content
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert finishes[-1] in ("stop", "length") and all(f is None for f in finishes[:-1])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 0


def test_raw_sse_ends_with_done(api):
    body = {"messages": HELLO, "stream": True, "max_tokens": 4}
    with httpx.stream(
        "POST",
        f"{api}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_key_is_required(api):
    with pytest.raises(openai.AuthenticationError) as e:
        client(api, key="wrong").chat.completions.create(model="m", messages=HELLO)
    assert e.value.status_code == 401
    assert e.value.body["code"] == "invalid_api_key"
    r = httpx.get(f"{api}/v1/models")  # no Authorization header at all
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_bad_request_through_the_client(api):
    with pytest.raises(openai.BadRequestError) as e:
        client(api).chat.completions.create(model="m", messages=[])
    assert e.value.status_code == 400
    assert e.value.body["param"] == "messages"


LONG = "x" * 5000
MALFORMED = [
    ("not json", b"{", 400),
    ("array", b"[]", 400),
    ("no messages", {"model": "m"}, 400),
    ("empty messages", {"messages": []}, 400),
    ("message not object", {"messages": ["hi"]}, 400),
    ("bad role", {"messages": [{"role": "robot", "content": "hi"}]}, 400),
    ("tool role", {"messages": [{"role": "tool", "content": "hi"}]}, 400),
    ("content number", {"messages": [{"role": "user", "content": 5}]}, 400),
    (
        "image part",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        400,
    ),
    ("ends with assistant", {"messages": [{"role": "assistant", "content": "hi"}]}, 400),
    ("temperature text", {"messages": HELLO, "temperature": "hot"}, 400),
    ("temperature high", {"messages": HELLO, "temperature": 7}, 400),
    ("temperature bool", {"messages": HELLO, "temperature": True}, 400),
    ("top_p high", {"messages": HELLO, "top_p": 1.5}, 400),
    ("max_tokens zero", {"messages": HELLO, "max_tokens": 0}, 400),
    ("max_tokens text", {"messages": HELLO, "max_tokens": "10"}, 400),
    ("max_tokens huge", {"messages": HELLO, "max_tokens": 10**9}, 400),
    ("n two", {"messages": HELLO, "n": 2}, 400),
    ("stream text", {"messages": HELLO, "stream": "yes"}, 400),
    ("stop five", {"messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, 400),
    ("stop number", {"messages": HELLO, "stop": 3}, 400),
    ("seed text", {"messages": HELLO, "seed": "x"}, 400),
    ("model number", {"messages": HELLO, "model": 3}, 400),
    ("tools", {"messages": HELLO, "tools": [{"type": "function"}]}, 400),
    ("json mode", {"messages": HELLO, "response_format": {"type": "json_object"}}, 400),
    ("too long", {"messages": [{"role": "user", "content": LONG}]}, 400),
    ("huge body", b'{"messages": "' + b"x" * (1 << 20) + b'"}', 413),
    ("nested deep", b"[" * 100_000 + b"]" * 100_000, 400),
    ("nested deep object", b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
    ("seed 2**70", {"messages": HELLO, "seed": 2**70}, 400),
    ("too many messages", {"messages": [*[{"role": "user", "content": "hi"}] * 300]}, 400),
    ("too many characters", {"messages": [*[{"role": "user", "content": "y" * 1999}] * 25]}, 400),
]


@pytest.mark.parametrize(("what", "body", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_4xx_json(api, what, body, status):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(
        f"{api}/v1/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_wrong_method_and_unknown_path(api):
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.get(f"{api}/v1/chat/completions", headers=auth)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = httpx.post(f"{api}/v1/completions", headers=auth, json={})
    assert r.status_code == 404 and "error" in r.json()
    r = httpx.get(f"{api}/v1/models/other", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_load_16_clients_x_5_requests(api):
    """Every request answered, none lost; latency percentiles printed."""
    clients, per_client = 16, 5
    latencies: list[float] = []
    ids: list[str] = []

    async def one_client(n: int) -> None:
        c = openai.AsyncOpenAI(base_url=f"{api}/v1", api_key=KEY, max_retries=0, timeout=120)
        async with c:
            for i in range(per_client):
                msg = [{"role": "user", "content": f"hello there {n} {i}"}]
                t0 = time.perf_counter()
                if (n + i) % 2:
                    stream = await c.chat.completions.create(
                        model="m", messages=msg, max_tokens=8, stream=True
                    )
                    got_id = None
                    async for chunk in stream:
                        got_id = chunk.id
                    assert got_id
                    ids.append(got_id)
                else:
                    r = await c.chat.completions.create(model="m", messages=msg, max_tokens=8)
                    assert r.choices[0].message.content is not None
                    ids.append(r.id)
                latencies.append(time.perf_counter() - t0)

    async def main() -> None:
        await asyncio.gather(*(one_client(n) for n in range(clients)))

    start = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - start
    assert len(latencies) == clients * per_client
    assert len(set(ids)) == clients * per_client  # none lost, none answered twice
    q = statistics.quantiles(latencies, n=100)
    print(
        f"\nload: {clients}x{per_client} requests in {wall:.1f}s; latency "
        f"p50 {q[49] * 1000:.0f} ms, p90 {q[89] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


class FakeGen:
    """A stand-in engine with scripted pieces, to test what the model cannot be made to do."""

    def __init__(self, info, pieces, fail_after=None, tokenizer=None, delay=0.0):
        self.info, self.pieces, self.fail_after = info, pieces, fail_after
        self.tokenizer = tokenizer
        self.context = 512
        self.delay = delay
        self.prompts: list = []  # (prompt_ids calls so far, the prompt stream() was given)
        self.calls = 0
        self.closed = __import__("threading").Event()

    def defaults(self) -> Settings:
        return Settings(max_new_tokens=32)

    def prompt_ids(self, history, max_new_tokens):
        self.calls += 1
        return [1, 2, 3]

    def stream(self, history, settings=None, prompt=None):
        self.prompts.append((self.calls, prompt))
        try:
            for i, piece in enumerate(self.pieces):
                if self.fail_after is not None and i >= self.fail_after:
                    raise RuntimeError("generation failed: out of memory")
                time.sleep(self.delay)
                yield piece
        finally:
            self.closed.set()


@pytest.fixture
def fake_api(generator):
    servers = []

    def make(pieces, fail_after=None, delay=0.0, with_gen=False):
        gen = FakeGen(generator.info, pieces, fail_after, generator.tokenizer, delay)
        server, close = start(gen, api_key=None)
        servers.append((server, close))
        return (server.url, gen) if with_gen else server.url

    yield make
    for server, close in servers:
        server.stop()
        close()


def test_client_stop_strings(fake_api):
    url = fake_api(["Hel", "lo wo", "rld, ", "bye"])
    c = client(url, key="unused")
    r = c.chat.completions.create(model="m", messages=HELLO, stop=["wor"])
    assert r.choices[0].message.content == "Hello"
    chunks = c.chat.completions.create(model="m", messages=HELLO, stop="ld,", stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "Hello wor"


def test_generation_failure_is_a_json_error(fake_api):
    url = fake_api(["a", "b", "c"], fail_after=0)
    with pytest.raises(openai.InternalServerError) as e:
        client(url, key="unused").chat.completions.create(model="m", messages=HELLO)
    assert e.value.body["code"] == "generation_failed"
    assert "out of memory" not in json.dumps(e.value.body)  # details stay in the server log
    url = fake_api(["a", "b", "c"], fail_after=2)  # fails mid-stream: an error event, then DONE
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={"messages": HELLO, "stream": True}) as r:  # fmt: skip
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "generation_failed"


def test_the_prompt_is_rendered_once_per_request(fake_api):
    url, gen = fake_api(["hi"], with_gen=True)
    r = httpx.post(f"{url}/v1/chat/completions", json={"messages": HELLO})
    assert r.status_code == 200
    assert gen.prompts == [(1, [1, 2, 3])]  # prompt_ids once, its ids handed to stream()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_a_client_that_leaves_cancels_its_generation(fake_api, stream):
    url, gen = fake_api(["x"] * 4000, delay=0.02, with_gen=True)  # 80 s if nobody stops it
    body = {"messages": HELLO, "stream": stream, "max_tokens": 8}
    with httpx.Client(timeout=httpx.Timeout(5, read=1.0)) as c:
        if stream:  # reads the first event, then hangs up
            with c.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                assert next(r.iter_lines()).startswith("data: ")
        else:  # gives up waiting for the whole reply
            with pytest.raises(httpx.ReadTimeout):
                c.post(f"{url}/v1/chat/completions", json=body)
    assert gen.closed.wait(10), "generation ran on after the client left"
    gen.closed.clear()
    body["stream"] = True
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=5) as r:
        assert next(r.iter_lines()).startswith("data: ")  # the worker is free: no 155 s wait
    assert gen.closed.wait(10)


def _raw_request(url: str, head: str, body_chunks=(), wait: float = 10.0) -> bytes:
    """Send a request by hand (the body from a thread, as it may never be read); the reply."""
    import socket
    import threading
    from urllib.parse import urlparse

    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=wait)

    def send_body() -> None:
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server stopped reading: expected

    sock.sendall(head.replace("HOST", f"{u.hostname}:{u.port}").encode())
    threading.Thread(target=send_body, daemon=True).start()
    reply = b""
    try:
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    except TimeoutError:
        pass
    finally:
        sock.close()
    return reply


def test_an_oversized_body_is_refused_before_it_is_read(api):
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: HOST\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        "Content-Length: 314572800\r\n\r\n"
    )
    reply = _raw_request(api, head)  # declares 300 MB, sends none of it
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"body_too_large" in reply


def test_a_chunked_body_is_cut_off_at_the_limit(api):
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: HOST\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    reply = _raw_request(api, head, [chunk] * 40)  # 2.5 MB, and the body never ends
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_no_key_needed_on_loopback(fake_api):
    url = fake_api(["hi"])
    r = httpx.post(f"{url}/v1/chat/completions", json={"messages": HELLO})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hi"


def test_api_beyond_loopback_needs_a_key(twin, tiny_run, monkeypatch):
    monkeypatch.delenv("TWIN_API_KEY", raising=False)
    r = twin("serve", tiny_run, "--api", "--host", "0.0.0.0", "--api-key", "")
    assert r.code == 1 and "--api-key" in r.err
    r = twin("serve", tiny_run, "--api-only", "--host", "0.0.0.0")
    assert r.code == 1 and "--api-key" in r.err
    r = twin("serve", tiny_run, "--api", "--share")
    assert r.code == 1 and "--share" in r.err


def test_busy_port_is_a_clear_error(twin, tiny_run):
    sock = bind("127.0.0.1", 0)
    try:
        r = twin("serve", tiny_run, "--port", sock.getsockname()[1])
    finally:
        sock.close()
    assert r.code == 1 and "pick another --port" in r.err


def test_missing_llama_cpp_names_the_pip_command(monkeypatch, tiny_run):
    import sys

    from twin.errors import TwinError
    from twin.serve.engine import load_engine

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if not installed
    with pytest.raises(TwinError, match="pip install --no-warn-conflicts llama-cpp-python"):
        load_engine(read_run(tiny_run), "llamacpp")


def test_twin_serve_command_end_to_end(tiny_run):
    """`twin serve RUN --api --port 0` in its own process: answers, then stops on Ctrl+C."""
    import re
    import signal
    import subprocess
    import sys
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "serve", str(tiny_run), "--api", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "press Ctrl+C" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(120), "".join(lines)
        text = "".join(lines)
        page = re.search(r"chat page: (http://127\.0\.0\.1:\d+)/", text)
        api = re.search(r"OpenAI API: (http://127\.0\.0\.1:\d+/v1) \(model 'twin-bob', no key\)", text)  # fmt: skip
        assert page and api, text
        assert httpx.get(page.group(1) + "/", timeout=30).status_code == 200
        r = openai.OpenAI(
            base_url=api.group(1), api_key="none", max_retries=0
        ).chat.completions.create(  # fmt: skip
            model="twin-bob", messages=HELLO, max_tokens=4
        )
        assert r.choices[0].message.role == "assistant"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
