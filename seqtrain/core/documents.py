"""YAML and JSON from users (configs, `-o` values, search spaces, poem files): one reader, bounded.

Python's parsers trust their input: PyYAML takes minutes on a 10 MB config and builds whatever it
describes; `int()` refuses more than 4,300 digits with a ValueError; a deep nesting ends in a
RecursionError. Here every document is bounded in size, depth, number of values and length of a
number, and anything else is one UserError naming the file and line.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import yaml

from seqtrain.core.errors import UserError

# a config or a search space is a few hundred bytes and a few dozen values; PyYAML, pure Python, reads
# about 20,000 values a second, so these bounds keep any document to a second or two
MAX_YAML_BYTES = 1 << 20
MAX_YAML_VALUES = 20_000
MAX_DEPTH = 50
# no setting needs a number longer than this; Python's own limit (4,300 digits) is a ValueError
MAX_NUMBER_CHARS = 100


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """The YAML document in PATH, bounded; UserError naming the file (and line) for anything else."""
    from seqtrain.core.textfile import read_text

    return parse_yaml(read_text(path, what=what, max_bytes=MAX_YAML_BYTES), str(path))


def parse_yaml(text: str, where: str) -> Any:
    if len(text) > MAX_YAML_BYTES:
        raise UserError(f"{where}: longer than {MAX_YAML_BYTES >> 20} MiB; seqtrain does not read YAML that large")
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        reason = getattr(e, "problem", None) or "not valid YAML"
        raise UserError(f"{where}{line}: not valid YAML: {reason}") from None
    except RecursionError:
        raise UserError(f"{where}: not valid YAML: nested too deeply") from None


def refuse(problem: str, node_or_event) -> typing.NoReturn:
    raise yaml.MarkedYAMLError(problem=problem, problem_mark=node_or_event.start_mark)


class StrictLoader(yaml.SafeLoader):
    """safe_load that refuses what a config never needs and a hostile file abuses: aliases (a few
    hundred bytes of them expand into gigabytes), duplicate keys (silently last-wins), more values
    or deeper nesting than any config has, and numbers longer than any setting."""

    def __init__(self, stream):
        super().__init__(stream)
        self.values = 0
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            refuse("aliases (*name) are not allowed in a config", event)
        self.values += 1
        if self.values > MAX_YAML_VALUES:
            refuse(f"more than {MAX_YAML_VALUES:,} values; a config has a few dozen (put long lists in a data file)",
                   event)
        if self.depth >= MAX_DEPTH:
            refuse(f"nested too deeply (more than {MAX_DEPTH} levels)", event)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and key in seen:
                refuse(f"duplicate key {quoted(key)}", key_node)
            if isinstance(key, typing.Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):
        # every value is built here: a number past a limit, an impossible date (2024-13-45) or an
        # empty `!!int ""` raise ValueError, OverflowError, IndexError... inside PyYAML's constructors
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float")) \
                and len(node.value) > MAX_NUMBER_CHARS:
            refuse(f"a number of {len(node.value):,} characters; seqtrain reads numbers of at most "
                   f"{MAX_NUMBER_CHARS}", node)
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, IndexError, KeyError, TypeError, AttributeError) as e:
            refuse(f"cannot read the value {node.value[:40]!r} ({str(e)[:80]})" if isinstance(node, yaml.ScalarNode)
                   else f"cannot read this value ({str(e)[:80]})", node)


def quoted(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


class NumberTooLong(ValueError):
    pass


def bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberTooLong(text)
    return int(text)


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON document in PATH; UserError naming the file (and line) for anything else."""
    from seqtrain.core.textfile import read_text

    return parse_json(read_text(path, what=what), str(path))


def parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_int=bounded_int)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}:{e.lineno}: not valid JSON: {e.msg}") from None
    except NumberTooLong as e:
        line = text.count("\n", 0, max(text.find(str(e)), 0)) + 1
        raise UserError(f"{where}:{line}: not valid JSON: a number of {len(str(e)):,} digits; seqtrain reads "
                        f"numbers of at most {MAX_NUMBER_CHARS}") from None
    except RecursionError:
        raise UserError(f"{where}: not valid JSON: nested too deeply") from None
