"""Devices: the one place a device name is checked, and where a model's weights live."""

from __future__ import annotations

import torch
from torch import nn

from seqtrain.core.errors import UserError


def check_device(name: str, key: str = "train.device") -> torch.device:
    """'auto', 'cpu', 'cuda', 'cuda:N' -> a usable torch.device, or a UserError naming `key` (the
    config key or the command-line option the name came from)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"{key}: unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{key}: {name} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"{key}: {name} requested but only {torch.cuda.device_count()} GPU(s) exist")
    elif device.type != "cpu":
        raise UserError(f"{key}: unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    return device


def model_device(model: nn.Module) -> torch.device:
    """The device a model's weights are on (every seqtrain model keeps them on one)."""
    return next(model.parameters()).device
