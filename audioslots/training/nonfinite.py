"""Non-finite steps: a step whose loss or gradient is not finite is skipped; too many in a row stop the run.

The skip itself happens on the device, inside :func:`audioslots.training.loop.train_step`: no
update, BatchNorm statistics kept. This module counts the skipped steps in a row and says when
to give up, with a sentence on what to change (DETR's ``engine.py`` stops on a non-finite loss
too, rather than training on).
"""

from __future__ import annotations

from pathlib import Path

import torch

from audioslots.errors import AudioSlotsError


class NonFiniteLoss(AudioSlotsError):
    """The loss or gradient stayed non-finite for ``max_nonfinite_steps`` steps in a row."""


def nonfinite_entries(state: dict) -> list[str]:
    """The names of the floating-point tensors of a state dict that hold a NaN or an infinity."""
    return [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


class NonFiniteGuard:
    """Counts the skipped steps in a row, on the device, and stops the run when they reach ``limit``.

    On CUDA the count is read when the loop logs only (:meth:`too_many_in_a_row` with
    ``logging=False`` reads nothing): a read every step would sync the host with the GPU, and
    the skipped steps in between changed nothing, so reading late only delays the error. The
    longest run since the last read is what is compared with the limit, so a run that ended
    between two reads is not missed.
    """

    def __init__(self, limit: int, device: torch.device):
        self.limit = limit
        self.read_every_step = device.type != "cuda"
        self.run = torch.zeros((), dtype=torch.int64, device=device)  # non-finite steps in a row, now
        self.longest = torch.zeros((), dtype=torch.int64, device=device)  # and the most since the last read
        self.longest_read = 0

    def add(self, finite: torch.Tensor) -> None:
        """Count one step; ``finite`` is the 0-d bool tensor of :func:`~audioslots.training.loop.train_step`."""
        self.run = (self.run + 1) * ~finite
        self.longest = torch.maximum(self.longest, self.run)

    def too_many_in_a_row(self, logging: bool) -> bool:
        """Whether the longest run of skipped steps since the last read reached the limit (read if
        ``logging`` or off CUDA; otherwise nothing is read and the answer waits for the next read)."""
        self.longest_read = 0
        if logging or self.read_every_step:
            self.longest_read = int(self.longest.item())
            self.longest.copy_(self.run)
        return self.longest_read >= self.limit

    def error(self, step: int, run_dir: Path) -> NonFiniteLoss:
        """The error that stops a run at ``step`` after :meth:`too_many_in_a_row` said so."""
        return NonFiniteLoss(
            f"The loss or gradient was not finite for {self.longest_read} steps in a row (by step {step}) in "
            f"{run_dir}; those updates were skipped and the last checkpoint holds finite weights. "
            "Lower the learning rate (--lr), clip gradients (--clip-grad-norm) or train without "
            "autocast (--autocast off), then re-run."
        )
