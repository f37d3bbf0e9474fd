"""What `seqtrain evaluate`, `predict`, `info`, `generate-poem` and `eval-poems` do, as plain
functions the CLI calls. The path from a checkpoint file to predictions is `load_model`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.device import check_device, model_device
from seqtrain.core.errors import UserError
from seqtrain.core.owned import replace_file
from seqtrain.core.paths import data_root, resolve_data_path, resolve_paths
from seqtrain.core.textfile import is_pipe, read_lines, read_stdin, read_text, split_lines
from seqtrain.core.vocab import stored_vocab_sizes
from seqtrain.tasks import TASKS, config_from_dict, load_config
from seqtrain.tasks.base import PredictOptions, Prediction, Task
from seqtrain.tasks.capabilities import HasCorpus, ReadsRawText, WritesPoems
from seqtrain.tasks.init_from import finite_weights
from seqtrain.training.evaluate import evaluate
from seqtrain.training.state import MODEL_KEYS


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Task, torch.nn.Module, dict]:
    """(task, model, checkpoint) ready for inference: the path from a file to predictions."""
    ckpt = load_checkpoint(path, require=MODEL_KEYS)
    task, model = model_from_checkpoint(ckpt, path)
    model.to(device).eval()
    return task, model, ckpt


def model_from_checkpoint(ckpt: dict, path: str | Path) -> tuple[Task, torch.nn.Module]:
    """The task and model a loaded checkpoint describes, its weights in place (on the CPU)."""
    if ckpt["task"] not in TASKS:
        raise UserError(f"{path}: checkpoint is for task {ckpt['task']!r}, which this seqtrain does not know")
    cfg = config_from_dict(ckpt["config"], source=f"{path} (stored config)")
    try:
        task = TASKS[cfg.task].from_state(cfg, ckpt["task_state"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{path}: damaged checkpoint: its task_state cannot be read ({type(e).__name__}: "
                        f"{str(e)[:80]})") from None
    model = task.build_model()
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: the stored weights do not fit the model its config describes "
                        f"({str(e).strip().splitlines()[-1][:120]})") from None
    if not finite_weights(model.state_dict()):
        raise UserError(f"{path}: the stored weights hold NaN or inf values; this model cannot predict "
                        f"(use a checkpoint from before the training diverged)")
    return task, model


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path | None = None, *, data_dir=None,
                        device: str = "cpu", batch_size: int = 64, loaded: tuple | None = None) -> dict:
    """Metrics (and the task's detail tables) of a checkpoint on DATA, or on its config's dev split.
    DATA is found as train finds data files: as given, under the data root, or among the samples.
    `loaded`: the checkpoint's (task, model), already loaded (the Python API's models)."""
    task, model = loaded or load_model(checkpoint, check_device(device, "--device"))[:2]
    root = data_root(data_dir)
    if data is not None:
        examples = task.read_examples(resolve_data_path(str(data), root, "DATA", as_given=True))
    else:
        examples = task.read_splits(resolve_paths(task.cfg.data, root, "data")).dev
    if not examples:
        raise UserError(f"{data or 'dev split'}: no examples to evaluate")
    totals: dict = {}
    metrics = evaluate(task, model, examples, batch_size, model_device(model), totals_out=totals)
    return {"checkpoint": str(checkpoint), "data": str(data) if data else "dev split of the run's config",
            "examples": len(examples), "metrics": metrics,
            "tables": [asdict(t) for t in task.tables(totals)]}


def evaluate_raw(checkpoint: str | Path, data: str | Path | None = None, *, data_dir=None, device: str = "cpu",
                 batch_size: int = 64, loaded: tuple | None = None) -> dict:
    """What `seqtrain evaluate CHECKPOINT [FILE.conllu] --raw` does: the text alone (the `# text`
    lines, in their paragraphs) of FILE, or of the config's dev split, goes through the whole
    pipeline, and the result is scored against the gold tokens, sentences, words and tags with the
    CoNLL 2018 shared task's alignment."""
    task, model = loaded or load_model(checkpoint, check_device(device, "--device"))[:2]
    if not isinstance(task, ReadsRawText):
        raise UserError(f"{checkpoint}: a {task.cfg.task} model does not read raw text; --raw needs a tagger or a tokenizer")
    root = data_root(data_dir)
    if data is None:
        gold = task.gold_dev_paragraphs(resolve_paths(task.cfg.data, root, "data"))
    else:
        gold = task.read_gold(resolve_data_path(str(data), root, "DATA", as_given=True))
    if not gold:
        raise UserError(f"{data or 'dev split'}: no sentences found (expected CoNLL-U with # text lines)")
    started = time.perf_counter()
    system = task.analyze(model, [p.text for p in gold], batch_size)
    seconds = time.perf_counter() - started
    metrics = task.raw_text_scores(gold, system)
    words = sum(len(s.words) for p in system for s in p)
    return {"checkpoint": str(checkpoint), "data": f"{data or 'dev split of the run config'} (raw text)",
            "examples": sum(len(p.sentences) for p in gold),
            "metrics": metrics | {"words_per_second": words / max(seconds, 1e-9)}, "tables": []}


def read_inputs(inputs: list[str], input_file: str | None, data_dir=None) -> list[str]:
    """Positional inputs, then lines of --input FILE ('-' is standard input; a relative FILE not in
    the working directory is looked up under the data root, as train looks up data files)."""
    lines = list(inputs)
    if input_file == "-":
        lines += split_lines(read_stdin("input"))
    elif input_file and is_pipe(Path(input_file)):  # a named pipe or <(cmd): read once, as stdin is
        lines += split_lines(read_text(input_file, what="input", pipes=True))
    elif input_file:
        path = resolve_data_path(input_file, data_root(data_dir), "--input", as_given=True)
        lines += read_lines(path, what="input file")
    return lines


def predict(checkpoint: str | Path, inputs: list[str], options: PredictOptions, *,
            device: str = "cpu", states_path: str | Path | None = None) -> Prediction:
    """Predictions for raw input lines; with states_path, every-step hidden states saved there."""
    if states_path is not None:
        check_states_path(Path(states_path))
    task, model, ckpt = load_model(checkpoint, check_device(device, "--device"))
    if options.output_format not in task.output_formats:
        raise UserError(f"--output-format {options.output_format}: a {ckpt['task']} model writes "
                        f"{', '.join(task.output_formats)}")
    check_input_format(options.input_format, task, ckpt["task"])
    options.states = states_path is not None
    prediction = task.predict(model, inputs, options)
    if states_path is not None:
        save_states(prediction.states, Path(states_path))
    return prediction


INPUT_FORMATS = {"text": "text", "pretokenized": "pretokenized text (--pretokenized)",
                 "conllu": "CoNLL-U (--format conllu)", "iob2": "UNER .iob2 columns (--format iob2)",
                 "conll": "CoNLL-2003 or WNUT columns (--format conll)"}


def check_input_format(input_format: str, task: Task, task_name: str) -> None:
    """The one check of `predict --format` and `--pretokenized`: a task that reads text alone would
    take CoNLL-U lines, or words between spaces, for prose."""
    if input_format not in task.input_formats:
        option = "--pretokenized" if input_format == "pretokenized" else f"--format {input_format}"
        readable = ", ".join(INPUT_FORMATS.get(f, f) for f in task.input_formats)
        raise UserError(f"{option}: a {task_name} model reads {readable}" + (" only" if len(task.input_formats) == 1 else ""))


def check_states_path(path: Path) -> None:
    if path.suffix not in (".npz", ".pt"):
        raise UserError(f"--states {path}: use a .npz or .pt file name")
    if path.is_dir():
        raise UserError(f"--states {path}: is a directory; give a file name")
    if path.exists() and not is_states_file(path):
        raise UserError(f"--states {path}: exists and is not a states file seqtrain wrote; give a new file name")
    if not path.parent.is_dir():
        raise UserError(f"--states {path}: the folder {path.parent} does not exist")


def save_states(states: dict[str, torch.Tensor], path: Path) -> None:
    """h, c: [num_layers, directions, batch, steps, hidden]; lengths: [batch]. An existing PATH is
    replaced only if it is a states file (seqtrain.core.owned), never a checkpoint."""
    def write(tmp: Path) -> None:
        if path.suffix == ".pt":
            torch.save({k: v.contiguous() for k, v in states.items()}, tmp)
        else:
            import numpy as np

            np.savez(tmp, **{k: v.numpy() for k, v in states.items()})
    try:
        replace_file(path, write, is_states_file, "--states")
    except OSError as e:
        raise UserError(f"--states {path}: cannot write: {e.strerror or e}") from None


STATES_KEYS = ({"h", "lengths"}, {"h", "c", "lengths"})


def is_states_file(path: Path) -> bool:
    """Whether PATH holds what --states writes (h, c, lengths), and nothing else: no checkpoint."""
    import zipfile

    try:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                return {n.removesuffix(".npy") for n in z.namelist()} in STATES_KEYS
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return isinstance(saved, dict) and set(saved) in STATES_KEYS
    except Exception:  # not a zip, not a torch file, pickled objects: not ours
        return False


def checkpoint_info(checkpoint: str | Path) -> dict:
    """What a checkpoint holds, as plain data; whether its weights fit its model, and are finite."""
    ckpt = load_checkpoint(checkpoint, require=MODEL_KEYS)
    cfg = config_from_dict(ckpt["config"], source=f"{checkpoint} (stored config)")
    params, frozen = sum(v.numel() for v in ckpt["model"].values()), 0
    vocab = stored_vocab_sizes(ckpt["task_state"])
    try:
        task, model = model_from_checkpoint(ckpt, checkpoint)
        usable, vocab = "yes", task.vocab_sizes()
        stored = model.state_dict()  # trained parameters, and stored buffers (a frozen vectors table)
        params = sum(p.numel() for p in model.parameters())
        frozen = sum(b.numel() for name, b in model.named_buffers() if name in stored)
    except UserError as e:
        usable = f"no: {str(e).removeprefix(f'{checkpoint}: ')}"
    return {"checkpoint": str(checkpoint), "task": ckpt["task"], "format_version": ckpt["version"],
            "seqtrain_version": ckpt.get("seqtrain_version"), "torch_version": ckpt.get("torch_version"),
            "usable for prediction": usable,
            "progress": ckpt["progress"], "metrics": ckpt.get("metrics"), "parameters": params,
            "frozen_weights": frozen,
            "vocab_sizes": vocab, "model": asdict(cfg.model), "config": cfg.to_dict()}


# ---------------------------------------------------------------- poems

def generate_poems(checkpoint: str | Path, request, device: str = "cpu") -> dict:
    """What `seqtrain generate-poem` does: load, check the task writes poems, generate, time it."""
    task, model, ckpt = load_model(checkpoint, check_device(device, "--device"))
    if not isinstance(task, WritesPoems):
        raise UserError(f"{checkpoint}: a {ckpt['task']} checkpoint cannot write poems; "
                        f"generate-poem needs a poetry language model (e.g. trained with configs/tang.yaml)")
    started = time.perf_counter()
    poems = task.generate(model, request)
    seconds = time.perf_counter() - started
    return {"poems": poems, "seconds": seconds, "poems_per_second": len(poems) / max(seconds, 1e-9)}


def evaluate_written_poems(path: str | Path, reference: str | Path, *, data_dir=None, **request) -> dict:
    """What `seqtrain eval-poems` does: the poems in PATH beside the corpus of a poetry config or
    checkpoint (its training split for copied lines, its validation split for real poems)."""
    reference = Path(reference)
    if reference.suffix in (".yaml", ".yml"):
        cfg = load_config(reference)
    else:
        cfg = config_from_dict(load_checkpoint(reference, require=("config",))["config"],
                               source=f"{reference} (stored config)")
    task = TASKS[cfg.task]
    if not issubclass(task, HasCorpus):
        raise UserError(f"{reference}: a {cfg.task} run has no poem corpus to compare with; "
                        f"give a poetry config or checkpoint (e.g. configs/tang.yaml)")
    train, valid, _ = task.corpus(cfg, resolve_paths(cfg.data, data_root(data_dir), "data"))
    return task.score_written(Path(path), train, valid, **request)


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
