"""Shared helpers for the benchmarks: run a command, time it, and follow its memory.

Peak RSS is the largest sum of resident memory over the process and all its descendants, so a
command's child processes count too.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> list[int]:
    """The process and its descendants, from /proc/PID/task/TID/children (no scan of /proc)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                    todo.extend(int(child) for child in f.read().split())
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def measure(cmd: list[str], **kwargs) -> dict:
    """Wall seconds and peak RSS (MB, process tree) of a command that must succeed.

    The time ends when the process is reaped (no polling delay). Memory: the resident memory
    of the process and all its descendants, summed every 20 ms, read straight from /proc (a
    few small files per sample, so the measuring takes next to no CPU from a command that
    uses every core); the command's own high-water mark (ru_maxrss) is the floor, so its
    peak is never missed between samples.
    """
    # Written data still being flushed (the previous benchmark's output) would take CPU and
    # disk from this run: flush it first.
    os.sync()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, **kwargs)
        peak = 0
        done = threading.Event()

        def follow() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, sum(_rss(pid) for pid in _tree(proc.pid)))
                done.wait(0.02)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        follower.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss: the command's own peak (or a reaped child's, if larger); without /proc
        # (macOS) the only figure. Bytes on macOS, KiB elsewhere.
        peak = max(peak, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return {
        "seconds": round(seconds, 3),
        # user + system CPU of the command (all its threads) and the children it reaped:
        # less sensitive than wall time to other work on a shared machine
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "stdout": stdout,
    }


def ensure_csv(n: int, layout: str = "1.0") -> Path:
    """The generated WeChatMsg CSV of n messages in a layout (made once, then reused)."""
    path = DATA / (f"wechatmsg_{n}.csv" if layout == "1.0" else f"wechatmsg_{layout}_{n}.csv")
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_wechatmsg.py"), "-n", str(n), "-o", str(path)]
            + ["--layout", layout],
            check=True,
        )
    return path


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def compile_twin() -> None:
    """Bytecode for twin's modules, as pip writes it when it installs a package: an editable
    install under PYTHONDONTWRITEBYTECODE would compile them again at every run."""
    import twin

    compileall.compile_dir(Path(twin.__file__).parent, quiet=1)


def twin_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "twin", *args]
