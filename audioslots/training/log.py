"""The training log: ``RUN_DIR/log.csv``, one row per ``log_every`` steps, and the window of steps behind a row.

Columns: ``step``, ``loss`` (the mean loss of the window's steps that were not skipped),
``learning_rate`` (of the window's last step), ``seconds`` (since this call of ``train`` began)
and ``skipped`` (steps of the window whose update was skipped, see :mod:`audioslots.training.nonfinite`).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

LOG_COLUMNS = ("step", "loss", "learning_rate", "seconds", "skipped")


@dataclass(frozen=True)
class LogRow:
    """One row of ``log.csv``."""

    step: int
    loss: float  # NaN when every step of the window was skipped
    learning_rate: float
    seconds: float
    skipped: int

    def as_csv(self) -> dict:
        return {"step": self.step, "loss": f"{self.loss:.6g}", "learning_rate": f"{self.learning_rate:.6g}",
                "seconds": f"{self.seconds:.3f}", "skipped": self.skipped}


class LogWindow:
    """The steps since the last log row: their loss sum and skipped steps, kept on the device.

    Adding a step costs no host sync on CUDA; the device is read when a row is closed or the
    state saved. The state is part of every checkpoint, so that a run resumed from a checkpoint
    taken between two log rows logs exactly what an uninterrupted run does.
    """

    def __init__(self, device: torch.device, state: dict | None = None):
        state = state or {}
        self.loss_sum = torch.tensor(float(state.get("loss_sum", 0.0)), dtype=torch.float64, device=device)
        self.steps = int(state.get("steps", 0))
        self.skipped = torch.tensor(int(state.get("skipped", 0)), device=device)

    def add(self, loss: torch.Tensor, finite: torch.Tensor) -> None:
        """Count one step: its 0-d ``loss`` unless ``finite`` (0-d bool) says it was skipped."""
        self.loss_sum += torch.where(finite, loss.double(), 0.0)
        self.skipped += ~finite
        self.steps += 1

    def close(self, step: int, learning_rate: float, seconds: float) -> LogRow:
        """The row of the window ending at ``step``; the window starts afresh."""
        skipped = int(self.skipped.item())
        mean_loss = self.loss_sum.item() / (self.steps - skipped) if self.steps > skipped else math.nan
        self.loss_sum.zero_()
        self.skipped.zero_()
        self.steps = 0
        return LogRow(step, mean_loss, learning_rate, seconds, skipped)

    def state(self) -> dict:
        return {"loss_sum": self.loss_sum.item(), "steps": self.steps, "skipped": int(self.skipped.item())}


class TrainingLog:
    """The rows of ``log.csv``: those of the run up to the step it resumes from, then this call's.

    With ``write`` (rank 0 under torchrun) the file is rewritten, atomically, at every new row;
    without, the rows of this call are only kept in memory.
    """

    def __init__(self, path: Path, up_to_step: int, write: bool = True):
        self.path, self.write = path, write
        self.rows = read_log(path, up_to_step) if write else []
        self.skipped_here = 0  # skipped steps in the rows this call added
        if write:
            write_log(path, self.rows)

    def append(self, row: LogRow) -> None:
        self.rows.append(row.as_csv())
        self.skipped_here += row.skipped
        if self.write:
            write_log(self.path, self.rows)

    @property
    def final_loss(self) -> float:
        """The loss of the last row (NaN if there is none)."""
        return float(self.rows[-1]["loss"]) if self.rows else float("nan")


def read_log(path: Path, up_to_step: int) -> list[dict]:
    """The rows of a ``log.csv`` up to ``up_to_step``, as strings; none if there is no file."""
    if not path.exists():
        return []
    with path.open() as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= up_to_step]


def write_log(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` atomically."""
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
