"""Shared helpers for the benchmarks: run a command, time it, and follow its memory.

Peak RSS is the largest sum of resident memory over the process and all its children, sampled
every 20 ms, so a forked worker counts too.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import subprocess
import sys
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


def measure(cmd: list[str], **kwargs) -> dict:
    """Wall seconds and peak RSS (MB, process tree) of a command that must succeed."""
    # Written data still being flushed (the previous benchmark's output) would take CPU and
    # disk from this run: flush it first.
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    root = psutil.Process(proc.pid)
    procs, peak, polls = [root], 0, 0
    while proc.poll() is None:
        # Listing the children scans every process (~1 ms): every 100 ms, not at every sample,
        # so that the measuring takes little CPU from what it measures.
        if polls % 5 == 0:
            with contextlib.suppress(psutil.Error):
                procs = [root, *root.children(recursive=True)]
        polls += 1
        rss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss
        peak = max(peak, rss)
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak / 2**20, 1), "stdout": out}


def ensure_csv(n: int) -> Path:
    """The generated WeChatMsg CSV of n messages (made once, then reused)."""
    path = DATA / f"wechatmsg_{n}.csv"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_wechatmsg.py"), "-n", str(n), "-o", str(path)],
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
