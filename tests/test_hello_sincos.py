"""The two tutorial tasks reach their bars."""


import pytest

from seqtrain.tasks import load_config
from seqtrain.core.errors import UserError
from seqtrain.inference import predict
from seqtrain.tasks.base import PredictOptions
from seqtrain.training.trainer import train


@pytest.mark.parametrize("config", ["configs/hello.yaml", "configs/hello-embedding.yaml"])
@pytest.mark.parametrize("seed", range(5))
def test_hello_reaches_ohlol_within_15_epochs(config, seed, tmp_path):
    cfg = load_config(config, [f"seed={seed}", "train.epochs=15"])
    summary = train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert summary["final"]["exact"] == 1.0
    assert predict(tmp_path / "run" / "checkpoints" / "best.pt", ["hello"], PredictOptions()).text == "ohlol"


def test_hello_learns_pairs_from_a_file(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("abc\tbca\ncab\tabc\n", encoding="utf-8")
    cfg = load_config("configs/hello-embedding.yaml", [f"data.file={pairs}", "train.epochs=60"])
    train(cfg, run_dir=tmp_path / "run", quiet=True)
    result = predict(tmp_path / "run", ["abc", "cab"], PredictOptions())
    assert result.text.splitlines() == ["bca", "abc"]


def test_hello_pair_file_with_unequal_lengths_names_the_line(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("ab\tba\nabc\tab\n", encoding="utf-8")
    cfg = load_config("configs/hello.yaml", [f"data.file={pairs}"])
    with pytest.raises(UserError, match="pairs.tsv:2: input 'abc' and target 'ab' differ in length"):
        train(cfg, run_dir=tmp_path / "run", quiet=True)


@pytest.mark.slow
def test_sincos_reaches_validation_mse_below_1e_4(tmp_path):
    cfg = load_config("configs/sincos.yaml", ["train.threads=2"])
    summary = train(cfg, run_dir=tmp_path / "run", quiet=True)
    assert summary["best"]["value"] <= 1e-4


def test_sincos_validation_phases_never_occur_in_training(tmp_path):
    from seqtrain.tasks.sincos import ARCS, SinCosTask

    task, splits = SinCosTask.for_training(load_config("configs/sincos.yaml"), {}, None)
    arc = lambda phase: int(phase / (2 * 3.141592653589793 / ARCS))
    assert not {arc(p) for p in splits.train} & {arc(p) for p in splits.dev}


def test_sincos_predicts_values_given_on_the_command_line(tmp_path):
    cfg = load_config("configs/sincos.yaml", ["train.epochs=1", "data.train_windows=32"])
    train(cfg, run_dir=tmp_path / "run", quiet=True)
    result = predict(tmp_path / "run", ["0.0,0.34,0.64"], PredictOptions(output_format="json"))
    assert len(result.records[0]["output"]) == 3
    with pytest.raises(UserError, match="not a number: 'x'"):
        predict(tmp_path / "run", ["0.1,x"], PredictOptions())
