"""`seqtrain train CONFIG --nproc N`: the same command again, as N processes under torchrun.

It is exactly `torchrun --standalone --nproc-per-node N -m seqtrain train CONFIG ...` (one machine,
a rendezvous on a free local port), run through torch.distributed.run in this process, so that a
failure ends with the workers' own one-line message and exit status instead of torchrun's report.
For several machines, call torchrun yourself (docs/guides/distributed.md).
"""

from __future__ import annotations

import logging
import os
import sys


def without_nproc(argv: list[str]) -> list[str]:
    """The command-line arguments minus `--nproc N` / `--nproc=N`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def torchrun_args(nproc: int, argv: list[str]) -> list[str]:
    return ["--standalone", f"--nproc-per-node={nproc}", "--module", "seqtrain", *without_nproc(argv)]


def exit_status(failures: dict) -> int:
    """One status for the group. Workers that exited on their own say why (2 bad input, from the
    one that reports it: its peers exit 0; 130 interrupted; 1 a crash, which outranks a 2); the rest
    were stopped by torchrun once the first had gone, unless all of them died of a signal (128 + its
    number)."""
    codes = [f.exitcode for _, f in sorted(failures.items())]
    own = [c for c in codes if c > 0]
    if not own:
        return 128 - codes[0]
    return next((c for c in own if c != 2), 2)


def relaunch_with_torchrun(nproc: int) -> int:
    """Run this process's command line again under torchrun with `nproc` processes; their exit status."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # torchrun would pin every process to one thread and say so; share the cores out instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    # the workers report their own errors; the agent's log lines about stopping them add nothing
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(parse_args(torchrun_args(nproc, sys.argv[1:])))
    except ChildFailedError as e:
        return exit_status(e.failures)
    except SignalException:  # Ctrl-C or SIGTERM: the workers got it too, saved last.pt and said so
        return 130
    return 0
