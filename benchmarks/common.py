"""Shared helpers for the benchmarks: run a command, time it, and follow its memory.

Peak RSS is the sum of each process's own peak (the command and every child it starts), so a
forked worker counts too.
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


def _peak_rss(pid: int) -> int:
    """A process's peak resident memory so far (VmHWM), in bytes; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd: list[str], **kwargs) -> dict:
    """Wall seconds and peak RSS (MB, process tree) of a command that must succeed.

    The time ends when the process is reaped (no polling delay). Memory: each process's own
    high-water mark (VmHWM), read every 50 ms and summed over the tree. Peaks that do not
    coincide add up, so the figure is an upper bound of the tree's real peak, never below it;
    and a high-water mark cannot be missed between reads, so the reading can be sparse and
    take almost no CPU from a command that uses every core (sampling RSS every 20 ms took 5%).
    """
    # Written data still being flushed (the previous benchmark's output) would take CPU and
    # disk from this run: flush it first.
    os.sync()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, **kwargs)
        peaks: dict[int, int] = {}
        done = threading.Event()

        def follow() -> None:
            root = psutil.Process(proc.pid)
            polls = 0
            while not done.is_set():
                # Listing the children scans every process (~1 ms): every 200 ms only.
                if polls % 4 == 0:
                    with contextlib.suppress(psutil.Error):
                        for child in root.children(recursive=True):
                            peaks.setdefault(child.pid, 0)
                polls += 1
                for pid in [proc.pid, *peaks]:
                    peaks[pid] = max(peaks.get(pid, 0), _peak_rss(pid))
                done.wait(0.05)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        follower.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # The root's own peak, to its last moment (ru_maxrss also covers the children it
        # reaped, which can only make the figure larger).
        peaks[proc.pid] = max(peaks.get(proc.pid, 0), usage.ru_maxrss * 1024)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    peak = sum(peaks.values())
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak / 2**20, 1), "stdout": stdout}


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
