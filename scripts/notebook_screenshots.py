#!/usr/bin/env python3
"""The README's notebook screenshots, rendered from a notebook `twin notebook` generates.

    pip install nbconvert nbclient ipykernel    # once (nbconvert only for this script)
    python scripts/notebook_screenshots.py      # writes docs/img/notebook-*.png

Builds the sample export's dataset, writes the Kaggle notebook for it, runs that notebook top
to bottom in smoke mode (TWIN_NOTEBOOK_SMOKE=1: the embedded model, 2 steps on this CPU, so the
outputs shown are the smoke run's, not a T4's), converts it to HTML with nbconvert and takes
screenshots with headless Chromium: the first cell, and the training and evaluation cells.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def twin(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "twin", *args], check=True)


def as_shown(outputs: list) -> list:
    """Stream outputs as a notebook front end shows them: consecutive pieces of one stream
    joined, and a progress bar's carriage returns applied (only the last state of a line)."""
    import nbformat

    shown: list = []
    for o in outputs:
        if o.output_type == "stream" and shown and shown[-1].get("name") == o.name:
            shown[-1]["text"] += o.text
        elif o.output_type == "stream":
            shown.append(nbformat.v4.new_output("stream", name=o.name, text=o.text))
        else:
            shown.append(o)
    for o in shown:
        if o.output_type == "stream":
            lines = o["text"].split("\n")
            o["text"] = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)
    return shown


def html_of(nb, cell_ids: list[str], path: Path) -> Path:
    import copy

    import nbformat
    from nbconvert import HTMLExporter

    part = nbformat.v4.new_notebook(metadata=nb.metadata)
    part.cells = [copy.deepcopy(c) for c in nb.cells if c.get("id") in cell_ids]
    for cell in part.cells:
        if cell.cell_type == "code":
            cell.outputs = as_shown(cell.outputs)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(part)
    path.write_text(body, encoding="utf-8")
    return path


def screenshot(html: Path, png: Path, height: int) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1100,{height}",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    crop_blank_bottom(png)
    print(f"wrote {png}")


def crop_blank_bottom(png: Path, margin: int = 24) -> None:
    """Cut the empty page below the last content row (the window is taller than the content)."""
    import numpy as np
    from PIL import Image

    image = Image.open(png).convert("RGB")
    rows = np.where((np.asarray(image).min(axis=2) < 250).any(axis=1))[0]
    if len(rows):
        image.crop((0, 0, image.width, min(image.height, rows[-1] + margin))).save(png)


def main() -> None:
    import nbformat
    from nbclient import NotebookClient

    sample = ROOT / "src" / "twin" / "data" / "sample" / "messages.csv"
    # A fixed, short folder: the paths printed in the cells read like Kaggle's.
    t = Path(tempfile.gettempdir()) / "kaggle"
    shutil.rmtree(t, ignore_errors=True)
    t.mkdir()
    try:
        twin("build", str(sample), "--name", "Mia", "-o", str(t / "dataset"), "--no-report")
        twin("notebook", str(t / "dataset"), "--target", "kaggle", "-o", str(t / "out"))
        notebook = next((t / "out").glob("*.ipynb"))
        bundle = t / "input" / notebook.stem
        with zipfile.ZipFile(notebook.with_suffix(".zip")) as z:
            z.extractall(bundle)
        nb = nbformat.read(notebook, as_version=4)
        IMG.mkdir(parents=True, exist_ok=True)
        screenshot(html_of(nb, ["intro"], t / "intro.html"), IMG / "notebook-intro.png", 1500)
        env = {
            **os.environ,
            "TWIN_NOTEBOOK_SMOKE": "1",
            "TWIN_NOTEBOOK_INPUT": str(t / "input"),
            "TWIN_NOTEBOOK_WORKING": str(t / "working"),
            "PYTHONPATH": str(ROOT / "src"),
        }
        client = NotebookClient(nb, timeout=3600, kernel_name="python3")
        client.execute(env=env, cwd=str(t))
        nbformat.write(nb, t / "executed.ipynb")
        for name, cells in (
            ("train", ["train-title", "train"]),
            ("eval", ["eval-title", "eval", "chat-title", "chat", "save-title", "save"]),
        ):
            screenshot(html_of(nb, cells, t / f"{name}.html"), IMG / f"notebook-{name}.png", 2400)
    finally:
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
