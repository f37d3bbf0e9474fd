"""Property tests: whatever a user feeds the config loader, the override parser, the text decoder, the
readers and the checkpoint loader, it either loads or raises UserError; no other exception escapes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import typing
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_HELLO
from seqtrain.core.checkpoint import load_checkpoint
from seqtrain.inference import load_model
from seqtrain.core.config import TrainConfig
from seqtrain.tasks import config_from_dict, load_config
from seqtrain.core.errors import UserError
from seqtrain.tasks import TASKS
from seqtrain.core.textfile import decode

FAST = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
# hypothesis runs a test many times within one function-scoped fixture, so files go to one module-wide
# scratch directory instead, removed when the module is done
SCRATCH = Path(tempfile.mkdtemp(prefix="seqtrain-properties-"))


@pytest.fixture(scope="module", autouse=True)
def remove_scratch_directory():
    yield
    shutil.rmtree(SCRATCH, ignore_errors=True)


def scratch_file(name: str, data: bytes | str) -> Path:
    path = SCRATCH / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def loads_or_user_error(function, *args):
    """Call FUNCTION; a UserError is a clean refusal. Anything else propagates and fails the test."""
    try:
        return function(*args)
    except UserError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))
        return None


# values a user might type: numbers at the edges, YAML-ish words, nested lists and mappings
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=8),
                    st.sampled_from(["hello", "sincos", "lstm", "gru", "adam", "cosine", "1e-3", ".nan", "-1",
                                     "conllu", "crf", "auto", "0", "[]", "{}"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=4)


def section(cls) -> st.SearchStrategy:
    names = [f.name for f in dataclasses.fields(cls)]
    return st.dictionaries(st.sampled_from(names + ["bogus"]), values, max_size=4)


@st.composite
def near_valid_configs(draw) -> dict:
    """A config of a real task whose keys are mostly real and whose values are anything."""
    name = draw(st.sampled_from(sorted(TASKS)))
    task = TASKS[name]
    sections = typing.get_type_hints(task.Config)
    raw = {"task": name, "data": draw(section(sections["data"])), "model": draw(section(sections["model"])),
           "train": draw(section(TrainConfig))}
    if draw(st.booleans()):
        raw[draw(st.sampled_from(["seed", "name", "extra"]))] = draw(values)
    return raw


@FAST
@given(near_valid_configs())
def test_config_sections_load_or_give_a_clean_error(raw):
    loads_or_user_error(config_from_dict, raw)


@FAST
@given(st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.none()), values, max_size=6))
def test_any_mapping_loads_or_gives_a_clean_error(raw):
    loads_or_user_error(config_from_dict, raw)


@FAST
@given(st.one_of(st.text(max_size=200), st.builds(lambda v: yaml.safe_dump(v), values)))
def test_any_config_text_loads_or_gives_a_clean_error(text):
    loads_or_user_error(load_config, scratch_file("config.yaml", text))


@FAST
@given(st.binary(max_size=200))
def test_any_config_bytes_load_or_give_a_clean_error(data):
    loads_or_user_error(load_config, scratch_file("config.yaml", data))


override_keys = st.one_of(st.text(max_size=12), st.sampled_from(
    ["train.epochs", "train.lr", "model.cell", "data.pairs", "train.schedule.name", "seed", "task", "train",
     "train.", ".", "..", "model..cell", " train . epochs "]))


@FAST
@given(st.lists(st.one_of(st.text(max_size=20), st.builds(lambda k, v: f"{k}={v}", override_keys,
                                                          st.one_of(st.text(max_size=10), scalars))), max_size=4))
def test_any_overrides_load_or_give_a_clean_error(overrides):
    loads_or_user_error(load_config, scratch_file("base.yaml", TINY_HELLO), overrides)


# ---------------------------------------------------------------- text files

@FAST
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_give_a_clean_error(data):
    loads_or_user_error(decode, data, "file.txt")


@FAST
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])),
       st.booleans(), st.booleans())
def test_utf8_text_with_or_without_bom_and_crlf_reads_back(text, bom, crlf):
    body = text.replace("\n", "\r\n") if crlf else text
    data = (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8")
    assert decode(data, "file.txt") == (body if bom else body.removeprefix("\ufeff"))  # one leading BOM goes


# ---------------------------------------------------------------- readers

def hello_reader():
    from seqtrain.tasks.hello import read_pair_file

    return read_pair_file


pair_lines = st.lists(st.one_of(
    st.builds(lambda a, b: f"{a}\t{b}", st.text(max_size=6), st.text(max_size=6)),
    st.text(max_size=12)), max_size=6)


@FAST
@given(st.one_of(st.binary(max_size=200), st.builds(lambda lines, end: end.join(lines), pair_lines,
                                                    st.sampled_from(["\n", "\r\n", "\r"]))))
def test_hello_pair_files_load_or_give_a_clean_error(content):
    pairs = loads_or_user_error(hello_reader(), scratch_file("pairs.tsv", content))
    if pairs is not None:
        assert pairs and all(len(a) == len(b) > 0 for a, b in pairs)


def conll_module():
    import seqtrain.tasks.pos.conll

    return seqtrain.tasks.pos.conll


conllu_lines = st.lists(st.one_of(
    st.builds(lambda cols: "\t".join(cols), st.lists(st.one_of(
        st.sampled_from(["1", "2", "1-2", "3.1", "_", "NOUN", "the", "#", "0", "x.y", "1-", ""]),
        st.text(max_size=4)), min_size=1, max_size=11)),
    st.sampled_from(["", "# sent_id = 1", "# text = a b", "   "]),
    st.text(max_size=10)), max_size=12)


@FAST
@given(conllu_lines, st.sampled_from(["auto", "conllu", "wordtag", "tsv"]), st.sampled_from(["upos", "xpos"]))
def test_tagged_files_load_or_give_a_clean_error(lines, fmt, column):
    conll = conll_module()
    path = scratch_file("tagged.conllu", "\n".join(lines))
    sentences = loads_or_user_error(conll.read_tagged, path, fmt, column)
    if sentences is not None:
        assert all(s.words and len(s.words) == len(s.tags) for s in sentences)


@FAST
@given(st.binary(max_size=200))
def test_tagged_file_bytes_load_or_give_a_clean_error(data):
    loads_or_user_error(conll_module().read_tagged, scratch_file("tagged.conllu", data))


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.sampled_from(
                                                       ["paragraphs", "title", "author", "id", "x"]),
                                                       inner, max_size=4)), max_leaves=12)


@FAST
@given(st.one_of(st.builds(json.dumps, json_values), st.text(max_size=60), st.binary(max_size=100)))
def test_poem_files_load_or_give_a_clean_error(content):
    import seqtrain.tasks.tang.poems as poems

    loads_or_user_error(poems.read_poems, scratch_file("poems.json", content))


paragraph_lists = st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3)
written_records = st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {"poem": st.one_of(st.text(max_size=10), json_values)},
    optional={"request": json_values, "paragraphs": paragraph_lists})), max_size=3)


@FAST
@given(st.one_of(st.builds(json.dumps, written_records), st.text(max_size=60), st.binary(max_size=60)),
       st.sampled_from([".json", ".txt"]))
def test_written_poem_files_load_or_give_a_clean_error(content, suffix):
    import seqtrain.tasks.tang.poem_eval as poem_eval

    loads_or_user_error(poem_eval.read_written, scratch_file("written" + suffix, content), {})


# ---------------------------------------------------------------- checkpoints

@pytest.fixture(scope="module")
def checkpoint_bytes(trained_hello) -> bytes:
    return (trained_hello / "checkpoints" / "last.pt").read_bytes()


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_a_checkpoint_give_a_clean_error(data):
    assert loads_or_user_error(load_checkpoint, scratch_file("any.pt", data)) is None


@FAST
@given(st.data())
def test_a_damaged_checkpoint_loads_or_gives_a_clean_error(checkpoint_bytes, data):
    damaged = bytearray(checkpoint_bytes)
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[:data.draw(st.integers(0, len(damaged) - 1), label="length")]
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if damaged:
            at = data.draw(st.integers(0, len(damaged) - 1), label="at")
            damaged[at] = data.draw(st.integers(0, 255), label="byte")
    loads_or_user_error(load_model, scratch_file("damaged.pt", bytes(damaged)))


def test_the_undamaged_checkpoint_loads(checkpoint_bytes):
    task, model, ckpt = load_model(scratch_file("whole.pt", checkpoint_bytes))
    assert ckpt["task"] == "hello" and isinstance(model, torch.nn.Module)
