"""The README's examples run as written. Each example is a fenced block right after a marker comment,
`<!-- readme-example: KIND -->`: `shell` (each line a `seqtrain` command), `python` (one script),
`transcript` (`$ command` lines and the output they print; `...` stands for the rest of a line).
`needs SEQTRAIN_DATA` in the marker skips the block without the corpora.

The quick start runs in one scratch folder, in order, as a reader would type it: the Python snippet
loads the runs the shell commands trained."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # fresh processes and real (toy) trainings

MARKER = re.compile(r"<!-- readme-example: ([^>]*?) -->\n```\w*\n(.*?)\n```", re.S)


def readme_examples() -> list[tuple[str, str]]:
    """(kind, code) of every marked block of README.md, in order."""
    return MARKER.findall((REPO / "README.md").read_text(encoding="utf-8"))


def examples(kind: str) -> list[str]:
    return [code for marker, code in readme_examples() if marker == kind]


def commands(code: str) -> list[list[str]]:
    """The argument lists of a shell block's `seqtrain` lines (comments dropped)."""
    argvs = [shlex.split(line, comments=True) for line in code.splitlines()]
    argvs = [a for a in argvs if a]
    assert all(a[0] == "seqtrain" for a in argvs), argvs
    return [a[1:] for a in argvs]


def scratch_folder(tmp_path):
    """A folder like the repository root for a reader's commands: configs/ there, runs/ written there."""
    (tmp_path / "configs").symlink_to(REPO / "configs")
    return tmp_path


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory):
    """The quick start's shell commands, run in order: (folder, [(argv, result)])."""
    folder = scratch_folder(tmp_path_factory.mktemp("readme"))
    env = {"SEQTRAIN_DATA": str(folder / "no-corpora-here"), "COLUMNS": "120"}
    (block,) = examples("shell")
    results = []
    for argv in commands(block):
        threads = ["-o", "train.threads=1"] if argv[0] == "train" else []  # a shared 2-core machine
        results.append((argv, run_cli(*argv, *threads, env=env, cwd=folder, timeout=300)))
    return folder, results


def test_the_readme_marks_its_quick_start_examples():
    kinds = [kind for kind, _ in readme_examples()]
    assert kinds.count("shell") == 1 and kinds.count("python") == 1 and "transcript" in kinds


def test_every_quick_start_command_succeeds(quick_start):
    _, results = quick_start
    assert [(argv, r.code, r.err[-500:]) for argv, r in results if r.code != 0] == []


def test_the_quick_start_tags_the_sentence_finds_entities_and_writes_a_quatrain(quick_start):
    _, results = quick_start
    outputs = {argv[0]: r.out for argv, r in results}
    tagged, entities = [r.out.strip() for argv, r in results if argv[0] == "predict"]
    assert re.fullmatch(r"(\S+/[A-Z]+ ?)+", tagged), tagged
    assert re.search(r"\[[A-Z]+ [^\]]+\]", entities), entities  # [PER Ada Lovelace] moved to ...
    hanzi = re.findall(r"[\u4e00-\u9fff]", outputs["generate-poem"])
    assert len(hanzi) == 20, outputs["generate-poem"]


def test_the_readme_python_snippet_runs_and_prints_tags(quick_start):
    folder, _ = quick_start
    (snippet,) = examples("python")
    env = {**os.environ, "PYTHONPATH": str(REPO), "SEQTRAIN_DATA": str(folder / "no-corpora-here")}
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"\bThe/[A-Z]+ dog/[A-Z]+", proc.stdout), proc.stdout


def test_the_readme_transcripts_print_what_they_show(tmp_path):
    folder = scratch_folder(tmp_path)
    for block in examples("transcript"):
        command, *expected = block.splitlines()
        argv = shlex.split(command.removeprefix("$ "))
        assert argv[0] == "seqtrain"
        result = run_cli(*argv[1:], cwd=folder)
        printed = (result.out + result.err).strip().splitlines()
        assert len(printed) == len(expected), printed
        for line, shown in zip(printed, expected):
            assert re.fullmatch(".*".join(map(re.escape, shown.split("..."))), line), (line, shown)


@pytest.mark.skipif(not os.environ.get("SEQTRAIN_DATA"), reason="needs the corpora: set SEQTRAIN_DATA")
def test_the_readme_corpus_commands_run(tmp_path):
    """The corpus example, with its training cut to a few steps (the command, config and corpus are
    what is checked here; its accuracy is on the results pages). `data download` is left out: the
    corpora are already in $SEQTRAIN_DATA, and tests reach no network."""
    folder = scratch_folder(tmp_path)
    (block,) = examples("shell, needs SEQTRAIN_DATA")
    for argv in commands(block):
        if argv[:2] == ["data", "download"]:
            continue
        if argv[0] == "train":
            argv += ["-o", "train.max_steps=5", "-o", "train.threads=1"]
        result = run_cli(*argv, cwd=folder, timeout=600)
        assert result.code == 0, (argv, result.err[-2000:])
