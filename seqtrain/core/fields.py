"""Config fields with their documentation and range. Imports nothing of seqtrain, so any layer may
declare a config section."""

from __future__ import annotations

import typing
from dataclasses import Field, field
from typing import Any


def opt(default: Any, help: str, *, min: float | None = None, max: float | None = None,
        path: bool = False, exclusive_min: bool = False, names: tuple[str, ...] = (),
        flags: tuple[str, ...] = ()) -> Any:
    """A config field with its documentation and range. `path=True` marks a file under the data root;
    `names` are values of such a field that name something built in, not a file (never resolved), alone
    or joined by "+". `flags`: its command-line names when the field is also an option and they are
    not just --field-name (see option_flags)."""
    meta = {"help": help, "min": min, "max": max, "path": path, "exclusive_min": exclusive_min, "names": names,
            "flags": flags}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, help: str) -> Any:
    """A nested config section (a dataclass) with its documentation."""
    return field(default_factory=cls, metadata={"help": help})


def option_flags(f: Field) -> tuple[str, ...]:
    """The command-line names of a field declared with opt: its `flags`, else --field-name."""
    return f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)


def option_name(f: Field) -> str:
    """The name an error line gives the option: its first flag, without a /--no- form."""
    return option_flags(f)[0].split("/")[0]
