"""One config path: twin.toml tables type-checked, flags made from the settings' fields, and one
generation-settings dataclass from training to chat, eval and serving."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from twin.config_file import add_flags, flag_values, load_section
from twin.dataset.config import BuildConfig
from twin.errors import TwinError
from twin.generate import Settings
from twin.train.config import TrainConfig


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "train.jsonl").write_text("", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('rank = "8"', "[train] rank must be a whole number, not '8'"),
        ("batch = true", "[train] batch must be a whole number, not True"),
        ("max_len = 512.5", "[train] max_len must be a whole number, not 512.5"),
        ('lr = "fast"', "[train] lr must be a number, not 'fast'"),
        ("group_by_length = 1", "[train] group_by_length must be true or false, not 1"),
    ],
)
def test_train_table_values_of_the_wrong_type_name_file_table_and_key(
    twin, tmp_path, dataset, line, expected
):
    toml = tmp_path / "twin.toml"
    toml.write_text(f"[train]\n{line}\n", encoding="utf-8")
    r = twin("train", dataset, "--config", toml, "-o", tmp_path / "run")
    assert r.code == 1
    assert r.err == f"error: {toml}: {expected}\n"
    assert not (tmp_path / "run").exists()


def test_build_table_values_of_the_wrong_type(tmp_path):
    toml = tmp_path / "twin.toml"
    toml.write_text('[build]\nmax_turns = "16"\n', encoding="utf-8")
    with pytest.raises(TwinError) as e:
        load_section(str(toml), "build", BuildConfig, {})
    assert str(e.value) == f"{toml}: [build] max_turns must be a whole number, not '16'"
    toml.write_text("[build]\nallow = [1, 2]\n", encoding="utf-8")
    with pytest.raises(TwinError, match=r"\[build\] allow must be a list of strings"):
        load_section(str(toml), "build", BuildConfig, {})


def test_whole_numbers_are_numbers_and_none_means_unset(tmp_path):
    toml = tmp_path / "twin.toml"
    toml.write_text("[train]\nepochs = 2\nlr = 1\nwarmup_ratio = 0\n", encoding="utf-8")
    cfg = load_section(str(toml), "train", TrainConfig, {"rank": None, "batch": 2})
    assert (cfg.epochs, cfg.lr, cfg.warmup_ratio, cfg.rank, cfg.batch) == (2, 1, 0, 8, 2)


def test_settings_made_in_code_are_checked_too():
    with pytest.raises(TwinError, match="train config: rank must be a whole number, not '8'"):
        TrainConfig(rank="8")
    with pytest.raises(TwinError, match="build config: groups must be true or false, not 'yes'"):
        BuildConfig(groups="yes")


def _parse(cls, argv: list[str]) -> dict:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_flags(p, cls)
    return flag_values(p.parse_args(argv), cls)


def test_flags_come_from_the_settings_fields():
    flagged = {f.name for f in dataclasses.fields(TrainConfig) if "flag" in f.metadata}
    assert flagged == {
        "base",
        "method",
        "max_steps",
        "epochs",
        "lr",
        "rank",
        "max_len",
        "batch",
        "accum",
        "precision",
    }
    assert _parse(TrainConfig, []) == dict.fromkeys(flagged)
    given = _parse(TrainConfig, ["--max-len", "256", "--lr", "1e-3", "--method", "ptuning"])
    assert (given["max_len"], given["lr"], given["method"]) == (256, 1e-3, "ptuning")
    with pytest.raises(argparse.ArgumentError):
        _parse(TrainConfig, ["--max-len", "256.5"])
    with pytest.raises(argparse.ArgumentError):
        _parse(TrainConfig, ["--precision", "fp8"])
    assert _parse(BuildConfig, ["--groups", "--seed", "3"]) == {
        "name": None,
        "groups": True,
        "seed": 3,
        "tokenizer": None,
    }


def test_max_steps_and_epochs_exclude_each_other():
    with pytest.raises(argparse.ArgumentError, match="not allowed with argument --max-steps"):
        _parse(TrainConfig, ["--max-steps", "3", "--epochs", "1"])


def test_one_generation_dataclass_from_train_to_the_run():
    cfg = TrainConfig(temperature=0.3, max_new_tokens=64, repetition_penalty=1.1)
    assert cfg.generation == Settings(temperature=0.3, max_new_tokens=64, repetition_penalty=1.1)
    # the run saves the defaults, never a per-request seed
    assert cfg.generation.to_dict() == {
        "temperature": 0.3,
        "top_p": 0.9,
        "max_new_tokens": 64,
        "repetition_penalty": 1.1,
    }
    assert Settings.from_dict(cfg.generation.to_dict()) == cfg.generation
    assert {f.name: f.default for f in dataclasses.fields(Settings) if f.name != "seed"} == {
        k: getattr(TrainConfig(), k) for k in cfg.generation.to_dict()
    }
    changed = cfg.generation.updated(temperature=None, top_p=0.5, seed=7)
    assert (changed.temperature, changed.top_p, changed.seed) == (0.3, 0.5, 7)
