"""Data files: config values name them relative to a data root (--data-dir, else $SEQTRAIN_DATA,
else ./data), or the small samples shipped in the repository's data/ folder."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from seqtrain.core.errors import UserError

SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "data"


def data_root(cli_value: str | Path | None = None) -> Path:
    """--data-dir, else $SEQTRAIN_DATA, else ./data."""
    return Path(cli_value or os.environ.get("SEQTRAIN_DATA") or "data")


def resolve_data_path(value: str, root: Path, key: str, *, as_given: bool = False) -> Path:
    """A data file: absolute, or under the data root, or one of the samples shipped in data/;
    `as_given`: a relative path is first looked up from the working directory (a command-line
    argument). Whatever is found must be a regular file: a device or FIFO would never end."""
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [*([path] if as_given else []), root / path, SAMPLES_DIR / path]
    for candidate in candidates:
        if candidate.exists() or candidate.is_symlink():
            return regular_file(candidate, key)
    where = "" if path.is_absolute() else f" under the data root {root} (set --data-dir or $SEQTRAIN_DATA)"
    raise UserError(f"{key}: file not found: {value}{where}")


def regular_file(path: Path, key: str) -> Path:
    from seqtrain.core.textfile import open_regular

    try:
        open_regular(path).close()
    except UserError as e:
        raise UserError(f"{key}: {e}") from None
    return path


def resolve_data_glob(value: str, root: Path, key: str) -> list[Path]:
    """Like resolve_data_path; a pattern with * ? or [ gives every matching file, sorted."""
    if not any(c in value for c in "*?["):
        return [resolve_data_path(value, root, key)]
    path = Path(value).expanduser()
    bases = [Path(path.anchor)] if path.is_absolute() else [root, SAMPLES_DIR]
    pattern = str(path.relative_to(path.anchor)) if path.is_absolute() else value
    for base in bases:
        matches = sorted(p for p in base.glob(pattern) if p.is_file())
        if matches:
            return matches
    where = "" if path.is_absolute() else f" under the data root {root} (set --data-dir or $SEQTRAIN_DATA)"
    raise UserError(f"{key}: no file matches {value}{where}")


def names_only(value: Any, names: tuple[str, ...]) -> bool:
    """Whether a path field's value names built-in things instead of a file: one name, or several
    joined by "+" (data.lexicon: jieba+pku-1998)."""
    return isinstance(value, str) and bool(names) and all(part in names for part in value.split("+"))


def resolve_paths(section: Any, root: Path, prefix: str) -> dict[str, Path]:
    """Resolve every `path=True` field of a data section; missing files fail here, before training."""
    found = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):  # a nested section: keys like "embeddings.pretrained"
            nested = resolve_paths(value, root, f"{prefix}.{f.name}")
            found.update({f"{f.name}.{k}": v for k, v in nested.items()})
            continue
        if not f.metadata.get("path") or not value or names_only(value, f.metadata.get("names", ())):
            continue
        if isinstance(value, list):
            paths = [p for v in value for p in resolve_data_glob(v, root, f"{prefix}.{f.name}")]
            found.update({f"{f.name}[{i}]": p for i, p in enumerate(paths)})
        else:
            found[f.name] = resolve_data_path(value, root, f"{prefix}.{f.name}")
    return found


