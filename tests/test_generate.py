"""Constrained decoding: the requested form, heads and beginning hold for every seed, even for an
untrained model, and the same seed always gives the same poem."""

import re
from pathlib import Path

import pytest

from conftest import write_poems
import torch


from seqtrain.core.errors import UserError
from seqtrain.tasks.tang.form import Form
from seqtrain.tasks.tang.request import PoemRequest
from seqtrain.tasks.tang.poem_eval import form_valid
from seqtrain.tasks.tang.poems import lines_of

REPO = Path(__file__).resolve().parent.parent


write = write_poems


@pytest.mark.parametrize("form, lines", [(5, 4), (7, 4), (5, 8), (7, 8)])
def test_every_poem_has_the_requested_form(lm, form, lines):
    poems = write(lm, form=form, lines=lines, num=100, temperature=1.5)
    assert all(form_valid(p["poem"], form, lines) for p in poems)
    assert all(p["complete"] for p in poems)


def test_acrostic_heads_every_line_in_order(lm):
    poems = write(lm, form=7, lines=4, acrostic="春山明月", num=100, temperature=1.5)
    for p in poems:
        assert form_valid(p["poem"], 7, 4)
        assert [line[0] for line in lines_of(p["poem"])] == list("春山明月")


def test_acrostic_heads_stand_nowhere_else_in_the_poem(lm):
    # an acrostic's heads are in the poem already: the model, shown 風 as a later head, would write it
    # in earlier lines too (distinct characters fell 3 points below real poems)
    for p in write(lm, form=7, lines=4, acrostic="春山明月", num=100, temperature=1.5):
        body = "".join(line[1:] for line in lines_of(p["poem"]))
        assert not set(body) & set("春山明月"), p["poem"]


def test_a_short_acrostic_heads_the_first_lines(lm):
    for p in write(lm, form=5, acrostic="春山", num=10):
        lines = lines_of(p["poem"])
        assert len(lines) == 4 and lines[0][0] == "春" and lines[1][0] == "山"


def test_start_is_continued_in_form(lm):
    for p in write(lm, start="白日依", form=5, lines=4, num=20):
        assert p["poem"].startswith("白日依") and form_valid(p["poem"], 5, 4)
    for p in write(lm, start="白日依山盡，", lines=8, num=20):  # the given first line fixes the width
        assert form_valid(p["poem"], 5, 8)


def test_lines_without_form_keep_the_first_lines_width(lm):
    widths = set()
    for p in write(lm, lines=4, num=40, temperature=1.5):
        assert form_valid(p["poem"], 0, 4)
        widths.add(len(lines_of(p["poem"])[0]))
    assert widths <= {5, 7}


def test_regular_continues_a_start_as_a_five_or_seven_character_poem_of_four_or_eight_lines(lm):
    for p in write(lm, start="白日", regular=True, num=40, temperature=1.5):
        assert p["poem"].startswith("白日") and form_valid(p["poem"], 0, 0)
        assert len(lines_of(p["poem"])) in (4, 8) and len(lines_of(p["poem"])[0]) in (5, 7)


def test_form_without_lines_ends_after_four_or_eight(lm):
    for p in write(lm, form=5, num=40, temperature=1.5):
        assert form_valid(p["poem"], 5, 0)


def test_same_seed_same_poem_and_poem_i_uses_seed_plus_i(lm):
    three = write(lm, form=5, lines=4, seed=7, num=3)
    assert write(lm, form=5, lines=4, seed=7, num=3) == three
    assert write(lm, form=5, lines=4, seed=8)[0]["poem"] == three[1]["poem"]
    assert len({p["poem"] for p in three}) == 3


def test_zero_temperature_and_top_k_one_are_greedy(lm):
    greedy = [write(lm, form=5, lines=4, temperature=0, seed=s)[0]["poem"] for s in range(3)]
    assert len(set(greedy)) == 1
    assert write(lm, form=5, lines=4, top_k=1, seed=5)[0]["poem"] == greedy[0]


def test_greedy_poem_is_the_stepwise_argmax_of_the_whole_prefix(lm):
    """Carrying the state one character at a time scores exactly as re-reading the whole prefix."""
    task, model = lm
    poem = write(lm, form=5, lines=4, temperature=0, repetition_penalty=1.0)[0]["poem"]
    ids = torch.tensor([task.encode(poem)])
    with torch.no_grad():
        logits, _ = model(ids[:, :-1])
    form = Form(PoemRequest(form=5, lines=4), "</s>")
    from seqtrain.tasks.tang.masks import Masks

    masks = Masks(task.vocab, "</s>", {"<pad>", "<unk>", "<s>", "</s>"})
    for t, target in enumerate(ids[0, 1:].tolist()):
        allowed = masks.get(form.allowed())
        assert logits[0, t].masked_fill(~allowed, float("-inf")).argmax().item() == target
        form.advance(task.vocab.tokens[target])


def test_repetition_penalty_reduces_repeated_characters(lm):
    def repeats(poems):
        return sum(len(p["poem"]) - len(set(p["poem"])) for p in poems)

    plain = write(lm, form=7, lines=8, num=30, temperature=0.3, repetition_penalty=1.0)
    penalised = write(lm, form=7, lines=8, num=30, temperature=0.3, repetition_penalty=5.0)
    assert repeats(penalised) < repeats(plain)


def test_free_writing_always_ends(lm):
    for p in write(lm, num=10, max_chars=15, temperature=2.0):
        assert len(p["poem"]) <= 15


def test_top_p_keeps_only_the_likeliest(lm):
    poems = write(lm, form=5, lines=4, top_p=1e-6, num=3)
    assert len({p["poem"] for p in poems}) == 1  # a tiny nucleus is the single likeliest character


@pytest.mark.parametrize("request_, message", [
    ({"acrostic": "春𠀀"}, "--acrostic: not in the model's vocabulary: 𠀀"),
    ({"start": "白日X"}, "--start: not in the model's vocabulary: X"),
    ({"start": "白日依山盡，", "form": 7}, "character 6 (，) does not fit the requested form"),
    ({"acrostic": "春，"}, "must be characters"),
    ({"form": 6}, "--form: expected 5 or 7"),
    ({"lines": 4, "acrostic": "春山明月白"}, "5 heads but the poem has 4 lines"),
])
def test_bad_requests_are_user_errors(lm, request_, message):
    with pytest.raises(UserError, match=re.escape(message)):
        write(lm, **request_)
