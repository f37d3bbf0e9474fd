"""Standard output, where commands print their results: the one place a write that fails is handled.

Every printer (typer.echo, rich consoles, print) writes to sys.stdout; while a command runs that is a
`ResultsStdout`, so a full disk, an unwritable descriptor or a stdout closed at start (`>&-`) become one
UserError line instead of a traceback or output silently lost; a reader that went away (`| head -1`)
ends the command quietly, as Unix tools end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

from seqtrain.core.errors import UserError

READER_GONE_STATUS = 141  # 128 + SIGPIPE: the status a shell shows for `yes | head -1`'s yes


class ReaderGone(Exception):
    """Standard output is a pipe whose reader has closed it: nobody reads the rest."""


class ResultsStdout:
    """A text stream over the real stdout (None: it was closed when the process started) whose
    failures are errors of seqtrain's own kinds. (The buffered writer below drops what a failed
    write held, so the interpreter's last flush does not fail a second time.)"""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text) -> int:
        if not text:
            return self.stream.write(text) if self.stream is not None else 0
        if self.stream is None:
            raise UserError("stdout is closed, so the results have nowhere to go; "
                            "redirect it to a file (> out.txt), or to /dev/null to discard them")
        try:
            return self.stream.write(text)
        except OSError as e:
            raise self.failure(e) from None

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except OSError as e:
            raise self.failure(e) from None

    @staticmethod
    def failure(error: OSError) -> Exception:
        if error.errno == errno.EPIPE:
            return ReaderGone()
        return UserError(f"stdout: cannot write the results: {error.strerror or error}")

    # what printers ask of a stream before writing to it
    def isatty(self) -> bool:
        return self.stream is not None and self.stream.isatty()

    def fileno(self) -> int:
        if self.stream is None:
            raise OSError(errno.EBADF, "stdout is closed")
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self.stream, "errors", None) or "strict"

    def writable(self) -> bool:
        return True


def reserve_standard_descriptors() -> None:
    """Point a standard descriptor (0, 1, 2) that was closed at start at /dev/null: otherwise the next
    file seqtrain opens, a checkpoint being written say, would get its number, and whatever a library
    writes to "stdout" or "stderr" would land in that file. (Python has already set sys.stdin,
    sys.stdout or sys.stderr to None for it, which is how a closed stream is still told apart.)"""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@contextlib.contextmanager
def results_stdout():
    """sys.stdout is a ResultsStdout while the block runs."""
    reserve_standard_descriptors()
    original = sys.stdout
    sys.stdout = ResultsStdout(original)
    try:
        yield
    finally:
        sys.stdout = original
