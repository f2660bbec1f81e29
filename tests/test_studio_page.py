"""twin studio served for real: the named API through gradio_client, the key rule, and the whole
journey in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), with a
screenshot of every step. Set TWIN_STUDIO_SHOTS=DIR to keep the screenshots (the README's)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from studio_helpers import whatsapp_export
from test_serve_page import CHROMIUM, CHROMIUM_ARGS

from twin.errors import TwinError
from twin.serve.server import Server, bind
from twin.studio import steps
from twin.studio.project import Project
from twin.studio.server import build_app, check_access


def serve(project: Project, key: str | None = None, host: str = "127.0.0.1") -> Server:
    app, _ = build_app(project, host, 0, key)
    return Server(app, bind(host, 0)).start()


def test_beyond_this_machine_a_key_is_required():
    with pytest.raises(TwinError, match="set a key"):
        check_access("0.0.0.0", None, False)
    with pytest.raises(TwinError, match="share link"):
        check_access("127.0.0.1", None, True)
    check_access("0.0.0.0", "k", False)
    check_access("127.0.0.1", None, False)


@pytest.mark.slow
def test_named_endpoints_drive_the_journey(tmp_path, tiny_model):
    from gradio_client import Client

    project = Project.open(tmp_path / "studio", "api")
    steps.add_uploads(project, [str(whatsapp_export(tmp_path / "chat.txt"))])
    server = serve(project)
    try:
        client = Client(server.url + "/", verbose=False, download_files=False)
        names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert {"/ingest", "/build", "/train", "/train_status", "/chat"} <= names
        asked = client.predict("", "", api_name="/ingest")
        assert not asked["ok"] and [s[0] for s in asked["senders"]][:2] in (
            ["Alice", "Bob"],
            ["Bob", "Alice"],
        )
        read = client.predict("", "Bob", api_name="/ingest")
        assert read["ok"] and read["files"][0]["by me"] == 48
        stats = client.predict({"min_reply_chars": 2}, api_name="/build")
        assert stats["samples"]["train"] > 0
        assert client.predict(str(tiny_model), "lora", 1.0, 2, False, api_name="/train") == {
            "run": "run-1"
        }
        deadline = time.monotonic() + 300
        status = client.predict(api_name="/train_status")
        while status["state"] == "running" and time.monotonic() < deadline:
            time.sleep(1)
            status = client.predict(api_name="/train_status")
        assert status["state"] == "done", status["log"]
        assert status["step"] == 2 and len(status["metrics"]) == 2
        reply = client.predict("hello there", [], "run-1", 0.0, api_name="/chat")
        assert isinstance(reply, str)
        with pytest.raises(Exception, match="not a run"):
            client.predict("hi", [], "../../x", 0.0, api_name="/chat")
    finally:
        server.stop()


def _browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def _text(page, selector: str) -> str:
    el = page.query_selector(selector)
    return el.inner_text() if el else ""


def _status(page, selector: str, want: str, timeout: float = 300.0, before: str = "") -> str:
    """Wait for `want` in an element; a warning there (not the one shown before) fails."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _text(page, selector)
        if want in text:
            return text
        if "⚠" in text and (not before or before not in text) and "processing" not in text:
            raise AssertionError(f"{selector}: {text}")
        if text.strip() == "Error":  # a gr.Error: its sentence is in the toast
            toasts = [t.inner_text() for t in page.query_selector_all(".toast-body")]
            raise AssertionError(f"{selector}: error {toasts}")
        time.sleep(0.5)
    raise AssertionError(f"{selector} never said {want!r}: {text!r}")


@pytest.mark.slow
def test_the_whole_journey_in_a_browser(tmp_path, tiny_model):
    shots = Path(os.environ.get("TWIN_STUDIO_SHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    export = whatsapp_export(tmp_path / "WhatsApp Chat with Alice.txt")
    project = Project.open(tmp_path / "studio", "journey")
    server = serve(project)
    try:
        with _browser() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.url + "/?lang=en", timeout=60_000)
                page.wait_for_selector("#twin-read", timeout=60_000)
                _journey(page, export, tiny_model, server.url, shots)
            finally:
                browser.close()
    finally:
        server.stop()
    for name in ("1-messages", "2-dataset", "3-clone", "4-talk", "6-share"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name


def _journey(page, export: Path, tiny_model: Path, url: str, shots: Path) -> None:
    # 1. upload; the export does not say who I am, so the page asks
    page.set_input_files("#twin-upload input[type=file]", str(export))
    page.wait_for_timeout(1500)
    page.click("#twin-read")
    page.wait_for_selector("#twin-me label", timeout=120_000)
    page.get_by_label("Bob (48)").check()
    asked = _text(page, "#twin-ingest-status")
    assert "cannot tell which sender is you" in asked
    page.click("#twin-use-me")
    _status(page, "#twin-ingest-status", "✓", before=asked)
    assert "whatsapp" in page.inner_text("#twin-files")
    page.screenshot(path=str(shots / "1-messages.png"), full_page=True)
    # 2. build
    page.get_by_role("tab", name="2 · Your dataset").click()
    page.click("#twin-build")
    _status(page, "#twin-build-status", "✓", 300)
    assert "lol sounds good" in page.inner_text("#twin-samples")
    page.screenshot(path=str(shots / "2-dataset.png"), full_page=True)
    # 3. train 2 steps of the tiny model; reload in the middle: the run is found again
    page.get_by_role("tab", name="3 · Your clone").click()
    page.fill("#twin-base-other textarea, #twin-base-other input", str(tiny_model))
    page.fill("#twin-steps input", "2")
    page.click("#twin-start")
    _status(page, "#twin-train-status", "run-1", 60)
    page.reload()
    page.get_by_role("tab", name="3 · Your clone").click()
    _status(page, "#twin-train-status", "is trained", 400)
    page.screenshot(path=str(shots / "3-clone.png"), full_page=True)
    # 4. talk to it, side by side with the untuned base
    page.get_by_role("tab", name="4 · Talk to it").click()
    page.fill("#twin-message textarea", "hello there")
    page.click("#twin-send")
    page.wait_for_selector("#twin-chat-b [data-testid='bot']", timeout=300_000)
    assert page.query_selector_all("#twin-chat-a [data-testid='bot']")
    page.screenshot(path=str(shots / "4-talk.png"), full_page=True)
    # 6. share: the Space folder as a download
    page.get_by_role("tab", name="6 · Share it").click()
    page.click("#twin-export")
    _status(page, "#twin-export-status", "✓", 400)
    page.screenshot(path=str(shots / "6-share.png"), full_page=True)
    # the same page in Chinese
    page.goto(url + "/?lang=zh")
    page.wait_for_selector("#twin-read", timeout=60_000)
    page.get_by_text("读取聊天记录").first.wait_for(timeout=60_000)
    assert "读取聊天记录" in page.inner_text("#twin-read")
    assert page.get_by_role("tab", name="1 · 你的聊天记录").is_visible()
    page.screenshot(path=str(shots / "0-chinese.png"), full_page=True)


def test_with_a_key_no_route_answers_without_it(tmp_path):
    """Every route of the studio's app (Gradio's and ours, the route table walked) refuses a
    request without the key; with it (Bearer, or the login cookie) the page and API answer."""
    import httpx
    from test_serve_guard import _routes

    project = Project.open(tmp_path / "studio", "locked")
    app, _ = build_app(project, "127.0.0.1", 0, "s3cret")
    server = Server(app, bind("127.0.0.1", 0)).start()
    try:
        tried = set(_routes(app.routes))
        paths = {p for _, p in tried}
        for needed in ("/", "/config", "/gradio_api/info", "/gradio_api/upload"):
            assert needed in paths, sorted(paths)
        assert any(p.startswith("/gradio_api/call/") for p in paths)
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for method, path in sorted(tried):
                method = "GET" if method in ("HEAD", "OPTIONS") else method
                for headers in ({}, {"Authorization": "Bearer wrong"}):
                    r = c.request(method, path, headers=headers, json={"data": []})
                    assert r.status_code in (401, 403), (method, path, r.status_code)
            page = c.get("/", headers={"accept": "text/html"})
            assert page.status_code == 401 and 'name="key"' in page.text
            assert c.get("/config", headers={"authorization": "Bearer s3cret"}).status_code == 200
            login = c.post("/twin-login", data={"key": "s3cret", "next": "/"})
            assert login.status_code == 303
            assert c.get("/config").status_code == 200  # the cookie now
    finally:
        server.stop()


def test_uploads_are_capped_and_only_on_the_studio(tmp_path):
    import httpx
    from test_serve_api import _raw_request

    from twin.studio.server import MAX_UPLOAD

    project = Project.open(tmp_path / "studio", "cap")
    server = serve(project)
    try:
        head = (
            "POST /gradio_api/upload HTTP/1.1\r\nHost: HOST\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {MAX_UPLOAD + 1}\r\n\r\n"
        )
        assert b" 413 " in _raw_request(server.url, head, [b"x" * 1024]).split(b"\r\n")[0] + b" "
        with httpx.Client(base_url=server.url, timeout=30) as c:
            files = {"files": ("chat.txt", b"01/03/2023, 20:10 - Alice: hi\n", "text/plain")}
            assert c.post("/gradio_api/upload", files=files).status_code == 200
            assert c.get("/", headers={"host": "evil.example"}).status_code == 403
    finally:
        server.stop()
