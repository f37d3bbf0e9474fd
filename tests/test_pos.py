"""The POS task end to end on the toy samples: vocabularies, masking, train -> save -> load -> predict,
CoNLL-U in and out, evaluate's fields, word vectors; and a short English-EWT run where the corpus is."""

import json
import os
from pathlib import Path

import pytest
import torch

from seqtrain.tasks import load_config
from seqtrain.core.paths import resolve_paths, data_root
from seqtrain.tasks.pos.task import PosTask

from conftest import REPO, assert_user_error, cli, predicted_here_and_in_a_fresh_process, run_cli

TOY = REPO / "configs" / "pos-toy.yaml"
SAMPLE = REPO / "data" / "samples" / "pos-en-ud.txt"
QUICK = ["-o", "train.epochs=8", "-o", "train.threads=1"]


def toy_task(*overrides: str) -> tuple[PosTask, object]:
    cfg = load_config(TOY, ["train.threads=1", *overrides])
    return PosTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("pos") / "run"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *QUICK)
    assert result.code == 0, result.err
    return run


# ---------------------------------------------------------------- vocabularies

def test_vocabularies_come_from_the_training_split_only():
    task, splits = toy_task()
    dev_words = {w for ex in splits.dev for w in task.encoding.words.decode(ex[0].tolist())}
    train_words = {w for ex in splits.train for w in task.encoding.words.decode(ex[0].tolist())}
    assert "<unk>" in dev_words and "<unk>" not in train_words


def test_min_freq_lowercase_and_max_size_shape_the_word_vocabulary():
    task, _ = toy_task("data.lowercase=true", "data.min_freq=2")
    words = task.encoding.words
    assert "the" in words and "The" not in words and "mat" not in words  # 'mat' occurs once
    assert task.encoding.word_id("THE") == words.index("the")
    task, _ = toy_task("data.max_size=10")
    assert len(task.encoding.words) == 10


def test_a_loaded_vocabulary_is_kept_when_data_is_read_again():
    task, _ = toy_task()
    state = task.state_dict()
    other, _ = toy_task("data.max_train=3")  # fewer sentences: a smaller vocabulary of its own
    assert other.state_dict() != state
    fresh = PosTask.from_state(other.cfg, state)
    fresh.read_splits(resolve_paths(other.cfg.data, data_root(), "data"))
    assert fresh.state_dict() == state


def test_task_state_is_plain_data():
    task, _ = toy_task()
    state = task.state_dict()
    assert json.loads(json.dumps(state)) == state


# ---------------------------------------------------------------- masking

@pytest.mark.parametrize("decoder", ["softmax", "crf"])
def test_pads_never_count_in_loss_or_metrics(decoder):
    task, splits = toy_task(f"model.decoder={decoder}")
    torch.manual_seed(0)
    model = task.build_model().eval()
    short, long = sorted(splits.train[:6], key=len_of)[0], sorted(splits.train[:6], key=len_of)[-1]
    assert len_of(short) < len_of(long)
    together = task.evaluate_batch(model, task.collate([short, long]))
    alone = [task.evaluate_batch(model, task.collate([ex])) for ex in (short, long)]
    for key, value in together.items():
        assert torch.allclose(value.double(), (alone[0][key] + alone[1][key]).double(), atol=1e-4), key
    n_short, n_long = len_of(short), len_of(long)
    summed = model(**task.collate([short])) * n_short + model(**task.collate([long])) * n_long
    assert torch.allclose(model(**task.collate([short, long])) * (n_short + n_long), summed, atol=1e-4)


def len_of(example) -> int:
    return len(example[0])


# ---------------------------------------------------------------- train, save, load, predict

@pytest.mark.slow
def test_train_save_load_in_a_fresh_process_predicts_the_same_tags(toy_run):
    sentences = ["The dog ate the apple .", "Mary read a book in the garden .", "Zebras quickly jumped ."]
    lines = predicted_here_and_in_a_fresh_process(toy_run, sentences)
    assert [len(line.split()) for line in lines] == [6, 8, 4]
    assert lines[0].startswith("The/DET dog/NOUN")


@pytest.mark.slow
def test_predict_reads_a_file_or_stdin_one_sentence_per_line_and_prints_json(toy_run, tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("The dog ate the apple .\n\nThe cat sat .\n")
    from_file = cli("predict", toy_run, "--input", path)
    assert from_file.code == 0, from_file.err
    assert from_file.out.splitlines()[1] == ""  # blank lines stay, so outputs line up with inputs
    from_stdin = run_cli("predict", toy_run, "--input", "-", "--output-format", "json",
                         input=path.read_text())
    records = json.loads(from_stdin.out)
    assert [r["words"] for r in records] == [["The", "dog", "ate", "the", "apple", "."], ["The", "cat", "sat", "."]]
    assert [len(r["tags"]) for r in records] == [6, 4]


def test_predict_conllu_fills_the_upos_column_and_keeps_every_other_byte(toy_run, tmp_path):
    source = SAMPLE.read_text(encoding="utf-8").replace("\tPUNCT\t", "\t_\t")
    path = tmp_path / "input.conllu"
    path.write_text(source, encoding="utf-8")
    result = cli("predict", toy_run, "--format", "conllu", "--input", path)
    assert result.code == 0, result.err
    before, after = source.splitlines(), result.out.splitlines()
    assert len(after) == len(before)
    for a, b in zip(before, after):
        if a.split("\t")[0].isdigit():
            ca, cb = a.split("\t"), b.split("\t")
            assert ca[:3] + ca[4:] == cb[:3] + cb[4:] and cb[3] not in ("", "_")
        else:
            assert a == b  # comments, multiword ranges, blank lines
    assert "# text = The dog ate the apple." in after


def test_predict_with_states_writes_encoder_states(toy_run, tmp_path):
    states = tmp_path / "states.pt"
    result = cli("predict", toy_run, "The dog ate .", "A cat", "--states", states)
    assert result.code == 0, result.err
    saved = torch.load(states)
    assert saved["h"].shape[:4] == (1, 2, 2, 4) and saved["lengths"].tolist() == [4, 2]
    assert saved["h"][:, :, 1, 2:].abs().sum() == 0  # past the second sentence's end


def test_predict_with_an_unknown_format_or_no_words_is_a_user_error(toy_run):
    assert_user_error(cli("predict", toy_run, "--format", "xml", "The dog"), "--format")
    assert_user_error(cli("predict", toy_run, "   "), "no input")


# ---------------------------------------------------------------- evaluate

def test_evaluate_json_has_accuracies_and_per_tag_scores(toy_run):
    result = cli("evaluate", toy_run, SAMPLE, "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    m = out["metrics"]
    for key in ("loss", "accuracy", "sentence_accuracy", "known_accuracy", "unknown_accuracy", "macro_f1"):
        assert 0 <= m[key] <= (1 if key != "loss" else 100), key
    assert out["examples"] == 38
    table = out["tables"][0]
    assert table["columns"] == ["tag", "precision", "recall", "f1", "support"]
    assert sum(row[4] for row in table["rows"]) == sum(1 for line in SAMPLE.read_text().splitlines()
                                                       if line.split("\t")[0].isdigit())


def test_tags_never_seen_in_training_count_as_errors_and_are_listed(toy_run, tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text("The/DET dog/NOUN barked/WEIRD ./PUNCT\n")
    out = json.loads(cli("evaluate", toy_run, path, "--json").out)
    assert out["metrics"]["unseen_tag_tokens"] == 1
    assert out["metrics"]["accuracy"] <= 0.75
    assert ["WEIRD", 1] in out["tables"][1]["rows"]


def test_evaluate_without_data_scores_the_runs_dev_split_as_training_did(toy_run):
    from seqtrain.core.checkpoint import load_checkpoint

    stored = load_checkpoint(toy_run / "checkpoints" / "best.pt")["metrics"]
    scored = json.loads(cli("evaluate", toy_run, "--json").out)["metrics"]
    assert scored["accuracy"] == pytest.approx(stored["accuracy"])


# ---------------------------------------------------------------- decoders, languages, vectors

def test_crf_decoder_and_char_cnn_train_and_tag(tmp_path):
    run = tmp_path / "crf"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *QUICK, "-o", "model.decoder=crf", "-o", "model.chars=cnn")
    assert result.code == 0, result.err
    out = json.loads(cli("evaluate", run, SAMPLE, "--json").out)
    assert out["metrics"]["accuracy"] > 0.6


def test_chinese_sample_trains_on_pre_segmented_words(tmp_path):
    run = tmp_path / "zh"
    result = cli("train", TOY, "--run-dir", run, "--quiet", *QUICK, "-o", "data.train=samples/pos-zh-ud.txt")
    assert result.code == 0, result.err
    tagged = cli("predict", run, "我 喜欢 吃 苹果 。").out.split()
    assert [t.rsplit("/", 1)[0] for t in tagged] == ["我", "喜欢", "吃", "苹果", "。"]


def test_pretrained_vectors_with_use_init_initialise_the_embeddings(tmp_path):
    vectors = tmp_path / "vectors.vec"
    vectors.write_text("2 32\n" + "dog " + " ".join(["0.5"] * 32) + "\n" + "The " + " ".join(["-0.25"] * 32) + "\n")
    task, _ = toy_task(f"data.embeddings.pretrained={vectors}", "data.embeddings.use=init")
    model = task.build_model()
    words = task.encoding.words
    assert torch.allclose(model.words.weight[words.index("dog")], torch.full((32,), 0.5))
    assert torch.allclose(model.words.weight[words.index("The")], torch.full((32,), -0.25))
    assert model.words.weight[0].abs().sum() == 0  # PAD


def test_vectors_of_the_wrong_size_name_the_config_key(tmp_path):
    vectors = tmp_path / "vectors.vec"
    vectors.write_text("1 3\ndog 1 2 3\n")
    config = tmp_path / "pos.yaml"
    config.write_text(TOY.read_text() + "  threads: 1\n")
    result = cli("train", config, "--run-dir", tmp_path / "run", "-o", f"data.embeddings.pretrained={vectors}",
                 "-o", "data.embeddings.use=init")
    assert_user_error(result, "model.word_dim")


def test_word2vec_trains_before_the_tagger_and_is_cached_in_the_run_directory(tmp_path):
    run = tmp_path / "w2v"
    result = cli("train", TOY, "--run-dir", run, "--quiet", "-o", "train.epochs=1", "-o", "train.threads=1",
                 "-o", "data.embeddings.train=word2vec", "-o", "data.embeddings.epochs=2")
    assert result.code == 0, result.err
    cached = (run / "word2vec.vec").read_text(encoding="utf-8").splitlines()
    assert cached[0].split()[1] == "32" and any(line.startswith("apple ") for line in cached)


# ---------------------------------------------------------------- English EWT (needs the corpus)

@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SEQTRAIN_DATA"), reason="needs $SEQTRAIN_DATA with ud-en-ewt")
def test_a_short_english_ewt_run_learns_to_tag(tmp_path):
    root = Path(os.environ["SEQTRAIN_DATA"])
    if not (root / "ud-en-ewt" / "en_ewt-ud-train.conllu").is_file():
        pytest.skip(f"ud-en-ewt not under {root}")
    run = tmp_path / "ewt"
    result = cli("train", REPO / "configs" / "pos-en-ewt.yaml", "--run-dir", run, "--quiet",
                 "-o", "data.max_train=400", "-o", "train.epochs=3", "-o", "train.threads=1",
                 "-o", "train.batch_size=16", "-o", "train.lr=0.005", "-o", "model.hidden_size=64",
                 # the full config's regularisation is sized for 12,544 sentences, not 400
                 "-o", "model.input_dropout=0.2", "-o", "model.output_dropout=0.2", "-o", "model.word_dropout=0.25")
    assert result.code == 0, result.err
    metrics = json.loads((run / "summary.json").read_text())["final"]
    assert metrics["accuracy"] > 0.6 and metrics["unknown_share"] > 0.1
