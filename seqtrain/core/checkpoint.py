"""Checkpoint files: one plain-data dict per file, written atomically, read with weights_only=True.

This module only writes and reads the files (and checks the format marker); what a checkpoint holds
is defined in seqtrain/training/state.py (CHECKPOINT_SCHEMA).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import torch

from seqtrain.core.errors import UserError
from seqtrain.core.textfile import open_regular

FORMAT = "seqtrain-checkpoint"
FORMAT_VERSION = 1
SHAPES = {"task": str, "config": dict, "task_state": dict, "model": dict, "progress": dict}  # what a reader may rely on


def save_checkpoint(payload: dict, path: Path) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: a crash or a full disk at
    any moment leaves either the old checkpoint or the new one, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def same_plain_data(a, b) -> bool:
    """Whether two pieces of checkpoint data (tensors, numbers, strings, lists, dicts, nested) are
    equal: `==` on a dict holding tensors raises, and a list read back may have been a tuple."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same_plain_data(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(same_plain_data(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def load_checkpoint(path: str | Path, map_location="cpu", require: tuple[str, ...] = ()) -> dict:
    """Load and check a checkpoint; every way it can be wrong is a UserError naming the file.
    `require`: keys the caller reads (seqtrain.training.state: MODEL_KEYS, RESUME_KEYS)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pt", path / "best.pt"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise UserError(f"{path}: checkpoint not found (a directory without checkpoints/best.pt)")
    try:
        with open_regular(path, "checkpoint") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on foreign files
            ckpt = torch.load(f, map_location=map_location, weights_only=True)
    except UserError:
        raise
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise UserError(f"{path}: not a readable checkpoint (not a torch file)") from None
        wanted = re.search(r"GLOBAL (\S+)", str(e))
        what = f": it asks to call {wanted.group(1)}" if wanted else ""
        raise UserError(f"{path}: refused: the file holds pickled Python objects, which could run code "
                        f"when loaded{what}; seqtrain checkpoints never do") from None
    except Exception:  # an untrusted file can make the unpickler fail in any way
        raise UserError(f"{path}: not a readable checkpoint (truncated, or not written by torch.save)") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not a seqtrain checkpoint")
    if ckpt.get("version") != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format version {ckpt.get('version')} is not supported by this "
                        f"seqtrain (reads version {FORMAT_VERSION})")
    missing = [key for key in require if key not in ckpt]
    if missing:
        raise UserError(f"{path}: incomplete checkpoint (no {', '.join(missing)})")
    for key, kind in SHAPES.items():
        if key in ckpt and not isinstance(ckpt[key], kind):
            raise UserError(f"{path}: damaged checkpoint: {key} is a {type(ckpt[key]).__name__}, "
                            f"expected a {kind.__name__}")
    if isinstance(ckpt.get("model"), dict) and not all(isinstance(v, torch.Tensor) for v in ckpt["model"].values()):
        raise UserError(f"{path}: damaged checkpoint: model holds something other than tensors")
    return ckpt
