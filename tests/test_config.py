"""Configs: YAML in, typed values out; every mistake is one line naming the key or file."""

import pytest

from seqtrain.core.config import TrainConfig, apply_override

from seqtrain.tasks import config_from_dict, load_config
from seqtrain.core.errors import UserError


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_every_unset_key(tmp_path):
    cfg = load_config(write(tmp_path, "task: hello\n"))
    assert cfg.train == TrainConfig()
    assert cfg.model.hidden_size == 4 and cfg.data.pairs == [["hello", "ohlol"]]
    assert cfg.name == "exp"


def test_overrides_reach_nested_keys_with_yaml_types(tmp_path):
    cfg = load_config(write(tmp_path, "task: sincos\n"),
                      ["model.cell=gru", "train.epochs=5", "train.lr=1e-2", "train.schedule.name=step",
                       "model.bidirectional=true"])
    assert (cfg.model.cell, cfg.train.epochs, cfg.train.lr) == ("gru", 5, 0.01)
    assert cfg.train.schedule.name == "step" and cfg.model.bidirectional is True


def test_scientific_notation_without_dot_is_a_float(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; users write it anyway
    assert load_config(write(tmp_path, "task: hello\ntrain: {lr: 1e-3}\n")).train.lr == 0.001


@pytest.mark.parametrize("text, message", [
    ("task: hello\ntrain: {epoch: 3}\n", "train.epoch: unknown key (did you mean 'epochs'?)"),
    ("task: helo\n", "unknown task 'helo' (did you mean 'hello'?)"),
    ("task: hello\ntrain: {epochs: three}\n", "train.epochs: expected a whole number"),
    ("task: hello\ntrain: {epochs: 0}\n", "train.epochs: must be at least 1, got 0"),
    ("task: hello\ntrain: {lr: -1}\n", "train.lr: must be greater than 0"),
    ("task: hello\nmodel: {cell: lstn}\n", "model.cell: expected one of rnn, lstm, gru, got 'lstn' (did you mean 'lstm'?)"),
    ("task: hello\nmodel: {hidden_size: 4.5}\n", "model.hidden_size: expected a whole number"),
    ("task: hello\ntrain: {bucket: 1}\n", "train.bucket: expected true or false"),
    ("task: hello\ndata: {pairs: [[hello, ohl]]}\n", "data.pairs[0]: input 'hello' and target 'ohl' differ in length"),
    ("task: hello\ntrain: [1, 2]\n", "train: expected a mapping"),
    ("- task\n", "a config must be a mapping"),
    ("", "config file is empty"),
    ("task: [unclosed\n", "not valid YAML"),
    ("data: {}\n", "missing key 'task'"),
])
def test_invalid_config_names_the_key(tmp_path, text, message):
    with pytest.raises(UserError, match=None) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(UserError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("item, message", [
    ("train.epochs", "expected KEY=VALUE"),
    ("=5", "expected KEY=VALUE"),
])
def test_malformed_override_is_rejected(item, message):
    with pytest.raises(UserError, match=message):
        apply_override({}, item)


def test_override_of_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(UserError, match="model.hiden_size: unknown key \\(did you mean 'hidden_size'\\?\\)"):
        load_config(write(tmp_path, "task: hello\n"), ["model.hiden_size=3"])


def test_resolved_config_round_trips_through_to_dict(tmp_path):
    cfg = load_config(write(tmp_path, "task: sincos\n"), ["model.cell=gru"])
    assert config_from_dict(cfg.to_dict()) == cfg


def test_yaml_tags_that_would_build_objects_are_rejected(tmp_path):
    path = write(tmp_path, "task: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(path)
