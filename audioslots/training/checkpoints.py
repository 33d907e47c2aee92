"""A run folder and its checkpoints: what is saved, when, how it is read back, and what must match to resume.

A run folder holds everything a run needs to continue or to be evaluated::

    RUN_DIR/config.json         the resolved preset, model kind and data source
    RUN_DIR/checkpoint.pt       model, optimiser, RNG state and log window at the
                                last saved step (atomic writes); a finished network
                                may be shipped without the optimiser (ship_checkpoint)
    RUN_DIR/checkpoint.prev.pt  the checkpoint before it: resumed from, with a
                                warning, when the latest cannot be read
    RUN_DIR/checkpoint_step0001000.pt   copies kept at TrainConfig.keep_checkpoints
    RUN_DIR/log.csv             one row per log_every steps (audioslots.training.log)
    RUN_DIR/flops.json          FLOPs of one training step (training.step_flops)

:func:`run_config` writes ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from audioslots.config import ConvTasNetConfig, ModelConfig, Preset, TrainConfig, features_from_dict
from audioslots.data.dataset import LibriMix
from audioslots.errors import CheckpointError
from audioslots.kinds import AUDIOSLOTS, NETWORK_SECTIONS, kind_of
from audioslots.training.nonfinite import NonFiniteLoss, nonfinite_entries
from audioslots.training.precision import is_fused, optimizer_state_for

#: Training options that only say how a run is executed, which a resumed run may change.
EXECUTION_FIELDS = ("num_workers", "checkpoint_every", "checkpoint_minutes", "keep_checkpoints")


@dataclass
class RunFiles:
    """The files of one run folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def previous_checkpoint(self) -> Path:
        return self.root / "checkpoint.prev.pt"

    @property
    def log(self) -> Path:
        return self.root / "log.csv"

    @property
    def flops(self) -> Path:
        return self.root / "flops.json"

    def kept_checkpoint(self, step: int) -> Path:
        """The copy of the checkpoint kept at ``step`` (``TrainConfig.keep_checkpoints``)."""
        return self.root / f"checkpoint_step{step:07d}.pt"

    def kept_checkpoints(self) -> list[Path]:
        """The kept checkpoints of this run, by step."""
        return sorted(self.root.glob("checkpoint_step*.pt"))


def run_config(preset: Preset, kind: str, data: dict) -> dict:
    """Everything that defines a run, as plain JSON-able values (stored with every checkpoint)."""
    return {"preset": dataclasses.asdict(preset), "model_kind": kind, "data": data}


def data_config(dataset: LibriMix) -> dict:
    """What a run records of its training data: the LibriMix folder, split, sources, sample rate and mode
    (and the number of mixtures kept, when not all)."""
    kept = {} if dataset.max_mixtures is None else {"max_mixtures": dataset.max_mixtures}
    return {"root": str(dataset.root.resolve()), "split": dataset.split, "n_src": dataset.n_src,
            "sample_rate": dataset.sample_rate, "mode": dataset.mode, **kept}


def as_json(config: dict) -> dict:
    """``config`` as it reads back from JSON (tuples become lists), so that stored and new configs compare equal."""
    return json.loads(json.dumps(config))


def preset_from_dict(values: dict) -> Preset:
    """Inverse of ``dataclasses.asdict`` for :class:`~audioslots.config.Preset`; fields added since a run was
    stored take their defaults."""
    return Preset(
        name=values["name"],
        features=features_from_dict(values["features"]),
        model=ModelConfig(**values["model"]),
        train=TrainConfig(**values["train"]),
        # Committed runs from before the peer have none (results/paper_h200_short, results/real_cpu_x10).
        convtasnet=ConvTasNetConfig(**values.get("convtasnet", {})),
    )


def resumable_view(config: dict) -> dict:
    """What must match for a run to resume: not the data root (data moves between machines), not
    how the run is executed, and training and model options added since the run began take their
    defaults. Of the networks' configs only the trained one's counts (runs from before Conv-TasNet
    have none)."""
    view = as_json(config)
    view["data"] = {k: v for k, v in view["data"].items() if k != "root"}
    kind = kind_of(view.get("model_kind", AUDIOSLOTS.name))  # a config that names no model kind is AudioSlots'
    for section in NETWORK_SECTIONS:
        if section != kind.config_section:
            view["preset"].pop(section, None)
    if "model" in view["preset"]:
        view["preset"]["model"] = {**as_json(dataclasses.asdict(ModelConfig())), **view["preset"]["model"]}
    train = {**as_json(dataclasses.asdict(TrainConfig())), **view["preset"]["train"]}
    view["preset"]["train"] = {k: v for k, v in train.items() if k not in EXECUTION_FIELDS}
    return view


def config_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``"key: old in the run, new now"`` for every leaf where two nested configs differ, by key."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} in the run, {b!r} now")
    return out


def save_checkpoint(path: Path, state: dict, keep_previous: bool = True) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact.

    With ``keep_previous`` the checkpoint being replaced stays as ``checkpoint.prev.pt``, the
    fallback when the new one turns out unreadable (a disk filled up, a file system that lost
    the last write).
    """
    tmp = path.with_suffix(".pt.tmp")
    with tmp.open("wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if keep_previous and path.exists():
        os.replace(path, path.with_suffix(".prev.pt"))
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`~audioslots.training.loop.train` (tensors and plain values only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist; train first or check the path.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # corrupt, truncated or not a checkpoint at all
        raise CheckpointError(f"Checkpoint {path} cannot be read ({type(error).__name__}); it may be truncated.") from None
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise CheckpointError(f"{path} is not an AudioSlots checkpoint (no config/model inside).")
    return state


def latest_readable_checkpoint(files: RunFiles, warn: bool) -> tuple[dict | None, Path | None]:
    """The latest readable checkpoint of a run folder and its path; ``(None, None)`` for a new run.

    An unreadable ``checkpoint.pt`` falls back to ``checkpoint.prev.pt`` with a warning (if ``warn``).
    """
    problems = []
    for path in (files.checkpoint, files.previous_checkpoint):
        if not path.exists():
            continue
        try:
            state = load_checkpoint(path)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if problems and warn:
            warnings.warn(f"{problems[0]} Resuming from the previous checkpoint {path} (step {state['step']}) instead.",
                          stacklevel=4)
        return state, path
    if problems:
        raise CheckpointError(f"{' '.join(problems)} No readable checkpoint is left in {files.root}; "
                              "delete the folder to start the run afresh, or choose another --out folder.")
    return None, None


@dataclass(frozen=True)
class ResumePoint:
    """Where a call of ``train`` starts: step 0 of a new run, or the checkpoint it resumed from."""

    step: int = 0
    window: dict = dataclasses.field(default_factory=dict)  # the log window saved with it (see LogWindow)
    path: Path | None = None  # the checkpoint read; None for a new run


def resume(files: RunFiles, config: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
           warn: bool = True) -> ResumePoint:
    """Load the run folder's latest readable checkpoint into ``model``, ``optimizer`` and torch's RNG.

    Raises:
        CheckpointError: the checkpoint was written with another configuration (:func:`resumable_view`),
            or no checkpoint of the folder can be read.
    """
    state, path = latest_readable_checkpoint(files, warn)
    if state is None:
        return ResumePoint()
    differences = config_differences(resumable_view(state["config"]), resumable_view(config))
    if differences:
        raise CheckpointError(
            f"{path} was written with a different configuration ({'; '.join(differences[:3])}); "
            "re-run with the same options or choose another --out folder."
        )
    model.load_state_dict(state["model"])
    step = int(state["step"])
    if "optimizer" in state:
        optimizer.load_state_dict(optimizer_state_for(state["optimizer"], is_fused(optimizer)))
    elif step < config["preset"]["train"]["steps"]:  # a shipped network (ship_checkpoint) is finished
        raise CheckpointError(f"{path} holds a network without its optimiser state (shipped at step {step}); it "
                              "cannot resume training: train into another --out folder.")
    torch.set_rng_state(state["rng"]["torch"])
    return ResumePoint(step, state["window"], path)


def ship_checkpoint(path: str | Path) -> int:
    """Drop the Adam state from a finished network's checkpoint, in place: the network, its config, the
    RNG state and the log window stay, about a third of the size. It still separates and scores as
    before, and re-running its training finds it finished; it can no longer resume, which a finished
    network never needs.

    Returns:
        The bytes saved.

    Raises:
        CheckpointError: the network has not trained all the steps of its config.
    """
    path = Path(path)
    state = load_checkpoint(path)
    steps = state["config"]["preset"]["train"]["steps"]
    if state["step"] < steps:
        raise CheckpointError(f"{path} is at step {state['step']} of {steps}: a network still training keeps its "
                              "optimiser state, to resume.")
    before = path.stat().st_size
    if "optimizer" in state:
        del state["optimizer"]
        save_checkpoint(path, state, keep_previous=False)
    return before - path.stat().st_size


class Checkpointer:
    """Saves a run's state to ``checkpoint.pt``: when the schedule says, on demand, never twice per step.

    The state is the step, the run's config, the model, the optimiser, torch's RNG and the log
    window (anything with a ``state()`` dict), so that a resumed run continues exactly.

    - Scheduled (:meth:`after_step`): every ``checkpoint_every`` steps, at the steps of
      ``keep_checkpoints`` (also copied to ``checkpoint_stepNNNNNNN.pt``), and after
      ``checkpoint_minutes`` of wall-clock time since the last save.
    - On demand (:meth:`save`): at the end, on a stop signal, on Ctrl-C.
    - Weights that are not finite are never saved (:class:`~audioslots.training.nonfinite.NonFiniteLoss` instead); the
      checkpoint of an earlier step stays.
    - The checkpoint being replaced stays as ``checkpoint.prev.pt``, except after resuming from
      that very file: the unreadable latest checkpoint is then replaced, not kept as the previous.

    With ``write`` false (every process but rank 0 under torchrun) nothing is written, but the
    bookkeeping is the same, so every process agrees on when.
    """

    def __init__(self, files: RunFiles, config: dict, schedule: TrainConfig, model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, window, resumed: ResumePoint = ResumePoint(), write: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.files, self.config, self.schedule, self.write = files, config, schedule, write
        self.model, self.optimizer, self.window = model, optimizer, window
        self.clock = clock
        self.saved_step = resumed.step if resumed.path is not None else None
        self.keep_previous = resumed.path != files.previous_checkpoint
        self.last_save = clock()

    def due(self, step: int) -> bool:
        """Whether the schedule asks for a checkpoint after ``step``."""
        minutes = self.schedule.checkpoint_minutes
        return (step in self.schedule.keep_checkpoints or step % self.schedule.checkpoint_every == 0
                or bool(minutes and self.clock() - self.last_save >= 60 * minutes))

    def after_step(self, step: int) -> None:
        """Save if the schedule asks for it, and keep a copy at the steps of ``keep_checkpoints``."""
        if self.due(step):
            self.save(step)
        if step in self.schedule.keep_checkpoints and self.write:
            shutil.copyfile(self.files.checkpoint, self.files.kept_checkpoint(step))

    def save(self, step: int) -> None:
        """Save the state of ``step``, unless it is saved already."""
        if self.saved_step == step:
            return
        self.last_save, self.saved_step = self.clock(), step
        if not self.write:
            return
        weights = self.model.state_dict()
        bad = nonfinite_entries(weights)
        if bad:  # skipped updates keep weights finite: this guards the guard
            raise NonFiniteLoss(f"Refusing to checkpoint non-finite weights ({', '.join(bad[:3])}) at step {step} "
                                f"in {self.files.root}; the checkpoint of an earlier step is kept.")
        save_checkpoint(self.files.checkpoint, {
            "step": step, "config": self.config, "model": weights, "optimizer": self.optimizer.state_dict(),
            "rng": {"torch": torch.get_rng_state()}, "window": self.window.state(),
        }, keep_previous=self.keep_previous)
        self.keep_previous = True
