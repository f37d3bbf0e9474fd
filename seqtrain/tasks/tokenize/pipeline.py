"""The tokenizer a tagger reads raw text with: a library one by name, or a trained tokenizer whose
checkpoint (config, vocabularies, weights) is copied into the tagger's own, so that one file still
predicts anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from seqtrain.core.config import config_from_dict
from seqtrain.core.errors import UserError
from seqtrain.tasks.init_from import finite_weights, load_trained
from seqtrain.tasks.tokenize.document import Sentence
from seqtrain.tasks.tokenize.library import LIBRARY_TOKENIZERS, library_tokenizer
from seqtrain.tasks.tokenize.task import TokenizeTask

Tokenizer = Callable[[list[str]], list[list[Sentence]]]  # paragraphs -> each one's sentences


def tokenizer_state(spec: str, key: str = "data.tokenizer") -> dict:
    """Plain data for a tagger's checkpoint: {"name": library name}, or a trained tokenizer's
    config, vocabularies and weights (from a checkpoint file or a run directory)."""
    if spec in LIBRARY_TOKENIZERS:
        return {"name": spec}
    if not spec.strip():  # not a path: "" would be the current directory
        raise UserError(f"{key}: empty (give {', '.join(LIBRARY_TOKENIZERS)}, or a tokenize checkpoint or run directory)")
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"{key}: {spec}: no such file or run directory (give {', '.join(LIBRARY_TOKENIZERS)}, "
                        f"or a tokenize checkpoint or run directory)")
    ckpt = load_trained(spec, key, "tokenize", "a tokenizer")
    return {"name": "trained", "source": str(path), "config": ckpt["config"],
            "task_state": ckpt["task_state"], "model": ckpt["model"]}


def tokenizer_from_state(state: dict, device="cpu", batch_size: int = 64) -> Tokenizer:
    if state["name"] != "trained":
        return library_tokenizer(state["name"])
    if not finite_weights(state["model"]):  # load_trained checked them; a crafted checkpoint may not be what it wrote
        raise UserError(f"damaged checkpoint: the tagger's tokenizer ({state.get('source', 'stored')}) has NaN or inf weights")
    cfg = config_from_dict(state["config"], {"tokenize": TokenizeTask}, "the tagger's tokenizer (stored config)")
    task = TokenizeTask.from_state(cfg, state["task_state"])
    model = task.build_model()
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return lambda paragraphs: task.tokenize(model, paragraphs, batch_size)
