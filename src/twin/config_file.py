"""twin.toml: one file, a table per command ([build], [train], …), read the same way by each.

Values come from the dataclass defaults, then the command's table, then the flags given on the
command line (None means not given). Unknown keys are errors, so a typo is never ignored.
"""

from __future__ import annotations

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TwinError(
                f"{path}: unknown key(s) in [{section}]: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return cls(**values)
    except TypeError as e:
        raise TwinError(f"{section} config: {e}") from e
