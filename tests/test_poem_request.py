"""A poem request: its options declared once (help, range, command-line names), checked in one place,
and the typed parts that write it: the form automaton's constraints and the sampler."""

import dataclasses

import pytest
import torch
import typer

from seqtrain.cli import app
from seqtrain.core.errors import UserError
from seqtrain.core.fields import option_flags
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.constraints import RhymeOf, at_rhyme
from seqtrain.tasks.tang.form import Form, Verse
from seqtrain.tasks.tang.request import PoemRequest, request_from_options
from seqtrain.tasks.tang.sampler import Sampler


# ---------------------------------------------------------------- the declaration

def test_every_request_field_is_declared_as_the_command_line_has_it():
    command = typer.main.get_command(app).commands["generate-poem"]
    options = {p.name: p for p in command.params}
    for f in dataclasses.fields(PoemRequest):
        option = options[f.name]
        flags = tuple(option.opts) if not option.secondary_opts else (f"{option.opts[0]}/{option.secondary_opts[0]}",)
        assert option_flags(f) == flags, f.name
        assert option.help.startswith(f.metadata["help"]), f.name  # then the default, where there is one


def test_options_not_given_are_the_requests_defaults():
    not_given = {f.name: None for f in dataclasses.fields(PoemRequest)}
    assert request_from_options(not_given) == PoemRequest() == request_from_options({})


def test_given_options_fill_the_request():
    request = request_from_options({"start": "白日", "form": 5, "num": 3, "first_line_rhymes": False, "tones": True})
    assert (request.start, request.form, request.num, request.first_line_rhymes) == ("白日", 5, 3, False)


@pytest.mark.parametrize("name, option", [("start", "--start"), ("acrostic", "--acrostic"),
                                          ("rhyme_group", "--rhyme-group"), ("pattern", "--pattern")])
def test_an_empty_text_option_is_refused_naming_it(name, option):
    with pytest.raises(UserError, match=f"^{option}: empty; give "):
        request_from_options({name: ""})


@pytest.mark.parametrize("name, message", [("form", "--form: expected 5 or 7, got 0"),
                                           ("lines", "--lines: expected 4 or 8, got 0")])
def test_an_explicit_zero_form_or_lines_is_refused(name, message):
    with pytest.raises(UserError, match=f"^{message}$"):
        request_from_options({name: 0})


@pytest.mark.parametrize("values, message", [
    ({"num": 0}, "--num: must be a number from 1 to 100000, got 0"),
    ({"temperature": float("nan")}, "--temperature: must be a number from 0 to 100, got nan"),
    ({"top_p": 0.0}, "--top-p: must be greater than 0"),
    ({"repetition_penalty": 0.0}, "--repetition-penalty: must be greater than 0"),
])
def test_numbers_outside_the_declared_range_name_the_option(values, message):
    with pytest.raises(UserError, match=f"^{message}$"):
        request_from_options(values)


def test_a_rhyme_group_implies_rhyme_before_the_request_is_checked():
    request = request_from_options({"rhyme_group": "東", "first_line_rhymes": True})
    assert request.rhyme and request.first_line_rhymes


# ---------------------------------------------------------------- the typed parts

@pytest.mark.parametrize("first_rhymes, rhyming_ends", [(False, ["流", "樓"]), (True, ["盡", "流", "樓"])])
def test_the_automaton_asks_for_a_rhyme_at_rhyming_line_ends_only(first_rhymes, rhyming_ends):
    verse = Verse(5, "ze", first_rhymes, "尤", True)
    form = Form(PoemRequest(form=5, lines=4), "</s>", verse, prosody.load_table())
    asked = []
    for char in "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。":
        rules = [r for choice in form.allowed() for r in choice.rules]
        if at_rhyme(form.allowed()):
            asked.append(char)
            assert RhymeOf("尤") in rules
        form.advance(char)
    assert asked == rhyming_ends


def test_the_sampler_draws_only_allowed_tokens():
    torch.manual_seed(0)
    logits = torch.randn(64, 50) * 3
    mask = torch.rand(64, 50) < 0.1
    mask[torch.arange(64), torch.randint(0, 50, (64,))] = True  # at least one allowed a row
    seen = torch.rand(64, 50) < 0.3
    for settings in [(1.5, 0, 1.0, 1.0), (0.8, 3, 1.0, 1.3), (1.0, 0, 0.5, 2.0), (0.0, 0, 1.0, 1.3)]:
        sampler = Sampler(*settings, [torch.Generator().manual_seed(i) for i in range(64)])
        chosen = sampler.choose(logits, mask, seen)
        assert all(mask[row, token] for row, token in enumerate(chosen)), settings
