"""The tasks seqtrain knows. TASKS is the only place a task name is looked up; `load_config` and
`config_from_dict` are the config loader with this registry passed in.

They are loaded on first use (PEP 562), so that a light module of a task (a request's declared
options, say) can be imported without torch and the task modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from seqtrain.core.config import Config


def _registry() -> dict[str, type]:
    from seqtrain.tasks.entities.task import EntitiesTask
    from seqtrain.tasks.hello import HelloTask
    from seqtrain.tasks.pos.task import PosTask
    from seqtrain.tasks.sincos import SinCosTask
    from seqtrain.tasks.tang.task import TangTask
    from seqtrain.tasks.tokenize.task import TokenizeTask

    return {
        "entities": EntitiesTask,
        "hello": HelloTask,
        "pos": PosTask,
        "sincos": SinCosTask,
        "tang": TangTask,
        "tokenize": TokenizeTask,
    }


def __getattr__(name: str) -> Any:
    if name == "TASKS":
        globals()["TASKS"] = tasks = _registry()
        return tasks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """A config YAML with `KEY=VALUE` overrides, validated against its task's sections."""
    from seqtrain.core import config

    return config.load_config(path, overrides, __getattr__("TASKS"))


def config_from_dict(raw: dict, source: str = "config") -> Config:
    from seqtrain.core import config

    return config.config_from_dict(raw, __getattr__("TASKS"), source)
