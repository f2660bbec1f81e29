"""The model behind the page and the API: transformers (default) or llama.cpp (fast on CPU).

Both engines are `twin.generate.Generator`s — same prompt rendering with the run's chat format and
system prompt, same history trimming, same `stream(history, Settings)` — so the page and the API
never know which one answers. llama.cpp is several times faster per token on a CPU (the measured
figure: the README's Benchmarks table, from benchmarks/bench_decode.py) but needs `llama-cpp-python` and a GGUF of the run; transformers needs
nothing extra, so it stays the default.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from twin.errors import TwinError
from twin.generate import Generator, Settings
from twin.runs import RunInfo

ENGINES = ("transformers", "llamacpp")
# --no-warn-conflicts: the package of the embedded default model declares a dependency twin never
# uses (it only reads the model file in it), and pip would end a good install with an ERROR line
# about it.
INSTALL_LLAMACPP = "pip install --no-warn-conflicts llama-cpp-python"
# Bumped when the GGUF writer changes, so cached conversions are redone.
GGUF_FORMAT = 1


def import_llama_cpp():
    """llama_cpp, imported only when asked for: it is an optional, compiled dependency."""
    try:
        import llama_cpp
    except ImportError as e:
        raise TwinError(
            "--engine llamacpp needs llama-cpp-python, which is not installed. Install it with:\n"
            f"  {INSTALL_LLAMACPP}\n"
            "(it compiles llama.cpp, ~10 minutes on a laptop), or use --engine transformers"
        ) from e
    return llama_cpp


def cached_run_gguf(info: RunInfo, quant: str = "q8_0", progress: bool = True) -> Path:
    """A merged GGUF of the run, written once into the twin cache and reused.

    Keyed by the adapter's bytes, the base and the format version, so a retrained run or a new
    base never reuses a stale file. Q8_0 was the fastest and matched transformers' greedy replies
    on every prompt tried (docs/llamacpp.md).
    """
    from twin.export.gguf import run_model_gguf
    from twin.models import cache_dir

    h = hashlib.sha256()
    h.update(json.dumps([GGUF_FORMAT, quant, info.base_spec]).encode())
    if info.folder is not None:
        h.update((info.folder / "adapter_model.safetensors").read_bytes())
        h.update(json.dumps(info.chat_format.to_dict()).encode())
    target = cache_dir() / "run-gguf" / h.hexdigest()[:16] / f"model-{quant}.gguf"
    if not target.is_file():
        print(
            f"converting {info.label} to GGUF for llama.cpp (once; cached in {target.parent})",
            file=sys.stderr,
        )
        run_model_gguf(info, target, quant=quant, progress=progress)
    return target


class LlamaCppGenerator(Generator):
    """A Generator whose tokens come from llama.cpp instead of transformers.

    Prompts are still rendered and tokenized by the run's own tokenizer and chat format, and the
    token ids are handed to llama.cpp as they are, so both engines read exactly the same prompt.
    """

    def __init__(
        self,
        info: RunInfo,
        model_path: Path,
        lora_path: Path | None = None,
        n_ctx: int = 4096,
        threads: int | None = None,
    ) -> None:
        from twin.export.gguf import read_header
        from twin.models import load_tokenizer

        llama_cpp = import_llama_cpp()
        model_path = Path(model_path)
        if not model_path.is_file():
            raise TwinError(f"{model_path}: no such GGUF file")
        if lora_path is not None:
            from twin.export.gguf import validate_lora

            validate_lora(Path(lora_path), model_path)
        header = read_header(model_path)
        arch = header.get("general.architecture")
        trained_ctx = int(header.get(f"{arch}.context_length", n_ctx))
        self.info = info
        self.device = "cpu"
        self.model = None
        self._lock = threading.Lock()
        self.tokenizer = load_tokenizer(info.base())
        self.context = min(n_ctx, trained_ctx)
        self.model_path, self.lora_path = model_path, lora_path
        self.llm = llama_cpp.Llama(
            model_path=str(model_path),
            lora_path=str(lora_path) if lora_path else None,
            n_ctx=self.context,
            # None: llama-cpp-python's default, half the logical CPUs (about the physical cores).
            # Using every CPU is faster on an idle machine but llama.cpp's spinning threads
            # slow down many times over when another process takes a core.
            n_threads=threads,
            verbose=False,
        )
        if lora_path is not None and not getattr(self.llm, "_lora_adapter", None):
            self.close()
            raise TwinError(f"{lora_path}: llama.cpp could not load this LoRA adapter")

    def _stream_ids(
        self, ids: list[int], s: Settings, stops: list[str], timeout: float
    ) -> Iterator[str]:
        """llama.cpp's reply to prompt `ids`; `timeout` is unused (llama.cpp runs in this thread)."""
        greedy = not s.temperature or s.temperature <= 0
        with self._lock:
            try:
                pieces = self.llm.create_completion(
                    prompt=ids,
                    max_tokens=s.max_new_tokens,
                    temperature=0.0 if greedy else s.temperature,
                    top_p=s.top_p,
                    top_k=0,  # off, like transformers with top_p only
                    min_p=0.0,
                    repeat_penalty=s.repetition_penalty,
                    stop=stops or None,
                    stream=True,
                    seed=s.seed,
                )
            except Exception as e:
                raise RuntimeError(f"generation failed: {e}") from e
            try:
                while True:
                    try:
                        chunk = next(pieces)
                    except StopIteration:
                        break
                    except Exception as e:
                        raise RuntimeError(f"generation failed: {e}") from e
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            finally:
                pieces.close()

    def close(self) -> None:
        """Free llama.cpp's memory now (left to interpreter exit, its __del__ can raise)."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None


def load_engine(
    info: RunInfo,
    engine: str = "transformers",
    gguf: Path | None = None,
    lora: Path | None = None,
    threads: int | None = None,
) -> Generator:
    """The run's Generator on the chosen engine.

    For llama.cpp: `gguf` (a merged GGUF from `twin export --to gguf`), or `gguf` + `lora` (the
    base GGUF and the run's GGUF adapter), or neither — then a merged GGUF is made once into the
    cache.
    """
    if engine not in ENGINES:
        raise TwinError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "transformers":
        if gguf or lora:
            raise TwinError("--gguf and --lora are for --engine llamacpp")
        if threads:
            import torch

            torch.set_num_threads(threads)
        return Generator(info)
    import_llama_cpp()  # fail before any conversion work
    if lora and not gguf:
        raise TwinError("--lora needs --gguf (the base GGUF the adapter applies to)")
    model_path = Path(gguf) if gguf else cached_run_gguf(info)
    return LlamaCppGenerator(info, model_path, Path(lora) if lora else None, threads=threads)
