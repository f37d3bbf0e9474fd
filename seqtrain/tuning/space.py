"""A search space: dotted config keys mapped to distributions, read from YAML and checked against
the config before any trial runs.

    train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}    # float (the field's type), log-uniform
    model.hidden_size: {choices: [64, 128, 256]}
    model.num_layers: {low: 1, high: 3}                  # int, every value
    model.input_dropout: {low: 0.0, high: 0.5, step: 0.1}

Every value a trial may get (low, high, every choice) goes through the validation of `-o KEY=VALUE`
(core.config.set_value + config_from_dict) here, so a space that names an unknown key, a wrong type
or a value out of range is one line naming the key, before anything is written.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtrain.core.config import Config, bounded, describe, set_value
from seqtrain.core.documents import read_yaml
from seqtrain.core.errors import UserError
from seqtrain.tasks import config_from_dict

SPEC_KEYS = ("low", "high", "log", "step", "choices")
SCALARS = (str, int, float, bool, type(None))
MAX_GRID_POINTS = 10_000  # combinations of a grid search: each is a training run


@dataclass(frozen=True)
class Param:
    """One searched key: a float or int range (log-uniform, or on a step grid), or choices."""
    key: str
    kind: str                       # "float", "int" or "choices"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def values_to_check(self) -> list:
        return list(self.choices) if self.kind == "choices" else [self.low, self.high]

    def suggest(self, trial) -> Any:
        if self.kind == "choices":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid_points(self) -> float | None:
        """How many values grid() lists, as a float (step 5e-324 over a wide range gives inf, which no
        int conversion survives); None for a continuous range."""
        if self.kind == "choices":
            return float(len(self.choices))
        if self.kind == "int" and not self.log:
            return float((self.high - self.low) // (self.step or 1) + 1)
        if self.kind == "float" and self.step:
            return math.floor(n) + 1.0 if math.isfinite(n := (self.high - self.low) / self.step + 1e-9) else math.inf
        return None

    def grid(self) -> list | None:
        """Every value, for the grid sampler (check_grid first); None for a continuous range."""
        if self.kind == "choices":
            return list(self.choices)
        if self.kind == "int" and not self.log:
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.kind == "float" and self.step:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            return [round(self.low + i * self.step, 12) for i in range(n + 1)]
        return None


def read_space(path: Path, raw_config: dict) -> list[Param]:
    """The space in PATH, every value checked against the config `raw_config` (a dict as read from
    the config YAML, overrides applied). Raises UserError naming the file and key."""
    path = Path(path)
    raw = read_yaml(path, what="search space")
    if raw is None or raw == {}:
        raise UserError(f"{path}: the search space is empty; map config keys to "
                        f"{{low, high}} or {{choices: [...]}}, e.g. train.lr: {{low: 1.0e-4, high: 1.0e-2, log: true}}")
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a search space must be a mapping of config keys to distributions, "
                        f"got a {type(raw).__name__}")
    cls = type(config_from_dict(copy.deepcopy(raw_config), source="config"))
    params = [parse_param(str(key), spec, field_hint(cls, str(key), f"{path}: {key}"), f"{path}: {key}")
              for key, spec in raw.items()]
    for param in params:
        for value in param.values_to_check():
            try:
                trial_config(raw_config, {param.key: value})
            except UserError as e:
                raise UserError(f"{path}: {e} (in the space of {param.key})") from None
    return params


def check_grid(params: list[Param], where: str) -> None:
    """The grid sampler lists every value of every key, and every combination, before the first trial:
    a range of 4e9 integers or of step 1e-12 would fill the memory. UserError naming the key."""
    total, keys = 1.0, []
    for param in params:
        points = param.grid_points()
        if points is None:
            raise UserError(f"{where}: {param.key}: the grid sampler needs choices, an int range "
                            f"or a float range with a step")
        if points > MAX_GRID_POINTS:
            raise UserError(f"{where}: {param.key}: a grid of {points:.3g} values; the grid sampler takes at most "
                            f"{MAX_GRID_POINTS:,} (give a larger step or fewer choices, or use --sampler tpe)")
        total, keys = total * points, keys + [param.key]
        if total > MAX_GRID_POINTS:
            raise UserError(f"{where}: {', '.join(keys)}: a grid of {total:.3g} combinations; the grid sampler "
                            f"takes at most {MAX_GRID_POINTS:,} (give larger steps or fewer keys, or use --sampler tpe)")


def parse_param(key: str, spec: Any, hint: Any, where: str) -> Param:
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected {{low, high[, log, step]}} or {{choices: [...]}}, got {describe(spec)}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise UserError(f"{where}: unknown field {bounded(unknown[0])} (valid: {', '.join(SPEC_KEYS)})")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise UserError(f"{where}: give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}: choices must be a non-empty list, got {describe(choices)}")
        bad = [c for c in choices if not isinstance(c, SCALARS)]
        if bad:
            raise UserError(f"{where}: a choice must be a number, string, true/false or null, got {describe(bad[0])}")
        if len({repr(c) for c in choices}) != len(choices):
            raise UserError(f"{where}: choices has a value twice")
        return Param(key, "choices", choices=tuple(choices))
    return parse_range(key, spec, hint, where)


def parse_range(key: str, spec: dict, hint: Any, where: str) -> Param:
    if "low" not in spec or "high" not in spec:
        raise UserError(f"{where}: a range needs both low and high (or give choices: [...])")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(f"{where}: {name} must be a number, got {describe(value)}")
    if not isinstance(log, bool):
        raise UserError(f"{where}: log must be true or false, got {describe(log)}")
    if low > high:
        raise UserError(f"{where}: low ({low}) is greater than high ({high})")
    if step is not None and step <= 0:
        raise UserError(f"{where}: step must be greater than 0, got {step}")
    if log and step is not None:
        raise UserError(f"{where}: give log or step, not both")
    if log and low <= 0:
        raise UserError(f"{where}: a log range needs low > 0, got {low}")
    if hint is None:  # not a field: the config check names the unknown key
        kind = "int" if all(isinstance(v, int) for v in (low, high)) else "float"
    elif hint in (int, float):
        kind = hint.__name__
    else:
        raise UserError(f"{where}: a range needs a numeric key; {key} takes {type_name(hint)}: give choices: [...]")
    if kind == "int" and step is not None and not isinstance(step, int):
        raise UserError(f"{where}: step must be a whole number for an integer key, got {step}")
    if kind == "float":
        low, high, step = float(low), float(high), (float(step) if step is not None else None)
    return Param(key, kind, low=low, high=high, log=log, step=step)


def field_hint(cls: type, key: str, where: str) -> Any:
    """The type of the config field a dotted key names (Optional unwrapped), or None if there is none."""
    hint: Any = cls
    for part in key.split("."):
        if not dataclasses.is_dataclass(hint):
            return None
        hints = typing.get_type_hints(hint)
        if part.strip() not in hints:
            return None
        hint = hints[part.strip()]
    if dataclasses.is_dataclass(hint):
        raise UserError(f"{where}: is a section of the config, not a value; name one of its keys")
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def type_name(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    return getattr(hint, "__name__", str(hint))


def trial_config(raw_config: dict, values: dict[str, Any]) -> Config:
    """The config with these values set, validated exactly as `-o KEY=VALUE` overrides are."""
    raw = copy.deepcopy(raw_config)
    for key, value in values.items():
        set_value(raw, key, value, what=key)
    return config_from_dict(raw, source="config")


def format_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
