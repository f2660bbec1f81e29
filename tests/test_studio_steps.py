"""The studio's steps without a browser: the project folder, background jobs, and each step
driving the real CLI on a tiny model (see tests/tiny.py)."""

from __future__ import annotations

import json
import sys
import time

import pytest
from studio_helpers import whatsapp_export

from twin.dataset.config import load_config
from twin.errors import TwinError
from twin.studio import steps
from twin.studio.jobs import Job
from twin.studio.project import Project, write_build_settings
from twin.studio.texts import TEXTS, pick_lang, t


@pytest.fixture
def project(tmp_path) -> Project:
    return Project.open(tmp_path / "studio", "p1")


def test_every_text_has_both_languages():
    for key, (en, zh) in TEXTS.items():
        assert en.strip() and zh.strip(), key
        assert set(_fields(en)) == set(_fields(zh)), key


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


@pytest.mark.parametrize(
    ("accept", "query", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        ("en-US,en;q=0.9", None, "en"),
        ("fr-FR,zh-TW;q=0.5", None, "zh"),
        ("", None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh", "zh"),
    ],
)
def test_language_from_browser_or_switch(accept, query, lang):
    assert pick_lang(accept, query) == lang


def test_project_names_are_checked(tmp_path):
    with pytest.raises(TwinError, match="project name"):
        Project.open(tmp_path, "../escape")
    with pytest.raises(TwinError, match="project name"):
        Project.open(tmp_path, "")


def test_runs_stay_inside_the_project(project):
    with pytest.raises(TwinError, match="not a run"):
        project.run_path("../../etc")


def test_build_settings_are_a_twin_toml_the_cli_reads(project):
    write_build_settings(
        project,
        {
            "name": 'Bob "B"',
            "session_gap_minutes": 30.0,
            "groups": True,
            "min_reply_chars": 3,
            "block": ["secret", "机密"],
        },
    )
    cfg = load_config(str(project.config), {})
    assert (cfg.name, cfg.session_gap_minutes, cfg.groups) == ('Bob "B"', 30.0, True)
    assert (cfg.min_reply_chars, cfg.block) == (3, ["secret", "机密"])


def test_ingest_asks_who_is_me_then_reads(project, tmp_path):
    steps.add_uploads(project, [str(whatsapp_export(tmp_path / "WhatsApp Chat with Alice.txt"))])
    first = steps.ingest_exports(project)
    assert not first.ok
    assert {name for name, _ in first.senders} == {"Alice", "Bob"}
    assert dict(first.senders)["Bob"] == 48
    second = steps.ingest_exports(project, me="Bob")
    assert second.ok, second.error
    assert second.files[0]["by me"] == 48 and second.files[0]["messages"] == 96
    lines = project.messages.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 96
    assert steps.saved(project, "ingest")["files"] == second.files


def test_ingest_errors_are_sentences(project, tmp_path):
    assert "upload an export" in steps.ingest_exports(project).error
    assert "no such file" in steps.ingest_exports(project, folder=str(tmp_path / "nope")).error
    bad = tmp_path / "notes"
    bad.mkdir()
    (bad / "todo.txt").write_text("buy milk\n", encoding="utf-8")
    out = steps.ingest_exports(project, folder=str(bad))
    assert not out.ok and "no chat export found" in out.error


def test_build_before_ingest_is_a_clear_error(project):
    with pytest.raises(TwinError, match="read your messages first"):
        steps.build_dataset(project, {})


def test_build_error_comes_from_the_cli(project):
    project.messages.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(TwinError) as e:
        steps.build_dataset(project, {})
    assert "messages.jsonl" in str(e.value) and "Traceback" not in str(e.value)


@pytest.fixture
def built(project, tmp_path) -> Project:
    steps.add_uploads(project, [str(whatsapp_export(tmp_path / "chat.txt"))])
    assert steps.ingest_exports(project, me="Bob").ok
    stats = steps.build_dataset(
        project,
        {"session_gap_minutes": 60, "min_reply_chars": 2, "block": "secret, 机密", "groups": False},
    )
    assert stats["samples"]["total"] > 0
    return project


def test_build_writes_what_the_cli_writes(built):
    assert (built.dataset / "train.jsonl").is_file() and (built.dataset / "stats.json").is_file()
    assert load_config(str(built.config), {}).block == ["secret", "机密"]
    convs = steps.sample_conversations(built, 2)
    assert convs and any(m["role"] == "assistant" for m in convs[0])


def _wait(job: Job, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while job.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not job.running(), job.log_tail(30)


@pytest.mark.slow
def test_training_runs_in_the_background_and_is_found_again(built, tiny_model):
    name = steps.start_training(built, str(tiny_model), "lora", max_steps=2)
    assert name == "run-1"
    with pytest.raises(TwinError, match="already running"):
        steps.start_training(built, str(tiny_model), "lora", max_steps=2)
    _wait(steps.job(built, "train"))
    status = steps.training_status(built)  # read back from files, as after a reload
    assert status["state"] == "done", status["log"]
    assert status["run"] == "run-1" and status["step"] == 2 and status["total"] == 2
    assert len(status["metrics"]) == 2
    assert "run-1" in steps.run_choices(built)
    reply = "".join(
        steps.reply_stream(
            steps.Models(), built, "run:run-1", [{"role": "user", "content": "hello there"}], 0.0
        )
    )
    assert isinstance(reply, str)


@pytest.mark.slow
def test_stop_saves_a_checkpoint_and_resume_continues(built, tiny_model):
    steps.start_training(built, str(tiny_model), "lora", max_steps=400)
    metrics = built.runs / "run-1" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (metrics.is_file() and metrics.read_text().strip()):
        time.sleep(0.3)
    assert steps.stop_training(built)
    status = steps.training_status(built)
    assert status["state"] == "stopped", status["log"]
    stopped_at = status["step"]
    assert 0 < stopped_at < 400
    assert (built.runs / "run-1" / "checkpoints").is_dir()
    assert (
        steps.start_training(built, str(tiny_model), "lora", max_steps=stopped_at + 1, resume=True)
        == "run-1"
    )
    _wait(steps.job(built, "train"))
    status = steps.training_status(built)
    assert status["state"] == "done", status["log"]
    assert status["step"] == stopped_at + 1


def test_job_state_survives_a_new_studio(tmp_path):
    job = Job("x", tmp_path / "jobs")
    job.start(["--version"], tmp_path)
    _wait(job, 60)
    again = Job("x", tmp_path / "jobs")  # a studio started later reads the same files
    assert again.state() == "done"
    assert "twin" in again.log_tail()
    assert json.loads(again.exit_path.read_text())["code"] == 0


def test_a_failed_job_says_why(tmp_path):
    job = Job("x", tmp_path / "jobs")
    job.start(["train", str(tmp_path / "missing")], tmp_path)
    _wait(job, 120)
    assert job.state() == "failed"
    assert "error:" in job.log_tail()
    assert steps._error_line(job.log_tail(40))


def test_a_dead_watcher_is_not_running(tmp_path):
    job = Job("x", tmp_path / "jobs")
    job.folder.mkdir(parents=True)
    job.spec_path.write_text(json.dumps({"kind": "x", "pid": 999999999, "args": []}))
    assert not job.running() and job.state() == "lost"


def test_sharing_beyond_this_machine_needs_a_key(built):
    (built.runs / "run-1").mkdir(parents=True)
    with pytest.raises(TwinError, match="set a key"):
        steps.start_sharing(built, "run-1", "0.0.0.0", 7999, None)


def test_texts_format():
    assert "12" in t("zh", "state_running", run="r", step=12, total=20)
    assert sys.modules["twin.studio.texts"]
