"""Vocabularies as checkpoints store them: one string for the large ones, lists in older files."""

import json

from seqtrain.core.vocab import UNK, Vocab


def test_a_stored_vocabulary_reads_back_with_the_same_ids():
    vocab = Vocab(["<pad>", UNK, "", "the", "苹果", " "])
    state = vocab.to_state()
    assert isinstance(state, str)
    assert Vocab.from_state(state).to_list() == vocab.to_list()


def test_an_empty_vocabulary_reads_back_empty():
    assert Vocab.entries(Vocab([], unk=None).to_state()) == []


def test_a_vocabulary_stored_as_a_list_by_an_older_checkpoint_still_reads():
    assert Vocab.from_state(["<pad>", UNK, "dog"]).index("dog") == 2


def test_an_entry_holding_a_newline_keeps_the_list_form():
    vocab = Vocab(["a", "b\nc", UNK])
    assert vocab.to_state() == ["a", "b\nc", UNK]
    assert Vocab.from_state(vocab.to_state()).to_list() == vocab.to_list()


def test_info_counts_the_vocabularies_a_checkpoint_stores_as_strings(tmp_path):
    from conftest import REPO, cli
    from seqtrain.core.checkpoint import load_checkpoint

    run = tmp_path / "run"
    assert cli("train", REPO / "configs" / "pos-toy.yaml", "--run-dir", run, "-q", "-o", "train.epochs=1").code == 0
    words = load_checkpoint(run)["task_state"]["words"]
    assert isinstance(words, str)
    info = cli("info", run, "--json")
    assert info.code == 0, info.err
    assert json.loads(info.out)["vocab_sizes"]["words"] == len(Vocab.entries(words)) > 10
