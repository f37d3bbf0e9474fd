"""Pretrained word vectors: the file formats (GloVe, word2vec text and binary, fastText .vec, gzipped or
not), every malformed file as one line, and the whole table at prediction: a word training never saw
gets its pretrained vector."""

import gzip
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtrain.data.vector_files import read_vectors
from seqtrain.inference import load_model
from seqtrain.tasks.pos.conll import Sentence, read_tagged
from seqtrain.tasks.pos.tagging import tag

from conftest import REPO, assert_user_error, cli, predicted_here_and_in_a_fresh_process, run_cli_limited

TOY = REPO / "configs" / "pos-toy.yaml"
SAMPLE = REPO / "data" / "samples" / "pos-en-ud.txt"
QUICK = ["--quiet", "-o", "train.threads=1", "-o", "train.epochs=2"]


def write(path: Path, text: str, gz: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def row(word: str, values) -> str:
    return word + " " + " ".join(f"{v:g}" for v in values) + "\n"


# ---------------------------------------------------------------- formats

def test_glove_text_without_a_header_is_read_gzipped(tmp_path):
    path = write(tmp_path / "glove.6B.3d.txt.gz", row("the", [1, 2, 3]) + row("dog", [-0.5, 0, 4e-3]), gz=True)
    vectors = read_vectors(path)
    assert vectors.words == ["the", "dog"]
    assert vectors.rows.dtype == np.float32 and np.allclose(vectors.rows, [[1, 2, 3], [-0.5, 0, 0.004]])


def test_fasttext_vec_with_a_header_and_trailing_spaces_is_read(tmp_path):
    path = write(tmp_path / "cc.en.3.vec", "2 3\n" + row("the", [1, 2, 3]).replace("\n", " \n")
                 + row("Dog", [4, 5, 6]).replace("\n", " \n"))
    vectors = read_vectors(path)
    assert vectors.words == ["the", "Dog"] and np.allclose(vectors["Dog"], [4, 5, 6])


def test_word2vec_binary_is_read_plain_and_gzipped(tmp_path):
    data = b"2 3\n" + b"the " + struct.pack("<3f", 1, 2, 3) + b"\n" + b"dog " + struct.pack("<3f", 4, 5, 6) + b"\n"
    for path in (tmp_path / "w.bin", tmp_path / "w.bin.gz"):
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        vectors = read_vectors(path)
        assert vectors.words == ["the", "dog"] and np.allclose(vectors["dog"], [4, 5, 6])


def test_max_words_keeps_the_first_words_of_the_file(tmp_path):
    path = write(tmp_path / "v.txt", "".join(row(w, [i, i]) for i, w in enumerate(["the", "of", "dog"])))
    assert read_vectors(path, max_words=2).words == ["the", "of"]


# ---------------------------------------------------------------- malformed files: one line, exit 2

def train_with(tmp_path, vectors: Path, *overrides: str):
    return cli("train", TOY, "--run-dir", tmp_path / "run", *QUICK, "-o", f"data.embeddings.pretrained={vectors}",
               *[x for o in overrides for x in ("-o", o)])


def test_a_row_of_the_wrong_length_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "glove.txt.gz", row("the", [1, 2, 3]) + row("dog", [1, 2]) + row("cat", [1, 2, 3]), gz=True)
    assert_user_error(train_with(tmp_path, path), f"{path}:2", "2 numbers", "expected 3")


def test_a_value_that_is_not_a_number_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "v.vec", "2 3\n" + row("the", [1, 2, 3]) + "dog 1 x 3\n")
    assert_user_error(train_with(tmp_path, path), f"{path}:3", "'x'")


@pytest.mark.slow
def test_a_header_claiming_two_billion_words_is_one_line_not_a_memory_error(tmp_path):
    text = write(tmp_path / "huge.vec", "2000000000 3\nthe 1 2 3\n")
    binary = tmp_path / "huge.bin"
    binary.write_bytes(b"2000000000 300\nthe " + struct.pack("<3f", 1, 2, 3))
    for path in (text, binary):  # in a child with 2 GB of address space: a regression fails, not the machine
        result = run_cli_limited("train", TOY, "--run-dir", tmp_path / "run", *QUICK,
                                 "-o", f"data.embeddings.pretrained={path}", timeout=120)
        assert_user_error(result, str(path), "header says 2000000000 words")


@pytest.mark.parametrize("value", ["nan", "inf", "1e39"])
def test_nan_or_overflowing_vectors_name_the_line_not_train_lr(tmp_path, value):
    path = write(tmp_path / "v.txt", row("the", [1, 2, 3]) + f"dog 1 {value} 3\n")
    line = assert_user_error(train_with(tmp_path, path), f"{path}:2", "finite")
    assert "train.lr" not in line


def test_a_damaged_copy_of_the_vectors_in_the_run_is_one_line_on_resume(tmp_path):
    path = write(tmp_path / "v.txt", "".join(row(w, [1, 2, 3]) for w in ["the", "dog"]))
    assert train_with(tmp_path, path).code == 0
    (tmp_path / "run" / "vectors.pt").write_bytes(b"not a torch file")
    resumed = cli("train", TOY, "--resume", tmp_path / "run", *QUICK, "-o", f"data.embeddings.pretrained={path}")
    assert_user_error(resumed, "vectors.pt", "damaged")


def test_a_damaged_word2vec_cache_is_one_line_on_resume(tmp_path):
    run = tmp_path / "w2v"
    args = (*QUICK, "-o", "data.embeddings.train=word2vec", "-o", "data.embeddings.epochs=1")
    assert cli("train", TOY, "--run-dir", run, *args).code == 0
    (run / "word2vec.vec").write_text("5 32\nthe 1 2\n", encoding="utf-8")
    assert_user_error(cli("train", TOY, "--resume", run, *args), "word2vec.vec:2", "delete word2vec.vec")


# ---------------------------------------------------------------- the whole table at prediction

def class_vectors(path: Path, unseen: dict[str, str]) -> Path:
    """A GloVe-format file (headerless, gzipped) in which each toy training word's vector says its
    most frequent tag (one dimension per tag), and `unseen` words (absent from training) get the
    vector of the tag given."""
    counts: dict[str, Counter] = {}
    for sentence in read_tagged(SAMPLE):
        for word, t in zip(sentence.words, sentence.tags):
            counts.setdefault(word.lower(), Counter())[t] += 1
    tags = sorted({t for c in counts.values() for t in c})
    one_hot = lambda t: [3.0 if t == other else 0.0 for other in tags]
    lines = [row(w, one_hot(c.most_common(1)[0][0])) for w, c in counts.items()]
    lines += [row(w, one_hot(t)) for w, t in unseen.items()]
    return write(path, "".join(lines), gz=True)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("table")
    vectors = class_vectors(tmp / "glove.toy.txt.gz", {"zebra": "NOUN", "devoured": "VERB"})
    run = tmp / "run"
    # no character model: a word's only features are its embedding row (UNK for unseen words) and its vector
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.threads=1", "-o", "train.epochs=12",
                 "-o", "model.chars=none", "-o", "model.word_dropout=1.0", "-o", f"data.embeddings.pretrained={vectors}")
    assert result.code == 0, result.err
    return run, vectors


def test_a_word_training_never_saw_is_tagged_by_its_pretrained_vector(table_run):
    run, _ = table_run
    task, model, _ = load_model(run)
    assert "zebra" not in task.encoding.words and "devoured" not in task.encoding.words
    tagged = tag(model, task.encoding, [Sentence([w]) for w in ["zebra", "devoured", "qwzx", "blorp"]], 8)
    assert tagged[:2] == [["NOUN"], ["VERB"]]
    assert tagged[2] == tagged[3]  # words neither training nor the vectors know are all the same UNK


def test_the_table_is_stored_in_the_checkpoint_and_predicts_without_the_vectors_file(table_run):
    run, vectors = table_run
    task, model, _ = load_model(run)
    stored = model.vectors.rows[task.encoding.table.row("Zebra")]  # looked up in lowercase too
    assert stored.dtype == torch.float16 and torch.equal(stored.float(), torch.tensor(read_vectors(vectors)["zebra"]))
    vectors.rename(vectors.with_name("moved.txt.gz"))
    try:
        lines = predicted_here_and_in_a_fresh_process(run, ["The zebra devoured the apple ."])
    finally:
        vectors.with_name("moved.txt.gz").rename(vectors)
    assert lines == ["The/DET zebra/NOUN devoured/VERB the/DET apple/NOUN ./PUNCT"]


def test_a_resumed_run_reads_its_own_copy_of_the_vectors_and_ends_bitwise_equal(tmp_path):
    vectors = class_vectors(tmp_path / "v.txt.gz", {"zebra": "NOUN"})
    args = ("--quiet", "-o", "train.threads=1", "-o", f"data.embeddings.pretrained={vectors}")
    assert cli("train", TOY, "--run-dir", tmp_path / "straight", *args, "-o", "train.epochs=2").code == 0
    assert cli("train", TOY, "--run-dir", tmp_path / "split", *args, "-o", "train.epochs=1").code == 0
    write(vectors, "damaged 1 2\n")  # the file changes: a resumed run must not read it again
    assert cli("train", TOY, "--resume", tmp_path / "split", *args, "-o", "train.epochs=2").code == 0
    straight = torch.load(tmp_path / "straight" / "checkpoints" / "last.pt", weights_only=True)["model"]
    split = torch.load(tmp_path / "split" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert straight.keys() == split.keys() and all(torch.equal(straight[k], split[k]) for k in straight)


def test_init_from_a_tagger_that_read_vectors_of_another_size_is_one_line(tmp_path):
    path = write(tmp_path / "v.txt", "".join(row(w, [1, 2, 3]) for w in ["the", "dog"]))
    assert train_with(tmp_path, path).code == 0
    started = cli("train", TOY, "--run-dir", tmp_path / "started", *QUICK, "-o", f"model.init_from={tmp_path / 'run'}")
    assert_user_error(started, "model.init_from", "pretrained vectors of another size")


def test_evaluate_reports_the_accuracy_on_unknown_words_the_vectors_know(table_run):
    run, _ = table_run
    metrics = json.loads(cli("evaluate", run, SAMPLE, "--json").out)["metrics"]
    assert 0 <= metrics["unknown_in_vectors_accuracy"] <= 1 and "unknown_in_vectors_share" in metrics
    from seqtrain.tasks import TASKS

    assert set(metrics) <= set(TASKS["pos"].goals)  # each has a declared direction (train.monitor, tune)


def test_info_counts_the_table_as_frozen_weights_and_only_vocabularies_as_vocabularies(table_run):
    run, _ = table_run
    _, model, _ = load_model(run)
    info = json.loads(cli("info", run, "--json").out)
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["frozen_weights"] == model.vectors.rows.numel() > 0
    assert set(info["vocab_sizes"]) == {"words", "chars", "tags", "vectors.words"}  # not the dev sentence shown


def test_overwrite_replaces_a_run_that_kept_its_vectors(table_run, tmp_path):
    import shutil

    run, vectors = tmp_path / "run", table_run[1]
    shutil.copytree(table_run[0], run)
    assert (run / "vectors.pt").is_file()  # the copy a run keeps of what it read is a file it wrote
    done = cli("train", TOY, "--run-dir", run, "--overwrite", "--quiet", "-o", "train.threads=1", "-o", "train.epochs=1",
               "-o", f"data.embeddings.pretrained={vectors}")
    assert done.code == 0, done.err


def test_a_checkpoint_whose_table_words_are_out_of_order_is_one_line_not_silent_unks(table_run, tmp_path):
    run, _ = table_run
    ckpt = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    words = ckpt["task_state"]["vectors"]["words"].split("\n")
    words[2], words[3] = words[3], words[2]
    ckpt["task_state"]["vectors"]["words"] = "\n".join(words)
    torch.save(ckpt, tmp_path / "swapped.pt")
    result = cli("predict", str(tmp_path / "swapped.pt"), "The zebra ate .")
    assert result.code == 2 and "pretrained vectors table" in result.err and "Traceback" not in result.err
