"""The CUDA path: precision, pinned copies, NaN checks that don't wait for the GPU.

What can run on the CPU runs everywhere (the deferred NaN check is forced on); the tests marked
`cuda` need a GPU and are skipped without one.
"""

from __future__ import annotations

import pytest
import torch

from seqtrain.data.batching import to_device
from seqtrain.tasks import load_config
from seqtrain.core.errors import UserError
from seqtrain.models.rnn import on_host
from seqtrain.training.parts import Callback, NanGuard
from seqtrain.training.trainer import train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

HELLO = """\
task: hello
data: {pairs: [[hello, ohlol], [ohlol, hello]], repeat: 4}
model: {input: embedding, cell: lstm, impl: fused, hidden_size: 16}
train: {epochs: 8, batch_size: 4, lr: 0.05, log_every: 3}
"""


def hello(tmp_path, *overrides: str):
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    return load_config(path, list(overrides))


def exploding(tmp_path, *overrides: str):
    """sincos at a learning rate that makes the loss non-finite within a few steps."""
    return load_config("configs/sincos.yaml", ["train.lr=1e30", "train.clip_grad_norm=0", "train.log_every=5",
                                               "train.device=cpu", *overrides])


# ---------------------------------------------------------------- on the CPU

@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_is_accepted_and_ignored_on_cpu(tmp_path, precision):
    fp32 = train(hello(tmp_path, "train.device=cpu"), run_dir=tmp_path / "fp32", quiet=True)
    other = train(hello(tmp_path, "train.device=cpu", f"train.precision={precision}"),
                  run_dir=tmp_path / precision, quiet=True)
    assert other["final"] == fp32["final"]


def test_deferred_nan_check_names_the_step_where_the_loss_broke(tmp_path):
    with pytest.raises(UserError) as at_once:
        train(exploding(tmp_path), run_dir=tmp_path / "at-once", quiet=True)
    broke = at_once.value.args[0].split(" (epoch")[0]  # "the loss became NaN or inf at step N"
    assert "found at" not in at_once.value.args[0]
    # as on CUDA: flags are read every train.log_every (5) steps
    with pytest.raises(UserError) as deferred:
        train(exploding(tmp_path), run_dir=tmp_path / "deferred", quiet=True, nan_check_each_step=False)
    assert deferred.value.args[0].startswith(broke + " (epoch")
    assert "(found at step 5: on CUDA losses are checked every train.log_every steps)" in deferred.value.args[0]
    assert not (tmp_path / "deferred" / "checkpoints" / "best.pt").exists()


def test_the_nan_check_waits_for_the_gpu_only_where_it_must():
    assert NanGuard.checks_each_step(torch.device("cpu"), "stop")
    assert not NanGuard.checks_each_step(torch.device("cuda"), "stop")
    assert NanGuard.checks_each_step(torch.device("cuda"), "skip_batch")  # must skip before the update


def test_cpu_batches_are_not_copied():
    batch = {"x": torch.ones(2, 3), "lengths": torch.tensor([3, 2])}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["x"] is batch["x"] and on_host(moved["lengths"]) is batch["lengths"]


# ---------------------------------------------------------------- on a GPU

@cuda
def test_cuda_batches_are_pinned_non_blocking_copies_that_keep_host_lengths():
    batch = {"x": torch.ones(2, 3), "lengths": torch.tensor([3, 2])}
    moved = to_device(batch, torch.device("cuda"))
    assert moved["x"].is_cuda and moved["lengths"].is_cuda
    assert on_host(moved["lengths"]) is batch["lengths"]  # pack_padded_sequence reads it without a sync


@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_cuda_in_each_precision(tmp_path, precision):
    summary = train(hello(tmp_path, "train.device=cuda", f"train.precision={precision}"),
                    run_dir=tmp_path / "run", quiet=True)
    assert summary["final"]["exact"] == 1.0
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert (ckpt["scaler"] is not None) == (precision == "fp16")


@cuda
@pytest.mark.parametrize("config", ["hello", "configs/sincos.yaml"])
def test_cuda_steps_never_wait_for_the_gpu(tmp_path, config):
    class NoSyncInSteps(Callback):  # any synchronising call inside a step raises
        def on_step_start(self, trainer):
            torch.cuda.set_sync_debug_mode("error")

        def on_step_end(self, trainer, tokens):
            torch.cuda.set_sync_debug_mode("default")

    cfg = hello(tmp_path, "train.device=cuda") if config == "hello" else \
        load_config(config, ["train.device=cuda", "train.epochs=2"])
    assert train(cfg, run_dir=tmp_path / "run", quiet=True, callbacks=[NoSyncInSteps()])["steps"] > 0


@cuda
def test_a_nan_on_cuda_is_found_at_the_next_sync(tmp_path):
    with pytest.raises(UserError, match=r"NaN or inf at step \d+ .*found at step 5"):
        train(exploding(tmp_path, "train.device=cuda"), run_dir=tmp_path / "run", quiet=True)
