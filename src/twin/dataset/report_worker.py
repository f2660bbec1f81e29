"""report.html drawn beside the build, in a second process: matplotlib takes a third of a
second to import and tens of milliseconds per chart, and the training data need not wait.

This process is one of the two start-up tricks of `twin build` that were kept (the other:
twin.ingest.no_pandas). Each was measured on the 1,000,000-message CSV by switching it off
(benchmarks/bench_startup.py). On an idle 2-core VM, 11 rounds, order rotated: medians with /
without the trick (interquartile range), and the median of the per-round paired differences ±
its interquartile range, in seconds:

| switched off | wall | build's own CPU | kept |
|---|---|---|---|
| this report process | 1.77 (0.13) / 2.56 (0.32); +0.81 ± 0.32 | +0.81 ± 0.45 | yes |
| pyarrow kept from importing pandas | 1.77 (0.13) / 2.12 (0.30); +0.20 ± 0.23 | +0.17 ± 0.28 | yes |

The pandas block moves the median by more than either spread, and in a separate run of 11
alternating pairs every build was slower without it (+0.40 s median). Measured earlier the same
way on a saturated machine (7 rounds, paired differences only) and removed: forking this
process before numpy loads (-0.36 ± 0.58 s CPU), OpenBLAS on one thread (-0.00 ± 0.14), gc.freeze
after the imports (+0.24 ± 0.40), and a second fork inside this worker drawing every other chart
(at most one extra process). The worker takes 0.8 s of CPU off the build's own path, which is
what a free second core turns into wall time.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path


class ReportWorker:
    """Draws report.html and its charts in a forked process while this one makes the data.

    The worker imports matplotlib on the second core, draws the input's charts beside the
    sample building, and the rest once the final numbers arrive through the pipe; it dies with
    the build however the build ends. Without fork (Windows) or with one core, the report is
    drawn in this process instead.
    """

    def __init__(self) -> None:
        self._process = None
        self._conn = None
        self._folder: Path | None = None
        if (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            self._conn, child_conn = ctx.Pipe()
            self._process = ctx.Process(
                target=_child, args=(child_conn, self._conn, os.getpid()), daemon=True
            )
            self._process.start()

    def overview(self, folder: Path, data) -> None:  # noqa: ANN001  (build.BuildData)
        """Start drawing: the charts of the input, while the samples are being made."""
        self._folder = folder
        self._send(("overview", folder, data))

    def draw(self, stats: dict, data, examples: list, exact: bool) -> None:  # noqa: ANN001
        """The rest of the report, once the numbers are final."""
        self._send(("report", self._folder, stats, data, examples, exact))

    def _send(self, job: tuple) -> None:
        if self._process is None:
            _run(job)
        else:
            self._conn.send(job)

    def wait(self) -> None:
        if self._process is None:
            return
        self._process.join()
        if self._process.exitcode != 0:
            raise RuntimeError(
                f"drawing the report failed (exit {self._process.exitcode}); see the error above"
            )

    def abort(self) -> None:
        """Stop at once: the build failed, and nothing the worker draws is wanted."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join()

    def cancel(self) -> None:
        """End a worker that was given no report to draw (or has drawn it)."""
        if self._process is not None and self._process.is_alive():
            self._conn.send(("stop",))
            self._process.join(timeout=5)
            if self._process.is_alive():
                self.abort()


def _run(job: tuple) -> None:
    from twin.dataset.report import overview_charts, result_charts, write_report

    if job[0] == "overview":
        charts = overview_charts(job[1], job[2])
    else:
        folder, stats, data, examples, exact = job[1:]
        charts = result_charts(folder, stats, data, exact)
    for chart in charts:
        chart()
    if job[0] == "report":
        write_report(folder, stats, data, examples)


# prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """End this process when `parent` (the build) dies, however it dies (kill -9 included).

    The closed pipe alone is not enough: it is seen only between jobs, and a worker that is
    importing matplotlib or drawing would keep going for seconds with nobody to report to. On
    Linux the kernel sends SIGKILL on the parent's death (prctl PDEATHSIG); elsewhere a thread
    checks every 0.2 s whether the parent is still the same process.
    """
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _child(conn, parent_end, parent: int) -> None:  # noqa: ANN001
    # The fork holds both ends of the pipe: without closing the build's end here, a killed
    # build would leave this process waiting forever instead of seeing the pipe close.
    parent_end.close()
    try:
        _die_with(parent)
        # Ctrl-C in the terminal reaches this process too: the build handles it (and aborts
        # this one), so it must not print a second traceback from here.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.nice(19)  # charts can wait; the data path goes first
        import twin.dataset.report  # noqa: F401  (the slow import, done while the parent works)

        while True:
            job = conn.recv()
            if job[0] == "stop":
                break
            _run(job)
            if job[0] == "report":
                break
    except EOFError:
        os._exit(1)  # the build was killed before it said anything: nothing to draw or to say
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)
