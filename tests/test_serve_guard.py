"""The key guards every route of `twin serve` (page, Gradio's API, /v1), and the Host header
is checked on loopback. The route table is walked, so a route a new Gradio adds is tried too."""

from __future__ import annotations

import re

import httpx
import pytest

from twin.generate import Settings
from twin.runs import read_run
from twin.serve.config import page_config
from twin.serve.guard import COOKIE, LOGIN_PATH, host_name
from twin.serve.server import ServeOptions, Server, bind, build_app

KEY = "guard-key-456"


class EchoGen:
    """Answers without a model: the guard, not generation, is under test."""

    def __init__(self, info, tokenizer):
        self.info, self.tokenizer, self.context = info, tokenizer, 512

    def defaults(self) -> Settings:
        return Settings(max_new_tokens=8)

    def prompt_ids(self, history, max_new_tokens):
        return [1]

    def stream(self, history, settings=None, prompt=None):
        yield "secret reply"


@pytest.fixture(scope="module")
def keyed(tiny_run):
    from transformers import AutoTokenizer

    info = read_run(tiny_run)
    gen = EchoGen(info, AutoTokenizer.from_pretrained(info.base().path))
    app, close = build_app(
        gen, page_config(info), ServeOptions(port=0, page=True, api=True, api_key=KEY)
    )
    server = Server(app, bind("127.0.0.1", 0)).start()
    yield server, app
    server.stop()
    close()


def _routes(routes, prefix=""):
    """(method, path) of every route, mounted apps included, path parameters filled in."""
    from starlette.routing import Mount

    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from _routes(included.routes, prefix + route.include_context.prefix)
            continue
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            yield from _routes(route.routes, path)
            yield "GET", path + "/x"
            continue
        filled = re.sub(r"\{[^}]+\}", "x", path) or "/"
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            yield method, filled


def test_every_route_needs_the_key(keyed):
    server, app = keyed
    tried = set(_routes(app.routes))
    paths = {p for _, p in tried}
    # the walk reaches the routes the issue names
    for needed in ("/", "/config", "/gradio_api/info", "/gradio_api/upload", "/v1/models"):
        assert needed in paths, sorted(paths)
    assert any(p.startswith("/gradio_api/call/") for p in paths)
    assert any(p.startswith("/gradio_api/queue/") for p in paths)
    assert any(p.startswith("/gradio_api/file") for p in paths)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for method, path in sorted(tried):
            if method in ("HEAD", "OPTIONS"):
                method = "GET"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE}=x"}):
                r = c.request(method, path, headers=headers, json={"data": ["hi"]})
                assert r.status_code in (401, 403), (method, path, r.status_code, r.text[:200])
                assert "secret reply" not in r.text
    assert len(tried) > 30


def test_gradio_call_answers_only_with_the_key(keyed):
    server, _ = keyed
    r = httpx.post(f"{server.url}/gradio_api/call/chat", json={"data": ["hi", []]})
    assert r.status_code == 401
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(f"{server.url}/gradio_api/call/chat", json={"data": ["hi", []]}, headers=auth)
    assert r.status_code == 200, r.text
    event = r.json()["event_id"]
    with httpx.stream(
        "GET", f"{server.url}/gradio_api/call/chat/{event}", headers=auth, timeout=30
    ) as r:
        assert "secret reply" in "".join(r.iter_text())


def test_uploads_are_refused_even_with_the_key(keyed):
    server, _ = keyed
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(
        f"{server.url}/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)}, headers=auth
    )
    assert r.status_code == 403


def test_a_friend_types_the_key_once(keyed):
    server, _ = keyed
    with httpx.Client(base_url=server.url, timeout=10) as c:
        r = c.get("/", headers={"Accept": "text/html"})
        assert r.status_code == 401 and 'name="key"' in r.text and LOGIN_PATH in r.text
        r = c.post(LOGIN_PATH, data={"key": "wrong", "next": "/"})
        assert r.status_code == 401 and COOKIE not in c.cookies
        r = c.post(LOGIN_PATH, data={"key": KEY, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # never off-site
        assert KEY not in r.headers["set-cookie"]  # the cookie proves the key, is not the key
        assert c.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert c.get("/config").status_code == 200
        assert c.get("/v1/models").status_code == 401  # API clients send the key itself


def test_a_long_body_is_refused_on_gradio_routes_too(keyed):
    server, _ = keyed
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(f"{server.url}/gradio_api/queue/join", content=b"x" * (2 << 20), headers=auth)
    assert r.status_code == 413


@pytest.fixture(scope="module")
def open_local(tiny_run):
    from transformers import AutoTokenizer

    info = read_run(tiny_run)
    gen = EchoGen(info, AutoTokenizer.from_pretrained(info.base().path))
    app, close = build_app(gen, page_config(info), ServeOptions(port=0, page=True, api=True))
    server = Server(app, bind("127.0.0.1", 0)).start()
    yield server
    server.stop()
    close()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_loopback_server_answers_only_loopback_host_names(open_local, host):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 gets nothing."""
    for path in ("/", "/config", "/v1/models", "/gradio_api/info"):
        r = httpx.get(f"{open_local.url}{path}", headers={"Host": host})
        assert r.status_code == 403, (path, r.status_code)
    for host in ("localhost", f"127.0.0.1:{open_local.port}", "[::1]:80"):
        assert httpx.get(f"{open_local.url}/v1/models", headers={"Host": host}).status_code == 200


def test_host_name():
    assert host_name("[::1]:7860") == "::1"
    assert host_name("LOCALHOST:80") == "localhost"
    assert host_name("127.0.0.1") == "127.0.0.1"


def test_exposed_page_needs_a_key(twin, tiny_run, monkeypatch):
    monkeypatch.delenv("TWIN_API_KEY", raising=False)
    r = twin("serve", tiny_run, "--host", "0.0.0.0")  # the page alone, no --api
    assert r.code == 1 and "TWIN_API_KEY" in r.err
    r = twin("serve", tiny_run, "--share")
    assert r.code == 1 and "--share" in r.err


def test_key_from_a_file_or_the_environment(tmp_path, monkeypatch):
    from twin.errors import TwinError
    from twin.serve.command import read_key

    monkeypatch.delenv("TWIN_API_KEY", raising=False)
    assert read_key(None, None) is None
    monkeypatch.setenv("TWIN_API_KEY", "from-env")
    assert read_key(None, None) == "from-env"
    f = tmp_path / "key.txt"
    f.write_text("from-file\n", encoding="utf-8")
    assert read_key(None, str(f)) == "from-file"
    f.write_text("\n", encoding="utf-8")
    with pytest.raises(TwinError, match="first line is empty"):
        read_key(None, str(f))
    with pytest.raises(TwinError, match="cannot read"):
        read_key(None, str(tmp_path / "missing"))


def test_share_link_serves_the_same_guarded_app(twin, tiny_run, tmp_path, monkeypatch):
    """--share: the tunnel reaches this same server (faked here: no network in tests)."""
    from gradio import networking

    from twin.serve import server as server_mod

    key_file = tmp_path / "key"
    key_file.write_text(KEY, encoding="utf-8")
    tunnels = []
    monkeypatch.setattr(
        networking, "setup_tunnel", lambda **kw: tunnels.append(kw) or "https://abc.gradio.live"
    )
    seen = {}

    def run(self):  # instead of serving forever: what the tunnel would forward
        self.start()
        try:
            url = f"http://127.0.0.1:{self.port}"
            host = {"Host": "abc.gradio.live"}
            seen["no key"] = httpx.get(f"{url}/config", headers=host).status_code
            seen["upload"] = httpx.post(f"{url}/gradio_api/upload", headers=host).status_code
            auth = {**host, "Authorization": f"Bearer {KEY}"}
            seen["key"] = httpx.get(f"{url}/config", headers=auth).status_code
        finally:
            self.stop()

    monkeypatch.setattr(server_mod.Server, "run", run)
    r = twin("serve", tiny_run, "--share", "--api-key-file", key_file, "--port", "0")
    assert r.code == 0, r.err
    assert tunnels and tunnels[0]["local_host"] == "127.0.0.1"
    assert seen == {"no key": 401, "upload": 403, "key": 200}
    assert "https://abc.gradio.live" in r.err and KEY not in r.err
