"""What a run directory holds, and how seqtrain tells a run it wrote from anything else (the
`wrote_it` test that seqtrain.core.owned asks of a directory before replacing it)."""

from __future__ import annotations

import json
from pathlib import Path

from seqtrain.core.owned import LOCK

MARKER = ".seqtrain-run"  # written first into every run directory: how seqtrain knows its own runs
RUN_FILES = {MARKER, LOCK, "config.yaml", "metrics.jsonl", "summary.json", "loss.png", "checkpoints",
             "word2vec.vec", "vectors.pt", ".vectors.pt.lock", ".word2vec.vec.lock"}  # the vectors a run read or trained, kept
CHECKPOINT_FILES = {"last.pt", "best.pt"}


def is_run(folder: Path) -> bool:
    """A run seqtrain wrote: its marker, or (runs from before the marker) config.yaml beside checkpoints/."""
    return (folder / MARKER).is_file() or ((folder / "config.yaml").is_file() and (folder / "checkpoints").is_dir())


def not_a_run(folder: Path) -> str | None:
    """None if FOLDER is a run seqtrain wrote and holds nothing else (the files a run writes, their
    temporary files, and the artifacts summary.json lists); else why not."""
    if not is_run(folder):
        return "holds files that are not a seqtrain run; seqtrain replaces only runs it wrote, give another --run-dir"
    known = RUN_FILES | set(listed_artifacts(folder))
    entries = [(p, known) for p in folder.iterdir()]
    if (folder / "checkpoints").is_dir():
        entries += [(p, CHECKPOINT_FILES) for p in (folder / "checkpoints").iterdir()]
    for path, names in entries:
        if not (path.name in names or is_temporary(path.name)):
            return (f"holds {path.relative_to(folder)}, which seqtrain did not write; move it out first, "
                    f"or give another --run-dir")
    return None


def listed_artifacts(folder: Path) -> list[str]:
    try:
        listed = json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("artifacts") or []
        return [Path(str(a)).name for a in listed]
    except (OSError, ValueError, AttributeError, TypeError):
        return []


def is_temporary(name: str) -> bool:
    """A file seqtrain writes beside another and renames over it (or a write test), left by a kill."""
    return name.startswith(".") and (".tmp" in name or name.startswith(".seqtrain-write-test-"))
