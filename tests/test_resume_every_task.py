"""Exact resume for every task and mode: a run stopped mid-epoch and resumed ends bitwise at the
weights, optimizer state and logged metrics of the run that was never stopped."""

import json
from pathlib import Path

import pytest
import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.tasks import TASKS, load_config
from seqtrain.training.trainer import train

REPO = Path(__file__).resolve().parent.parent
COMMON = ["train.threads=1", "train.device=cpu"]

# name -> (config, overrides): every task, each mode that trains differently, a few seconds each
CASES = {
    "entities-crf": ("configs/ner-toy.yaml", ["train.epochs=2"]),
    "entities-softmax-bio": ("configs/ner-toy.yaml", ["train.epochs=2", "model.decoder=softmax",
                                                      "data.train_scheme=bio", "model.word_dropout=0.5"]),
    "hello-loop": ("configs/hello.yaml", ["model.impl=loop", "data.repeat=6", "train.batch_size=2",
                                          "train.epochs=2"]),
    "sincos": ("configs/sincos.yaml", ["data.train_windows=48", "data.dev_windows=8", "data.steps=10",
                                       "model.hidden_size=8", "train.batch_size=8", "train.epochs=2"]),
    "pos-softmax": ("configs/pos-toy.yaml", ["train.epochs=2", "model.decoder=softmax", "model.word_dropout=0.5"]),
    "pos-crf": ("configs/pos-toy.yaml", ["train.epochs=2", "model.decoder=crf"]),
    "tang-poems": ("configs/tang-tiny.yaml", ["train.epochs=2", "model.hidden_size=16", "model.dropout=0.2"]),
    "tang-chunks": ("configs/tang-tiny.yaml", ["train.epochs=2", "model.hidden_size=16", "data.mode=chunks",
                                               "data.chunk_len=20", "train.batch_size=2"]),
    "tokenize": ("configs/tokenize-toy.yaml", ["train.epochs=2", "model.bigram_dim=4", "model.input_dropout=0.2"]),
    # every kind of task state the shipped configs produce ({files}: the STATE_FILES fixture's folder):
    # a lexicon (tensors of its entries, as spacy-lookups-en and pku-1998 store theirs), auxiliary tags,
    # a trained tokenizer (its config, vocabularies and weights inside the tagger's state), word2vec
    # vectors cached in the run directory, pretrained vectors, and a start from another run's weights
    "pos-lexicon": ("configs/pos-toy.yaml", ["train.epochs=2", "data.lexicon={files}/lexicon.tsv"]),
    "pos-aux-tags": ("configs/pos-toy.yaml", ["train.epochs=2", "data.aux_tags=[xpos, feats]"]),
    "pos-tokenizer": ("configs/pos-toy.yaml", ["train.epochs=2", "data.tokenizer={files}/tokenizer-run"]),
    "pos-word2vec": ("configs/pos-toy.yaml", ["train.epochs=2", "data.embeddings.train=word2vec",
                                              "data.embeddings.epochs=1"]),
    "pos-pretrained-vectors": ("configs/pos-toy.yaml", ["train.epochs=2",
                                                        "data.embeddings.pretrained={files}/vectors.vec"]),
    "pos-init-from": ("configs/pos-toy.yaml", ["train.epochs=2", "model.init_from={files}/pos-run"]),
}


def test_every_task_has_a_resume_case():
    assert {name.split("-")[0] for name in CASES} == set(TASKS)


@pytest.fixture(scope="module")
def state_files(tmp_path_factory) -> Path:
    """A lexicon file, a vectors file, a trained tokenizer and a tagger run, for the cases that name them."""
    files = tmp_path_factory.mktemp("state-files")
    (files / "lexicon.tsv").write_text("the\tDET\ndog\tNOUN VERB\napple\tNOUN\n")
    (files / "vectors.vec").write_text("3 32\n" + "".join(f"{w} {' '.join(['0.25'] * 32)}\n" for w in ("the", "dog", "apple")))
    train(load_config(REPO / "configs/tokenize-toy.yaml", COMMON + ["train.max_steps=2"]),
          run_dir=files / "tokenizer-run", quiet=True)
    train(load_config(REPO / "configs/pos-toy.yaml", COMMON + ["train.max_steps=2"]),
          run_dir=files / "pos-run", quiet=True)
    return files


def test_the_shipped_configs_make_no_kind_of_task_state_the_resume_cases_lack():
    import yaml

    def state_keys(overrides: dict) -> set:
        data, model = overrides.get("data") or {}, overrides.get("model") or {}
        keys = {f"data.{k}" for k in ("lexicon", "aux_tags", "tokenizer") if data.get(k) not in (None, "", [], "whitespace")}
        keys |= {f"data.embeddings.{k}" for k, v in (data.get("embeddings") or {}).items() if v not in ("", "none")}
        return keys | ({"model.init_from"} if model.get("init_from") else set())

    covered = {o.partition("=")[0] for _, overrides in CASES.values() for o in overrides}
    for config in sorted((REPO / "configs").glob("*.yaml")):
        assert state_keys(yaml.safe_load(config.read_text())) <= covered, config.name
    # the shipped configs name these in their comments (model.init_from=RUN, data.tokenizer=RUN)
    assert {"data.tokenizer", "model.init_from", "data.embeddings.train", "data.embeddings.pretrained"} <= covered


def dev_lines(run: Path) -> list:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["metrics"]) for r in records if r["split"] == "dev"]


def assert_equal(a, b, where: str):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", sorted(CASES))
def test_stopped_mid_epoch_and_resumed_ends_bitwise_at_the_uninterrupted_run(name, tmp_path, request):
    config, overrides = CASES[name]
    if any("{files}" in o for o in overrides):
        files = request.getfixturevalue("state_files")
        overrides = [o.replace("{files}", str(files)) for o in overrides]
    cfg = lambda *extra: load_config(REPO / config, COMMON + overrides + list(extra))  # noqa: E731
    whole = train(cfg(), run_dir=tmp_path / "whole", quiet=True)
    stop_at = whole["steps"] // 2 + 1  # past the middle: mid-epoch for an even number of steps an epoch
    train(cfg(f"train.max_steps={stop_at}"), run_dir=tmp_path / "split", quiet=True)
    stopped = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["progress"]
    assert stopped["step"] == stop_at and stopped["batch_in_epoch"] not in (0,)
    train(cfg(), resume=tmp_path / "split", quiet=True)
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for key in ("model", "optimizer", "scheduler", "carried", "progress"):
        assert_equal(a[key], b[key], key)
    assert_equal(a["rng"]["torch"], b["rng"]["torch"], "rng")
    # the stopped run also evaluated where it stopped (and its train loss lines cover the steps since)
    assert [r for r in dev_lines(tmp_path / "split") if r[0] != stop_at] == dev_lines(tmp_path / "whole")
