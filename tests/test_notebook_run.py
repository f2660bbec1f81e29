"""The generated Kaggle and Colab notebooks run top to bottom (smoke mode: no installs, no GPU
check, the embedded default trained for 2 steps on the CPU), and `twin chat` loads the run they
leave, both in place and unzipped from the download they write."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def outputs(nb, cell_id: str) -> tuple[str, set[str]]:
    """(the text a cell printed, the MIME types it displayed)."""
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    text, kinds = "", set()
    for o in cell.outputs:
        assert o.output_type != "error", (cell_id, o.get("ename"), o.get("evalue"))
        if o.output_type == "stream":
            text += o.text
        else:
            kinds |= set(o.get("data", {}))
    return text, kinds


@pytest.mark.parametrize("target", ["kaggle", "colab"])
def test_notebook_runs_and_twin_chat_loads_its_run(
    twin, tiny_dataset, tmp_path, monkeypatch, target
):
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "out"
    base = ["--base", "default"] if target == "kaggle" else []  # smoke mode trains it anyway
    r = twin("notebook", tiny_dataset, "--target", target, "-o", out, "--name", "twin-test", *base)
    assert r.code == 0, r.err
    bundle = tmp_path / "input" / "twin-test"
    with zipfile.ZipFile(out / "twin-test.zip") as z:
        z.extractall(bundle)
    working = tmp_path / "working"
    monkeypatch.setenv("TWIN_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("TWIN_NOTEBOOK_INPUT", str(tmp_path / "input"))
    monkeypatch.setenv("TWIN_NOTEBOOK_WORKING", str(working))
    src = Path(__file__).resolve().parents[1] / "src"  # the kernel imports this checkout's twin
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    )

    nb = nbformat.read(out / "twin-test.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, tmp_path / "executed.ipynb")

    assert "GPU check skipped" in outputs(nb, "gpu")[0]
    assert "same files as the bundle's wheel" in outputs(nb, "install")[0]
    text, kinds = outputs(nb, "train")
    assert "train: 100%" in text and "2/2" in text and "image/png" in kinds
    text, kinds = outputs(nb, "eval")
    assert "dev loss" in text and "base: SmolLM2-135M-Instruct" in text and "text/html" in kinds
    assert "you: " in outputs(nb, "chat")[0]
    text, _ = outputs(nb, "save")
    assert "twin chat twin-test-run" in text and "twin serve twin-test-run" in text

    run = working / "run"
    result = json.loads((run / "twin_run.json").read_text())["result"]
    assert result["steps"] == 2 and result["stopped"] == "done"
    assert (working / "eval" / "eval.json").is_file()
    r = twin("chat", run, "--prompt", "hello there", "--max-new-tokens", "4", "--seed", "0")
    assert r.code == 0 and r.out.strip(), r.err

    home = tmp_path / "home"
    with zipfile.ZipFile(working / "twin-test-run.zip") as z:
        assert not any("checkpoints/" in n for n in z.namelist())
        z.extractall(home)
    r = twin(
        "chat",
        home / "twin-test-run",
        "--prompt",
        "hello there",
        "--max-new-tokens",
        "4",
        "--seed",
        "0",
    )
    assert r.code == 0 and r.out.strip(), r.err


def test_gpu_cell_without_gpu_stops_run_all_with_the_message_only(tmp_path):
    """On this CPU-only machine the real GPU cell (not in smoke mode) finds no GPU: the cell
    fails, so Run All stops, and it shows what to do rather than a traceback."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from twin.notebook.cells import GPU_CELL_TAIL, module_source

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("TARGET, SMOKE = 'kaggle', False"),
        nbformat.v4.new_code_cell(module_source("gpu") + GPU_CELL_TAIL),
        nbformat.v4.new_code_cell("print('after')"),
    ]
    client = NotebookClient(nb, timeout=300, kernel_name="python3")
    with pytest.raises(CellExecutionError):
        client.execute()
    shown = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert "No GPU found" in shown and "GPU T4 x2" in shown
    errors = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert all(not o.traceback for o in errors)  # the message alone, no traceback
    assert nb.cells[2].outputs == []  # Run All stopped at the GPU cell
