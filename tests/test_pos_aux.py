"""Auxiliary outputs (`data.aux_tags`): the tagger also learns other CoNLL-U columns (XPOS, FEATS,
DEPREL) from the same encoder states, and outputs only its own tags."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.models.rnn import Recurrent
from seqtrain.models.tagger import Tagger
from seqtrain.tasks import load_config
from seqtrain.tasks.pos.conll import parse_conllu
from seqtrain.tasks.pos.task import PosTask

from conftest import REPO, assert_user_error, cli

TOY = REPO / "configs" / "pos-toy.yaml"
QUICK = ["-o", "train.threads=1", "-o", "train.epochs=2", "--quiet"]
UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X"}

CONLLU = """# text = They ran home.
1\tThey\tthey\tPRON\tPRP\tCase=Nom|Number=Plur\t2\tnsubj\t_\t_
2\tran\trun\tVERB\tVBD\tTense=Past\t0\troot\t_\t_
3\thome\thome\tADV\tRB\t_\t2\tadvmod\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_
"""


@pytest.fixture(scope="module")
def aux_tagger(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("aux") / "run"
    result = cli("train", TOY, "--run-dir", run, "-o", "data.aux_tags=[xpos]", *QUICK)
    assert result.code == 0, result.err
    return run


def test_the_conllu_reader_keeps_each_words_auxiliary_columns():
    sentence, = parse_conllu(CONLLU.splitlines(), aux_columns=("xpos", "feats", "deprel"))
    assert sentence.tags == ["PRON", "VERB", "ADV", "PUNCT"]
    assert sentence.aux == {"xpos": ["PRP", "VBD", "RB", "."],
                            "feats": ["Case=Nom|Number=Plur", "Tense=Past", "_", "_"],
                            "deprel": ["nsubj", "root", "advmod", "punct"]}


def tiny_tagger(aux_weight: float) -> Tagger:
    torch.manual_seed(0)
    return Tagger(nn.Embedding(10, 4), None, Recurrent("lstm", 4, 3, bidirectional=True), 5,
                  aux_sizes=(6, 2), aux_weight=aux_weight)


def tiny_batch() -> dict:
    return {"words": torch.tensor([[2, 3, 4], [5, 6, 0]]), "chars": None, "char_lengths": None,
            "char_index": None, "lengths": torch.tensor([3, 2]), "tags": torch.tensor([[0, 1, 2], [3, 4, 0]])}


def test_the_auxiliary_outputs_add_their_weighted_loss_and_learn_from_their_columns():
    batch = tiny_batch()
    aux = torch.tensor([[[0, 1], [5, 0], [2, 1]], [[3, 0], [1, -100], [-100, -100]]])
    plain = tiny_tagger(0.0).eval()(**batch)
    assert torch.allclose(tiny_tagger(0.0).eval()(**batch, aux_tags=aux), plain)
    model = tiny_tagger(0.5).eval()
    loss = model(**batch, aux_tags=aux)
    output, _ = model.rnn(model.features(batch["words"], None, None, None, batch["lengths"]), batch["lengths"])
    expected = plain + 0.5 * sum(nn.functional.cross_entropy(head(output).transpose(1, 2), aux[..., i])
                                 for i, head in enumerate(model.aux_out))
    assert torch.allclose(loss, expected)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.aux_out.parameters())


def test_a_tagger_with_aux_tags_stores_their_values_and_outputs_only_its_own_tags(aux_tagger):
    state = load_checkpoint(aux_tagger)["task_state"]
    assert {"NN", "DT", "VBD"} <= set(state["aux_tags"]["xpos"])
    result = cli("predict", aux_tagger, "The dog ate the apple .")
    assert result.code == 0, result.err
    tags = [token.rpartition("/")[2] for token in result.out.split()]
    assert len(tags) == 6 and set(tags) <= UPOS


def test_evaluating_a_file_reads_its_auxiliary_columns_too(aux_tagger):
    result = cli("evaluate", aux_tagger, REPO / "data" / "samples" / "pos-en-ud.txt", "--json")
    assert result.code == 0, result.err
    assert '"accuracy"' in result.out


def test_aux_tags_naming_the_tag_column_is_one_line(tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", "data.tag_column=xpos",
                 "-o", "data.aux_tags=[feats,xpos]")
    assert_user_error(result, "data.aux_tags", "xpos is data.tag_column")
    assert not (tmp_path / "run").exists()


def test_aux_tags_on_training_data_that_is_not_conllu_is_one_line_naming_the_file(tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", "data.train=samples/pos-en.txt",
                 "-o", "data.aux_tags=[xpos]")
    assert_user_error(result, "pos-en.txt", "data.aux_tags", "needs CoNLL-U")


def test_a_tagger_started_from_one_without_aux_outputs_keeps_its_encoder_and_gets_fresh_aux_outputs(
        aux_tagger, tmp_path):
    plain = tmp_path / "plain"
    assert cli("train", TOY, "--run-dir", plain, *QUICK).code == 0
    cfg = load_config(TOY, [f"model.init_from={plain}", "data.aux_tags=[xpos]", "train.threads=1"])
    task, _ = PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), tmp_path)
    model = task.build_model().state_dict()
    start = load_checkpoint(plain)["model"]
    assert all(torch.equal(model[k], start[k]) for k in start if k.startswith("rnn."))
    assert model["aux_out.0.weight"].shape[0] == len(task.encoding.aux["xpos"])
    # and back: a model with aux outputs as the start of one without
    cfg = load_config(TOY, [f"model.init_from={aux_tagger}", "train.threads=1"])
    task, _ = PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), tmp_path)
    assert not any(k.startswith("aux_out.") for k in task.build_model().state_dict())


def test_aux_tags_with_the_pku_corpus_is_one_line(tmp_path):
    result = cli("train", TOY, "--run-dir", tmp_path / "run", "-o", "data.train=pku-1998", "-o", "data.aux_tags=[xpos]")
    assert_user_error(result, "data.aux_tags", "pku-1998")
    assert not (tmp_path / "run").exists()


def test_info_counts_each_auxiliary_columns_values(aux_tagger):
    result = cli("info", aux_tagger, "--json")
    assert result.code == 0, result.err
    values = load_checkpoint(aux_tagger)["task_state"]["aux_tags"]["xpos"]
    assert json.loads(result.out)["vocab_sizes"]["aux_tags.xpos"] == len(values) > 5
