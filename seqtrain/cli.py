"""The command line. Each command parses its options, calls one plain function, and prints the result.

Heavy imports (torch, the tasks) happen inside the commands, so `seqtrain --help` stays instant.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from seqtrain.api import MAX_BATCH_SIZE, PoemRequest, format_poems, request_from_options
from seqtrain.core.errors import Interrupted, SaidElsewhere, UserError
from seqtrain.core.interrupts import DROPPED_CTRL_C
from seqtrain.tasks.options import PredictOptions
from seqtrain.ui.options import with_options

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Train and use recurrent sequence models: char models, POS taggers, Tang poetry.")
data_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Corpora: fetch the official files into the data root.")
app.add_typer(data_app, name="data")

DataDir = typer.Option(None, "--data-dir", help="data root (default: $SEQTRAIN_DATA, else ./data)")
Device = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N (default: train.device / cpu)")


def echo(text: str) -> None:
    typer.echo(text)


@app.command()
def train(
    config: Path = typer.Argument(..., help="experiment YAML, e.g. configs/hello.yaml"),
    override: List[str] = typer.Option([], "-o", "--override", help="KEY=VALUE, e.g. -o train.epochs=5 (repeatable)"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="default: runs/<config name>/<timestamp>"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run in this directory exactly"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a run already in --run-dir"),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    nproc: int = typer.Option(1, "--nproc", help="launch this many processes with torchrun (DDP)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar or per-evaluation lines"),
):
    """Train a model from a YAML config; writes a run directory with checkpoints and metrics."""
    if nproc < 1:
        raise UserError(f"--nproc: must be at least 1, got {nproc}")
    if nproc > 1:
        from seqtrain.distributed.launch import relaunch_with_torchrun

        raise typer.Exit(relaunch_with_torchrun(nproc))
    from seqtrain.tasks import load_config
    from seqtrain.training.trainer import train as run_training

    cfg = load_config(config, override)
    summary = run_training(cfg, run_dir=run_dir, resume=resume, data_dir=data_dir, device=device,
                           overwrite=overwrite, quiet=quiet)
    if summary.get("artifacts") is not None:  # only the main process prints
        from seqtrain.ui.report import print_summary

        print_summary(summary, quiet=quiet)


@app.command()
def tune(
    config: Path = typer.Argument(..., help="experiment YAML, e.g. configs/pos-zh-gsdsimp.yaml"),
    space: Path = typer.Option(..., "--space", help="search space YAML: KEY: {low, high[, log, step]} or {choices: [...]}"),
    trials: int = typer.Option(..., "--trials", help="finished (complete or pruned) trials the study should hold"),
    study: str = typer.Option("default", "--study", help="study name: runs/<config name>-tune/<study>/"),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL shared by several processes, "
                                          "e.g. postgresql://... (default: sqlite study.db in the study directory)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="start no new trial after this many seconds"),
    metric: Optional[str] = typer.Option(None, "--metric", help="dev metric to optimise (default: train.monitor, else the task's)"),
    direction: Optional[str] = typer.Option(None, "--direction", help="max or min (default: the metric's)"),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, random or grid"),
    pruner: str = typer.Option("median", "--pruner", help="median, hyperband or none"),
    startup_trials: int = typer.Option(5, "--startup-trials", help="finished trials before the median pruner acts"),
    prune_warmup: int = typer.Option(0, "--prune-warmup", help="evaluations of a trial before the median pruner may stop it"),
    plots: bool = typer.Option(False, "--plots", help="write optimization-history.png and param-importances.png"),
    json_out: bool = typer.Option(False, "--json", help="print JSON for machines"),
    data_dir: Optional[Path] = DataDir,
    nproc: int = typer.Option(1, "--nproc", help="not supported: trials run in this process"),
    override: List[str] = typer.Option([], "-o", "--override", help="KEY=VALUE fixed for every trial (repeatable)"),
):
    """Search hyperparameters with Optuna: each trial is a run in runs/<config name>-tune/<study>/trial-<n>;
    the same command again continues a stopped study; writes best.yaml."""
    from seqtrain.tuning.study import TuneOptions, tune as run_tune

    result = run_tune(TuneOptions(config=config, space=space, trials=trials, overrides=list(override), study=study,
                                  storage=storage, timeout=timeout, metric=metric, direction=direction,
                                  sampler=sampler, pruner=pruner, startup_trials=startup_trials,
                                  prune_warmup=prune_warmup, plots=plots,
                                  data_dir=data_dir, nproc=nproc))
    if json_out:
        import json

        echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        from seqtrain.tuning.results import print_result

        print_result(result)


@app.command()
def evaluate(
    checkpoint: Path = typer.Argument(..., help="a .pt checkpoint (or a run directory: its best.pt)"),
    data: Optional[Path] = typer.Argument(None, help="file to score (default: the dev split of the run's config)"),
    raw: bool = typer.Option(False, "--raw", help="read only the text (# text lines) of DATA or of the dev split, run "
                             "the whole pipeline (tokenizer, tagger) and score it as the CoNLL 2018 shared task does"),
    json_out: bool = typer.Option(False, "--json", help="print JSON for machines"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, max=MAX_BATCH_SIZE),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
):
    """Score a checkpoint on a data file: the task's metrics and detail tables."""
    from seqtrain.inference import dumps, evaluate_checkpoint, evaluate_raw

    run = evaluate_raw if raw else evaluate_checkpoint
    result = run(checkpoint, data, data_dir=data_dir, device=device or "cpu", batch_size=batch_size)
    if json_out:
        echo(dumps(result))
    else:
        from seqtrain.ui.report import print_evaluation

        print_evaluation(result)


@app.command()
@with_options(PredictOptions)
def predict(
    checkpoint: Path = typer.Argument(..., help="a .pt checkpoint (or a run directory: its best.pt)"),
    inputs: List[str] = typer.Argument(None, help="inputs, e.g. a paragraph of text for a tagger or tokenizer "
                                                  "(one with data.tokenizer: whitespace reads words between spaces)"),
    input_file: Optional[str] = typer.Option(None, "--input", "-i", help="file with one input per line; - reads stdin"),
    values: Optional[str] = typer.Option(None, "--values", help="numbers for sequence regression, e.g. \"0.0,0.34,0.64\""),
    states: Optional[Path] = typer.Option(None, "--states", help="write every-step hidden states to FILE.npz or FILE.pt: "
                                          "h (and c for LSTM) shaped [layers, directions, batch, steps, hidden], and lengths [batch]"),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    **options,
):
    """Run a trained model on new input and print its predictions."""
    from seqtrain.inference import dumps, predict as run_predict, read_inputs

    request = PredictOptions(**{k: v for k, v in options.items() if v is not None})
    lines = read_inputs(inputs or [], input_file, data_dir) + ([values] if values else [])
    result = run_predict(checkpoint, lines, request, device=device or "cpu", states_path=states)
    echo(dumps(result.records) if request.output_format == "json" else result.text)


@app.command()
def info(
    checkpoint: Path = typer.Argument(..., help="a .pt checkpoint (or a run directory: its best.pt)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON for machines"),
):
    """Show what a checkpoint holds: task, model, vocabulary sizes, progress, metrics, config."""
    from seqtrain.inference import checkpoint_info, dumps

    result = checkpoint_info(checkpoint)
    if json_out:
        echo(dumps(result))
    else:
        from seqtrain.ui.report import print_info

        print_info(result)


@app.command("generate-poem")
@with_options(PoemRequest)
def generate_poem(
    checkpoint: Path = typer.Argument(..., help="a poetry checkpoint, e.g. trained with configs/tang.yaml (or its run directory)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON records (chinese-poetry fields and the request)"),
    device: Optional[str] = Device,
    **options,
):
    """Write poems with a trained poetry model: a chosen form, acrostic or beginning, rhyme and tones, guaranteed."""
    from seqtrain.inference import dumps, generate_poems

    result = generate_poems(checkpoint, request_from_options(options), device=device or "cpu")
    echo(dumps(result["poems"]) if json_out else format_poems(result["poems"]))
    if len(result["poems"]) > 1:
        typer.echo(f"{len(result['poems'])} poems in {result['seconds']:.2f} s ({result['poems_per_second']:.1f} poems/s)",
                   err=True)


@app.command("eval-poems")
def eval_poems(
    file: Path = typer.Argument(..., help="poems to score: generate-poem output (text, or --json records)"),
    reference: Path = typer.Option(..., "--reference", "-r", help="the poetry config or checkpoint the poems are "
                                   "compared with: its training split for copied lines, its validation split for real poems"),
    form: int = typer.Option(0, "--form", help="requested characters per line, for poems whose file does not record it"),
    lines: int = typer.Option(0, "--lines", help="requested number of lines (same)"),
    acrostic: str = typer.Option("", "--acrostic", help="requested line heads (same)"),
    start: str = typer.Option("", "--start", help="requested beginning (same)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON for machines"),
    data_dir: Optional[Path] = DataDir,
):
    """Score written poems beside real ones: form, acrostic/start, distinct characters, repeats, copies,
    rhyme and 平仄."""
    from seqtrain.inference import dumps, evaluate_written_poems

    result = evaluate_written_poems(file, reference, data_dir=data_dir, form=form, lines=lines,
                                    acrostic=acrostic, start=start)
    if json_out:
        echo(dumps(result))
    else:
        from seqtrain.ui.report import print_evaluation

        print_evaluation(result)


@app.command("config")
def show_config(task: str = typer.Argument(..., help="task name, e.g. hello, sincos")):
    """Print every config key of a task with its default and meaning (a starting YAML)."""
    from seqtrain.core.config import describe_defaults, suggest
    from seqtrain.tasks import TASKS

    if task not in TASKS:
        raise UserError(f"unknown task {task!r}{suggest(task, TASKS)}; choose one of {', '.join(sorted(TASKS))}")
    lines = describe_defaults(TASKS[task].Config)
    echo("\n".join([f"task: {task}"] + [line for line in lines if not line.startswith(("task:", "name:"))]))


@data_app.command("download")
def data_download(
    # the names of data/download.py's CORPORA, written out: importing it (urllib) would slow every start
    name: str = typer.Argument(..., help="ud-en-ewt, ud-zh-gsdsimp, uner-en-ewt, uner-zh-gsdsimp, wnut17 or tang"),
    data_dir: Optional[Path] = DataDir,
    allow_unpinned: bool = typer.Option(False, "--allow-unpinned",
                                        help="also fetch files with no pinned sha256 (unverified; their sha256 is printed)"),
    force: bool = typer.Option(False, "--force", help="replace files whose sha256 differs from the pinned one"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
):
    """Fetch a corpus over https into the data root, each file checked against its pinned sha256.
    $SEQTRAIN_DOWNLOAD_MIRROR names a mirror laid out like the data root (docs/reliability.md)."""
    from seqtrain.core.paths import data_root
    from seqtrain.data.download import download, print_outcomes

    print_outcomes(download(name, data_root(data_dir), allow_unpinned=allow_unpinned, force=force, quiet=quiet))


def main() -> None:
    """Entry point: user errors are one line on stderr and exit status 2, never a traceback."""
    from seqtrain.core.output import results_stdout

    # importing torch and loading a checkpoint make about a million objects that live as long as the
    # process; at Python's default threshold the cyclic collector scanned them 35 times over, 0.2 s
    # of a cold one-sentence predict. Gathering 50,000 new objects before a collection does it twice.
    gc.set_threshold(50_000)
    try:
        with results_stdout(), DROPPED_CTRL_C.watching():
            run_app()
    except SystemExit as e:
        world = sys.modules.get("seqtrain.distributed.world")
        if world is not None and world.left_a_group:
            # a torchrun worker has left its process group (training closed every file it wrote);
            # leave without the interpreter's teardown, where gloo's threads can abort the process
            # ("terminate called without an active exception") and torchrun would then stop its peers
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


def run_app() -> None:
    from seqtrain.core.arguments import check_arguments
    from seqtrain.core.output import READER_GONE_STATUS, ReaderGone

    try:
        check_arguments(sys.argv[1:], typer.main.get_command(app))
        try:
            app()
        except SystemExit:
            sys.stdout.flush()  # what print() left buffered: a full disk is found here, not at exit
            raise
    except ReaderGone:
        sys.exit(READER_GONE_STATUS)  # quietly, as `yes | head -1` ends
    except SaidElsewhere as e:  # under torchrun another process has reported the error all of them share
        sys.exit(e.code)
    except UserError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit as e:  # typer turns a KeyboardInterrupt in a command into a silent exit 130
        if e.code == 130 and isinstance(e.__context__, typer.Exit) and isinstance(e.__context__.__cause__, KeyboardInterrupt):
            typer.echo("interrupted", err=True)
        raise
    except Interrupted as e:
        typer.echo(str(e), err=True)
        sys.exit(130)
