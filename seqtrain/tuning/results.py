"""What a study found: the trials as plain data, best.yaml (the best trial's full config, ready for
`seqtrain train`), the optional plots, and the table `seqtrain tune` prints."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from seqtrain.tuning.space import format_value, trial_config


def summarize(study, search) -> dict:
    from optuna.trial import TrialState

    trials = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    counts = {state.name.lower(): sum(t["state"] == state.name.lower() for t in trials)
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)}
    complete = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    complete.sort(key=lambda t: t["value"], reverse=search.direction == "max")
    result = {
        "study": search.options.study, "study_dir": str(search.study_dir),
        "storage": search.options.storage or f"sqlite:///{(search.study_dir / 'study.db').resolve()}",
        "metric": search.metric, "direction": search.direction, "counts": counts,
        "best": complete[0] if complete else None, "best_yaml": None, "plots": [], "notes": [],
        "trials": trials,
    }
    if complete:
        best = study.best_trial
        cfg = trial_config(search.raw, best.params)
        path = search.study_dir / "best.yaml"
        header = (f"# best of study {search.options.study!r}: trial {best.number}, {search.metric} "
                  f"{format_value(best.value)} ({search.direction})\n")
        path.write_text(header + yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
        result["best_yaml"] = str(path)
    if search.options.plots:
        result["plots"], result["notes"] = write_plots(study, search.study_dir)
    return result


def trial_record(t) -> dict:
    value = t.value if t.values else None
    return {"number": t.number, "state": t.state.name.lower(),
            "value": value if value is None or math.isfinite(value) else None,
            "params": dict(t.params), "overrides": t.user_attrs.get("overrides", []),
            "run_dir": t.user_attrs.get("run_dir"), "seconds": t.user_attrs.get("seconds"),
            "stopped": t.user_attrs.get("stopped")}


def write_plots(study, folder: Path) -> tuple[list[str], list[str]]:
    """optimization-history.png and param-importances.png; a note for a plot that cannot be made."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    files, notes = [], []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    from optuna.importance import PedAnovaImportanceEvaluator  # fANOVA, the default, needs scikit-learn

    def importances(s):
        return ovm.plot_param_importances(s, evaluator=PedAnovaImportanceEvaluator())
    plots = [("optimization-history.png", ovm.plot_optimization_history, 1),
             ("param-importances.png", importances, 2)]
    for name, plot, needed in plots:
        if len(complete) < needed or not any(t.params for t in complete):
            notes.append(f"{name}: needs {needed} completed trial{'s' if needed > 1 else ''} with parameters")
            continue
        try:
            ax = plot(study)
            ax.figure.savefig(folder / name, dpi=100, bbox_inches="tight")
            plt.close(ax.figure)
            files.append(str(folder / name))
        except (ValueError, RuntimeError, ZeroDivisionError) as e:  # e.g. every trial had the same values
            notes.append(f"{name}: not written ({str(e).splitlines()[0][:120]})")
    return files, notes


def print_result(result: dict, top: int = 5) -> None:
    """The best trials as a table, then where the study and best.yaml are."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rows = [t for t in result["trials"] if t["state"] == "complete" and t["value"] is not None]
    rows.sort(key=lambda t: t["value"], reverse=result["direction"] == "max")
    table = Table(title=f"study {result['study']}: best trials by {result['metric']} ({result['direction']})")
    for column in ("trial", result["metric"], "values", "run dir", "seconds"):
        table.add_column(column, justify="right" if column in ("trial", "seconds", result["metric"]) else "left")
    for t in rows[:top]:
        seconds = f"{t['seconds']:.1f}" if t["seconds"] is not None else ""
        shown = " ".join(f"{k}={format_value(v)}" for k, v in t["params"].items())
        table.add_row(str(t["number"]), format_value(t["value"]), shown, t["run_dir"] or "", seconds)
    console.print(table)
    c = result["counts"]
    console.print(f"{c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed"
                  + (f", {c['running']} running" if c["running"] else "") + f"; study: {result['storage']}")
    if result["best_yaml"]:
        console.print(f"best config: {result['best_yaml']}  (seqtrain train {result['best_yaml']})")
    for path in result["plots"]:
        console.print(f"plot: {path}")
    for note in result["notes"]:
        console.print(f"note: {note}")
