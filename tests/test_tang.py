"""Tang poetry: reading and cleaning the corpus, vocabulary and split, the loss, chunks, and the CLI."""

import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch

from conftest import assert_user_error, cli, run_cli
import seqtrain.tasks.tang.poems as P
from seqtrain.data.batching import epoch_batches
from seqtrain.core.paths import data_root, resolve_paths
from seqtrain.tasks import load_config
from seqtrain.core.errors import UserError
from seqtrain.tasks.tang.request import PoemRequest
from seqtrain.tasks.tang.poem_eval import figures, form_valid
from seqtrain.tasks.shared import seeded_split
from seqtrain.tasks.tang.task import TangTask

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "configs" / "tang-tiny.yaml"
SAMPLES = REPO / "data" / "samples" / "tang-tiny"


def tiny_task(*overrides):
    cfg = load_config(TINY, list(overrides))
    return TangTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)


# ---------------------------------------------------------------- reading and cleaning

def test_reader_maps_half_width_punctuation_to_the_corpus_forms():
    poems = {p.title: p.text for p in P.read_json_poems(SAMPLES / "poems-a.json")}
    assert poems["夜宿山寺"] == "危樓高百尺，手可摘星辰。不敢高聲語，恐驚天上人。"


def test_each_filter_is_counted_in_order():
    counts = {}
    raw = [p for f in sorted(SAMPLES.glob("*.json")) for p in P.read_json_poems(f)]
    kept = P.select(raw, [5, 7], [4, 8], 0, counts)
    # the sample holds one poem for each way to be dropped
    assert counts == {"read": 41, "empty": 40, "notes": 39, "missing": 38, "punctuation": 37,
                      "duplicates": 36, "form": 35, "lines": 34, "max_chars": 34}
    titles = {p.title for p in kept}
    assert not titles & {"無題", "送元二使安西", "鳥鳴澗", "劍客", "登幽州臺歌", "遊子吟"}
    assert len(kept) == len({p.text for p in kept})


def test_selection_by_form_lines_and_length():
    raw = [p for f in sorted(SAMPLES.glob("*.json")) for p in P.read_json_poems(f)]
    five_quatrains = P.select(raw, [5], [4], 0)
    assert five_quatrains and all(P.form_of(p.text) == (5, 4) for p in five_quatrains)
    assert all(len(p.text) <= 40 for p in P.select(raw, [], [], 40))
    assert any(P.form_of(p.text)[0] == 0 for p in P.select(raw, [], [], 0))  # form: [] keeps irregular poems


@pytest.mark.parametrize("text, reason", [
    ("渭城朝雨浥輕塵，客舍青青柳色新（一作楊柳春）。", "notes"),
    ("時鳴春□中，月出驚山鳥。", "missing"),
    ("今日把示君：誰有不平事。", "punctuation"),
    ("能飲一杯無？", None),
])
def test_rejection_names_the_filter(text, reason):
    assert P.rejection(text) == reason


def test_form_of_counts_lines_between_marks():
    assert P.form_of("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。") == (5, 4)
    assert P.form_of("前不見古人，後不見來者。念天地之悠悠，獨愴然而涕下。") == (0, 4)
    assert P.form_of("床前明月光，疑是地上霜") == (0, 2)  # no closing mark


def test_glob_patterns_resolve_to_every_matching_file_sorted():
    cfg = load_config(TINY)
    paths = resolve_paths(cfg.data, data_root(), "data")
    assert [p.name for p in paths.values()] == ["poems-a.json", "poems-b.json"]


def test_a_pattern_matching_nothing_is_a_user_error(tmp_path):
    cfg = load_config(TINY, ["data.files=[nowhere/poet.tang.*.json]"])
    with pytest.raises(UserError, match="data.files: no file matches nowhere/poet.tang"):
        resolve_paths(cfg.data, tmp_path, "data")


def test_simplified_script_converts_with_opencc():
    pytest.importorskip("opencc")
    task, splits = tiny_task("data.script=simplified")
    assert "乡" in task.vocab or "头" in task.vocab
    assert "鄉" not in task.vocab and "頭" not in task.vocab


def test_simplified_without_opencc_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opencc", None)
    with pytest.raises(UserError, match="pip install"):
        tiny_task("data.script=simplified")


# ---------------------------------------------------------------- vocabulary, split, baselines

def test_vocab_and_split_are_the_same_every_time():
    first, a = tiny_task()
    second, b = tiny_task()
    assert first.vocab.tokens == second.vocab.tokens
    assert [e.ids.tolist() for e in a.dev] == [e.ids.tolist() for e in b.dev]
    assert first.vocab.tokens[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    counts = {t: sum(e.ids.tolist().count(i) for e in a.train) for i, t in enumerate(first.vocab.tokens[4:], 4)}
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    assert first.vocab.tokens[4:] == ranked  # by falling frequency, ties by the character


def test_split_is_by_poem_seeded_and_disjoint():
    poems = [P.Poem("", "", f"{i}") for i in range(100)]
    train, valid = seeded_split(poems, 0.1, 3, keep_one=True)
    assert len(valid) == 10 and not {p.text for p in train} & {p.text for p in valid}
    assert seeded_split(poems, 0.1, 3, keep_one=True) == (train, valid)
    assert seeded_split(poems, 0.1, 4, keep_one=True)[1] != valid


def test_bigram_baseline_is_a_distribution():
    ngrams = P.NgramBaselines([[0, 2, 3, 2, 1], [0, 3, 3, 1]], vocab_size=4, k=0.1)
    for context in range(4):
        total = sum(math.exp(-ngrams.bigram_nll([context, w])) for w in range(4))
        assert total == pytest.approx(1.0)
    assert sum(math.exp(-ngrams.unigram_nll([0, w])) for w in range(4)) == pytest.approx(1.0)


def test_metrics_show_the_model_beside_both_baselines():
    task, splits = tiny_task()
    model = task.build_model().eval()
    with torch.no_grad():
        sums = task.evaluate_batch(model, task.collate(splits.dev))
    metrics = task.metrics(sums)
    assert {"loss", "bits_per_char", "perplexity", "unigram_nats", "bigram_nats", "below_bigram"} <= set(metrics)
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / math.log(2))
    # an untrained model is close to uniform over the vocabulary
    assert metrics["loss"] == pytest.approx(math.log(len(task.vocab)), abs=0.3)


# ---------------------------------------------------------------- loss

def test_padding_does_not_change_the_loss():
    task, splits = tiny_task()
    model = task.build_model().eval()
    short, long = sorted(splits.train, key=len)[0], max(splits.train, key=lambda e: len(e.ids))
    assert len(short.ids) < len(long.ids)
    with torch.no_grad():
        together = task.evaluate_batch(model, task.collate([short, long]))
        alone = [task.evaluate_batch(model, task.collate([e])) for e in (short, long)]
    assert float(together["loss_sum"]) == pytest.approx(sum(float(a["loss_sum"]) for a in alone), rel=1e-5)
    assert int(together["chars"]) == len(short.ids) + len(long.ids) - 2


def test_chunks_continue_each_other_and_carry_the_state():
    task, splits = tiny_task("data.mode=chunks", "data.chunk_len=10", "train.batch_size=4")
    chunks = splits.train
    batches = epoch_batches([task.size(c) for c in chunks], 4, seed=0, epoch=0, shuffle=not task.sequential)
    assert batches[:2] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    for row in range(4):  # chunk k+1 of a stream starts where chunk k ended
        assert chunks[4 + row].ids[0] == chunks[row].ids[-1]
    model = task.build_model()
    first, second = (task.collate([chunks[i] for i in b]) for b in batches[:2])
    task.loss(model, first)
    carried = task.carried
    assert carried[0].shape == (1, 4, 64) and carried[0].grad_fn is None  # detached
    loss_carried = task.loss(model, second).item()
    task.carried = None
    loss_fresh = task.loss(model, second).item()
    assert loss_carried != pytest.approx(loss_fresh, rel=1e-6)
    task.loss(model, first)  # a stream's first chunk starts from zero, whatever came before
    assert task.loss(model, second).item() == pytest.approx(loss_carried, rel=1e-6)


def test_chunk_targets_never_ask_for_the_begin_symbol():
    task, splits = tiny_task("data.mode=chunks", "data.chunk_len=30", "train.batch_size=2")
    batch = task.collate(splits.train[:2])
    assert not (batch["y"] == task.vocab.index("<s>")).any()
    assert (batch["y"] == -100).any()  # a poem boundary falls inside 30 characters


# ---------------------------------------------------------------- corpus (needs $SEQTRAIN_DATA)

@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SEQTRAIN_DATA"), reason="set SEQTRAIN_DATA to the corpora root")
def test_full_corpus_selection_and_baselines():
    cfg = load_config(REPO / "configs" / "tang.yaml", ["model.word2vec_epochs=0"])  # selection, not vectors
    task, splits = TangTask.for_training(cfg, resolve_paths(cfg.data, data_root(), "data"), None)
    assert task.filter_counts["read"] > 50_000 and task.filter_counts["max_chars"] > 30_000
    assert len(splits.dev) == round(task.filter_counts["max_chars"] * cfg.data.valid_fraction)
    metrics = task.metrics({"loss_sum": torch.tensor(0.0), "chars": sum(len(e.ids) - 1 for e in splits.dev),
                            "unigram_nll": sum(e.unigram for e in splits.dev),
                            "bigram_nll": sum(e.bigram for e in splits.dev)})
    assert 5.3 < metrics["bigram_nats"] < 6.0 < metrics["unigram_nats"] < 7.0


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("tang") / "run"
    result = cli("train", TINY, "--run-dir", run, "--quiet", "-o", "train.epochs=3", "-o", "train.threads=1")
    assert result.code == 0, result.err
    assert "poems read; left after each filter" in result.err
    return run


def test_word2vec_vectors_are_kept_in_the_run_and_not_trained_again_on_resume(tmp_path):
    run = tmp_path / "w2v"
    first = cli("train", TINY, "--run-dir", run, "--quiet", "-o", "train.epochs=1", "-o", "train.threads=1",
                "-o", "model.word2vec_epochs=1")
    assert first.code == 0, first.err
    assert "pretraining char embeddings" in first.err
    assert (run / "word2vec.vec").read_text(encoding="utf-8").split("\n", 1)[0].split()[1] == "32"
    resumed = cli("train", TINY, "--resume", run, "--quiet", "-o", "train.epochs=2", "-o", "train.threads=1",
                  "-o", "model.word2vec_epochs=1")
    assert resumed.code == 0, resumed.err
    assert "pretraining char embeddings" not in resumed.err


@pytest.mark.slow
def test_trained_model_writes_poems_in_a_fresh_process(tiny_run, tmp_path):
    args = ["generate-poem", tiny_run, "--form", "7", "--lines", "4", "--acrostic", "春山明月", "-n", "5", "--json"]
    done = run_cli(*args)
    assert done.code == 0, done.err
    poems = json.loads(done.out)
    assert len(poems) == 5
    for poem in poems:
        assert form_valid(poem["poem"], 7, 4)
        assert [line[0] for line in P.lines_of(poem["poem"])] == list("春山明月")
    assert json.loads(run_cli(*args).out) == poems  # same seed, same poems
    assert json.loads(run_cli(*args, "--seed", "1").out) != poems


def test_generate_poem_regular_from_the_command_line(tiny_run):
    done = cli("generate-poem", tiny_run, "--start", "白日", "--regular", "-n", "3", "--json")
    assert done.code == 0, done.err
    for poem in json.loads(done.out):
        assert poem["poem"].startswith("白日") and len(P.lines_of(poem["poem"])) in (4, 8)
        assert form_valid(poem["poem"], len(P.lines_of(poem["poem"])[0]), 0)


def test_generate_poem_refuses_unknown_characters_by_name(tiny_run):
    assert_user_error(cli("generate-poem", tiny_run, "--acrostic", "春𠀀"), "not in the model's vocabulary: 𠀀")


def test_generate_poem_refuses_a_checkpoint_of_another_task(hello_run):
    assert_user_error(cli("generate-poem", hello_run), "cannot write poems")


def test_predict_continues_the_given_text(tiny_run):
    done = cli("predict", tiny_run, "白日", "春")
    assert done.code == 0, done.err
    first, second = done.out.strip().splitlines()
    assert first.startswith("白日") and second.startswith("春") and len(first) > 2


def test_evaluate_reports_perplexity_of_a_poem_file(tiny_run, tmp_path):
    done = cli("evaluate", tiny_run, SAMPLES / "poems-b.json", "--json")
    assert done.code == 0, done.err
    metrics = json.loads(done.out)["metrics"]
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))


def test_eval_poems_puts_written_beside_real(tiny_run, tmp_path):
    written = tmp_path / "poems.json"
    written.write_text(cli("generate-poem", tiny_run, "--form", "5", "--lines", "4", "-n", "6", "--json").out)
    done = cli("eval-poems", written, "--reference", tiny_run, "--json")
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert result["written"]["poems"] == 6 and result["written"]["form valid"] == 1.0
    assert result["real"]["poems"] >= 1 and result["real"]["repeated lines"] == 0.0
    text = tmp_path / "poems.txt"  # the plain text generate-poem prints reads back the same
    text.write_text(cli("generate-poem", tiny_run, "--form", "5", "--lines", "4", "-n", "6").out)
    again = json.loads(cli("eval-poems", text, "-r", tiny_run, "--form", "5", "--lines", "4", "--json").out)
    assert again["written"] == result["written"]


def test_poem_figures_count_repeats_copies_and_heads():
    train_lines = {"床前明月光"}
    poem = "床前明月光，床前明月光。春風吹又生，秋月照山城。"
    f = figures([poem], [{"acrostic": "床床春秋", "form": 5, "lines": 4}], train_lines)
    assert f["form valid"] == 1.0 and f["acrostic heads followed"] == 1.0
    assert f["repeated lines"] == 0.25 and f["lines copied from training"] == 0.5
    assert f["distinct characters per poem"] == pytest.approx(len(set(poem) - set("，。")) / 20)
    assert not form_valid("床前明月光。疑是地上霜，舉頭望明月，低頭思故鄉。")  # marks in the wrong places


def test_generate_is_a_capability_of_the_task():
    task, _ = tiny_task()
    model = task.build_model().eval()
    poems = task.generate(model, PoemRequest(form=5, lines=8, num=3))
    assert all(form_valid(p["poem"], 5, 8) for p in poems)
