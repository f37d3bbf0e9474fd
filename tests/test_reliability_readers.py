"""Reliability, round 3: readers and bounds. Every YAML and JSON document goes through one bounded
reader (core/documents.py), every text file is split into lines at LF (CRLF) only, CoNLL-U token IDs
are checked as the format defines them, and the sizes a user controls (lexicon tags, grid points,
numbers) have limits. Each case ends in one line naming the file and line, key or option, exit
status 2 (docs/reliability.md lists them with these tests)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_HELLO, assert_user_error, cli, run_cli_limited
from seqtrain.core.checkpoint import load_checkpoint, save_checkpoint
from seqtrain.core.errors import UserError

POS_TOY = REPO / "configs" / "pos-toy.yaml"
TOKENIZE_TOY = REPO / "configs" / "tokenize-toy.yaml"
TANG_TINY = REPO / "configs" / "tang-tiny.yaml"
HUGE = "1" * 5000  # more digits than Python's int() reads (4,300)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def trained(factory, config: Path, *overrides: str) -> Path:
    run = factory.mktemp(config.stem) / "run"
    result = cli("train", config, "--run-dir", run, "-q", *[a for o in overrides for a in ("-o", o)])
    assert result.code == 0, result.err
    return run


# ---------------------------------------------------------------- YAML and JSON: one bounded reader

@pytest.mark.parametrize("line", [
    f"seed: {HUGE}",                                  # decimal: int() refuses more than 4,300 digits
    f"seed: -{HUGE}",
    "seed: 0x" + "f" * 5000,                          # hex: int() reads it, the error line could not print it
    "seed: " + ":".join(["1"] * 3000),                # YAML 1.1 base 60
    "train: {lr: " + ":".join(["1"] * 300) + ".5}",   # base-60 float: OverflowError
    "train: {lr: " + HUGE + ".5}",
], ids=["decimal", "negative", "hex", "base-60", "base-60-float", "float"])
def test_a_number_too_long_for_any_setting_in_a_config_is_one_line_naming_its_line(tmp_path, line):
    config = write(tmp_path / "c.yaml", f"task: hello\n{line}\n")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:2:", "number")
    assert not (tmp_path / "run").exists()


def test_a_value_yaml_cannot_build_is_one_line_naming_its_line(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\nname: 2024-13-45\n")  # a date with month 13
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:2:", "2024-13-45")


def test_an_integer_of_thousands_of_digits_in_an_override_is_one_line_naming_the_key(tmp_path, hello_config):
    result = cli("train", hello_config, "--run-dir", tmp_path / "run", "-o", f"seed={HUGE}")
    assert_user_error(result, "seed:")
    assert not (tmp_path / "run").exists()


def test_an_integer_of_thousands_of_digits_in_a_search_space_is_one_line(tmp_path, hello_config, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a study would be written under ./runs
    space = write(tmp_path / "space.yaml", f"model.hidden_size: {{low: 1, high: {HUGE}}}\n")
    assert_user_error(cli("tune", hello_config, "--space", space, "--trials", "1"), f"{space}:1:", "number")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text, fragments", [
    (f'[{{"title": "t", "paragraphs": ["白日依山盡。"], "id": {HUGE}}}]', (":1:", "5,000 digits")),
    ('[{"title": "t",\n "paragraphs": ["白日依山盡。"],\n "n": -' + HUGE + "}]", (":3:", "digits")),
    ("[" * 100_000 + "]" * 100_000, ("nested too deeply",)),
], ids=["integer", "negative-integer-line-3", "deep"])
def test_a_poem_json_the_json_reader_cannot_hold_is_one_line(tmp_path, text, fragments):
    poems = write(tmp_path / "poems.json", text)
    result = cli("train", TANG_TINY, "--run-dir", tmp_path / "run", "-o", f"data.files=[{poems}]")
    assert_user_error(result, str(poems), *fragments)
    assert not (tmp_path / "run").exists()


def test_written_poems_with_a_huge_number_are_one_line(tmp_path):
    poems = write(tmp_path / "written.json", f'[{{"poem": "白日依山盡", "n": {HUGE}}}]')
    result = cli("eval-poems", poems, "-r", TANG_TINY)  # (the reference's poems are counted on stderr first)
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert result.err.strip().splitlines()[-1].startswith(f"error: {poems}:1: not valid JSON: a number of 5,000 digits")


@pytest.mark.parametrize("name", ["c.yaml", "space.yaml"])
def test_a_10_mb_yaml_file_is_refused_unread_within_seconds(tmp_path, hello_config, name):
    big = tmp_path / name
    big.write_text("task: hello\ndata:\n  pairs:\n" + "  - [hello, ohlol]\n" * 560_000)  # 10 MB
    args = ("train", big, "--run-dir", tmp_path / "runs") if name == "c.yaml" \
        else ("tune", hello_config, "--space", big, "--trials", "1")
    started = time.monotonic()
    result = run_cli_limited(*args, cwd=tmp_path, timeout=60)
    assert_user_error(result, str(big), "larger than 1 MiB")
    assert time.monotonic() - started < 30
    assert not (tmp_path / "runs").exists()


def test_a_yaml_document_of_too_many_values_is_refused_within_seconds(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\ndata: {pairs: [" + ", ".join(["[a, b]"] * 80_000) + "]}\n")
    assert config.stat().st_size < 1 << 20  # under the byte limit: the count of values stops it
    started = time.monotonic()
    result = run_cli_limited("train", config, "--run-dir", tmp_path / "run", timeout=60)
    assert_user_error(result, f"{config}:2:", "more than 20,000 values")
    assert time.monotonic() - started < 20


def test_yaml_nested_deeper_than_the_limit_names_the_line(tmp_path):
    config = write(tmp_path / "c.yaml", "task: hello\ndata:\n  pairs: " + "[" * 60 + "]" * 60 + "\n")
    assert_user_error(cli("train", config, "--run-dir", tmp_path / "run"), f"{config}:3:", "nested too deeply")
