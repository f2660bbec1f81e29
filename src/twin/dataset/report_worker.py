"""report.html drawn beside the build, in a second process: matplotlib takes a third of a
second to import and tens of milliseconds per chart, and the training data need not wait."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path


class ReportWorker:
    """Draws report.html and its charts in a forked process while this one makes the data.

    Start it before numpy and pyarrow are imported (the CLI does): the fork is then small, and
    the worker imports matplotlib on the second core while this one is still starting up. It
    draws the input's charts beside the sample building, and the rest once the final numbers
    arrive through the pipe. Without fork (Windows, macOS default) or with one core, the
    report is drawn in this process instead. Nothing here imports numpy.
    """

    def __init__(self) -> None:
        self._process = None
        self._conn = None
        self._folder: Path | None = None
        if (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            self._conn, child_conn = ctx.Pipe()
            self._process = ctx.Process(target=_child, args=(child_conn, self._conn), daemon=True)
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
            try:  # its process group: the worker and a helper drawing beside it
                os.killpg(self._process.pid, signal.SIGKILL)
            except OSError:
                self._process.kill()
            self._process.join()

    def cancel(self) -> None:
        """End a worker that was given no report to draw (or has drawn it)."""
        if self._process is not None and self._process.is_alive():
            self._conn.send(("stop",))
            self._process.join(timeout=5)
            if self._process.is_alive():
                self.abort()


def _run(job: tuple, processes: int = 1) -> None:
    from twin.dataset.report import overview_charts, result_charts, write_report

    if job[0] == "overview":
        _draw(overview_charts(job[1], job[2]), processes)
    else:
        folder, stats, data, examples, exact = job[1:]
        _draw(result_charts(folder, stats, data, exact), processes)
        write_report(folder, stats, data, examples)


def _draw(charts: list[Callable[[], object]], processes: int) -> None:
    """Every other chart in a forked helper when two processes may draw: the helper shares the
    imported matplotlib, and each chart takes tens of milliseconds of one core."""
    if processes < 2 or len(charts) < 2:
        for chart in charts:
            chart()
        return
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for chart in charts[1::2]:
                chart()
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    try:
        for chart in charts[::2]:
            chart()
    finally:
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("drawing a chart failed; see the error above")


def _child(conn, parent_end) -> None:  # noqa: ANN001
    # The fork holds both ends of the pipe: without closing the build's end here, a killed
    # build would leave this process waiting forever instead of seeing the pipe close.
    parent_end.close()
    try:
        # A process group of its own: abort() ends it together with a helper it forked, and
        # Ctrl-C in the terminal reaches the build alone, which then aborts it quietly.
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        os.nice(19)  # charts can wait; the data path goes first
        import twin.dataset.report  # noqa: F401  (the slow import, done while the parent works)

        while True:
            job = conn.recv()
            if job[0] == "stop":
                break
            _run(job, processes=2)
            if job[0] == "report":
                break
    except EOFError:
        os._exit(1)  # the build was killed before it said anything: nothing to draw or to say
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)
