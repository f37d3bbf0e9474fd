"""A trained tokenizer's checkpoint read back: by a tagger that reads raw text with it (pipeline.py),
or by a new tokenizer that starts from it (`model.init_from`: pretrain the Chinese segmenter on the
PKU corpus, then fine-tune it on the treebank)."""

from __future__ import annotations

from pathlib import Path

import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.errors import UserError
from seqtrain.core.vocab import Vocab

# model keys that do not change what the weights mean: a fine-tuned model may set them anew
FREE_MODEL_KEYS = ("dropout", "input_dropout", "output_dropout", "bigram_min_freq", "init_from")


def load_tokenizer(spec: str, key: str) -> dict:
    """A tokenize checkpoint (a file, or a run directory's best), checked to be one."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"{key}: {spec}: no such file or run directory (give a tokenize checkpoint or run "
                        f"directory)")
    try:
        ckpt = load_checkpoint(path, require=("config", "task_state", "model"))
    except UserError as e:
        raise UserError(f"{key}: {e}") from None
    if ckpt["task"] != "tokenize":
        raise UserError(f"{key}: {spec} holds a {ckpt['task']} model, not a tokenizer (train one with "
                        f"configs/tokenize-en-ewt.yaml)")
    return ckpt


def starting_point(spec: str, model: dict) -> dict:
    """model.init_from's checkpoint, checked to have this config's model (`model`: its section as a
    dict): same sizes and features, so that every weight has a place."""
    ckpt = load_tokenizer(spec, "model.init_from")
    theirs = ckpt["config"]["model"]
    differ = [f"model.{k} is {theirs.get(k)} there, {v} here" for k, v in model.items()
              if k not in FREE_MODEL_KEYS and theirs.get(k) != v]
    if differ:
        raise UserError(f"model.init_from: {spec} is another model: {'; '.join(differ)}")
    return ckpt


def extended(own: Vocab, theirs: list[str]) -> Vocab:
    """This training data's vocabulary, then the pretrained model's entries it lacks (those keep
    their pretrained vectors instead of reading as unknown)."""
    return Vocab(own.to_list() + [t for t in theirs if t not in own])


def initial_weights(fresh: dict, pretrained: dict, vocabs: dict[str, tuple[list[str], Vocab]]) -> dict:
    """The pretrained weights in the new model's places: embedding rows (`vocabs`: weight name ->
    (the pretrained model's entries, the new vocabulary)) moved by entry, every other weight as it is;
    rows of entries only this data has keep their fresh init."""
    out = dict(fresh)
    for name, weight in pretrained.items():
        if name not in vocabs:
            out[name] = weight.clone()
            continue
        entries, vocab = vocabs[name]
        rows = out[name].clone()
        rows[torch.tensor([vocab.index(t) for t in entries])] = weight
        out[name] = rows
    return out
