"""Shared test helpers: run the CLI (in this process or in a fresh one) and check its error contract."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A suite started in the background without job control (`pytest &` in a script) inherits an ignored
# SIGINT, and so does every seqtrain it starts: a Ctrl-C test whose signal comes before the trainer
# installs its own handler would see it vanish. The Ctrl-C tests need what a terminal gives.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def cli(*args: str) -> CliResult:
    """`seqtrain ARGS` through the real entry point (seqtrain.cli.main), in this process: fast.
    An exception escaping main() is reported in `err` as the traceback a user would see."""
    from seqtrain.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["seqtrain", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        err.write(traceback.format_exc())
        code = 1
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli(*args: str, env: dict | None = None, cwd: str | Path | None = None, timeout: float = 120,
            **popen) -> CliResult:
    """`python -m seqtrain ARGS` in a fresh process (signals, exit codes, real stderr)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "seqtrain", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, **popen)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def predicted_here_and_in_a_fresh_process(run: Path, sentences: list[str]) -> list[str]:
    """The lines `predict` writes for `sentences` in this process, asserting a fresh
    `seqtrain predict` process (the checkpoint alone) writes the same."""
    from seqtrain.inference import predict
    from seqtrain.tasks.base import PredictOptions

    here = predict(run, list(sentences), PredictOptions()).text
    fresh = run_cli("predict", run, *sentences)
    assert fresh.code == 0, fresh.err
    assert fresh.out.strip() == here.strip()
    return here.splitlines()


def assert_user_error(result: CliResult, *fragments: str) -> str:
    """The bad-input contract: exit status 2, one line on stderr starting 'error:', no traceback."""
    assert "Traceback" not in result.err, result.err
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ROOT with its size and mtime: compare two to prove nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


TINY_HELLO = """\
task: hello
data:
  pairs: [[hello, ohlol]]
  repeat: 8
model: {cell: rnn, hidden_size: 4}
train: {epochs: 3, batch_size: 2, lr: 0.1, device: cpu, threads: 1}
"""


@pytest.fixture
def hello_config(tmp_path) -> Path:
    """A hello config that trains in well under a second (4 steps an epoch, 3 epochs)."""
    path = tmp_path / "hello.yaml"
    path.write_text(TINY_HELLO)
    return path


def trained(factory, config: Path, *overrides: str) -> Path:
    """A run of CONFIG (with -o OVERRIDES) trained in a fresh folder of FACTORY (tmp_path_factory)."""
    run = factory.mktemp(config.stem) / "run"
    result = cli("train", config, "--run-dir", run, "-q", *[a for o in overrides for a in ("-o", o)])
    assert result.code == 0, result.err
    return run


@pytest.fixture(scope="session")
def trained_hello(tmp_path_factory) -> Path:
    config = tmp_path_factory.mktemp("hello") / "hello.yaml"
    config.write_text(TINY_HELLO)
    run = config.parent / "run"
    result = cli("train", config, "--run-dir", run, "--quiet")
    assert result.code == 0, result.err
    return run


@pytest.fixture
def hello_run(tmp_path, trained_hello) -> Path:
    """A finished tiny hello run directory of this test's own (a copy of one trained per session)."""
    import shutil

    return Path(shutil.copytree(trained_hello, tmp_path / "hello-run"))


def run_cli_limited(*args: str, memory_mb: int = 2048, timeout: float = 60, **kwargs) -> CliResult:
    """run_cli in a child whose address space is capped (resource.setrlimit) and whose run time is
    bounded: a regression to "reads forever" fails the test instead of eating the machine or CI."""
    import resource

    def cap() -> None:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        return run_cli(*args, timeout=timeout, preexec_fn=cap, **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail(f"seqtrain {' '.join(map(str, args))} did not finish within {timeout} s")


@pytest.fixture(scope="module")
def lm():
    """An untrained poem model over the tiny sample's characters: its choices are close to random,
    the hardest case for constrained decoding. (task, model)."""
    import torch

    from seqtrain.core.paths import data_root, resolve_paths
    from seqtrain.tasks import load_config
    from seqtrain.tasks.tang.task import TangTask

    cfg = load_config(REPO / "configs" / "tang-tiny.yaml", ["model.hidden_size=32"])
    task, _ = TangTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)
    torch.manual_seed(0)
    return task, task.build_model().eval()


def write_poems(lm, **request) -> list[dict]:
    """Poems the `lm` fixture's model writes for a PoemRequest with these fields."""
    from seqtrain.tasks.tang.request import PoemRequest

    task, model = lm
    return task.generate(model, PoemRequest(**request))
