"""Library chatter off unless --verbose: a newcomer should read twin's lines, not the libraries'.

transformers, peft, torch and gradio print deprecation warnings (`is_gradient_checkpointing is
deprecated`), info logs and their own progress bars ("Loading weights", "Converting and
de-quantizing GGUF tensors"); to someone who did nothing wrong they look like errors. Without
--verbose (or TWIN_VERBOSE=1) the warnings of those libraries are hidden, their loggers show
errors only and their bars are off; twin says itself what a long wait is for. Warnings raised by
twin's own code and errors of every kind still show.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import warnings
from collections.abc import Iterator

LIBRARIES = (
    "transformers",
    "peft",
    "torch",
    "accelerate",
    "huggingface_hub",
    "tokenizers",
    "gradio",
    "gradio_client",
    "httpx",
    "uvicorn",
    "fastapi",
    "jieba",
    "matplotlib",
    "PIL",
    "gguf",
    "urllib3",
)
# Library warnings arrive through these categories; twin's own code never raises them.
CATEGORIES = (FutureWarning, DeprecationWarning, PendingDeprecationWarning, UserWarning)


def verbose_requested(argv: list[str]) -> bool:
    return "--verbose" in argv or os.environ.get("TWIN_VERBOSE", "") not in ("", "0")


def quiet_libraries(verbose: bool = False) -> None:
    """Hide the libraries' warnings, info logs and progress bars (all of it stays with verbose)."""
    if verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "info")
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # its fork warning
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    for category in CATEGORIES:
        warnings.filterwarnings("ignore", category=category, module=_library_pattern())
        # Deprecations that a library raises on behalf of another are attributed to the
        # caller's module (stacklevel), which can be a library we did not list: by message.
    warnings.filterwarnings("ignore", message=r".*is deprecated.*", category=FutureWarning)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        _quiet_transformers()


def _library_pattern() -> str:
    return r"(" + "|".join(LIBRARIES) + r")(\.|$)"


def _quiet_transformers() -> None:
    """transformers reads TRANSFORMERS_VERBOSITY once at import; when it was imported already."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@contextlib.contextmanager
def no_bars_in(module_name: str) -> Iterator[None]:
    """Turn off a library module's own tqdm bars for a while (ones no setting reaches, such as
    transformers' GGUF conversion bar); twin says what the wait is for instead."""
    module = sys.modules.get(module_name)
    bar = getattr(module, "tqdm", None)
    if module is None or bar is None or verbose_requested([]):
        yield
        return
    module.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        module.tqdm = bar
