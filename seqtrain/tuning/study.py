"""`seqtrain tune`: a hyperparameter search on Optuna, where every trial is an ordinary run.

Trials run one after another in this process, each in runs/<config name>-tune/<study>/trial-<n>.
The study lives in an Optuna storage (default: study.db, SQLite, in the study directory), so a
tune that was killed continues when the same command runs again, and several processes (or
machines, with --storage URL) can work on one study. Each process runs trials until the study
holds N finished (complete or pruned) trials.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from seqtrain.core.config import apply_override, read_yaml_mapping
from seqtrain.core.errors import Interrupted, UserError
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.tasks import TASKS, config_from_dict
from seqtrain.training.parts import Callback, NonFiniteLoss, monitored_metric
from seqtrain.training.run_dir import not_yet_there, remove_created, sigterm_as_ctrl_c
from seqtrain.tuning.space import Param, check_grid, format_value, read_space, trial_config

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
HOST = socket.gethostname()
HEARTBEAT_S, GRACE_S = 20, 120  # a trial whose process is silent GRACE_S on another machine is failed
# what a process sees when another one creates the same new database at the same moment
RACES = ("already exists", "UNIQUE constraint failed", "database is locked")


@dataclass
class TuneOptions:
    config: Path
    space: Path
    trials: int
    overrides: list[str] = field(default_factory=list)
    study: str = "default"
    storage: str | None = None          # an Optuna storage URL (default: sqlite in the study directory)
    timeout: float | None = None        # start no trial after this many seconds
    metric: str | None = None           # default: train.monitor, else the task's choice
    direction: str | None = None        # max or min (default: the metric's)
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 5             # finished trials before the pruner acts
    prune_warmup: int = 0               # evaluations of a trial before the median pruner may stop it
    plots: bool = False
    data_dir: Path | None = None
    nproc: int = 1
    root: Path = Path("runs")
    note: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))


@dataclass
class Search:
    """What every trial shares: the config (overrides applied), the space, the objective."""
    raw: dict
    params: list[Param]
    metric: str
    direction: str
    study_dir: Path
    options: TuneOptions


def tune(options: TuneOptions) -> dict:
    """Run (or continue) a study; returns the result: best trials, best.yaml, plots."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UserError("seqtrain tune needs optuna: pip install 'optuna>=4,<5'") from None
    search = prepare(options)
    created = not_yet_there(search.study_dir)
    study = None
    try:
        try:
            search.study_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{search.study_dir}: cannot create the study directory ({e.strerror or e})") from None
        with storage_failures(search):
            study = open_study(search)
            with sigterm_as_ctrl_c():
                run_trials(study, search)
    except (UserError, Interrupted, KeyboardInterrupt) as error:
        if created and isinstance(error, UserError) and (study is None or not finished(study)):
            remove_created(search.study_dir, created)  # a refused start leaves nothing behind
        raise
    from seqtrain.tuning.results import summarize

    return summarize(study, search)


@contextlib.contextmanager
def storage_failures(search: Search):
    """A storage that cannot be written (a read-only database, a full disk) is one line, wherever
    the study meets it: opening it, asking for a trial, telling a result."""
    import sqlite3

    import optuna
    import sqlalchemy

    try:
        yield
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError, sqlite3.Error) as e:
        cause = e.__cause__ if isinstance(e, optuna.exceptions.StorageInternalError) and e.__cause__ else e
        reason = str(getattr(cause, "orig", None) or cause).splitlines()[0][:200]
        where = search.options.storage or search.study_dir / "study.db"
        raise UserError(f"{where}: the study storage cannot be written ({reason}); the finished trials in it "
                        f"are kept, run the same command again once it can") from None


def prepare(options: TuneOptions) -> Search:
    """Every check that can be made before a study exists: options, config, space, data files."""
    if options.nproc > 1 or int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise UserError("tune runs its trials in this process, one after another; it cannot run under "
                        "torchrun or --nproc: to use several processes or machines, start the same tune "
                        "command in each with one shared --storage URL")
    if options.trials < 1:
        raise UserError(f"--trials: must be at least 1, got {options.trials}")
    if options.direction not in (None, "max", "min"):
        raise UserError(f"--direction: expected max or min, got {options.direction!r}")
    if options.sampler not in SAMPLERS:
        raise UserError(f"--sampler: expected one of {', '.join(SAMPLERS)}, got {options.sampler!r}")
    if options.pruner not in PRUNERS:
        raise UserError(f"--pruner: expected one of {', '.join(PRUNERS)}, got {options.pruner!r}")
    if options.startup_trials < 0 or options.prune_warmup < 0:
        raise UserError("--startup-trials and --prune-warmup: must be 0 or more")
    if options.timeout is not None and options.timeout <= 0:
        raise UserError(f"--timeout: must be greater than 0 seconds, got {options.timeout}")
    if not options.study or "/" in options.study or options.study.startswith("."):
        raise UserError(f"--study: {options.study!r} is not a usable name (letters, digits, - and _)")
    raw = read_yaml_mapping(Path(options.config))
    raw.setdefault("name", Path(options.config).stem)
    for item in options.overrides:
        apply_override(raw, item)
    cfg = config_from_dict(copy.deepcopy(raw), source=str(options.config))
    params = read_space(options.space, raw)
    fixed = {item.partition("=")[0].strip() for item in options.overrides}
    for param in params:
        if param.key in fixed:
            raise UserError(f"{param.key}: both searched (in {options.space}) and fixed with -o; drop one")
    if options.sampler == "grid":
        check_grid(params, str(options.space))
    resolve_paths(cfg.data, data_root(options.data_dir), "data")  # a missing corpus: before any study exists
    metric, direction = monitored_metric(options.metric or cfg.train.monitor, TASKS[cfg.task],
                                         "--metric" if options.metric else "train.monitor")
    direction = options.direction or direction
    study_dir = Path(options.root) / f"{cfg.name}-tune" / options.study
    return Search(raw, params, metric, direction, study_dir, options)


# ---------------------------------------------------------------- the study

def storage_for(search: Search):
    import optuna

    url = search.options.storage or f"sqlite:///{(search.study_dir / 'study.db').resolve()}"
    engine_kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
        except Exception as e:  # a bad URL, a missing driver, an unreachable server
            # two processes creating one new database at once: one of them finds the tables made
            # while it was making them; the next try sees them
            if any(race in str(e) for race in RACES) and attempt < 4:
                time.sleep(0.2 * (attempt + 1))
                continue
            raise UserError(f"--storage: cannot open {url!r}: {str(e).splitlines()[0][:200]}") from None


def open_study(search: Search):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage")  # we record heartbeats ourselves
    storage = storage_for(search)
    name = search.options.study
    try:
        study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                    direction="maximize" if search.direction == "max" else "minimize",
                                    sampler=make_sampler(search, storage, name), pruner=make_pruner(search))
    except ValueError as e:  # a study of this name optimising the other way
        raise UserError(f"--study {name}: {e}") from None
    recorded = study.user_attrs.get("metric")
    if recorded is None:
        study.set_user_attr("metric", search.metric)
    elif recorded != search.metric:
        raise UserError(f"--study {name}: this study optimises {recorded!r}, not {search.metric!r}; "
                        f"use --metric {recorded} or another --study")
    return study


def make_sampler(search: Search, storage, name: str):
    import optuna

    existing = 0
    try:
        existing = len(optuna.load_study(study_name=name, storage=storage).trials)
    except KeyError:
        pass
    seed = config_from_dict(copy.deepcopy(search.raw)).seed + 1000 * existing
    if search.options.storage:  # processes sharing a study must not draw the same values
        seed += os.getpid()
    if search.options.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.options.sampler == "grid":
        return QuietGridSampler({p.key: p.grid() for p in search.params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(search: Search):
    import optuna

    if search.options.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=search.options.startup_trials,
                                           n_warmup_steps=search.options.prune_warmup + 1)  # evaluations count 1, 2, ...
    if search.options.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def grid_size(search: Search) -> int:
    size = 1
    for param in search.params:
        size *= len(param.grid())
    return size


def _quiet_grid():
    from optuna.samplers import GridSampler

    class Quiet(GridSampler):
        """The grid sampler without its study.stop() (which only works inside study.optimize)."""
        def after_trial(self, study, trial, state, values) -> None:
            pass
    return Quiet


def QuietGridSampler(space: dict, seed: int):  # noqa: N802 (a class made on first use)
    return _quiet_grid()(space, seed=seed)


def finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def fail_stale_trials(study) -> list[int]:
    """Mark failed the trials left RUNNING by a process that is gone: on this machine, a process id
    that no longer exists (at once); elsewhere, a heartbeat older than GRACE_S. Returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    failed = optuna.storages.fail_stale_trials(study) or []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("host") == HOST and not process_alive(trial.user_attrs.get("pid")):
            try:
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                failed.append(trial.number)
            except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
                pass  # another process got there first
    return sorted(failed)


def process_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # not ours to judge
    if pid == os.getpid():
        return False  # this process runs no trial while it looks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- the trials

def run_trials(study, search: Search) -> None:
    from optuna.trial import TrialState

    options, note = search.options, search.options.note
    target = options.trials
    if options.sampler == "grid" and grid_size(search) < target:
        target = grid_size(search)
        note(f"the grid has {target} points: the study stops at {target} trials")
    started, errors = time.monotonic(), 0
    while True:
        stale = fail_stale_trials(study)
        if stale:
            note(f"trial {', '.join(map(str, stale))}: its process is gone; marked failed")
        live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        if len(study.get_trials(deepcopy=False, states=live)) >= target:
            break
        if options.timeout is not None and time.monotonic() - started > options.timeout:
            note(f"--timeout: {options.timeout:g} s have passed; starting no more trials")
            break
        trial = study.ask()
        trial.set_user_attr("host", HOST)
        trial.set_user_attr("pid", os.getpid())
        before = [t for t in study.get_trials(deepcopy=False, states=live) if t.number < trial.number]
        if len(before) >= target:  # another process started the last trial meanwhile
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            break
        if not run_trial(study, trial, search):
            errors += 1
            if errors >= target:
                raise UserError(f"{errors} trials failed (their losses became NaN or inf); "
                                f"narrow the space (a lower train.lr, say)")


def run_trial(study, trial, search: Search) -> bool:
    """One trial: sample, train in its own run directory, tell Optuna. False if it failed (NaN)."""
    from optuna.trial import TrialState

    from seqtrain.training.trainer import train

    values = {p.key: p.suggest(trial) for p in search.params}
    run_dir = search.study_dir / f"trial-{trial.number}"
    overrides = [f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()]
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("overrides", overrides)
    reporter = Reporter(trial, search.metric, search.direction)
    try:
        cfg = trial_config(search.raw, values)
        with heartbeat(study._storage, trial._trial_id):
            summary = train(cfg, run_dir=run_dir, data_dir=search.options.data_dir, quiet=True,
                            overwrite=True, callbacks=[reporter])
    except NonFiniteLoss:
        study.tell(trial, state=TrialState.FAIL)
        search.options.note(f"trial {trial.number}: failed, the loss became NaN or inf  {' '.join(overrides)}")
        return False
    except (Interrupted, KeyboardInterrupt):  # Ctrl-C in the step loop, or before it had started
        study.tell(trial, state=TrialState.FAIL)
        raise Interrupted(f"interrupted in trial {trial.number} (marked failed; its run is in {run_dir}); "
                          f"run the same command again to continue the study") from None
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    seconds = summary["elapsed_seconds"]
    trial.set_user_attr("seconds", seconds)
    trial.set_user_attr("stopped", summary["stopped"])
    state = TrialState.PRUNED if summary["stopped"] == "pruned" else TrialState.COMPLETE
    if state == TrialState.PRUNED:
        study.tell(trial, state=state)
    else:
        study.tell(trial, reporter.best)
    what = "pruned" if state == TrialState.PRUNED else "done"
    shown = " ".join(f"{k}={format_value(v)}" for k, v in values.items())
    search.options.note(f"trial {trial.number}: {what} after {reporter.evaluations} evaluations, "
                        f"{search.metric} {format_value(reporter.best)} in {seconds:.1f} s  {shown}")
    return True


class Reporter(Callback):
    """Sends the monitored dev metric to Optuna at every evaluation (step = evaluation number) and
    stops the run when the pruner says so; keeps the best value, the trial's objective."""

    def __init__(self, trial, metric: str, direction: str):
        self.trial, self.metric, self.direction = trial, metric, direction
        self.best: float | None = None
        self.evaluations = 0

    def on_evaluation(self, trainer, metrics: dict, improved: bool) -> None:
        if self.metric not in metrics:
            raise UserError(f"--metric: this task has no metric {self.metric!r} (it has {', '.join(sorted(metrics))})")
        value = float(metrics[self.metric])
        self.evaluations += 1
        if self.best is None or (value > self.best if self.direction == "max" else value < self.best):
            self.best = value
        self.trial.report(value, self.evaluations)
        if self.trial.should_prune():
            trainer.stop("pruned")


class heartbeat:  # noqa: N801 (used as a context manager)
    """Records the trial's heartbeat in the storage every HEARTBEAT_S seconds from a thread, so that
    a process on another machine can tell a live trial from one whose process died."""

    def __init__(self, storage, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        while not self.done.is_set():
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a busy database: the next beat will do
                pass
            self.done.wait(HEARTBEAT_S)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
