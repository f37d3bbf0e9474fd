"""Ctrl-C that Python dropped.

Python raises KeyboardInterrupt wherever the main thread is when the signal lands. Inside a weakref
callback or a `__del__` (a command runs many of them while torch and its data load) the exception
goes to `sys.unraisablehook`, which prints "Exception ignored in ..." and drops it: the command ran on
as if no key had been pressed. While the command line watches, such a KeyboardInterrupt is
remembered, and the trainer raises it again when it takes the signal over, so a Ctrl-C pressed while
a run starts still stops it.
"""

from __future__ import annotations

import contextlib
import sys


class DroppedCtrlC:
    def __init__(self):
        self.pending = False

    @contextlib.contextmanager
    def watching(self):
        """Remember a KeyboardInterrupt that reaches `sys.unraisablehook` while the block runs."""
        previous = sys.unraisablehook

        def hook(unraisable):
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                self.pending = True
            previous(unraisable)

        sys.unraisablehook = hook
        try:
            yield
        finally:
            sys.unraisablehook, self.pending = previous, False

    def raise_dropped(self) -> None:
        """KeyboardInterrupt again for one that was dropped."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


DROPPED_CTRL_C = DroppedCtrlC()  # one per process, as the signal is
