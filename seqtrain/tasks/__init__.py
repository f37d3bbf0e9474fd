"""The tasks seqtrain knows. TASKS is the only place a task name is looked up; `load_config` and
`config_from_dict` are the config loader with this registry passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from seqtrain.core import config as _config
from seqtrain.tasks.entities.task import EntitiesTask
from seqtrain.tasks.hello import HelloTask
from seqtrain.tasks.pos.task import PosTask
from seqtrain.tasks.sincos import SinCosTask
from seqtrain.tasks.tang.task import TangTask
from seqtrain.tasks.tokenize.task import TokenizeTask

TASKS = {
    "entities": EntitiesTask,
    "hello": HelloTask,
    "pos": PosTask,
    "sincos": SinCosTask,
    "tang": TangTask,
    "tokenize": TokenizeTask,
}


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> _config.Config:
    """A config YAML with `KEY=VALUE` overrides, validated against its task's sections."""
    return _config.load_config(path, overrides, TASKS)


def config_from_dict(raw: dict, source: str = "config") -> _config.Config:
    return _config.config_from_dict(raw, TASKS, source)
