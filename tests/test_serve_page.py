"""The chat page: its settings, its chat function, Gradio's client, and a real browser.

The browser test drives Debian's headless Chromium (/usr/bin/chromium) with Playwright; it is
skipped, saying so, only when that binary is missing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from twin.errors import TwinError
from twin.generate import Generator, Settings
from twin.runs import read_run
from twin.serve.config import page_config
from twin.serve.page import chat_function, message_text
from twin.serve.server import ServeOptions, Server, bind, build_app
from twin.serve.texts import DEFAULT_EXAMPLES, TEXTS, text

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def generator(tiny_run) -> Generator:
    return Generator(read_run(tiny_run))


class SlowGen:
    """The real tiny-run generator, slowed down per piece so streaming is visible in a browser."""

    def __init__(self, gen: Generator, delay: float = 0.08, fail: bool = False, settings=None):
        self.gen, self.delay, self.fail = gen, delay, fail
        self.info, self.tokenizer, self.context = gen.info, gen.tokenizer, gen.context
        self.settings = settings or Settings(temperature=0, max_new_tokens=24)

    def defaults(self) -> Settings:
        return self.settings

    def prompt_ids(self, history, max_new_tokens):
        return self.gen.prompt_ids(history, max_new_tokens)

    def stream(self, history, settings=None, prompt=None):
        if self.fail:
            raise RuntimeError("generation failed: CUDA error (secret detail)")
        for piece in self.gen.stream(history, settings or self.defaults()):
            time.sleep(self.delay)
            yield piece


def copy_run(src: Path, dst: Path, serve: dict | None = None, **changes) -> Path:
    import shutil

    shutil.copytree(src, dst)
    data = json.loads((dst / "twin_run.json").read_text(encoding="utf-8"))
    data.update(changes)
    if serve is not None:
        data["serve"] = serve
    (dst / "twin_run.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return dst


# --- settings


def test_texts_have_the_same_keys_in_every_language():
    assert set(TEXTS["en"]) == set(TEXTS["zh"])
    assert set(DEFAULT_EXAMPLES) == set(TEXTS)


def test_page_defaults_come_from_the_run_name(tiny_run):
    cfg = page_config(read_run(tiny_run))
    assert cfg.title == "Bob's twin" and "Bob" in cfg.description
    assert cfg.examples == DEFAULT_EXAMPLES["en"] and cfg.theme == "soft" and cfg.lang == "en"


def test_flags_beat_the_run_table_which_beats_defaults(tiny_run, tmp_path):
    run = copy_run(
        tiny_run,
        tmp_path / "run",
        serve={"title": "Saved", "examples": ["yo"], "theme": "ocean", "lang": "zh"},
    )
    info = read_run(run)
    saved = page_config(info)
    assert (saved.title, saved.examples, saved.theme, saved.lang) == (
        "Saved",
        ["yo"],
        "ocean",
        "zh",
    )
    assert saved.description == text("zh", "description", name="Bob")
    flagged = page_config(info, title="Flag", examples=["a", "b"], theme="glass", lang="en")
    assert (flagged.title, flagged.examples, flagged.theme) == ("Flag", ["a", "b"], "glass")


def test_chinese_run_gets_a_chinese_page(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run", name="小明")
    cfg = page_config(read_run(run))
    assert cfg.lang == "zh" and cfg.title == "小明 的数字分身"


def test_bad_theme_or_language_is_a_clear_error(tiny_run):
    info = read_run(tiny_run)
    with pytest.raises(TwinError, match="theme must be one of"):
        page_config(info, theme="gradio/seafoam")
    with pytest.raises(TwinError, match="language must be one of"):
        page_config(info, lang="fr")


# --- the chat function


def test_message_text_reads_every_gradio_shape():
    assert message_text("hi") == "hi"
    assert message_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    assert message_text({"type": "file", "file": {}}) == ""


def test_chat_function_streams_growing_text(generator, tiny_run):
    cfg = page_config(read_run(tiny_run))
    replies = list(chat_function(SlowGen(generator, delay=0), cfg)("hello there", []))
    assert replies and all(b.startswith(a) for a, b in zip(replies, replies[1:], strict=False))
    expected = generator.reply(
        [{"role": "user", "content": "hello there"}], Settings(temperature=0, max_new_tokens=24)
    )
    assert replies[-1].strip() == (expected or "…")


def test_chat_function_keeps_history(generator, tiny_run):
    seen = []

    class Recorder(SlowGen):
        def stream(self, history, settings=None):
            seen.append(history)
            yield "ok"

    cfg = page_config(read_run(tiny_run))
    history = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "hey"},
    ]
    assert list(chat_function(Recorder(generator), cfg)("how are you", history)) == ["ok"]
    assert seen[0] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hey"},
        {"role": "user", "content": "how are you"},
    ]


def test_too_long_and_empty_messages_get_a_note(generator, tiny_run):
    cfg = page_config(read_run(tiny_run), max_input_chars=10, lang="zh")
    respond = chat_function(SlowGen(generator), cfg)
    assert list(respond("x" * 11, [])) == [text("zh", "too_long", n=11, limit=10)]
    assert list(respond("   ", [])) == [text("zh", "empty")]


def test_failure_is_a_friendly_sentence(generator, tiny_run, caplog):
    cfg = page_config(read_run(tiny_run))
    out = list(chat_function(SlowGen(generator, fail=True), cfg)("my secret message", []))
    assert out == [text("en", "failed")]
    assert "Traceback" not in out[0]
    assert "my secret message" not in caplog.text  # the conversation is not logged


# --- served


@pytest.fixture(scope="module")
def page_server(generator, tiny_run):
    cfg = page_config(read_run(tiny_run), examples=["hello there", "see you tomorrow?"])
    # sampled (seeded): the tiny model's greedy replies are a word or two, too short to watch
    slow = SlowGen(generator, settings=Settings(temperature=1.0, max_new_tokens=24, seed=0))
    app, close = build_app(slow, cfg, ServeOptions(port=0, page=True, api=False))
    server = Server(app, bind("127.0.0.1", 0)).start()
    yield server
    server.stop()
    close()


def test_page_binds_loopback_and_answers_gradio_client(page_server):
    from gradio_client import Client

    assert page_server.host == "127.0.0.1"
    client = Client(page_server.url + "/", verbose=False, download_files=False)
    reply = client.predict("hello there", api_name="/chat")
    assert isinstance(reply, str) and reply


def test_real_browser_sees_the_streamed_reply(page_server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(page_server.url + "/", timeout=60_000)
            page.wait_for_selector("#twin-input textarea", timeout=60_000)
            assert page.get_by_text("Bob's twin").first.is_visible()
            assert page.get_by_text("see you tomorrow?").first.is_visible()  # an example
            page.fill("#twin-input textarea", "hello there")
            page.keyboard.press("Enter")
            states: list[str] = []
            changed = deadline = time.monotonic()
            deadline += 60
            while time.monotonic() < deadline and (not states or time.monotonic() - changed < 2):
                bots = page.query_selector_all("#twin-chatbot [data-testid='bot']")
                now = bots[-1].inner_text() if bots else ""
                if now and (not states or states[-1] != now):
                    states.append(now)
                    changed = time.monotonic()
                time.sleep(0.03)
            page.wait_for_timeout(500)
            final = page.query_selector_all("#twin-chatbot [data-testid='bot']")[-1].inner_text()
            shot = tmp_path / "chat-page.png"
            page.screenshot(path=str(shot), full_page=True)
            # the example buttons sit in the chat area until a conversation starts; a user
            # message and a reply are on the page now
            users = [
                u.inner_text()
                for u in page.query_selector_all("#twin-chatbot [data-testid='user']")
            ]
        finally:
            browser.close()
    assert users and "hello there" in users[-1]
    assert len(states) >= 2, f"the reply did not stream: {states}"
    assert all(final.startswith(s.rstrip("…")) for s in states if s != "…")
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot: {shot}")


def test_chinese_page_in_the_browser(generator, tiny_run, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    cfg = page_config(read_run(tiny_run), lang="zh")
    app, close = build_app(SlowGen(generator, delay=0), cfg, ServeOptions(port=0))
    server = Server(app, bind("127.0.0.1", 0)).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(server.url + "/", timeout=60_000)
                box = page.wait_for_selector("#twin-input textarea", timeout=60_000)
                assert box.get_attribute("placeholder") == text("zh", "placeholder")
                assert page.get_by_text("Bob 的数字分身").first.is_visible()
                page.get_by_text(DEFAULT_EXAMPLES["zh"][0]).first.click()  # a clickable example
                page.wait_for_selector("#twin-chatbot [data-testid='bot']", timeout=60_000)
                page.screenshot(path=str(tmp_path / "chat-page-zh.png"))
            finally:
                browser.close()
    finally:
        server.stop()
        close()


def test_save_keeps_page_flags_in_the_run(twin, tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    sock = bind("127.0.0.1", 0)  # busy port: the command saves, then stops before loading
    try:
        r = twin("serve", run, "--port", sock.getsockname()[1], "--save", "--title", "Bobby", "--examples", "yo", "sup", "--theme", "ocean")  # fmt: skip
    finally:
        sock.close()
    assert r.code == 1 and "saved" in r.err
    cfg = page_config(read_run(run))
    assert (cfg.title, cfg.examples, cfg.theme) == ("Bobby", ["yo", "sup"], "ocean")
    saved = json.loads((run / "twin_run.json").read_text(encoding="utf-8"))
    assert saved["name"] == "Bob" and saved["serve"]["title"] == "Bobby"


def test_too_long_a_conversation_gets_a_note_not_minutes_of_trimming(tiny_run):
    class NoModel:
        def stream(self, history, settings=None, prompt=None):
            raise AssertionError("the model must not be asked")

    cfg = page_config(read_run(tiny_run))
    respond = chat_function(NoModel(), cfg)
    history = [{"role": r, "content": "hi"} for r in ("user", "assistant")] * 1000
    (note,) = list(respond("hello", history))
    assert "2001 messages" in note and "clear the chat" in note
    history = [{"role": "user", "content": "x" * 1500}, {"role": "assistant", "content": "y"}] * 30
    (note,) = list(respond("hello", history))
    assert "characters" in note


def test_a_friend_logs_in_once_in_the_browser_and_chats(generator, tiny_run):
    """With a key, the page asks for it once; after that the whole Gradio page works."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    cfg = page_config(read_run(tiny_run), lang="zh")
    opts = ServeOptions(port=0, api_key="friend-key")
    app, close = build_app(SlowGen(generator, delay=0), cfg, opts)
    server = Server(app, bind("127.0.0.1", 0)).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(server.url + "/", timeout=60_000)
                assert text("zh", "login_prompt") in page.content()
                page.fill("input[name=key]", "wrong")
                page.click("button[type=submit]")
                assert text("zh", "login_wrong") in page.content()
                page.fill("input[name=key]", "friend-key")
                page.click("button[type=submit]")
                page.wait_for_selector("#twin-input textarea", timeout=60_000)
                page.fill("#twin-input textarea", "hello there")
                page.keyboard.press("Enter")
                bot = page.wait_for_selector("#twin-chatbot [data-testid='bot']", timeout=60_000)
                page.wait_for_timeout(1000)
                reply = bot.inner_text()
                page.reload()  # the cookie keeps the friend in
                page.wait_for_selector("#twin-input textarea", timeout=60_000)
            finally:
                browser.close()
    finally:
        server.stop()
        close()
    assert reply.strip() and text("zh", "failed") not in reply
