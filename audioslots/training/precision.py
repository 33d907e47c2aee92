"""How training uses its device: which device, bf16 autocast, TF32, and Adam fused or not.

On CUDA training runs the forward pass under bf16 autocast, with TF32 matrix products, cuDNN
autotuning and fused Adam, and without a host sync per step (:func:`adam_step`). On the CPU it
runs in float32 (unless ``TrainConfig.autocast`` asks for bf16) with PyTorch's default Adam, as
the reference runs did.
"""

from __future__ import annotations

import contextlib

import torch

from audioslots.config import TrainConfig
from audioslots.errors import ConfigError

AUTOCAST_CHOICES = ("auto", "bf16", "off")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; a clear error for an unusable choice."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"Unknown device {device!r}: use auto, cpu or cuda.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device {device!r} was asked for but no CUDA GPU is available; use --device cpu.")
    return torch.device(device)


def use_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether the forward pass runs under bf16 autocast (``TrainConfig.autocast``)."""
    if config.autocast not in AUTOCAST_CHOICES:
        raise ConfigError(f"Unknown autocast {config.autocast!r}: choose one of {', '.join(AUTOCAST_CHOICES)}.")
    return config.autocast == "bf16" or (config.autocast == "auto" and device.type == "cuda")


@contextlib.contextmanager
def cuda_speedups(device: torch.device):
    """TF32 matmuls and convolutions and cuDNN autotuning (fixed shapes) while training on CUDA.

    The previous settings come back afterwards, so that evaluation in the same process is unchanged.
    """
    if device.type != "cuda":
        yield
        return
    previous = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous[0])
        torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = previous[1:]


def build_optimizer(model: torch.nn.Module, device: torch.device, learning_rate: float) -> torch.optim.Adam:
    """The optimiser of a training run: fused Adam on CUDA; on the CPU the default implementation,
    as the reference runs used."""
    fused = device.type == "cuda"
    return torch.optim.Adam(model.parameters(), lr=learning_rate, fused=fused or None)


def is_fused(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` is fused Adam, which can skip a step on the device (:func:`adam_step`)."""
    return bool(getattr(optimizer, "defaults", {}).get("fused"))


def optimizer_state_for(saved: dict, fused: bool) -> dict:
    """A saved Adam state for this device's implementation: a CUDA (fused) run may resume on the CPU and back."""
    groups = [{**group, "fused": fused or None, "foreach": None} for group in saved["param_groups"]]
    return {**saved, "param_groups": groups}


def adam_step(optimizer: torch.optim.Optimizer, finite: torch.Tensor) -> None:
    """Update the weights unless ``finite`` (a 0-d bool tensor) is false, without a host sync on CUDA.

    On CUDA the optimiser is fused Adam, which skips its whole update (weights, moments and step
    count) on the device when ``found_inf`` is 1, as under ``torch.amp.GradScaler``. Elsewhere
    reading the flag costs nothing.
    """
    if is_fused(optimizer):
        optimizer.found_inf = (~finite).float()
        optimizer.step()
    elif finite:
        optimizer.step()
