"""`twin chat`: a real terminal session on the tiny trained run, one-shot and base modes, and the
chat loop's behaviour on failures (with a stand-in generator, no model)."""

from __future__ import annotations

import io
import json
import sys

import pexpect
import pytest

from twin.chat.session import HELP, Session, strip_stream
from twin.cli import main
from twin.generate import Settings


def _spawn(*args: str, cwd) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "twin", "chat", *args],
        cwd=str(cwd),
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
    )


def test_terminal_session_with_every_command(tiny_run, tmp_path):
    c = _spawn(str(tiny_run), "--max-new-tokens", "8", "--seed", "1", cwd=tmp_path)
    try:
        c.expect("Chatting with Bob")
        c.expect("temperature 0.7 · top_p 0.9 · max 8 new tokens · seed 1")
        c.expect_exact("you> ")

        def send(line: str) -> str:
            c.sendline(line)
            c.expect_exact("you> ")
            return c.before

        assert "Bob> " in send("hello there")
        assert "/temp" in send("/help") and "lower is more precise" in c.before
        history = send("/history")
        assert "(system) You are Bob." in history and "you: hello there" in history
        assert "temperature 0.2" in send("/temp 0.2")
        assert "must be a number from 0 to 5" in send("/temp hot")
        assert "temperature 0.2 · top_p 0.9" in send("/temp")
        assert "top_p 0.5" in send("/top_p 0.5")
        assert "replies up to 6 tokens" in send("/max 6")
        assert "seed off" in send("/seed off")
        assert "Bob> " in send("how are you")
        assert "unknown command /bogus" in send("/bogus")
        assert "saved 4 messages to out/chat.json" in send("/save out/chat.json")
        assert "conversation cleared" in send("/reset")
        assert "(no messages yet)" in send("/history")
        c.sendline(
            "/quit"
        )  # Ctrl-D (EOF) ends the same way: test_loop_ends_on_eof_and_keeps_history
        c.expect(pexpect.EOF)
    finally:
        c.close()
    assert c.exitstatus == 0
    saved = json.loads((tmp_path / "out" / "chat.json").read_text(encoding="utf-8"))
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"] * 2
    assert saved["messages"][0]["content"] == "hello there"
    assert saved["messages"][2]["content"] == "how are you"
    assert saved["settings"] == {
        "temperature": 0.2,
        "top_p": 0.5,
        "max_new_tokens": 6,
        "repetition_penalty": 1.0,
        "seed": None,
    }
    assert saved["system_prompt"] == "You are Bob."
    assert saved["run"] == str(tiny_run.resolve())


def test_prompt_mode_prints_only_the_reply(twin, tiny_run):
    args = ("chat", tiny_run, "--prompt", "hello there", "--max-new-tokens", "10", "--seed", "7")
    first = twin(*args)
    assert first.code == 0, first.err
    assert first.out.endswith("\n")
    assert "you>" not in first.out and "Chatting" not in first.out and "loading" not in first.out
    again = twin(*args)
    assert again.out == first.out  # the same seed, the same reply


def test_prompt_mode_greedy_matches_generator(twin, tiny_run):
    from twin.generate import Generator
    from twin.runs import read_run

    r = twin(
        "chat", tiny_run, "--prompt", "how are you", "--temperature", "0", "--max-new-tokens", "6"
    )
    assert r.code == 0, r.err
    expected = Generator(read_run(tiny_run)).reply(
        [{"role": "user", "content": "how are you"}], Settings(0, 0.9, 6)
    )
    assert r.out == expected + "\n"


def test_base_mode(twin, tiny_model):
    r = twin("chat", "--base", tiny_model, "--prompt", "hello there", "--max-new-tokens", "6")
    assert r.code == 0, r.err
    assert "untuned" in r.err  # what was loaded is said on stderr, not in the reply


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "nothing to chat with"),
        (("{tmp}",), "not a twin run"),
        (("{tmp}/nope",), "no such run folder"),
        (("{run}", "--base", "default"), "not both"),
        (("{run}", "--prompt", "  "), "--prompt is empty"),
    ],
)
def test_friendly_errors(twin, tiny_run, tmp_path, args, message):
    r = twin("chat", *(a.format(tmp=tmp_path, run=tiny_run) for a in args))
    assert r.code == 1
    assert message in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    "command, flag, value, message",
    [
        ("chat", "--temperature", "-1", "expected a number >= 0, got -1"),
        ("chat", "--temperature", "nan", "expected a number >= 0, got nan"),
        ("chat", "--temperature", "inf", "expected a number >= 0, got inf"),
        ("chat", "--top-p", "1.5", "expected a number in (0, 1], got 1.5"),
        ("chat", "--max-new-tokens", "0", "expected a number >= 1, got 0"),
        ("eval", "--temperature", "hot", "expected a number, got 'hot'"),
        ("eval", "--max-new-tokens", "2.5", "expected a whole number, got '2.5'"),
    ],
)
def test_sampling_flags_are_checked_when_parsed(capsys, tmp_path, command, flag, value, message):
    """chat and eval share one set of sampling flags; a bad value stops before anything loads."""
    extra = ["--data", str(tmp_path)] if command == "eval" else []
    with pytest.raises(SystemExit) as stop:  # argparse's usage error
        main([command, str(tmp_path), *extra, flag, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err
    assert "Traceback" not in err


# --- the loop, with a stand-in for the model


class FakeInfo:
    name = "Bob"
    system_prompt = "Be Bob."
    folder = None
    base_spec = "fake"


class FakeGenerator:
    """Replies with scripted pieces; a piece that is an exception is raised instead."""

    def __init__(self, *replies):
        self.info = FakeInfo()
        self.replies = list(replies)
        self.seen: list[list[dict]] = []

    def stream(self, history, settings):
        self.seen.append([dict(m) for m in history])
        for piece in self.replies.pop(0):
            if isinstance(piece, BaseException):
                raise piece
            yield piece


def _session(gen) -> tuple[Session, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Session(gen, Settings(), out=out, err=err), out, err


def test_loop_ends_on_eof_and_keeps_history():
    gen = FakeGenerator([" hi", " there "], ["fine"])
    s, out, _ = _session(gen)
    script = iter(["hello", "how are you"])

    def read(prompt):
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    s.loop(read)
    assert "Bob> hi there\n" in out.getvalue()
    assert gen.seen[1] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": "how are you"},
    ]


def test_generation_failure_is_friendly_and_forgets_the_message():
    gen = FakeGenerator(["ok"], ["par", RuntimeError("generation failed: boom")])
    s, _, err = _session(gen)
    s.ask("first")
    assert s.ask("second") is None
    assert "error: generation failed: boom" in err.getvalue()
    assert [m["content"] for m in s.history] == ["first", "ok"]


def test_ctrl_c_stops_the_reply_and_keeps_what_was_said():
    gen = FakeGenerator(["so ", "far", KeyboardInterrupt()])
    s, out, _ = _session(gen)
    assert s.ask("hi") == "so far"
    assert out.getvalue().endswith("so far [stopped]\n")
    assert s.history[-1] == {"role": "assistant", "content": "so far"}


def test_double_slash_sends_text_and_help_mentions_temperature():
    gen = FakeGenerator(["yes"])
    s, out, _ = _session(gen)
    lines = iter(["//etc is a folder", "/help", "/quit"])
    s.loop(lambda prompt: next(lines))
    assert gen.seen[0][-1]["content"] == "/etc is a folder"
    assert HELP in out.getvalue()
    assert "lower is more precise" in HELP and "higher is more creative" in HELP


def test_save_to_unwritable_place_is_friendly(tmp_path):
    s, out, _ = _session(FakeGenerator())
    (tmp_path / "file").write_text("x")
    assert s.command(f"/save {tmp_path}/file/inside.json")
    assert "could not save" in out.getvalue()
    assert s.command("/save")
    assert "usage: /save FILE" in out.getvalue()


def test_strip_stream():
    assert "".join(strip_stream(["  ", " a", " b ", " ", "\n"])) == "a b"
    assert list(strip_stream(["x ", " ", "y"])) == ["x", "  y"]
    assert list(strip_stream([" ", "\n"])) == []


def test_closing_a_reply_stops_generation(tiny_run):
    """Ctrl-C in chat closes the reply stream: the model must stop, not run on to the end."""
    from twin.generate import Generator
    from twin.runs import read_run

    gen = Generator(read_run(tiny_run))
    eos = gen.tokenizer.eos_token_id
    calls = []

    def no_end(module, args, out):  # never end on its own: only cancelling can stop it early
        calls.append(1)
        out.logits[..., eos] = float("-inf")
        return out

    handle = gen.model.register_forward_hook(no_end)
    try:
        stream = gen.stream([{"role": "user", "content": "hello"}], Settings(1.0, 1.0, 300))
        next(stream)
        stream.close()
        stopped_at = len(calls)
        assert stopped_at < 300
        import time

        time.sleep(0.2)
        assert len(calls) == stopped_at  # nothing runs on in the background
    finally:
        handle.remove()


def _pairwise_prompt_ids(gen, history, max_new_tokens):
    """The trimming prompt_ids replaced (one render per dropped pair): the reference result."""
    fmt = gen.info.chat_format
    msgs = list(history)
    budget = max(16, gen.context - max_new_tokens)
    while True:
        text = fmt.render(gen.tokenizer, gen.conversation(msgs), add_generation_prompt=True)
        ids = gen.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget or len(msgs) <= 1:
            return ids[-budget:]
        msgs = msgs[2:] if len(msgs) > 2 else msgs[-1:]


def _history(rng, n: int) -> list[dict]:
    words = ["hello", "there", "lol", "好的", "晚上", "吃", "see", "you", "tonight", "哈哈哈"]
    return [
        {
            "role": "assistant" if (n - i) % 2 == 0 else "user",
            "content": " ".join(rng.choices(words, k=rng.randint(1, 40))),
        }
        for i in range(n)
    ]


def test_prompt_trimming_keeps_the_same_turns_as_dropping_pairs(tiny_run):
    import random

    from twin.generate import Generator
    from twin.runs import read_run

    gen = Generator(read_run(tiny_run))
    rng = random.Random(3)
    for n in (1, 2, 3, 4, 9, 40, 41, 120):
        history = _history(rng, n)
        assert history[-1]["role"] == "user"
        for max_new in (8, 128, 400, gen.context - 20):
            assert gen.prompt_ids(history, max_new) == _pairwise_prompt_ids(gen, history, max_new)


def test_prompt_trimming_renders_a_long_history_a_few_times_not_once_per_pair(
    tiny_run, monkeypatch
):
    """4,000 short messages held the server for minutes when each dropped pair re-rendered all."""
    import random

    from twin.chat_format import ChatFormat
    from twin.generate import Generator
    from twin.runs import read_run

    gen = Generator(read_run(tiny_run))
    history = _history(random.Random(5), 2001)
    renders = []
    real = ChatFormat.render

    def counted(self, tokenizer, messages, add_generation_prompt):
        renders.append(len(messages))
        return real(self, tokenizer, messages, add_generation_prompt)

    monkeypatch.setattr(ChatFormat, "render", counted)
    ids = gen.prompt_ids(history, 64)
    assert len(ids) <= gen.context - 64
    assert len(renders) <= 5, len(renders)
    assert sum(renders) <= 2001 + 4 * 200  # the whole history once, then only short tails


# --- remote code: only behind --trust-remote-code

EVIL_CONFIG = """import os
from pathlib import Path
from transformers import LlamaConfig

Path(os.environ["TWIN_TEST_MARKER"]).write_text("ran", encoding="utf-8")


class EvilConfig(LlamaConfig):
    model_type = "twinevil"
"""
EVIL_MODEL = """from transformers import LlamaForCausalLM

from .configuration_evil import EvilConfig


class EvilForCausalLM(LlamaForCausalLM):
    config_class = EvilConfig
"""


def _remote_code_base(tiny_model, folder, model_type="twinevil"):
    import shutil

    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = model_type
    config["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "configuration_evil.py").write_text(EVIL_CONFIG, encoding="utf-8")
    (folder / "modeling_evil.py").write_text(EVIL_MODEL, encoding="utf-8")
    return folder


def test_a_base_runs_its_own_code_only_when_asked(twin, tiny_model, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("TWIN_TEST_MARKER", str(marker))
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    base = _remote_code_base(tiny_model, tmp_path / "evil")
    r = twin("chat", "--base", base, "--prompt", "hello there", "--max-new-tokens", "2")
    assert r.code == 1 and "--trust-remote-code" in r.err and "Traceback" not in r.err
    assert not marker.exists()  # nothing of the folder's code ran
    r = twin(
        "chat", "--base", base, "--prompt", "hi", "--max-new-tokens", "2", "--trust-remote-code"
    )
    assert r.code == 0, r.err
    assert marker.exists() and "--trust-remote-code" in r.err  # said when it is used


def test_chatglm_needing_remote_code_is_explained(twin, tiny_model, tmp_path):
    base = _remote_code_base(tiny_model, tmp_path / "chatglm2-6b", model_type="chatglm")
    r = twin("chat", "--base", base, "--prompt", "hello there")
    assert r.code == 1 and "ChatGLM" in r.err and "--trust-remote-code" in r.err


def test_a_run_trained_with_remote_code_asks_again(twin, tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    data = json.loads((run / "twin_run.json").read_text(encoding="utf-8"))
    data["base"]["trust_remote_code"] = True  # as training with --trust-remote-code records
    (run / "twin_run.json").write_text(json.dumps(data), encoding="utf-8")
    r = twin("chat", run, "--prompt", "hello there", "--max-new-tokens", "2")
    assert r.code == 1 and "--trust-remote-code" in r.err and "twin_run.json" in r.err
    r = twin("chat", run, "--prompt", "hello there", "--max-new-tokens", "2", "--trust-remote-code")
    assert r.code == 0, r.err


def test_the_run_records_whether_remote_code_was_allowed(tiny_model):
    from twin.models import allow_remote_code, resolve_base

    try:
        assert resolve_base(str(tiny_model)).to_dict()["trust_remote_code"] is False
        allow_remote_code(True)
        assert resolve_base(str(tiny_model)).to_dict()["trust_remote_code"] is True
    finally:
        allow_remote_code(False)
