"""Background commands (train, eval, export, serve) that outlive a page reload or the studio.

Each job is the real CLI (`python -m twin train …`) started in its own session under a small
watcher (`python -m twin.studio.jobs`) that records the exit code, so a job's state can be read
back from files by a studio started later. Stopping sends SIGINT, on which `twin train` saves a
checkpoint before it exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from twin.errors import TwinError

WATCHER = "twin.studio.jobs"


@dataclass
class Job:
    kind: str
    folder: Path  # the project's jobs/ folder

    @property
    def spec_path(self) -> Path:
        return self.folder / f"{self.kind}.json"

    @property
    def exit_path(self) -> Path:
        return self.folder / f"{self.kind}.exit.json"

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.kind}.log"

    def spec(self) -> dict | None:
        try:
            return json.loads(self.spec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def exit_code(self) -> int | None:
        try:
            return int(json.loads(self.exit_path.read_text(encoding="utf-8"))["code"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running(self) -> bool:
        spec = self.spec()
        if spec is None or self.exit_path.exists():
            return False
        return _alive(int(spec["pid"]))

    def state(self) -> str:
        """'none', 'running', 'done', 'failed', 'stopped' or 'lost' (ended without a word)."""
        spec = self.spec()
        if spec is None:
            return "none"
        if self.running():
            return "running"
        code = self.exit_code()
        if code is None:
            return "lost"
        if spec.get("stopping") and code in (0, 130, -signal.SIGINT):
            return "stopped"  # `twin train` saves a checkpoint on SIGINT and exits 0
        return "done" if code == 0 else "failed"

    def start(
        self, args: list[str], cwd: Path, meta: dict | None = None, env: dict | None = None
    ) -> None:
        """Run `twin ARGS` in the background; refuses while the same kind of job runs."""
        if self.running():
            raise TwinError(f"a {self.kind} job is already running; stop it first")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.exit_path.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            WATCHER,
            str(self.exit_path),
            "--",
            sys.executable,
            "-m",
            "twin",
            *args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(self.log_path, "wb") as log:
            kwargs: dict = (
                {"start_new_session": True}
                if os.name == "posix"
                else {
                    "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
                }
            )
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                **kwargs,
            )
        # Until the watcher has replaced the forked copy of this process (its command line is
        # ours until exec), it would not be seen as running.
        deadline = time.monotonic() + 10
        while not _alive(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        spec = {
            "kind": self.kind,
            "pid": proc.pid,
            "args": args,
            "started": time.time(),
            **(meta or {}),
        }
        self.spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")

    def stop(self, timeout: float = 60.0) -> bool:
        """Ask the job to stop (SIGINT to its whole group); True once it has ended."""
        spec = self.spec()
        if spec is None or not self.running():
            return True
        spec["stopping"] = True
        self.spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        pid = int(spec["pid"])
        _signal_group(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return True
            time.sleep(0.2)
        _signal_group(pid, signal.SIGTERM)
        return not self.running()

    def log_tail(self, lines: int = 20, max_bytes: int = 16384) -> str:
        """The end of the job's output, with progress bars' carriage returns resolved."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        shown = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in data.split("\n")]
        return "\n".join([line for line in shown if line.strip()][-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a pid reused by another program is not our job
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return WATCHER.encode() in cmdline


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(pid, sig)
        else:  # pragma: no cover
            os.kill(pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
    except (ProcessLookupError, PermissionError):
        pass


def _watch(exit_path: str, cmd: list[str]) -> int:
    """Run the command, pass SIGINT/SIGTERM on, and record how it ended."""
    # The group's SIGINT is for the child. A handler, not SIG_IGN: an ignored signal would stay
    # ignored in the child after exec.
    signal.signal(signal.SIGINT, lambda *_: None)
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    code = child.wait()
    # Written whole or not at all: a reader must never see half of it.
    tmp = Path(exit_path + ".tmp")
    tmp.write_text(json.dumps({"code": code, "ended": time.time()}), encoding="utf-8")
    tmp.replace(exit_path)
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m twin.studio.jobs EXIT_FILE -- COMMAND …")
    sys.exit(_watch(argv[0], argv[2:]))
