"""The PoemWriter of the Python API, through `seqtrain.*` names only: a toy Tang run."""

from __future__ import annotations

import math

import pytest

import seqtrain
from conftest import REPO


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    run = tmp_path_factory.mktemp("api-poems") / "tang"
    seqtrain.train(REPO / "configs" / "tang-tiny.yaml", {"train.threads": 1, "train.epochs": 2}, run_dir=run)
    return seqtrain.load(run)


def test_load_gives_a_poem_writer_for_a_tang_run(writer):
    assert isinstance(writer, seqtrain.PoemWriter)


def test_poems_have_the_requested_form_lines_and_heads(writer):
    poems = writer.poems(2, form=5, lines=4, acrostic="春山", seed=3)
    assert len(poems) == 2
    for poem in poems:
        text = "".join(poem.lines)
        verses = [v for line in poem.lines for v in line.replace("。", "，").split("，") if v]
        assert len(verses) == 4 and all(len(v) == 5 for v in verses), poem.lines
        assert verses[0][0] == "春" and verses[1][0] == "山", text
        assert str(poem) == "\n".join(poem.lines)


def test_the_same_seed_writes_the_same_poems(writer):
    assert [p.lines for p in writer.poems(2, form=5, lines=4, seed=7)] == \
           [p.lines for p in writer.poems(2, form=5, lines=4, seed=7)]


def test_score_is_nats_per_character_and_real_verse_beats_noise(writer):
    real, noise = writer.score("床前明月光，疑是地上霜。"), writer.score("霜地是疑，光月明前床。")
    assert math.isfinite(real) and real > 0
    assert writer.score(["床前明月光，疑是地上霜。"]) == pytest.approx(real)
    assert real != noise


def test_a_bad_request_is_a_user_error_naming_the_option(writer):
    with pytest.raises(seqtrain.UserError, match="--form"):
        writer.poems(1, form=6)
    with pytest.raises(seqtrain.UserError, match="colour"):
        writer.poems(1, colour="red")
