"""Training: one plain loop, resumable by re-running the same command (PAPER.md, Pipeline 5).

A run folder holds everything a run needs to continue or to be evaluated::

    RUN_DIR/config.json          the resolved preset, model kind and data source
    RUN_DIR/checkpoint.pt        model, optimiser and RNG state at the last saved step (atomic writes)
    RUN_DIR/checkpoint.prev.pt   the checkpoint before it: resumed from, with a warning, when the
                                 latest cannot be read
    RUN_DIR/log.csv              step, loss, learning_rate, seconds, skipped (one row per ``log_every`` steps)
    RUN_DIR/flops.json           FLOPs of one training step (:func:`count_step_flops`), counted on a copy of the network

The batch of step ``k`` is drawn from a generator seeded with ``(seed, k)``: it does not depend
on what ran before, so a resumed run sees exactly the batches an uninterrupted run would.

Long runs on shared machines:

- Several processes (``torchrun --nproc-per-node N -m audioslots train ...``) split each batch
  and average their gradients; see :mod:`audioslots.training.distributed` for the commands, multi-node
  included, and what differs on the CPU.
- SIGTERM or SIGUSR1 (preemption) finish the current step, checkpoint and raise
  :class:`TrainingStopped`; re-running the same command resumes exactly. ``checkpoint_minutes``
  adds checkpoints by wall-clock time.
- A step whose loss or gradient is not finite is skipped (no update, BatchNorm statistics kept)
  and counted in the log's ``skipped`` column; ``max_nonfinite_steps`` in a row raise
  :class:`NonFiniteLoss`. A checkpoint never holds non-finite weights.
- On CUDA: bf16 autocast, TF32, fused Adam, channels-last convolutions in the encoder, pinned
  memory, optional ``torch.compile``, and no host sync per step (losses are summed on the device
  and read at log time).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import json
import math
import os
import shutil
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from audioslots import convtasnet

from audioslots.training import distributed
from audioslots.config import ConvTasNetConfig, ModelConfig, Preset, TrainConfig
from audioslots.data.dataset import LibriMix
from audioslots.errors import AudioSlotsError, CheckpointError, ConfigError
from audioslots.features import spectrogram
from audioslots.flops import COUNTED_BY, count_flops, read_flops, write_flops
from audioslots.loss import matched_mse, matched_neg_si_snr
from audioslots.model import AudioSlots

#: AudioSlots, its one-slot autoencoder, and Conv-TasNet, a waveform peer that is not in the paper.
MODEL_KINDS = ("audioslots", "autoencoder", "convtasnet")
#: Training splits up to this size are read into memory once instead of per crop (the synthetic set
#: is about 350 MB; a Libri2Mix training split is far larger and stays on disk).
PRELOAD_BYTES = 1 << 30
LOG_COLUMNS = ("step", "loss", "learning_rate", "seconds", "skipped")
AUTOCAST_CHOICES = ("auto", "bf16", "off")
#: Training options that only say how a run is executed, which a resumed run may change.
EXECUTION_FIELDS = ("num_workers", "checkpoint_every", "checkpoint_minutes", "keep_checkpoints")


class TrainingStopped(AudioSlotsError):
    """A stop signal (preemption) ended the run after checkpointing; re-running resumes it."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


class NonFiniteLoss(AudioSlotsError):
    """The loss or gradient stayed non-finite for ``max_nonfinite_steps`` steps in a row."""


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; a clear error for an unusable choice."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"Unknown device {device!r}: use auto, cpu or cuda.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device {device!r} was asked for but no CUDA GPU is available; use --device cpu.")
    return torch.device(device)


def check_kind(kind: str) -> None:
    """A ``ConfigError`` naming the known model kinds unless ``kind`` is one of them."""
    if kind not in MODEL_KINDS:
        raise ConfigError(f"Unknown model {kind!r}: choose one of {', '.join(MODEL_KINDS)}.")


def model_config_for(preset: Preset, kind: str, n_src: int) -> ModelConfig:
    """The network of ``kind``: AudioSlots has one slot per source, the autoencoder one slot."""
    check_kind(kind)
    if kind == "convtasnet":
        raise ConfigError("Conv-TasNet is not an AudioSlots network: its size is preset.convtasnet (see build_model).")
    return dataclasses.replace(preset.model, n_slots=1 if kind == "autoencoder" else n_src)


def build_model(preset: Preset, kind: str, n_src: int) -> torch.nn.Module:
    """A freshly initialised network of ``kind`` (one of :data:`MODEL_KINDS`) for ``n_src`` sources."""
    if kind == "convtasnet":
        return convtasnet.build(preset.convtasnet, n_src)
    return AudioSlots(model_config_for(preset, kind, n_src))


def training_crops(preset: Preset, kind: str) -> tuple[int, int]:
    """``(crops per batch, samples per crop)`` of the training batches of ``kind``.

    AudioSlots and the autoencoder train on crops of the chunk length (``TrainConfig.batch_for``);
    Conv-TasNet on its own crops (``ConvTasNetConfig.crop_seconds``), as many as hold the seconds
    of audio of an AudioSlots batch of the preset.
    """
    chunk_seconds = preset.features.chunk_seconds
    batch_size = preset.train.batch_for(chunk_seconds)
    if kind != "convtasnet":
        return batch_size, preset.features.chunk_samples
    crop_seconds = preset.convtasnet.crop_seconds
    return max(1, round(batch_size * chunk_seconds / crop_seconds)), round(crop_seconds * preset.features.sample_rate)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to zero at ``steps``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class CropBatches(torch.utils.data.Dataset):
    """Item ``k`` is the whole training batch of step ``k``: random crops of random mixtures.

    Returns ``(mixtures (batch, samples), sources (batch, n_src, samples))``. The autoencoder
    variant returns every source of those crops, each as its own input and target:
    ``(sources (batch * n_src, samples), sources (batch * n_src, 1, samples))``, so that it
    learns from exactly the sources the separation model sees.

    With ``part`` (one process's share under torchrun, :func:`audioslots.training.distributed.batch_part`)
    the whole batch's mixtures and offsets are still drawn, so that every share of step ``k`` is
    the same whatever the number of processes, but only the crops in ``part`` are read.
    """

    def __init__(self, dataset: LibriMix, batch_size: int, crop_samples: int, seed: int, kind: str,
                 part: slice = slice(None)):
        self.dataset, self.batch_size, self.crop_samples = dataset, batch_size, crop_samples
        self.seed, self.kind, self.part = seed, kind, part
        self.lengths = np.asarray(dataset.lengths)

    def __len__(self) -> int:
        return 2**62  # indexed by step; the sampler says which steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        indices = rng.integers(len(self.dataset), size=self.batch_size)
        spare = np.maximum(self.lengths[indices] - self.crop_samples, 0)
        offsets = (rng.random(self.batch_size) * (spare + 1)).astype(np.int64)
        indices, offsets = indices[self.part], offsets[self.part]
        examples = [self.dataset.crop(int(i), int(o), self.crop_samples) for i, o in zip(indices, offsets)]
        mixtures = torch.stack([e.mixture for e in examples])  # (batch, samples)
        sources = torch.stack([e.sources for e in examples])  # (batch, n_src, samples)
        return network_batch(mixtures, sources, self.kind)


def network_batch(mixtures: torch.Tensor, sources: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """What a network of ``kind`` trains on, from ``(batch, samples)`` mixtures and ``(batch, n_src, samples)`` sources.

    AudioSlots: the mixtures and their sources. The autoencoder: every source as its own input and
    target, ``(batch * n_src, samples)`` and ``(batch * n_src, 1, samples)``.
    """
    if kind == "autoencoder":
        single = sources.flatten(0, 1)  # (batch * n_src, samples)
        return single, single[:, None]
    return mixtures, sources


def decoded_cells(step: int, grid: tuple[int, int], config: TrainConfig, device) -> torch.Tensor | None:
    """The grid cells decoded at ``step`` (all of them, ``None``, unless ``decoded_cells < 1``)."""
    if config.decoded_cells >= 1.0:
        return None
    n_cells = grid[0] * grid[1]
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    keep = max(1, round(config.decoded_cells * n_cells))
    return torch.randperm(n_cells, generator=generator)[:keep].to(device, non_blocking=True)  # no host sync on CUDA


def training_loss(network: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                  step: int, kind: str = "audioslots") -> torch.Tensor:
    """The forward pass of training step ``step``: the matched MSE of one batch (under the caller's autocast);
    for Conv-TasNet the matched negative SI-SNR of its waveforms (:func:`~audioslots.loss.matched_neg_si_snr`).

    Args:
        network: the network of ``kind``, on the device of ``inputs``.
        inputs: ``(batch, samples)`` mixtures (the autoencoder: single sources).
        targets: ``(batch, n, samples)`` their sources.
        preset: the run's features and training options (``decoded_cells``).
        step: decides which grid cells are decoded (:func:`decoded_cells`).
        kind: one of :data:`MODEL_KINDS`.

    Returns:
        The 0-d loss, float32.
    """
    if kind == "convtasnet":
        estimates = network(inputs[:, None])  # (batch, n, samples)
        loss, _ = matched_neg_si_snr(estimates.float(), targets.float())
        return loss
    features = spectrogram(inputs, preset.features)  # (batch, freq, frames)
    target_features = spectrogram(targets, preset.features)  # (batch, n, freq, frames)
    cells = decoded_cells(step, target_features.shape[-2:], preset.train, inputs.device)
    predictions = network(features, cells)  # (batch, n, freq, frames) or (batch, n, K, 1)
    if cells is not None:
        target_features = target_features.flatten(-2)[..., cells, None]  # (batch, n, K, 1)
    loss, _ = matched_mse(predictions.float(), target_features.float())
    return loss


def count_step_flops(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                     step: int = 0, bf16: bool = False, kind: str = "audioslots") -> int:
    """FLOPs of one training step of ``model`` on this batch: :func:`training_loss` and its backward pass.

    Counted (:func:`audioslots.flops.count_flops`) on a copy of the network, with the random state
    restored afterwards: the run it is counted for trains exactly as it would uncounted. Adam's
    update is element-wise and counts zero. With ``decoded_cells < 1`` every step decodes the same
    number of cells, so one step's count holds for every step.
    """
    network = copy.deepcopy(model).train()
    device = inputs.device

    def step_pass() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = training_loss(network, inputs, targets, preset, step, kind)
        loss.backward()

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return count_flops(step_pass)


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


def _comparable(config: dict) -> dict:
    # JSON turns tuples into lists: compare through a JSON round trip.
    return json.loads(json.dumps(config))


def _resumable_view(config: dict) -> dict:
    """What must match for a run to resume: not the data root (data moves between machines), not
    how the run is executed, and training options added since the run began take their defaults.
    Of the networks' configs only the trained one's counts (runs from before Conv-TasNet have none)."""
    view = _comparable(config)
    view["data"] = {k: v for k, v in view["data"].items() if k != "root"}
    view["preset"].pop("model" if view.get("model_kind") == "convtasnet" else "convtasnet", None)
    train = {**dataclasses.asdict(TrainConfig()), **view["preset"]["train"]}
    view["preset"]["train"] = {k: v for k, v in train.items() if k not in EXECUTION_FIELDS}
    return view


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
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
    """Load a checkpoint written by :func:`train` (tensors and plain values only)."""
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


def _resume_state(files: RunFiles, warn: bool) -> tuple[dict | None, Path | None]:
    """The latest readable checkpoint of a run folder and its path; ``(None, None)`` for a new run.

    An unreadable ``checkpoint.pt`` falls back to ``checkpoint.prev.pt`` with a warning.
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
                          stacklevel=3)
        return state, path
    if problems:
        raise CheckpointError(f"{' '.join(problems)} No readable checkpoint is left in {files.root}; "
                              "delete the folder to start the run afresh, or choose another --out folder.")
    return None, None


def preset_from_dict(values: dict) -> Preset:
    """Inverse of ``dataclasses.asdict`` for :class:`~audioslots.config.Preset`."""
    from audioslots.config import features_from_dict

    model = dict(values["model"])
    model["resnet_blocks"] = tuple(model["resnet_blocks"])
    return Preset(
        name=values["name"],
        features=features_from_dict(values["features"]),
        model=ModelConfig(**model),
        train=TrainConfig(**values["train"]),
        convtasnet=ConvTasNetConfig(**values.get("convtasnet", {})),  # runs from before the peer have none
    )


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """The trained network of a checkpoint (AudioSlots, its autoencoder or Conv-TasNet, see the
    config's ``model_kind``), in eval mode, and the run's config dict."""
    state = load_checkpoint(path)
    config = state["config"]
    preset = preset_from_dict(config["preset"])
    model = build_model(preset, config["model_kind"], config["data"]["n_src"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"Checkpoint {path} does not fit the network its config describes: {error}") from None
    return model.to(device).eval(), config


def count_run_flops(config: dict, batch_size: int | None = None, device: str | torch.device = "cpu") -> int:
    """FLOPs of one training step of the run a stored ``config`` describes (its ``config.json``).

    Counted (:func:`count_step_flops`) on a freshly built network and noise of the step's shapes:
    the count depends on shapes only. For runs trained before training counted its steps.

    Args:
        config: ``{"preset", "model_kind", "data": {"n_src", ...}}`` as :func:`run_config` writes it.
        batch_size: crops per step instead of the run's (to extrapolate from small batches, see
            :func:`audioslots.flops.affine_in_batch`).
    """
    preset = preset_from_dict(config["preset"])
    kind, n_src = config["model_kind"], config["data"]["n_src"]
    run_batch, crop_samples = training_crops(preset, kind)
    batch = batch_size or run_batch
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = build_model(preset, kind, n_src).to(device)
        sources = 0.1 * torch.randn(batch, n_src, crop_samples, device=device)
    return count_step_flops(model, *network_batch(sources.sum(1), sources, kind), preset, kind=kind)


def _read_log(path: Path, up_to_step: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = [row for row in csv.DictReader(f) if int(row["step"]) <= up_to_step]
    return [{"skipped": "0", **row} for row in rows]  # logs from before skipping existed skipped none


def _write_log(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    final_loss: float
    seconds: float
    steps_per_second: float
    skipped_steps: int = 0  # steps of this call whose update was skipped (non-finite loss or gradient)
    flop_per_step: int | None = None  # FLOPs of one training step, all processes together (flops.json)


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


def _optimizer_state(saved: dict, fused: bool) -> dict:
    """A saved Adam state for this device's implementation: a CUDA (fused) run may resume on the CPU and back."""
    groups = [{**group, "fused": fused or None, "foreach": None} for group in saved["param_groups"]]
    return {**saved, "param_groups": groups}


def adam_step(optimizer: torch.optim.Optimizer, finite: torch.Tensor) -> None:
    """Update the weights unless ``finite`` (a 0-d bool tensor) is false, without a host sync on CUDA.

    On CUDA the optimiser is fused Adam, which skips its whole update (weights, moments and step
    count) on the device when ``found_inf`` is 1, as under ``torch.amp.GradScaler``. Elsewhere
    reading the flag costs nothing.
    """
    if getattr(optimizer, "defaults", {}).get("fused"):
        optimizer.found_inf = (~finite).float()
        optimizer.step()
    elif finite:
        optimizer.step()


def _step_flops(files: RunFiles, model: torch.nn.Module, batches: CropBatches, preset: Preset, step: int, end: int,
                device: torch.device, bf16: bool, ranks: distributed.Ranks, control) -> dict:
    """The run's ``flops.json``: counted whenever this call trains (or the run has none yet), read otherwise.

    Each process counts its share of the batch; ``flop_per_step`` is the sum over processes.
    """
    flops = read_flops(files.flops)
    if not distributed.any_rank(step < end or flops is None, ranks, control):
        return flops
    inputs, targets = (t.to(device) for t in batches[step])
    share = count_step_flops(model, inputs, targets, preset, step, bf16, batches.kind)
    total = distributed.mean_over_ranks(torch.tensor(float(share), dtype=torch.float64, device=device), ranks)
    flops = {"flop_per_step": round(total.item() * ranks.world_size), "batch_size": batches.batch_size,
             "processes": ranks.world_size, "torch": torch.__version__, "counted_by": COUNTED_BY}
    if ranks.is_main:
        write_flops(files.flops, flops)
    return flops


def _nonfinite_entries(state: dict) -> list[str]:
    return [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def train(
    preset: Preset,
    data_root: str | Path,
    run_dir: str | Path,
    *,
    kind: str = "audioslots",
    split: str = "train-360",
    n_src: int = 2,
    sample_rate: int = 16_000,
    mode: str = "min",
    device: str = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    compile: bool = False,
) -> TrainResult:
    """Train AudioSlots (or its autoencoder, or the Conv-TasNet peer) on ``split`` of a LibriMix-layout folder.

    Re-running with the same arguments resumes from ``run_dir/checkpoint.pt`` (or, if that cannot
    be read, ``checkpoint.prev.pt``); a run folder written with another configuration is refused
    rather than overwritten. Started by ``torchrun``, every process calls this and trains its share
    of each batch (:mod:`audioslots.training.distributed`); rank 0 alone writes files.

    Args:
        preset: resolved configuration (see :mod:`audioslots.config`).
        data_root: folder that holds ``wav16k/`` (or ``wav8k/``).
        run_dir: where the config, checkpoint and log are written.
        kind: ``audioslots`` (one slot per source), ``autoencoder`` (one slot, fed a single source) or
            ``convtasnet`` (waveforms in and out, on its own crops: :func:`training_crops`).
        split, n_src, sample_rate, mode: which LibriMix data to read.
        device: ``auto``, ``cpu`` or ``cuda`` (under torchrun, CUDA means ``cuda:LOCAL_RANK``).
        progress: show a progress bar.
        stop_after: stop (with a checkpoint) once this step is reached, as an interruption would.
        compile: ``torch.compile`` the network (meant for CUDA; the first steps are slow).

    Returns:
        TrainResult with the last step, the mean loss of the last logged window and the speed.

    Raises:
        TrainingStopped: SIGTERM or SIGUSR1 arrived; the step it was at is checkpointed.
        NonFiniteLoss: ``max_nonfinite_steps`` steps in a row had a non-finite loss or gradient.
    """
    if preset.features.sample_rate != sample_rate:
        preset = dataclasses.replace(preset, features=dataclasses.replace(preset.features, sample_rate=sample_rate))
    check_kind(kind)
    ranks = distributed.ranks_from_environment()
    dev = distributed.process_device(resolve_device(device), ranks)
    cfg = preset.train
    bf16 = use_bf16(cfg, dev)
    batch_size, crop_samples = training_crops(preset, kind)
    part = distributed.batch_part(batch_size, ranks)
    files = RunFiles(Path(run_dir))
    dataset = LibriMix(data_root, split, n_src=n_src, sample_rate=sample_rate, mode=mode)
    data = {"root": str(Path(data_root).resolve()), "split": split, "n_src": n_src,
            "sample_rate": sample_rate, "mode": mode}
    config = _comparable(run_config(preset, kind, data))

    with contextlib.ExitStack() as context:
        control = context.enter_context(distributed.process_group(dev, ranks))
        stop = context.enter_context(distributed.StopSignals())
        context.enter_context(cuda_speedups(dev))

        torch.manual_seed(cfg.seed)
        model = distributed.synchronise_batch_norm(build_model(preset, kind, n_src), dev, ranks).to(dev)
        if dev.type == "cuda" and isinstance(model, AudioSlots):
            model.encoder.to(memory_format=torch.channels_last)  # NHWC convolutions on tensor cores
        fused = dev.type == "cuda"  # CPU: the default implementation, as the reference runs used
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, fused=fused or None)
        step = 0
        state, resumed_from = _resume_state(files, warn=ranks.is_main)
        if state is not None:
            diff = _differences(_resumable_view(state["config"]), _resumable_view(config))
            if diff:
                raise CheckpointError(
                    f"{resumed_from} was written with a different configuration ({'; '.join(diff[:3])}); "
                    "re-run with the same options or choose another --out folder."
                )
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(_optimizer_state(state["optimizer"], fused))
            torch.set_rng_state(state["rng"]["torch"])
            step = int(state["step"])
        # After a fall-back the unreadable latest checkpoint is replaced, not kept as the previous one.
        keep_previous = resumed_from != files.previous_checkpoint
        log_rows = []
        if ranks.is_main:
            files.root.mkdir(parents=True, exist_ok=True)
            files.config.write_text(json.dumps(config, indent=2) + "\n")
            log_rows = _read_log(files.log, step)
            _write_log(files.log, log_rows)
        network = distributed.data_parallel(model, dev, ranks)
        if compile:
            network = torch.compile(network)

        # The log window (steps since the last log row), on the device: read at log time only. It is
        # part of the checkpoint, so a resumed run logs exactly what an uninterrupted one does.
        window = (state or {}).get("window", {})
        loss_sum = torch.tensor(float(window.get("loss_sum", 0.0)), dtype=torch.float64, device=dev)
        window_steps = int(window.get("steps", 0))
        skipped = torch.tensor(int(window.get("skipped", 0)), device=dev)
        nonfinite_run = torch.zeros((), dtype=torch.int64, device=dev)  # non-finite steps in a row, now
        longest_run = torch.zeros((), dtype=torch.int64, device=dev)  # and the most since the last check
        skipped_total = 0
        buffers = list(model.buffers())  # BatchNorm statistics: a skipped step must not change them either
        good_buffers = [b.clone() for b in buffers]

        saved_step = step if state is not None else None

        def checkpoint() -> None:
            nonlocal keep_previous, last_save, saved_step
            if saved_step == step:
                return
            last_save, saved_step = time.monotonic(), step
            if not ranks.is_main:
                return
            weights = model.state_dict()
            bad = _nonfinite_entries(weights)
            if bad:  # skipped updates keep weights finite: this guards the guard
                raise NonFiniteLoss(f"Refusing to checkpoint non-finite weights ({', '.join(bad[:3])}) at step {step} "
                                    f"in {files.root}; the checkpoint of an earlier step is kept.")
            save_checkpoint(files.checkpoint, {
                "step": step, "config": config, "model": weights, "optimizer": optimizer.state_dict(),
                "rng": {"torch": torch.get_rng_state()},
                "window": {"loss_sum": loss_sum.item(), "steps": window_steps, "skipped": int(skipped.item())},
            }, keep_previous=keep_previous)
            keep_previous = True

        if dataset.nbytes <= PRELOAD_BYTES:
            dataset.preload(progress=progress and ranks.is_main)  # same samples as from disk, without 3 reads per crop
        batches = CropBatches(dataset, batch_size, crop_samples, cfg.seed, kind, part)
        end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
        flops = _step_flops(files, model, batches, preset, step, end, dev, bf16, ranks, control)
        loader = torch.utils.data.DataLoader(
            batches, batch_size=None, sampler=range(step, end), num_workers=cfg.num_workers,
            pin_memory=dev.type == "cuda", persistent_workers=False,
        )
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
        bar = tqdm(total=cfg.steps, initial=step, desc=f"train {kind}", disable=not (progress and ranks.is_main),
                   unit="step")
        start, start_step, last_save = time.perf_counter(), step, time.monotonic()
        network.train()
        try:
            for inputs, targets in loader:
                inputs, targets = inputs.to(dev, non_blocking=True), targets.to(dev, non_blocking=True)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, cfg)
                for good, buffer in zip(good_buffers, buffers):
                    good.copy_(buffer)
                with autocast:
                    loss = training_loss(network, inputs, targets, preset, step, kind)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()

                # Skip a non-finite step on the device: the loss (mean over processes) and the gradient
                # (already averaged by DDP) are the same on every process, so all skip together.
                step_loss = distributed.mean_over_ranks(loss.detach(), ranks)
                gradients = [p.grad for p in model.parameters() if p.grad is not None]
                if cfg.clip_grad_norm is None:
                    grad_norm = torch.nn.utils.get_total_norm(gradients)
                else:
                    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                finite = torch.isfinite(step_loss) & torch.isfinite(grad_norm)  # 0-d bool, on the device
                adam_step(optimizer, finite)
                for good, buffer in zip(good_buffers, buffers):
                    buffer.copy_(torch.where(finite, buffer, good))
                loss_sum += torch.where(finite, step_loss.double(), 0.0)
                skipped += ~finite
                nonfinite_run = (nonfinite_run + 1) * ~finite
                longest_run = torch.maximum(longest_run, nonfinite_run)
                step += 1
                window_steps += 1
                bar.update(1)

                log_now = step % cfg.log_every == 0 or step == end
                # On CUDA the run of non-finite steps is looked at when logging only (a look every step
                # would sync); the steps in between changed nothing, so looking late only delays the error.
                look = log_now or dev.type != "cuda"
                longest = int(longest_run.item()) if look else 0
                if look:
                    longest_run.copy_(nonfinite_run)
                give_up = longest >= cfg.max_nonfinite_steps
                if log_now or give_up:
                    n_skipped = int(skipped.item())
                    skipped_total += n_skipped
                    mean_loss = loss_sum.item() / (window_steps - n_skipped) if window_steps > n_skipped else math.nan
                    log_rows.append({"step": step, "loss": f"{mean_loss:.6g}",
                                     "learning_rate": f"{learning_rate(step - 1, cfg):.6g}",
                                     "seconds": f"{time.perf_counter() - start:.3f}", "skipped": n_skipped})
                    if ranks.is_main:
                        _write_log(files.log, log_rows)
                    bar.set_postfix(loss=f"{mean_loss:.4f}")
                    loss_sum.zero_()
                    skipped.zero_()
                    window_steps = 0
                if give_up:
                    raise NonFiniteLoss(
                        f"The loss or gradient was not finite for {longest} steps in a row (by step {step}) in "
                        f"{files.root}; those updates were skipped and the last checkpoint holds finite weights. "
                        "Lower the learning rate (--lr), clip gradients (--clip-grad-norm) or train without "
                        "autocast (--autocast off), then re-run."
                    )
                minutes = cfg.checkpoint_minutes
                keep = step in cfg.keep_checkpoints
                if keep or step % cfg.checkpoint_every == 0 or (minutes and time.monotonic() - last_save >= 60 * minutes):
                    checkpoint()
                if keep and ranks.is_main:
                    shutil.copyfile(files.checkpoint, files.kept_checkpoint(step))
                if distributed.any_rank(stop.received is not None, ranks, control):
                    checkpoint()
                    received = stop.received or signal.SIGTERM  # the signal reached another process
                    raise TrainingStopped(
                        f"Stopped by {received.name} at step {step} of {cfg.steps}; the checkpoint of step {step} "
                        f"is in {files.root}: re-run the same command to resume.",
                        int(received),
                    )
        except KeyboardInterrupt:
            checkpoint()
            bar.close()
            raise
        bar.close()
        checkpoint()
    seconds = time.perf_counter() - start
    final_loss = float(log_rows[-1]["loss"]) if log_rows else float("nan")
    return TrainResult(files.root, step, final_loss, seconds, (step - start_step) / max(seconds, 1e-9), skipped_total,
                       flops["flop_per_step"])
