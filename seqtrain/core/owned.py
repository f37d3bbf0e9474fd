"""The one rule for destructive operations: seqtrain replaces or deletes only what it can tell it
wrote itself, and never what another live run holds. Anything else is a UserError (one line), and
nothing is touched. Callers say how they recognise their own files (`wrote_it`); the rule, the lock
test and the atomic replacement live here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from seqtrain.core.errors import UserError

LOCK = ".lock"  # a live run holds an OS lock on RUN_DIR/.lock (seqtrain.training.run_dir.locked)


@contextlib.contextmanager
def unheld(folder: Path, what: str) -> Iterator[None]:
    """Hold FOLDER's run lock for the block, or refuse if a live run holds it. A folder without a
    lock file is held by no run."""
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    except OSError as e:
        raise UserError(f"{what}: cannot check whether a run uses it ({e.strerror or e})") from None
    try:
        lock_or_refuse(fd, what)
        yield
    finally:
        os.close(fd)


def lock_or_refuse(handle, what: str) -> None:
    """Take the run lock on an open lock file (released when the file is closed or the process dies),
    or refuse: a live run holds it."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise UserError(f"{what}: in use by another seqtrain run; wait for it to finish, or stop it first") from None


def check_movable(folder: Path, what: str) -> None:
    """A folder that renaming cannot move: the working directory (or one above it), a mount point."""
    here, target = Path.cwd().resolve(), folder.resolve()
    if target == here or target in here.parents:
        raise UserError(f"{what}: is the working directory (or holds it); seqtrain will not replace it, "
                        f"give a --run-dir inside it")
    if os.path.ismount(target):
        raise UserError(f"{what}: is a mount point; seqtrain will not replace it, give a --run-dir inside it")


def move_aside(folder: Path, aside: Path, wrote_it: Callable[[Path], str | None], what: str) -> None:
    """Rename FOLDER (a run seqtrain wrote, that no live run holds) to ASIDE, a name seqtrain owns;
    `wrote_it(folder)` returns None for one of seqtrain's, else why not (the refusal)."""
    check_movable(folder, what)
    refusal = wrote_it(folder)
    if refusal:
        raise UserError(f"{what}: {refusal}")
    with unheld(folder, what):
        remove_owned_tree(aside)  # left by a start that was killed: seqtrain named it
        try:
            folder.rename(aside)
        except OSError as e:
            raise UserError(f"{what}: cannot move the old run aside ({e.strerror or e}); nothing was changed") from None


def remove_owned_tree(folder: Path) -> None:
    """Delete a folder seqtrain made itself (a run it moved aside, one it just created)."""
    shutil.rmtree(folder, ignore_errors=True)


def replace_file(path: Path, write: Callable[[Path], None], wrote_it: Callable[[Path], bool], what: str) -> None:
    """Write PATH through `write(temporary path)`, then rename it over PATH. An existing PATH must be
    one `wrote_it` recognises; a failed write leaves it as it was."""
    if path.is_symlink() or (path.exists() and not (path.is_file() and wrote_it(path))):
        raise UserError(f"{what}: {path} exists and is not a file seqtrain wrote for this option; "
                        f"give a new file name")
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
