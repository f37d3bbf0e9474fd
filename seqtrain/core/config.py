"""Experiment configs: YAML in, typed dataclasses out, validated once before any work starts.

A config has a `task` name, `seed` and `name`, and three sections: `data` and `model` (dataclasses
the task defines, in its own `Config` subclass) and `train` (TrainConfig, shared by every task).
Every field has a default and a help text; `seqtrain config TASK` prints them all. The task registry
is passed in: this module knows no task.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from seqtrain.core.documents import parse_yaml, read_yaml
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section

MAX_SEED = 2**32 - 1  # the widest range torch, NumPy and Python's random all accept


@dataclass
class ScheduleConfig:
    name: Literal["none", "step", "plateau", "cosine"] = opt("none", "learning-rate schedule")
    step_size: int = opt(1, "step: decay every this many epochs", min=1, max=10**9)
    gamma: float = opt(0.5, "step: multiply the rate by this", min=0, exclusive_min=True, max=1e6)
    factor: float = opt(0.5, "plateau: multiply the rate by this when the monitored metric stalls",
                        min=0, exclusive_min=True, max=1)
    patience: int = opt(1, "plateau: evaluations without improvement before decaying", min=0, max=10**9)
    min_lr: float = opt(0.0, "plateau/cosine: lower bound of the rate", min=0, max=1e6)


@dataclass
class TrainConfig:
    epochs: int = opt(10, "passes over the training data", min=1, max=10**9)
    max_steps: int = opt(0, "stop after this many optimizer steps (0: no limit)", min=0, max=10**15)
    batch_size: int = opt(32, "examples per optimizer step (per process under torchrun)", min=1, max=10**7)
    optimizer: Literal["sgd", "adam", "adamw"] = opt("adam", "optimizer")
    lr: float = opt(1e-3, "learning rate", min=0, exclusive_min=True)
    momentum: float = opt(0.0, "sgd momentum", min=0, max=1)
    weight_decay: float = opt(0.0, "L2 penalty (decoupled for adamw)", min=0, max=1e6)
    schedule: ScheduleConfig = section(ScheduleConfig, "learning-rate schedule")
    clip_grad_norm: float = opt(5.0, "clip the gradient norm to this (0: off)", min=0, max=1e12)
    average_decay: float = opt(0.0, "keep an exponential moving average of the weights, this decay per step "
                                    "(0.999: about the last 1,000 steps); evaluations, best.pt and predict use "
                                    "it (0: off)", min=0, max=0.99999)
    eval_every: int = opt(0, "evaluate (and save last.pt) every this many steps (0: once per epoch)",
                          min=0, max=10**15)
    monitor: str = opt("", "metric that picks best.pt, e.g. accuracy or loss (empty: the task's choice)")
    early_stopping: int = opt(0, "stop after this many evaluations without improvement (0: off)", min=0, max=10**9)
    bucket: bool = opt(True, "group examples of similar length into batches (less padding)")
    device: str = opt("auto", "auto (CUDA if available), cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16", "fp16"] = opt("fp32", "autocast precision on CUDA (fp16 uses a GradScaler)")
    threads: int = opt(0, "CPU threads for torch (0: torch's default)", min=0, max=1024)
    on_nan: Literal["stop", "skip_batch"] = opt("stop", "what a NaN or inf loss does")
    log_every: int = opt(20, "refresh the progress bar every this many steps", min=1, max=10**9)


@dataclass
class Config:
    """The whole experiment. Each task subclasses it, giving `data` and `model` their own types."""
    task: str = ""
    name: str = opt("run", "run name: runs/NAME/<timestamp> (default: the config file's name)")
    seed: int = opt(0, "seed of everything random: init, shuffling, dropout", min=0, max=MAX_SEED)
    data: Any = None
    model: Any = None
    train: TrainConfig = section(TrainConfig, "training settings shared by every task")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class TaskRegistry(typing.Protocol):
    """What config loading needs of the task registry: name -> a class with a `Config` dataclass."""
    def __contains__(self, name: object) -> bool: ...
    def __getitem__(self, name: str) -> Any: ...
    def __iter__(self) -> typing.Iterator[str]: ...


# ---------------------------------------------------------------- loading

def load_config(path: str | Path, overrides: typing.Sequence[str], tasks: TaskRegistry) -> Config:
    """Read a YAML config, apply `key=value` overrides, validate. Raises UserError naming file or key."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    raw.setdefault("name", path.stem)
    for item in overrides:
        apply_override(raw, item)
    return config_from_dict(raw, tasks, source=str(path))


def read_yaml_mapping(path: Path) -> dict:
    raw = read_yaml(path, what="config file")
    if raw is None:
        raise UserError(f"{path}: config file is empty")
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a config must be a mapping of keys (task, data, model, train), "
                        f"got a {type(raw).__name__}")
    return raw


def apply_override(raw: dict, item: str) -> None:
    """`train.epochs=5` -> raw['train']['epochs'] = 5 (the value is parsed as YAML)."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"override {bounded(item)}: expected KEY=VALUE, e.g. train.epochs=5")
    try:
        parsed = parse_yaml(value, "override") if value.strip() else ""
    except UserError:
        parsed = value
    set_value(raw, key, parsed, what=f"override {bounded(item)}")


def set_value(raw: dict, key: str, value: Any, what: str = "") -> None:
    """raw['train']['epochs'] = value for the dotted key `train.epochs`, creating sections on the
    way; what an override does once its value is parsed (hyperparameter search sets values this way)."""
    what = what or bounded(key)
    parts = [part.strip() for part in key.split(".")]
    if not all(parts):
        raise UserError(f"{what}: the key {bounded(key)} has an empty part; "
                        f"expected KEY=VALUE, e.g. train.epochs=5")
    node = raw
    for part in parts[:-1]:
        if node.get(part) is None:  # absent, or an empty section (`train:` in the YAML)
            node[part] = {}
        if not isinstance(node[part], dict):
            raise UserError(f"{what}: {part} is not a section")
        node = node[part]
    node[parts[-1]] = value


def config_from_dict(raw: Any, tasks: TaskRegistry, source: str = "config") -> Config:
    if not isinstance(raw, dict):
        raise UserError(f"{source}: a config must be a mapping")
    names = ", ".join(sorted(tasks))
    task_name = raw.get("task")
    if task_name is None:
        check_keys(raw, [f.name for f in dataclasses.fields(Config)], "")
        raise UserError(f"{source}: missing key 'task' (one of {names})")
    if not isinstance(task_name, str) or task_name not in tasks:
        hint = suggest(str(task_name), tasks)
        raise UserError(f"task: unknown task {bounded(task_name)}{hint}; choose one of {names}")
    check_run_name(raw.get("name"))
    return build(tasks[task_name].Config, raw, "")


def check_run_name(name: Any) -> None:
    """`name` becomes a folder under runs/ (runs/NAME/<time>, runs/NAME-tune/): one plain folder
    name, so that no config writes a run anywhere else."""
    if name is None:
        return  # the default
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise UserError(f"name: expected a run name (a string), got {describe(name)}")
    text = str(name)
    if not text.strip() or text.startswith(".") or any(c in text for c in "/\\") or not text.isprintable() \
            or len(text) > 100:
        raise UserError(f"name: {bounded(text)} is not a usable run name (one folder name of at most 100 "
                        f"printable characters, not starting with a dot, with no / or \\)")


def build(cls: type, values: Any, prefix: str) -> Any:
    """Dataclass `cls` from a dict, checking keys, types and ranges; errors name the dotted key."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise UserError(f"{prefix}: expected a mapping of keys, got {describe(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(values, list(fields), prefix)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in values:
            if dataclasses.is_dataclass(hints[name]):
                kwargs[name] = build(hints[name], {}, key)
            continue
        value = convert(values[name], hints[name], key)
        check_range(value, f.metadata, key)
        kwargs[name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        check()  # cross-field rules, raising UserError naming the key
    return obj


def check_keys(values: dict, valid: list[str], prefix: str) -> None:
    for key in values:
        if key not in valid:
            name = f"{prefix}.{key}" if prefix else str(key)
            name = bounded(name) if not name.isprintable() or len(name) > 60 else name
            raise UserError(f"{name}: unknown key{suggest(str(key), valid)} (valid: {', '.join(valid)})")


def suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key[:100], list(valid), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def bounded(value: Any, limit: int = 60) -> str:
    """repr of a value for an error line: one line, and never longer than `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def describe(value: Any) -> str:
    return f"{type(value).__name__} {bounded(value)}" if not isinstance(value, (dict, list)) \
        else type(value).__name__


def convert(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    if origin is Literal:
        if not isinstance(value, typing.Hashable) or value not in args:
            raise UserError(f"{key}: expected one of {', '.join(map(str, args))}, got {bounded(value)}"
                            f"{suggest(str(value), [str(a) for a in args])}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(value, inner[0], key)
    if origin is list:
        if not isinstance(value, list):
            raise UserError(f"{key}: expected a list, got {describe(value)}")
        return [convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{key}: expected true or false, got {describe(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{key}: expected a whole number, got {describe(value)}")
        if not -2**63 <= value < 2**63:  # what torch and numpy can hold
            raise UserError(f"{key}: {bounded(value)} is out of range")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{key}: expected a number, got {describe(value)}")
        if not math.isfinite(value):
            raise UserError(f"{key}: expected a finite number, got {value}")
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise UserError(f"{key}: expected a string, got {describe(value)}")
        return str(value)
    raise TypeError(f"config field {key} has an unsupported type {hint}")


def check_range(value: Any, meta: Mapping, key: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (value < low or (meta.get("exclusive_min") and value == low)):
        bound = f"greater than {low}" if meta.get("exclusive_min") else f"at least {low}"
        raise UserError(f"{key}: must be {bound}, got {value}")
    if high is not None and value > high:
        raise UserError(f"{key}: must be at most {high}, got {value}")


# ---------------------------------------------------------------- documentation

class ConfigKey(typing.NamedTuple):
    """One key of a config class: its dotted name, default (as YAML), help and allowed values. A
    section (a nested dataclass) has default None."""
    key: str
    default: str | None
    help: str
    choices: tuple


def config_keys(cls: type, prefix: str = "") -> typing.Iterator[ConfigKey]:
    """Every key of a config class, depth first: what `seqtrain config TASK` prints and what the
    docs' config reference lists (both read this, so neither can drift from the dataclasses)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, key, help = hints[f.name], prefix + f.name, f.metadata.get("help", "")
        if dataclasses.is_dataclass(hint):
            yield ConfigKey(key, None, help, ())
            yield from config_keys(hint, key + ".")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        value = yaml.safe_dump(default, default_flow_style=True, allow_unicode=True).strip()
        value = value.removesuffix("\n...").removesuffix("...").strip()
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else ()
        yield ConfigKey(key, value, help, tuple(map(str, choices)))


def describe_defaults(cls: type) -> list[str]:
    """YAML lines with every key, its default and its help, for `seqtrain config TASK`."""
    lines = []
    for k in config_keys(cls):
        pad, name = "  " * k.key.count("."), k.key.rsplit(".", 1)[-1]
        if k.default is None:
            lines.append(f"{pad}{name}:  # {k.help}")
            continue
        extra = f" [{'|'.join(k.choices)}]" if k.choices else ""
        lines.append(f"{pad}{name}: {k.default}  # {k.help}{extra}")
    return lines
