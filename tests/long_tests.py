"""A pytest plugin: long tests say what they are doing.

`pytest -q` prints a dot only when a test ends, and the demo test alone runs for minutes, which
looked like a hang. Once a test (its fixtures included) has run TWIN_TEST_NOTICE seconds (20),
and then every TWIN_TEST_EVERY seconds (60), a line goes straight to the terminal, so it shows
with or without -s: the time so far, the test, and the first line of its docstring (or of its
module's) saying what it does.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext

import pytest

from twin.progress import clock


def _what(item) -> str:
    """First line of the test's docstring, else of its module's."""
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    doc = (doc or getattr(getattr(item, "module", None), "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        yield
        return
    first = float(os.environ.get("TWIN_TEST_NOTICE", "20"))
    every = float(os.environ.get("TWIN_TEST_EVERY", "60"))
    done = threading.Event()
    start = time.monotonic()

    capture = item.config.pluginmanager.get_plugin("capturemanager")
    lock = threading.Lock()

    def beat() -> None:
        wait = first
        while not done.wait(wait):
            what = _what(item)
            line = f"[{clock(time.monotonic() - start)}] still running {item.nodeid}"
            # Capture redirects the terminal's file descriptor too: lift it for this one line,
            # as pytest's live logging does.
            with lock, capture.global_and_fixture_disabled() if capture else nullcontext():
                if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
                    reporter.write("\n")  # after the dots of the tests before it
                reporter.write_line(line + (f": {what}" if what else ""))
            wait = every

    thread = threading.Thread(target=beat, name="long-test-notice", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        with lock:  # a line being written ends before the test's teardown goes on
            pass
        thread.join()
