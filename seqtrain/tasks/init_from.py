"""`model.init_from`: a model that starts from a trained one of its task (pretrained on a large corpus,
then fine-tuned on the treebank). The checkpoint is checked to hold a model of the same sizes and
features; the new vocabularies are the training data's, then the pretrained entries they lack (those
keep their pretrained vectors instead of reading as unknown); the weights move into place by entry."""

from __future__ import annotations

from pathlib import Path

import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.errors import UserError
from seqtrain.core.vocab import Vocab

# model keys that do not change what the weights mean: a fine-tuned model may set them anew
FREE_MODEL_KEYS = ("dropout", "input_dropout", "output_dropout", "word_dropout", "bigram_min_freq", "init_from",
                   "aux_weight")


def load_trained(spec: str, key: str, task: str, what: str) -> dict:
    """A checkpoint of `task` (a file, or a run directory's best); `what` names it in messages."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"{key}: {spec}: no such file or run directory (give {what}'s checkpoint or run directory)")
    try:
        ckpt = load_checkpoint(path, require=("config", "task_state", "model"))
    except UserError as e:
        raise UserError(f"{key}: {e}") from None
    if ckpt["task"] != task:
        raise UserError(f"{key}: {spec} holds a {ckpt['task']} model, not {what}")
    if not finite_weights(ckpt["model"]):  # it would tokenize nonsense, or train into a NaN loss at step 1
        raise UserError(f"{key}: {spec}: its weights hold NaN or inf values (use a checkpoint from before "
                        f"its training diverged)")
    return {k: ckpt[k] for k in ("task", "config", "task_state", "model")}  # not its optimizer state


def finite_weights(weights: dict) -> bool:
    # |v|'s largest value is NaN or inf where any value is: one pass without a bool tensor of v's size,
    # a third of the time on a 400,000-row fp16 vectors table
    return all(v.numel() == 0 or bool(torch.isfinite(v.abs().amax()))
               for v in weights.values() if v.is_floating_point())


def starting_point(spec: str, task: str, what: str, model: dict) -> dict:
    """model.init_from's checkpoint, checked to have this config's model (`model`: its section as a
    dict): the same sizes and features, so that every weight has a place."""
    ckpt = load_trained(spec, "model.init_from", task, what)
    theirs = ckpt["config"]["model"]
    differ = [f"model.{k} is {theirs.get(k)} there, {v} here" for k, v in model.items()
              if k not in FREE_MODEL_KEYS and theirs.get(k) != v]
    if differ:
        raise UserError(f"model.init_from: {spec} is another model: {'; '.join(differ)}")
    return ckpt


def extended(own: Vocab, theirs: list[str]) -> Vocab:
    """This training data's vocabulary, then the pretrained model's entries it lacks."""
    return Vocab(own.to_list() + [t for t in theirs if t not in own])


def initial_weights(fresh: dict, pretrained: dict, vocabs: dict[str, tuple[list[str], Vocab]],
                    keep_fresh: tuple[str, ...] = ()) -> dict:
    """The pretrained weights in the new model's places: embedding rows (`vocabs`: weight name ->
    (the pretrained model's entries, the new vocabulary)) moved by entry, every other weight as it
    is, but those named in `keep_fresh` (an output layer over other labels); rows of entries only
    this data has keep their fresh init."""
    out = dict(fresh)
    for name, weight in pretrained.items():
        if name in keep_fresh:
            continue
        if name not in vocabs:
            out[name] = weight.clone()
            continue
        entries, vocab = vocabs[name]
        rows = out[name].clone()
        rows[torch.tensor([vocab.index(t) for t in entries])] = weight
        out[name] = rows
    return out
