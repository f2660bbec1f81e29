"""The notebook itself: a bilingual first cell with the steps and the time, then one cell per
stage. The cells that run before twin is installed (finding the bundle, the GPU check) carry
the source of twin/notebook/locate.py and gpu.py verbatim, so what runs there is what the
tests run; later cells call twin.notebook.runtime from the installed wheel.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

KAGGLE_STEPS_EN = """\
1. **Upload the bundle** `{name}.zip` (written next to this notebook) as a Kaggle Dataset:
   kaggle.com → *Datasets* → *New Dataset* → drop the zip (Kaggle unpacks it) → keep it **Private** → *Create*.
2. **Open this notebook on Kaggle**: *Code* → *New Notebook* → *File* → *Import Notebook* → `{name}.ipynb`.
3. **Attach the bundle**: right-hand panel → *Add Input* → *Your Datasets* → `{name}`.
4. **Turn on the GPU and the internet**: right-hand panel → *Session options* → *Accelerator*: **GPU T4 x2**;
   *Internet*: **on** (both need a phone-verified account).
5. **Run All** (or *Save Version* → *Save & Run All* to run in the background, up to 12 hours).
6. **Download** `{name}-run.zip` from the *Output* pane, and run the commands the last cell prints.

If the session stops before the end (Kaggle ends sessions after 12 hours), run it again: training
resumes from the last checkpoint in `/kaggle/working/run`. In a new session, first attach this
notebook's previous output (*Add Input* → *Your Work*), then Run All."""

KAGGLE_STEPS_ZH = """\
1. **上传数据包** `{name}.zip`（和本笔记本一起生成）为 Kaggle 数据集：kaggle.com → *Datasets* → *New Dataset* →
   拖入 zip（Kaggle 会自动解压）→ 保持 **Private（私有）** → *Create*。
2. **在 Kaggle 打开本笔记本**：*Code* → *New Notebook* → *File* → *Import Notebook* → 选择 `{name}.ipynb`。
3. **添加数据包**：右侧面板 → *Add Input* → *Your Datasets* → `{name}`。
4. **打开 GPU 和网络**：右侧面板 → *Session options* → *Accelerator* 选 **GPU T4 x2**；*Internet* 设为 **On**
   （都需要账号完成手机验证）。
5. **Run All（全部运行）**（或 *Save Version* → *Save & Run All* 在后台运行，最长 12 小时）。
6. **下载**：在 *Output* 面板下载 `{name}-run.zip`，然后在自己电脑上运行最后一个单元格打印的命令。

如果会话中途停止（Kaggle 每次会话最长 12 小时），重新运行即可：训练会从 `/kaggle/working/run` 里最后的检查点继续。
如果是新的会话，先把本笔记本上一次的输出添加为输入（*Add Input* → *Your Work*），再 Run All。"""

COLAB_STEPS_EN = """\
1. **Put the bundle** `{name}.zip` (written next to this notebook) in your Google Drive (*My Drive*),
   or upload it when the second cell asks.
2. **Open this notebook in Colab**: colab.research.google.com → *File* → *Upload notebook* → `{name}.ipynb`.
3. **Turn on the GPU**: *Runtime* → *Change runtime type* → **T4 GPU** → *Save*.
4. **Run all** (*Runtime* → *Run all*) and allow Google Drive access when asked: the run is saved
   in *My Drive/twin/{name}/*, so a disconnected session resumes where it stopped.
5. **Download**: the last cell downloads `{name}-run.zip` (it also stays in Drive); run the
   commands it prints at home."""

COLAB_STEPS_ZH = """\
1. **放好数据包**：把 `{name}.zip`（和本笔记本一起生成）放进 Google Drive（我的云端硬盘），或者在第二个单元格提示时上传。
2. **在 Colab 打开本笔记本**：colab.research.google.com → *文件* → *上传笔记本* → `{name}.ipynb`。
3. **打开 GPU**：*代码执行程序（Runtime）* → *更改运行时类型* → **T4 GPU** → *保存*。
4. **全部运行**（*Runtime* → *Run all*），提示时允许访问 Google Drive：训练结果保存在 *我的云端硬盘/twin/{name}/*，
   断线后重新运行会从中断处继续。
5. **下载**：最后一个单元格会下载 `{name}-run.zip`（Drive 里也有一份），然后在自己电脑上运行它打印的命令。"""

INTRO = """\
# twin: train your clone on a free GPU / 用免费 GPU 训练你的分身

This notebook trains **{base}** ({method}) on your dataset ({train} training conversations,
{dev} held out), compares it with the untuned model, lets you chat with it, and saves it for
`twin chat` / `twin serve` at home. Nothing to edit: follow the steps and press Run All.

**Time (estimated, not measured):** {time_en}.

{steps_en}

---

本笔记本在你的数据（{train} 段训练对话，{dev} 段留作评估）上用 {method} 方法训练 **{base}**，和未训练的原模型对比，
可以直接和它聊天，最后保存下来，回家用 `twin chat` / `twin serve` 使用。无需修改任何代码：按步骤操作，点 Run All 即可。

**预计耗时（按公式估算，未实测）：** {time_zh}。

{steps_zh}

<small>Written by twin {version} (`twin notebook`), bundle {bundle_id}.</small>"""

HEADINGS = {
    "settings": "## 1. Settings and the bundle / 设置与数据包",
    "gpu": "## 2. GPU check / 检查 GPU",
    "install": "## 3. Install twin (from the bundle) / 安装 twin",
    "base": "## 4. Base model / 基础模型",
    "train": "## 5. Train (resumes after an interruption) / 训练（中断后可继续）",
    "eval": "## 6. Clone vs untuned model / 对比微调前后",
    "chat": "## 7. Chat with it / 和它聊天",
    "save": "## 8. Save and take it home / 保存并下载",
}


def module_source(name: str) -> str:
    """A stdlib-only module of this package, to paste into a cell."""
    return (HERE / f"{name}.py").read_text(encoding="utf-8").rstrip() + "\n"


def settings_cell(meta: dict, target: str) -> str:
    call = (
        "BUNDLE, WORKING = kaggle_paths(NAME, BUNDLE_ID)"
        if target == "kaggle"
        else "BUNDLE, WORKING = colab_paths(NAME, BUNDLE_ID, use_drive=USE_DRIVE)"
    )
    drive = "USE_DRIVE = True  # keep the run in Google Drive / 结果保存到 Google Drive\n"
    return (
        "# Written by `twin notebook`: nothing to fill in. 由 twin notebook 生成，无需填写。\n"
        "import os\n\n"
        f"NAME = {meta['name']!r}\n"
        f"TARGET = {target!r}\n"
        f"BUNDLE_ID = {meta['bundle_id']!r}\n"
        f"EXPORT_SPACE = {meta['space']!r}  # True: also a Hugging Face Space folder / 同时导出 Space\n"
        f"EXPORT_GGUF = {meta['gguf']!r}  # True: also a GGUF file (llama.cpp, Ollama) / 同时导出 GGUF\n"
        + (drive if target == "colab" else "")
        + 'SMOKE = os.environ.get("TWIN_NOTEBOOK_SMOKE") == "1"  # tests: no installs, 2 CPU steps\n\n'
        "# --- where the bundle is and where the run goes (twin/notebook/locate.py)\n"
        + module_source("locate")
        + "\n\n"
        "try:  # a missing bundle is shown as what to do, without a traceback\n"
        "    get_ipython().set_custom_exc((BundleNotFound,), lambda *a, **k: print(a[2]) or [])\n"
        "except NameError:\n"
        "    pass\n"
        f"{call}\n"
        'RUN = WORKING / "run"\n'
        "WORKING.mkdir(parents=True, exist_ok=True)\n"
        "BUNDLE_INFO = read_bundle(BUNDLE)\n"
        'print(f"Bundle: {BUNDLE}\\nOutput: {WORKING} (the run goes to {RUN})")\n'
    )


GPU_CELL_TAIL = "\n\nGPU = check_gpu(TARGET, smoke=SMOKE)\n"

INSTALL_CELL = """\
import importlib
import subprocess
import sys


def pip(*args):
    print("$ pip " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    print((done.stdout + done.stderr).strip()[-3000:])
    if done.returncode != 0:
        raise RuntimeError(f"pip failed (exit {done.returncode}); see above")


if SMOKE:
    print("Smoke test: installs skipped, twin comes from this machine.")
else:
    WHEEL = str(BUNDLE / BUNDLE_INFO["wheel"])
    pip("install", "-q", WHEEL, *BUNDLE_INFO["pip"])  # twin's requirements and the base's
    pip("install", "-q", "--force-reinstall", "--no-deps", WHEEL)  # exactly the bundled twin
    if BUNDLE_INFO["pip_no_deps"]:
        pip("install", "-q", "--no-deps", *BUNDLE_INFO["pip_no_deps"])
    importlib.invalidate_caches()

from twin.notebook import runtime

runtime.check_install(BUNDLE_INFO)
"""

BASE_CELL = 'BASE = runtime.fetch_base(BUNDLE_INFO["base"], smoke=SMOKE)\n'

TRAIN_CELL = """\
# Previous runs to resume from: this notebook's earlier output, attached as input.
RESUME_FROM = [{roots}]
RESULT = runtime.train(BUNDLE, RUN, GPU, smoke=SMOKE, resume_roots=RESUME_FROM)
RESULT
"""

EVAL_CELL = 'REPORT = runtime.evaluate(RUN, BUNDLE, WORKING / "eval", smoke=SMOKE)\n'

CHAT_CELL = """\
chat = runtime.Chat(RUN, smoke=SMOKE)
chat.ask({greeting})  # change the message and run again, or use the box / 修改消息再运行，或用下面的输入框
chat.box()
"""

SAVE_CELL = """\
runtime.save(RUN, WORKING, NAME, TARGET, space=EXPORT_SPACE, gguf=EXPORT_GGUF, smoke=SMOKE)
"""


def intro(meta: dict, target: str) -> str:
    steps_en = KAGGLE_STEPS_EN if target == "kaggle" else COLAB_STEPS_EN
    steps_zh = KAGGLE_STEPS_ZH if target == "kaggle" else COLAB_STEPS_ZH
    return INTRO.format(
        steps_en=steps_en.format(name=meta["name"]),
        steps_zh=steps_zh.format(name=meta["name"]),
        **meta,
    )


def _cell(kind: str, cell_id: str, source: str) -> dict:
    """One nbformat 4.5 cell (the format is written by hand: twin needs no Jupyter package)."""
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def build_notebook(meta: dict, target: str) -> dict:
    """The notebook (nbformat 4.5 JSON) for `target`, "kaggle" or "colab", from the bundle's
    description `meta`."""
    roots = '"/kaggle/input"' if target == "kaggle" else ""
    code = {
        "settings": settings_cell(meta, target),
        "gpu": "# twin/notebook/gpu.py\n" + module_source("gpu") + GPU_CELL_TAIL,
        "install": INSTALL_CELL,
        "base": BASE_CELL,
        "train": TRAIN_CELL.format(roots=roots),
        "eval": EVAL_CELL,
        "chat": CHAT_CELL.format(greeting=repr(meta["greeting"])),
        "save": SAVE_CELL,
    }
    cells = [_cell("markdown", "intro", intro(meta, target))]
    for key, source in code.items():
        cells.append(_cell("markdown", f"{key}-title", HEADINGS[key]))
        cells.append(_cell("code", key, source))
    metadata: dict = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    if target == "kaggle":
        metadata["kaggle"] = {
            "accelerator": "nvidiaTeslaT4",
            "isInternetEnabled": True,
            "isGpuEnabled": True,
        }
    else:
        metadata["accelerator"] = "GPU"
        metadata["colab"] = {"gpuType": "T4", "provenance": []}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
