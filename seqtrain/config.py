"""Experiment configs: YAML in, typed dataclasses out, validated once before any work starts.

A config has four parts: `task` (which task module reads it), `data` and `model` (dataclasses the
task defines), and `train` (TrainConfig, shared by every task). Every field has a default and a help
text; `seqtrain config TASK` prints them all.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seqtrain.errors import UserError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data"


def opt(default: Any, help: str, *, min: float | None = None, max: float | None = None,
        path: bool = False, exclusive_min: bool = False) -> Any:
    """A config field with its documentation and range. `path=True` marks a file under the data root."""
    meta = {"help": help, "min": min, "max": max, "path": path, "exclusive_min": exclusive_min}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ScheduleConfig:
    name: Literal["none", "step", "plateau", "cosine"] = opt("none", "learning-rate schedule")
    step_size: int = opt(1, "step: decay every this many epochs", min=1)
    gamma: float = opt(0.5, "step: multiply the rate by this", min=0, exclusive_min=True)
    factor: float = opt(0.5, "plateau: multiply the rate by this when the monitored metric stalls",
                        min=0, exclusive_min=True)
    patience: int = opt(1, "plateau: evaluations without improvement before decaying", min=0)
    min_lr: float = opt(0.0, "plateau/cosine: lower bound of the rate", min=0)


@dataclass
class TrainConfig:
    epochs: int = opt(10, "passes over the training data", min=1)
    max_steps: int = opt(0, "stop after this many optimizer steps (0: no limit)", min=0)
    batch_size: int = opt(32, "examples per optimizer step (per process under torchrun)", min=1)
    optimizer: Literal["sgd", "adam", "adamw"] = opt("adam", "optimizer")
    lr: float = opt(1e-3, "learning rate", min=0, exclusive_min=True)
    momentum: float = opt(0.0, "sgd momentum", min=0, max=1)
    weight_decay: float = opt(0.0, "L2 penalty (decoupled for adamw)", min=0)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig, metadata={"help": "learning-rate schedule"})
    clip_grad_norm: float = opt(5.0, "clip the gradient norm to this (0: off)", min=0)
    eval_every: int = opt(0, "evaluate (and save last.pt) every this many steps (0: once per epoch)", min=0)
    monitor: str = opt("", "metric that picks best.pt, e.g. accuracy or loss (empty: the task's choice)")
    early_stopping: int = opt(0, "stop after this many evaluations without improvement (0: off)", min=0)
    bucket: bool = opt(True, "group examples of similar length into batches (less padding)")
    device: str = opt("auto", "auto (CUDA if available), cpu, cuda or cuda:N")
    precision: Literal["fp32", "bf16", "fp16"] = opt("fp32", "autocast precision on CUDA (fp16 uses a GradScaler)")
    threads: int = opt(0, "CPU threads for torch (0: torch's default)", min=0)
    on_nan: Literal["stop", "skip_batch"] = opt("stop", "what a NaN or inf loss does")
    log_every: int = opt(20, "refresh the progress bar every this many steps", min=1)


@dataclass
class Config:
    task: str
    data: Any
    model: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    name: str = "run"

    def to_dict(self) -> dict:
        return {"task": self.task, "name": self.name, "seed": self.seed,
                "data": dataclasses.asdict(self.data), "model": dataclasses.asdict(self.model),
                "train": dataclasses.asdict(self.train)}


# ---------------------------------------------------------------- loading

def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a YAML config, apply `key=value` overrides, validate. Raises UserError naming file or key."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    raw.setdefault("name", path.stem)
    for item in overrides:
        apply_override(raw, item)
    return config_from_dict(raw, source=str(path))


def read_yaml_mapping(path: Path) -> dict:
    from seqtrain.textfile import read_text

    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    text = read_text(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        reason = getattr(e, "problem", None) or "not valid YAML"
        raise UserError(f"{path}{line}: not valid YAML: {reason}") from None
    except RecursionError:
        raise UserError(f"{path}: not a config: nested too deeply") from None
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
        raise UserError(f"override {item!r}: expected KEY=VALUE, e.g. train.epochs=5")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    parts = [part.strip() for part in key.split(".")]
    if not all(parts):
        raise UserError(f"override {item!r}: the key {key!r} has an empty part; expected KEY=VALUE, e.g. train.epochs=5")
    node = raw
    for part in parts[:-1]:
        if node.get(part) is None:  # absent, or an empty section (`train:` in the YAML)
            node[part] = {}
        if not isinstance(node[part], dict):
            raise UserError(f"override {item!r}: {part} is not a section")
        node = node[part]
    node[parts[-1]] = parsed


def config_from_dict(raw: dict, source: str = "config") -> Config:
    from seqtrain.tasks import TASKS  # tasks import torch; keep it out of `seqtrain --help`

    if not isinstance(raw, dict):
        raise UserError(f"{source}: a config must be a mapping")
    check_keys(raw, ["task", "name", "seed", "data", "model", "train"], "")
    task_name = raw.get("task")
    if task_name is None:
        raise UserError(f"{source}: missing key 'task' (one of {', '.join(sorted(TASKS))})")
    if not isinstance(task_name, str) or task_name not in TASKS:
        hint = suggest(str(task_name), TASKS)
        raise UserError(f"task: unknown task {task_name!r}{hint}; choose one of {', '.join(sorted(TASKS))}")
    task = TASKS[task_name]
    return Config(task=task_name,
                  name=convert(raw.get("name", "run"), str, "name"),
                  seed=convert(raw.get("seed", 0), int, "seed"),
                  data=build(task.DataConfig, raw.get("data", {}), "data"),
                  model=build(task.ModelConfig, raw.get("model", {}), "model"),
                  train=build(TrainConfig, raw.get("train", {}), "train"))


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
        key = f"{prefix}.{name}"
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
            name = name if name.isprintable() else repr(name)  # one line, whatever the key holds
            raise UserError(f"{name}: unknown key{suggest(str(key), valid)} "
                            f"(valid: {', '.join(valid)})")


def suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def convert(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    if origin is Literal:
        if value not in args:
            raise UserError(f"{key}: expected one of {', '.join(map(str, args))}, got {value!r}"
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
            raise UserError(f"{key}: {value} is out of range")
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


def check_range(value: Any, meta: typing.Mapping, key: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (value < low or (meta.get("exclusive_min") and value == low)):
        bound = f"greater than {low}" if meta.get("exclusive_min") else f"at least {low}"
        raise UserError(f"{key}: must be {bound}, got {value}")
    if high is not None and value > high:
        raise UserError(f"{key}: must be at most {high}, got {value}")


# ---------------------------------------------------------------- data files

def data_root(cli_value: str | Path | None = None) -> Path:
    """--data-dir, else $SEQTRAIN_DATA, else ./data."""
    return Path(cli_value or os.environ.get("SEQTRAIN_DATA") or "data")


def resolve_data_path(value: str, root: Path, key: str) -> Path:
    """A data file: absolute, or under the data root, or one of the samples shipped in data/."""
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [root / path, SAMPLES_DIR / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    where = "" if path.is_absolute() else f" under the data root {root} (set --data-dir or $SEQTRAIN_DATA)"
    raise UserError(f"{key}: file not found: {value}{where}")


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


def resolve_paths(section: Any, root: Path, prefix: str) -> dict[str, Path]:
    """Resolve every `path=True` field of a data section; missing files fail here, before training."""
    found = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):  # a nested section: keys like "embeddings.pretrained"
            nested = resolve_paths(value, root, f"{prefix}.{f.name}")
            found.update({f"{f.name}.{k}": v for k, v in nested.items()})
            continue
        if not f.metadata.get("path") or not value:
            continue
        if isinstance(value, list):
            paths = [p for v in value for p in resolve_data_glob(v, root, f"{prefix}.{f.name}")]
            found.update({f"{f.name}[{i}]": p for i, p in enumerate(paths)})
        else:
            found[f.name] = resolve_data_path(value, root, f"{prefix}.{f.name}")
    return found


# ---------------------------------------------------------------- documentation

def describe_defaults(cls: type, indent: int = 0) -> list[str]:
    """YAML lines with every key, its default and its help, for `seqtrain config TASK`."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        pad = " " * indent
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            lines.append(f"{pad}{f.name}:  # {f.metadata.get('help', '')}")
            lines += describe_defaults(hint, indent + 2)
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        value = yaml.safe_dump(default, default_flow_style=True, allow_unicode=True).strip()
        value = value.removesuffix("\n...").removesuffix("...").strip()
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else ()
        extra = f" [{'|'.join(map(str, choices))}]" if choices else ""
        lines.append(f"{pad}{f.name}: {value}  # {f.metadata.get('help', '')}{extra}")
    return lines
