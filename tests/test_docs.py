"""The docs site against the code: the generated config reference lists every key `seqtrain config
TASK` prints, the checkpoint table is the schema, and loss.png shows the monitored dev metric."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from conftest import REPO, cli


def docs_hooks():
    """docs/hooks.py, the MkDocs hook that generates the reference pages (not a package module)."""
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def printed_keys(yaml_text: str) -> list[str]:
    """Dotted keys of the commented YAML `seqtrain config TASK` prints (nesting by indentation)."""
    keys, path = [], []
    for line in yaml_text.splitlines():
        match = re.match(r"^( *)([A-Za-z_][\w]*):", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        path = path[:depth] + [match.group(2)]
        keys.append(".".join(path))
    return keys


def reference_sections(markdown: str) -> dict[str, str]:
    """'## heading' -> the text under it."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("task", ["hello", "sincos", "pos", "tokenize", "tang"])
def test_the_config_reference_lists_every_key_seqtrain_config_prints(task):
    result = cli("config", task)
    assert result.code == 0, result.err
    sections = reference_sections(docs_hooks().config_reference())
    documented = set(re.findall(r"^\| `([\w.]+)` \|", sections["Every task"] + sections[task], flags=re.M))
    keys = printed_keys(result.out)
    assert len(keys) > 20 and "train.schedule.min_lr" in keys
    assert [k for k in keys if k not in documented] == []


def test_the_config_reference_has_a_section_for_every_task():
    from seqtrain.tasks import TASKS

    assert set(TASKS) <= set(reference_sections(docs_hooks().config_reference()))


def test_the_cli_reference_lists_every_command_and_option():
    import typer.main

    from seqtrain.cli import app

    sections = reference_sections(docs_hooks().cli_reference())
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        commands = command.commands.items() if hasattr(command, "commands") else [("", command)]
        for sub, leaf in commands:
            section = sections[f"`{' '.join(filter(None, ['seqtrain', name, sub]))}`"]
            first_cells = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| ")]
            for param in leaf.params:
                shown = param.opts[-1] if param.param_type_name == "option" else param.name.upper()
                assert any(shown in cell for cell in first_cells), (name, sub, shown)


def test_the_checkpoint_format_page_matches_the_schema_in_code():
    from seqtrain.training.state import CHECKPOINT_SCHEMA

    page = (REPO / "docs" / "reference" / "checkpoint.md").read_text(encoding="utf-8")
    table = page.split("\n\n| key | content |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:3] for line in table.strip().splitlines()[1:]]
    documented = {key.strip().strip("`"): text.strip() for key, text in rows}
    assert documented == CHECKPOINT_SCHEMA


def write_metrics(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_the_loss_plot_shows_the_monitored_dev_metric_against_steps(tmp_path):
    from seqtrain.ui.plots import loss_figure

    metrics = tmp_path / "metrics.jsonl"
    write_metrics(metrics, [
        {"step": 10, "split": "train", "metrics": {"loss": 2.0}},
        {"step": 10, "split": "dev", "metrics": {"loss": 1.5, "accuracy": 0.6}},
        {"step": 20, "split": "train", "metrics": {"loss": 1.0}},
        {"step": 20, "split": "dev", "metrics": {"loss": 1.2, "accuracy": 0.8}},
    ])
    fig = loss_figure(metrics, monitor="accuracy")
    loss_axes, metric_axes = fig.axes
    assert metric_axes.get_ylabel() == "dev accuracy"
    line, = metric_axes.get_lines()
    assert list(line.get_xdata()) == [10, 20] and list(line.get_ydata()) == [0.6, 0.8]
    assert {line.get_label() for line in loss_axes.get_lines()} == {"train", "dev"}


def test_a_loss_monitored_run_plots_the_loss_alone(tmp_path):
    from seqtrain.ui.plots import loss_figure

    metrics = tmp_path / "metrics.jsonl"
    write_metrics(metrics, [{"step": 5, "split": "dev", "metrics": {"loss": 1.0}}])
    assert len(loss_figure(metrics, monitor="loss").axes) == 1
