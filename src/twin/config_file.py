"""twin.toml: one file, a table per command ([build], [train], …), read the same way by each.

Values come from the dataclass defaults, then the command's table, then the flags given on the
command line (None means not given). Unknown keys and values of the wrong type are errors that
name the file, the table and the key, so a typo is never ignored and never a traceback.

The command-line flags of a settings dataclass are derived from its fields too: a field whose
metadata holds `flag(...)` becomes `--field-name`, typed from its annotation.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TypeVar

from twin.errors import TwinError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")

_KINDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def type_ok(value, annotation: str) -> bool:
    """Does a value (from TOML or a flag) fit a field annotated like 'int' or 'str | None'?"""
    for option in annotation.split(" | "):
        if option == "None" and value is None:
            return True
        if option == "list[str]" and isinstance(value, list):
            return all(isinstance(v, str) for v in value)
        if option == "bool" and isinstance(value, bool):
            return True
        if isinstance(value, bool):  # TOML true is not a number
            continue
        if option == "str" and isinstance(value, str):
            return True
        if option == "int" and isinstance(value, int):
            return True
        if option == "float" and isinstance(value, (int, float)):
            return True
    return False


def describe(annotation: str) -> str:
    """'int | None' -> 'a whole number': what a user may write for a field."""
    return " or ".join(
        "a list of strings" if o == "list[str]" else _KINDS.get(o, o)
        for o in annotation.split(" | ")
        if o != "None"
    )


def check_types(obj, where: str) -> None:
    """Every field of a settings dataclass holds a value of its annotated type."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not type_ok(value, f.type):
            raise TwinError(f"{where}: {f.name} must be {describe(f.type)}, not {value!r}")


def load_section(path: str | None, section: str, cls: type[T], overrides: dict) -> T:
    values: dict = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise TwinError(f"{path}: config file not found") from e
        except tomllib.TOMLDecodeError as e:
            raise TwinError(f"{path}: not valid TOML ({e})") from e
        values = data.get(section, {})
        if not isinstance(values, dict):
            raise TwinError(f"{path}: [{section}] must be a table")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise TwinError(
                f"{path}: unknown key(s) in [{section}]: {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
            )
        for key, value in values.items():
            annotation = fields[key].type
            if not type_ok(value, annotation):
                raise TwinError(
                    f"{path}: [{section}] {key} must be {describe(annotation)}, not {value!r}"
                )
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return cls(**values)
    except TypeError as e:
        raise TwinError(f"{section} config: {e}") from e


def flag(help: str, *, exclusive: str | None = None, **argparse_options) -> dict:
    """Field metadata that makes a settings field a command-line flag.

    `exclusive`: flags sharing this name may not be given together. Other options (choices,
    metavar) go to argparse as they are.
    """
    return {"flag": {"help": help, "exclusive": exclusive, **argparse_options}}


_FLAG_TYPES = {"int": int, "float": float, "str": str}


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """`--name` for every field of `cls` marked with flag(); unset flags are None."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for f in dataclasses.fields(cls):
        options = dict(f.metadata.get("flag") or {})
        if not options:
            continue
        exclusive = options.pop("exclusive")
        target = parser
        if exclusive is not None:
            if exclusive not in groups:
                groups[exclusive] = parser.add_mutually_exclusive_group()
            target = groups[exclusive]
        name = "--" + f.name.replace("_", "-")
        kinds = [k for k in f.type.split(" | ") if k != "None"]
        if kinds == ["bool"]:
            target.add_argument(name, action="store_true", default=None, **options)
        else:
            target.add_argument(name, type=_FLAG_TYPES[kinds[0]], **options)


def flag_values(args: argparse.Namespace, cls: type) -> dict:
    """The values of cls's flags as parsed (None where not given), by field name."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if "flag" in f.metadata}
