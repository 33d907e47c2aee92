"""Training compute: FLOPs as ``torch.utils.flop_counter`` counts them.

A run's compute is the FLOPs of one training step (forward and backward pass) times the steps it
trained. Training counts one step of every run (:func:`audioslots.training.step_flops.count_step_flops`) and
writes ``RUN_DIR/flops.json``; the reproduction adds ``flop_per_step`` and ``train_flop`` to the
run's provenance and ``train_flop`` to ``table1.csv``.

What is counted: matrix products, convolutions and attention, forward and backward, at 2 FLOPs
per multiply-add; element-wise work, normalisation, FFTs and the optimiser count zero. These are
the "model FLOPs" of MFU (Chowdhery et al., 2022), not every operation run. The count depends on
the shapes only, not on the values, the dtype or the device.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from audioslots.errors import ConfigError

#: How ``flop_per_step`` was counted, stored beside every count.
COUNTED_BY = ("torch.utils.flop_counter.FlopCounterMode over one training step: matrix products, convolutions "
              "and attention, forward and backward, 2 FLOPs per multiply-add; element-wise work, FFTs and the "
              "optimiser count zero")


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` as ``torch.utils.flop_counter`` counts them.

    ``fn`` runs once; if it calls ``backward``, the backward pass is counted too.

    [choice] Attention runs in PyTorch's math kernel while counting: the counter has no formula
    for the fused CPU kernel (it would count zero), and the fused CUDA kernels count the
    recomputation of the attention scores in their backward pass. With the math kernel,
    attention counts the same on every device: its products once, as model FLOPs do.
    """
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
        fn()
    return counter.get_total_flops()


def affine_in_batch(count: Callable[[int], int], batch: int, probes: tuple[int, ...] = (1, 2, 3)) -> int:
    """``count(batch)`` from counts at the small batches ``probes``, for batches too large to run.

    A step's FLOPs are ``a · batch + b``: every product is per crop except those on batch-free
    tensors (the decoder's positional term ``W_p · pe``, the learned queries). The counts at
    ``probes`` must lie exactly on one line, or this refuses to extrapolate.

    Raises:
        ConfigError: fewer than three probes, or counts that are not affine in the batch.
    """
    if len(set(probes)) < 3:
        raise ConfigError(f"Three different probe batches are needed to check that the count is affine, got {probes}.")
    counts = {b: count(b) for b in probes}
    (b0, c0), (b1, c1) = sorted(counts.items())[:2]
    slope, rest = divmod(c1 - c0, b1 - b0)
    offset = c0 - slope * b0
    off_line = {b: c for b, c in counts.items() if c != slope * b + offset}
    if rest or off_line:
        raise ConfigError(f"FLOPs at batches {counts} are not affine in the batch; count at batch {batch} directly.")
    return slope * batch + offset


def read_flops(path: str | Path) -> dict | None:
    """A run's ``flops.json`` (``flop_per_step`` and how it was counted), or ``None`` if it has none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def write_flops(path: str | Path, info: dict) -> None:
    """Write ``flops.json`` atomically."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
