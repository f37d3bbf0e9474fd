"""Reliability, round 3: standard output and input as the shell hands them over (a full disk, a closed
descriptor, a reader that left, a pipe instead of a file), the command line's own text (bytes that are
not UTF-8, options given an empty value), and predict input formats a task does not read. Each ends in
one line naming the stream or option and exit status 2, or, for a reader that left, quietly
(docs/reliability.md lists them with these tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import REPO, CliResult, assert_user_error, cli

TANG_TINY = REPO / "configs" / "tang-tiny.yaml"
TOKENIZE_TOY = REPO / "configs" / "tokenize-toy.yaml"


def run_with(*args, stdin=None, stdout=subprocess.PIPE, close: tuple[int, ...] = (), pass_fds=()) -> CliResult:
    """`python -m seqtrain ARGS` in a fresh process with these standard streams (file objects or
    descriptors); `close`: descriptors the child closes before it starts, as the shell's `>&-`.
    An argument given as bytes reaches the child's argv as those bytes."""
    def close_descriptors() -> None:
        for fd in close:
            os.close(fd)

    proc = subprocess.run([sys.executable, "-m", "seqtrain", *(a if isinstance(a, bytes) else str(a) for a in args)],
                          stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, pass_fds=pass_fds,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=close_descriptors, timeout=120)
    out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else ""
    return CliResult(proc.returncode, out, proc.stderr.decode("utf-8", "replace"))


def trained(factory, config: Path, *overrides: str) -> Path:
    run = factory.mktemp(config.stem) / "run"
    result = cli("train", config, "--run-dir", run, "-q", "-o", "train.threads=1",
                 *[a for o in overrides for a in ("-o", o)])
    assert result.code == 0, result.err
    return run


@pytest.fixture(scope="module")
def tokenizer_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, TOKENIZE_TOY, "train.max_steps=2")


@pytest.fixture(scope="module")
def tang_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, TANG_TINY, "train.max_steps=2", "model.hidden_size=16")


# ---------------------------------------------------------------- standard output

@pytest.mark.parametrize("command", [["predict", "{run}", "hello"], ["info", "{run}"], ["config", "hello"]],
                         ids=["predict", "info (a rich table)", "config"])
@pytest.mark.slow
def test_results_to_a_full_disk_are_one_error_line(hello_run, command):
    with open("/dev/full", "w") as full:
        result = run_with(*[a.format(run=hello_run) for a in command], stdout=full)
    assert_user_error(result, "stdout", "No space left on device")


@pytest.mark.parametrize("command", [["predict", "{run}", "hello"], ["info", "{run}", "--json"]],
                         ids=["predict", "info --json"])
@pytest.mark.slow
def test_results_to_a_closed_stdout_are_one_error_line_not_silently_lost(hello_run, command):
    result = run_with(*[a.format(run=hello_run) for a in command], close=(1,))
    assert_user_error(result, "stdout is closed")


@pytest.mark.slow
def test_results_to_a_stdout_open_only_for_reading_are_one_error_line(hello_run):
    with open(os.devnull, "rb") as read_only:
        result = run_with("predict", hello_run, "hello", stdout=read_only)
    assert_user_error(result, "stdout", "Bad file descriptor")


@pytest.mark.slow
def test_a_reader_that_left_ends_the_command_quietly_as_unix_tools_do(hello_run):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` after head has exited: every write meets EPIPE
    try:
        result = run_with("info", hello_run, stdout=write_end)
    finally:
        os.close(write_end)
    assert result.err == "" and result.code == 141  # 128 + SIGPIPE, what the shell shows for `yes | head -1`


# ---------------------------------------------------------------- standard input and pipes

@pytest.mark.slow
def test_input_from_a_closed_stdin_is_one_error_line(hello_run):
    assert_user_error(run_with("predict", hello_run, "--input", "-", close=(0,)), "<stdin>", "closed")


@pytest.mark.slow
def test_input_from_a_stdin_open_only_for_writing_is_one_error_line(hello_run, tmp_path):
    with open(tmp_path / "out", "wb") as write_only:
        result = run_with("predict", hello_run, "--input", "-", stdin=write_only)
    assert_user_error(result, "<stdin>: cannot read", "Bad file descriptor")


@pytest.mark.slow
def test_input_from_process_substitution_is_read(hello_run):
    read_end, write_end = os.pipe()  # what bash's <(printf ...) hands over: /dev/fd/N, a pipe
    os.write(write_end, b"hello\nhello\n")
    os.close(write_end)
    try:
        result = run_with("predict", hello_run, "--input", f"/dev/fd/{read_end}", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert result.code == 0, result.err
    assert len(result.out.split()) == 2


def test_input_from_a_named_pipe_is_read(hello_run, tmp_path):
    fifo = tmp_path / "inputs"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=("hello\n",), daemon=True)
    writer.start()
    result = cli("predict", hello_run, "--input", fifo)
    if writer.is_alive():  # nobody opened the pipe: let the writer's open return
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(timeout=10)
    assert result.code == 0, result.err
    assert len(result.out.split()) == 1


def test_a_pipe_longer_than_the_cap_is_refused_as_stdin_is():
    from seqtrain.core.errors import UserError
    from seqtrain.core.textfile import read_text

    read_end, write_end = os.pipe()
    os.write(write_end, b"x" * 5000)
    os.close(write_end)
    try:
        with pytest.raises(UserError, match="larger than"):
            read_text(f"/dev/fd/{read_end}", what="input", max_bytes=4096, pipes=True)
    finally:
        os.close(read_end)


# ---------------------------------------------------------------- the command line's own text

@pytest.mark.slow
def test_an_argument_that_is_not_utf8_is_refused_not_echoed_raw(tokenizer_run):
    result = run_with("predict", tokenizer_run, b"caf\xe9 ok", "--output-format", "json")
    assert_user_error(result, "argument 3 is not UTF-8", "0xe9")
    assert result.out == ""


@pytest.mark.parametrize("args, option", [(["--rhyme-group", ""], "--rhyme-group"), (["--pattern", ""], "--pattern"),
                                          (["--start", ""], "--start"), (["--acrostic", ""], "--acrostic"),
                                          (["--start="], "--start"), (["--rhyme", "--rhyme-group="], "--rhyme-group")])
def test_an_empty_poem_option_is_refused_naming_it(tang_run, args, option):
    assert_user_error(cli("generate-poem", tang_run, "--form", "5", *args), f"{option}: empty value")


@pytest.mark.parametrize("command", [["eval-poems", "poems.txt", "-r", "{run}", "--acrostic", ""],
                                     ["predict", "{run}", "hello", "--input", ""],
                                     ["evaluate", "{run}", "--data-dir", ""]],
                         ids=["eval-poems --acrostic", "predict --input", "evaluate --data-dir"])
def test_an_empty_value_of_any_commands_option_is_refused(hello_run, command):
    assert_user_error(cli(*[a.format(run=hello_run) for a in command]), f"{command[-2]}: empty value")


# ---------------------------------------------------------------- predict input formats

@pytest.mark.parametrize("args", [["--format", "conllu"], ["--pretokenized"]])
def test_a_tokenizer_refuses_an_input_format_it_would_read_as_plain_text(tokenizer_run, args):
    result = cli("predict", tokenizer_run, "1\tThe\t_\t_", *args)
    assert_user_error(result, f"{' '.join(args)}: a tokenize model reads text only")


def test_a_hello_model_refuses_conllu_input(hello_run):
    assert_user_error(cli("predict", hello_run, "hello", "--format", "conllu"), "--format conllu", "reads text only")


def test_a_tokenizer_writes_conllu_for_output_format_conllu(tokenizer_run):
    result = cli("predict", tokenizer_run, "The dog ran.", "--output-format", "conllu")
    assert result.code == 0, result.err
    assert "# text = The dog ran." in result.out.splitlines()


@pytest.mark.slow
def test_a_file_opened_after_start_never_takes_a_closed_standard_descriptors_number(tmp_path):
    # else whatever a library writes to "stdout" would land in that file (a checkpoint being written)
    script = ("import sys; from seqtrain.core.output import reserve_standard_descriptors; "
              "reserve_standard_descriptors(); sys.stderr.write(str(open(sys.argv[1], 'w').fileno()))")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "f")], stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=lambda: os.close(1), timeout=60)
    assert proc.returncode == 0 and int(proc.stderr) > 2, proc.stderr
