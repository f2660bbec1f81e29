"""Export a run in the forms other tools take.

  twin export RUN --to space     a folder to upload as a Hugging Face Space (free hosting)
  twin export RUN --to merged    the adapter merged into the base: a plain transformers model
  twin export RUN --to gguf      a GGUF file for llama.cpp (and LM Studio, llamafile…)
  twin export RUN --to ollama    a GGUF plus a Modelfile: `ollama create NAME -f Modelfile`

The output goes to -o DIR, by default a folder next to the run named RUN-<kind>.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twin.errors import TwinError

KINDS = ("space", "merged", "gguf", "ollama")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from twin.serve.config import add_page_flags

    p.add_argument("run", metavar="RUN_DIR", help="a run folder written by `twin train`")
    p.add_argument("--to", required=True, choices=KINDS, help="what to export")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default: RUN-<kind>)")
    p.add_argument(
        "--force", action="store_true", help="replace the output folder if it is not empty"
    )
    g = p.add_argument_group("gguf and ollama")
    g.add_argument(
        "--quant",
        choices=("q8_0", "f16", "f32"),
        default="q8_0",
        help="weight type: q8_0 (default: smallest and fastest, same replies in tests), f16, f32",
    )
    g.add_argument(
        "--gguf",
        choices=("merged", "adapter", "both"),
        default="merged",
        help="gguf: one merged model (default), or the base GGUF plus a GGUF LoRA adapter, or both",
    )
    s = p.add_argument_group("space (the page's look; default: the run's, as for `twin serve`)")
    add_page_flags(s, limits=False)


def output_dir(run: Path, kind: str, out: str | None, force: bool) -> Path:
    """The output folder, created empty; an existing non-empty one needs --force."""
    import shutil

    target = Path(out) if out else run.resolve().parent / f"{run.resolve().name}-{kind}"
    here, source = target.resolve(), run.resolve()
    if here == source or here in source.parents:
        raise TwinError(f"{target}: would hold or replace the run itself; pick another -o")
    if target.exists():
        if not target.is_dir():
            raise TwinError(f"{target}: exists and is not a folder")
        if any(target.iterdir()):
            if not force:
                raise TwinError(f"{target}: not empty; pass --force to replace it or -o another")
            shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    return target


def run(args: argparse.Namespace) -> int:
    from twin.runs import read_run

    info = read_run(args.run)
    out = output_dir(Path(args.run), args.to, args.out, args.force)
    if args.to == "space":
        from twin.export.space import export_space
        from twin.serve.config import page_config, page_flags

        cfg = page_config(info, **page_flags(args))
        export_space(info, out, cfg, progress=sys.stderr.isatty())
        print(f"Space folder: {out}  (see its README.md to upload it)", file=sys.stderr)
    elif args.to == "merged":
        from twin.export.merged import export_merged

        export_merged(info, out)
        print(f"merged model: {out}", file=sys.stderr)
    elif args.to == "gguf":
        from twin.export.gguf import export_gguf

        for path in export_gguf(info, out, args.quant, args.gguf, progress=sys.stderr.isatty()):
            print(f"GGUF: {path}", file=sys.stderr)
    else:
        from twin.export.ollama import export_ollama, ollama_name

        modelfile = export_ollama(info, out, args.quant, progress=sys.stderr.isatty())
        name = ollama_name(info)
        print(
            f"Ollama: {modelfile}\n  cd {out} && ollama create {name} -f Modelfile && ollama run {name}",
            file=sys.stderr,
        )
    return 0
