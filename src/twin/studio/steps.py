"""The studio's six steps as plain functions: the page and its API endpoints call these.

Reading exports runs in this process (it is quick, and the page needs the per-file details and
the list of senders); building runs the `twin build` command; training, evaluation, exports and
sharing run as background jobs (see jobs.py) so a reload or a closed tab does not stop them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from twin.errors import TwinError, UnknownMeError
from twin.studio.jobs import Job
from twin.studio.project import Project, write_build_settings

# The build settings the page shows, with the CLI's defaults (BuildConfig field names).
BUILD_FIELDS = ("name", "session_gap_minutes", "groups", "min_reply_chars", "block")
EXPORT_KINDS = ("space", "gguf", "ollama")
MAX_UPLOAD_FILES = 200


def job(project: Project, kind: str) -> Job:
    return Job(kind, project.jobs)


# --- 1. your messages -------------------------------------------------------------------------


@dataclass
class IngestOutcome:
    ok: bool
    files: list[dict] = field(default_factory=list)  # one row per export file read
    summary: str = ""
    senders: list[tuple[str, int]] = field(default_factory=list)  # set when "me" is unknown
    error: str = ""


def add_uploads(project: Project, paths: list[str]) -> list[str]:
    """Copy uploaded files into the project's exports/ folder; returns their new names."""
    if len(paths) > MAX_UPLOAD_FILES:
        raise TwinError(
            f"{len(paths)} files uploaded; at most {MAX_UPLOAD_FILES} at a time (zip them)"
        )
    project.exports.mkdir(parents=True, exist_ok=True)
    names = []
    for p in paths:
        src = Path(p)
        name = re.sub(r"[^\w .()\[\]@+-]", "_", src.name).strip(". ") or "export"
        shutil.copyfile(src, project.exports / name)
        names.append(name)
    return names


def ingest_exports(
    project: Project,
    folder: str | None = None,
    me: str | None = None,
    fmt: str = "auto",
    skip_bad_rows: bool = False,
) -> IngestOutcome:
    """Read the uploaded exports (and a folder on this machine) into the project's messages.jsonl."""
    from twin.ingest.pipeline import ingest, summary, write_jsonl

    paths = []
    if project.exports.is_dir() and any(project.exports.iterdir()):
        paths.append(str(project.exports))
    if folder and folder.strip():
        where = Path(folder.strip()).expanduser()
        if not where.exists():
            return IngestOutcome(False, error=f"{where}: no such file or folder on this machine")
        paths.append(str(where))
    if not paths:
        return IngestOutcome(False, error="upload an export (or a zip), or type a folder path")
    try:
        result = ingest(paths, fmt=fmt or "auto", me=me or None, skip_bad_rows=skip_bad_rows)
    except UnknownMeError as e:
        return IngestOutcome(False, senders=e.senders, error=str(e).split("\n", 1)[0])
    except TwinError as e:
        return IngestOutcome(False, error=str(e))
    write_jsonl(result, str(project.messages))
    rows = [
        {
            "file": _short(r.file, project),
            "format": r.format + (f" {r.version}" if r.version else ""),
            "chats": len(r.chats),
            "messages": r.messages,
            "by me": r.by_me,
            "skipped": sum(r.skipped.values()),
        }
        for r in result.reports
    ]
    outcome = IngestOutcome(True, rows, summary(result, str(project.messages)))
    _save(project, "ingest", {"files": rows, "summary": outcome.summary, "me": me})
    return outcome


def _short(path: str, project: Project) -> str:
    return path.replace(str(project.exports) + "/", "")


# --- 2. your dataset --------------------------------------------------------------------------


def build_defaults() -> dict:
    from twin.dataset.config import BuildConfig

    cfg = BuildConfig()
    return {k: getattr(cfg, k) for k in BUILD_FIELDS}


def build_dataset(project: Project, settings: dict) -> dict:
    """Run `twin build` on the project's messages with the page's settings; returns stats.json."""
    if not project.messages.is_file():
        raise TwinError("read your messages first (step 1)")
    clean = {k: v for k, v in settings.items() if k in BUILD_FIELDS and v not in (None, "")}
    if isinstance(clean.get("block"), str):
        clean["block"] = [w.strip() for w in re.split(r"[,\n，]", clean["block"]) if w.strip()]
    for key in ("session_gap_minutes",):
        if key in clean:
            clean[key] = float(clean[key])
    if "min_reply_chars" in clean:
        clean["min_reply_chars"] = int(clean["min_reply_chars"])
    write_build_settings(project, clean)
    args = [
        "build",
        str(project.messages),
        "-o",
        str(project.dataset),
        "--config",
        str(project.config),
    ]
    run_twin(args, project.folder)
    stats = project.read_json(project.dataset / "stats.json")
    if stats is None:
        raise TwinError("twin build finished without writing stats.json")
    return stats


def run_twin(args: list[str], cwd: Path, timeout: float = 3600) -> str:
    """Run a short twin command; its clear error message becomes a TwinError for the page."""
    proc = subprocess.run(
        [sys.executable, "-m", "twin", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise TwinError(
            _error_line(proc.stderr) or f"twin {args[0]} failed (exit {proc.returncode})"
        )
    return proc.stdout


def _error_line(output: str) -> str:
    """The CLI's own `error: …` message (never a traceback)."""
    lines = [line for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("error: "):
            return "\n".join([line.removeprefix("error: "), *lines[i + 1 : i + 12]])
    return ""


def dataset_charts(project: Project) -> list[str]:
    """The report's charts (report.html shows the same pictures)."""
    return sorted(str(p) for p in project.dataset.rglob("*.png"))


def loss_chart(project: Project, run: str | None) -> str | None:
    """The run's loss curve as a PNG, redrawn only when metrics.jsonl has grown."""
    if not run:
        return None
    metrics_path = project.runs / run / "metrics.jsonl"
    out = project.jobs / f"loss-{run}.png"
    try:
        changed = metrics_path.stat().st_mtime
    except OSError:
        return None
    if out.exists() and out.stat().st_mtime >= changed:
        return str(out)
    metrics = training_status(project)["metrics"]
    if not metrics:
        return None
    from twin.train.plot import plot_losses

    project.jobs.mkdir(parents=True, exist_ok=True)
    plot_losses(metrics, out)
    return str(out)


def sample_conversations(project: Project, n: int = 3) -> list[list[dict]]:
    """The first few training samples; assistant turns are the ones trained on."""
    path = project.dataset / "train.jsonl"
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line)["messages"])
                if len(out) >= n:
                    break
    except (OSError, ValueError, KeyError):
        return []
    return out


# --- 3. your clone ----------------------------------------------------------------------------


def base_choices() -> list[tuple[str, str]]:
    """(label, --base value) of the catalog's bases, embedded first, each with its estimated
    training time per 1,000 conversations on this machine (measured where it was trained here)."""
    from twin.catalog import entries
    from twin.progress import duration
    from twin.speed import cpu_times

    models = entries()
    times = cpu_times(models)
    out = [("auto — chosen from the language of your replies", "auto")]
    for e in models:
        where = "built in" if e.source == "embedded" else "download"
        seconds, was_measured = times.get(e.alias, (None, False))
        when = (
            f" · ~{duration(seconds)} per 1,000 here{' (measured)' if was_measured else ''}"
            if seconds
            else ""
        )
        out.append((f"{e.name} · {where} · {e.languages}{when}", e.alias))
    return out


def start_training(
    project: Project,
    base: str,
    method: str = "lora",
    epochs: float | None = None,
    max_steps: int | None = None,
    resume: bool = False,
) -> str:
    """Start (or resume the newest run of) `twin train` in the background; returns the run name."""
    if not project.has_dataset():
        raise TwinError("build your dataset first (step 2)")
    train = job(project, "train")
    if train.running():
        raise TwinError("training is already running; stop it first")
    if resume:
        names = project.run_names()
        if not names:
            raise TwinError("there is no run to resume yet; start one")
        name = names[0]
    else:
        name = project.new_run_name()
    args = ["train", str(project.dataset), "-o", str(project.runs / name)]
    if base and base.strip():
        args += ["--base", base.strip()]
    if method:
        args += ["--method", method]
    if max_steps:
        args += ["--max-steps", str(int(max_steps))]
    elif epochs:
        args += ["--epochs", str(float(epochs))]
    if resume:
        args.append("--resume")
    project.runs.mkdir(parents=True, exist_ok=True)
    train.start(args, project.folder, meta={"run": name})
    return name


def stop_training(project: Project) -> bool:
    return job(project, "train").stop()


_TOTAL = re.compile(r"(\d+) steps of ")


def training_status(project: Project) -> dict:
    """What the page shows about the newest training run: state, steps, losses, speed, ETA."""
    train = job(project, "train")
    spec = train.spec() or {}
    run = spec.get("run") or next(iter(project.run_names()), None)
    status = {"state": train.state(), "run": run, "step": 0, "total": None, "metrics": []}
    status["log"] = train.log_tail(8)
    if run is None:
        return status
    metrics_path = project.runs / run / "metrics.jsonl"
    metrics = []
    try:
        for line in metrics_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                metrics.append(json.loads(line))
    except (OSError, ValueError):
        pass
    status["metrics"] = metrics
    found = _TOTAL.findall(status["log"] or train.log_tail(200))
    if found:
        status["total"] = int(found[-1])
    if metrics:
        last = metrics[-1]
        status.update(
            step=last.get("step", 0), loss=last.get("loss"), tokens_per_s=last.get("tokens_per_s")
        )
        dev = [m["dev_loss"] for m in metrics if m.get("dev_loss") is not None]
        status["dev_loss"] = dev[-1] if dev else None
        recent = [m.get("step_s") or 0 for m in metrics[-10:]]
        if status["total"] and status["state"] == "running" and recent:
            left = max(0, status["total"] - status["step"])
            status["eta_s"] = left * sum(recent) / len(recent)
    return status


# --- 4. talk to it ----------------------------------------------------------------------------


def run_choices(project: Project) -> list[str]:
    return project.finished_runs()


class Models:
    """Loaded generators, by spec ('run:NAME' or 'base:SPEC'), kept while the studio runs."""

    def __init__(self, limit: int = 2) -> None:
        self._cache: dict[str, object] = {}
        self.limit = limit

    def get(self, project: Project, spec: str):
        from twin.generate import Generator
        from twin.runs import base_info, read_run

        key = f"{project.folder}|{spec}"
        if key not in self._cache:
            kind, _, name = spec.partition(":")
            if kind == "run":
                info = read_run(project.run_path(name))
            elif kind == "base":
                info = base_info(name, _system_prompt(project))
            else:
                raise TwinError(f"unknown model {spec!r}")
            while len(self._cache) >= self.limit:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = Generator(info)
        return self._cache[key]


def base_of_run(project: Project, run: str) -> str:
    from twin.runs import read_run

    return read_run(project.run_path(run)).base_spec


def _system_prompt(project: Project) -> str | None:
    cfg = project.read_json(project.dataset / "config.json") or {}
    return cfg.get("system_prompt")


def reply_stream(
    models: Models, project: Project, spec: str, history: list[dict], temperature: float
):
    """The growing reply of one model to a conversation (a list of role/content turns)."""
    gen = models.get(project, spec)
    settings = gen.defaults()
    settings.temperature = float(temperature)
    reply = ""
    for piece in gen.stream(history, settings):
        reply += piece
        yield reply


# --- 5. how much it sounds like you -----------------------------------------------------------


def start_eval(project: Project, run: str, samples: int = 20) -> None:
    if not project.has_dataset():
        raise TwinError("build your dataset first (step 2)")
    project.run_path(run)
    out = project.eval_dir(run)
    args = ["eval", str(project.runs / run), "--data", str(project.dataset), "-o", str(out)]
    args += ["--samples", str(int(samples))]
    job(project, "eval").start(args, project.folder, meta={"run": run, "out": str(out)})


def eval_result(project: Project) -> dict | None:
    spec = job(project, "eval").spec()
    if not spec:
        return None
    return project.read_json(Path(spec["out"]) / "eval.json")


# --- 6. share it ------------------------------------------------------------------------------


def start_export(project: Project, run: str, kind: str) -> None:
    if kind not in EXPORT_KINDS:
        raise TwinError(f"unknown export {kind!r}; one of {', '.join(EXPORT_KINDS)}")
    project.run_path(run)
    out = project.share / kind
    args = ["export", str(project.runs / run), "--to", kind, "-o", str(out), "--force"]
    job(project, "export").start(
        args, project.folder, meta={"run": run, "kind": kind, "out": str(out)}
    )


def export_download(project: Project) -> str | None:
    """The finished export as one zip to download (made once, when the export has ended)."""
    ex = job(project, "export")
    spec = ex.spec()
    if not spec or ex.state() != "done":
        return None
    out = Path(spec["out"])
    archive = out.with_suffix(".zip")
    if not archive.exists() or archive.stat().st_mtime < out.stat().st_mtime:
        _zip_folder(out, archive)
    return str(archive)


def _zip_folder(folder: Path, archive: Path) -> None:
    tmp = archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, Path(folder.name) / p.relative_to(folder))
    tmp.replace(archive)


def notebook_bundle(project: Project, target: str = "kaggle") -> str:
    """The Kaggle/Colab bundle of `twin notebook`, when this twin has that command."""
    if not project.has_dataset():
        raise TwinError("build your dataset first (step 2)")
    out = project.share / f"notebook-{target}"
    run_twin(["notebook", str(project.dataset), "--target", target, "-o", str(out)], project.folder)
    zips = sorted(out.glob("*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise TwinError("twin notebook wrote no bundle")
    return str(zips[-1])


def start_sharing(project: Project, run: str, host: str, port: int, key: str | None) -> str:
    """`twin serve RUN` for friends; the key travels in the environment, never on a command line."""
    from twin.serve.server import is_loopback

    project.run_path(run)
    if not is_loopback(host) and not key:
        raise TwinError(f"sharing on {host} reaches other machines: set a key for your friends")
    args = ["serve", str(project.runs / run), "--host", host, "--port", str(int(port))]
    env = {}
    if key:
        args.append("--api")
        env["TWIN_API_KEY"] = key
    job(project, "serve").start(
        args, project.folder, meta={"run": run, "host": host, "port": int(port)}, env=env
    )
    return share_url(host, int(port))


def share_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/"


def finish(project: Project, kind: str, on_progress=None, timeout: float = 24 * 3600) -> bool:
    """Wait for a background job, passing its last output line on; a failure is a TwinError."""
    j = job(project, kind)
    deadline = time.monotonic() + timeout
    while j.running() and time.monotonic() < deadline:
        if on_progress is not None:
            on_progress(j.log_tail(1)[-120:])
        wait_for(lambda: not j.running(), 1.0)
    if j.state() != "done":
        raise TwinError(_error_line(j.log_tail(40)) or f"twin {kind} did not finish ({j.state()})")
    return True


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _save(project: Project, name: str, data: dict) -> None:
    project.jobs.mkdir(parents=True, exist_ok=True)
    (project.jobs / f"{name}.json").write_text(
        json.dumps(data, ensure_ascii=False), encoding="utf-8"
    )


def saved(project: Project, name: str) -> dict | None:
    return project.read_json(project.jobs / f"{name}.json")
