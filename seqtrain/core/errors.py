"""The one exception type the CLI turns into a single line and exit status 2."""


class UserError(Exception):
    """Bad input from the user: a config key, a file and line, a checkpoint. Never a bug."""


def where(path, line: int | None = None) -> str:
    """'file:line' prefix for messages about input files."""
    return f"{path}:{line}" if line is not None else str(path)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped training: last.pt was saved; the message says how to resume."""


class SaidElsewhere(Exception):
    """Under torchrun, an error every process shares is reported by one of them; the others raise
    this and leave with `code`: 0 for a user error (so torchrun waits for the one that says why
    instead of stopping it first), 130 when interrupted."""

    def __init__(self, code: int):
        super().__init__(f"reported by another process (exit {code})")
        self.code = code
