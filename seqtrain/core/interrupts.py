"""Ctrl-C that Python dropped.

Python raises KeyboardInterrupt wherever the main thread is when the signal lands. Inside a weakref
callback or a `__del__` (a command runs many of them while torch and its data load) the exception
is printed as "Exception ignored in ..." and dropped, and the command ran on as if no key had been
pressed. The command line's handler raises it too, and remembers that it did; the trainer raises it
again when it takes the signal over, so a Ctrl-C pressed while a run starts still stops it.
"""

from __future__ import annotations

import signal


class CtrlC:
    """A signal handler: KeyboardInterrupt, as Python's own, remembered until `raise_dropped`."""

    def __init__(self):
        self.pending = False

    def __call__(self, signum, frame):
        self.pending = True
        raise KeyboardInterrupt

    def install(self) -> None:
        """Take SIGINT over from Python's handler (not from SIG_IGN: nohup, a shell's background job)."""
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self)

    def raise_dropped(self) -> None:
        """KeyboardInterrupt for a signal whose own was dropped (a command ends at the first one that
        is not, so one still pending was dropped)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


CTRL_C = CtrlC()  # one per process, as the signal is
