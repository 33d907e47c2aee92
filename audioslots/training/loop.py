"""Training: one plain loop over :func:`train_step`, resumable by re-running the same command (paper, pipeline 5).

The loop reads top to bottom: the step's learning rate (:func:`learning_rate`), the step
(:func:`train_step`: forward, backward, Adam, with a non-finite step skipped on the device),
then the bookkeeping, each part a small object of its own module:

- the log window and ``log.csv`` (:mod:`audioslots.training.log`),
- the count of non-finite steps in a row (:mod:`audioslots.training.nonfinite`),
- checkpoints by schedule, wall-clock time and stop signals (:mod:`audioslots.training.checkpoints`,
  which also describes the run folder).

The batch of step ``k`` depends on ``(seed, k)`` only (:mod:`audioslots.training.batches`), the
learning rate on ``k``, and the checkpoint holds the model, optimiser, RNG and log window: a
resumed run trains and logs exactly as an uninterrupted one.

Long runs on shared machines:

- Several processes (``torchrun --nproc-per-node N -m audioslots train ...``) split each batch
  and average their gradients; see :mod:`audioslots.training.distributed` for the commands, multi-node
  included, and what differs on the CPU.
- SIGTERM or SIGUSR1 (preemption) finish the current step, checkpoint and raise
  :class:`TrainingStopped`; re-running the same command resumes exactly. ``checkpoint_minutes``
  adds checkpoints by wall-clock time.
- A step whose loss or gradient is not finite is skipped (no update, BatchNorm statistics kept)
  and counted in the log's ``skipped`` column; ``max_nonfinite_steps`` in a row raise
  :class:`~audioslots.training.nonfinite.NonFiniteLoss`. A checkpoint never holds non-finite weights.
- On CUDA: bf16 autocast, TF32, fused Adam, channels-last convolutions in the encoder, pinned
  memory, optional ``torch.compile``, and no host sync per step (losses are summed on the device
  and read at log time); see :mod:`audioslots.training.precision`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from audioslots.config import Preset, TrainConfig
from audioslots.data.dataset import LibriMix
from audioslots.errors import AudioSlotsError, ConfigError
from audioslots.kinds import MODEL_KINDS, Kind, kind_of
from audioslots.training import distributed
from audioslots.training.batches import PRELOAD_BYTES, CropBatches
from audioslots.training.checkpoints import Checkpointer, RunFiles, as_json, data_config, resume, run_config
from audioslots.training.log import LogWindow, TrainingLog
from audioslots.training.networks import training_network
from audioslots.training.nonfinite import NonFiniteGuard
from audioslots.training.precision import adam_step, build_optimizer, cuda_speedups, resolve_device, use_bf16
from audioslots.training.step_flops import recorded_step_flops


class TrainingStopped(AudioSlotsError):
    """A stop signal (preemption) ended the run after checkpointing; re-running resumes it."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    final_loss: float
    seconds: float
    steps_per_second: float
    skipped_steps: int = 0  # steps of this call whose update was skipped (non-finite loss or gradient)
    flop_per_step: int | None = None  # FLOPs of one training step, all processes together (flops.json)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to zero at ``steps``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train_step(network: torch.nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               targets: torch.Tensor, preset: Preset, step: int, kind: str | Kind = "audioslots", bf16: bool = False,
               ranks: distributed.Ranks = distributed.Ranks()) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step: the loss of ``kind`` (:meth:`~audioslots.kinds.Kind.training_loss`, under bf16 autocast if
    ``bf16``), its backward pass, gradient clipping (``TrainConfig.clip_grad_norm``) and Adam, at the optimiser's
    learning rate.

    A step whose loss or gradient is not finite is skipped on the device, without a host sync on
    CUDA: no update (:func:`~audioslots.training.precision.adam_step`) and the BatchNorm statistics
    of before the step. The loss (averaged over processes) and the gradient (averaged by DDP) are
    the same on every process, so all skip together.

    Args:
        network: the network of ``kind`` in training mode, possibly wrapped (DDP, ``torch.compile``);
            its parameters are the optimiser's.
        inputs, targets: the batch of ``step`` on the network's device (:meth:`~audioslots.kinds.Kind.training_batch`).
        kind: the network's kind, or its name (``audioslots``).
        ranks: this process's place in a torchrun job (one process by default).

    Returns:
        ``(loss, finite)``: the 0-d loss averaged over processes, and a 0-d bool, whether the step
        was taken; both on the device.
    """
    buffers = list(network.buffers())
    kept = [buffer.clone() for buffer in buffers]  # BatchNorm statistics: a skipped step must not change them either
    with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = kind_of(kind).training_loss(network, inputs, targets, preset, step)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()

    step_loss = distributed.mean_over_ranks(loss.detach(), ranks)
    clip = preset.train.clip_grad_norm
    if clip is None:
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in network.parameters() if p.grad is not None])
    else:
        grad_norm = torch.nn.utils.clip_grad_norm_(network.parameters(), clip)
    finite = torch.isfinite(step_loss) & torch.isfinite(grad_norm)  # 0-d bool, on the device
    adam_step(optimizer, finite)
    for before, buffer in zip(kept, buffers):
        buffer.copy_(torch.where(finite, buffer, before))
    return step_loss, finite


def train(preset: Preset, dataset: LibriMix, run_dir: str | Path, *, kind: str | Kind = "audioslots",
          device: str = "auto", progress: bool = True, stop_after: int | None = None,
          compile: bool = False) -> TrainResult:
    """Train a network of ``kind`` on the mixtures of ``dataset``; returns a :class:`TrainResult`.

    Re-running with the same arguments resumes from ``run_dir/checkpoint.pt`` (or, if that cannot
    be read, ``checkpoint.prev.pt``); a run folder written with another configuration is refused
    rather than overwritten. Started by ``torchrun``, every process calls this and trains its share
    of each batch (:mod:`audioslots.training.distributed`); rank 0 alone writes files.

    Args:
        preset: resolved configuration (see :mod:`audioslots.config`); its features are computed at
            the sample rate of ``dataset``.
        dataset: the training split, e.g. ``LibriMix(root, "train-360")``.
        run_dir: where the config, checkpoint and log are written.
        kind: a kind of network (:mod:`audioslots.kinds`) or its name: ``audioslots`` (one slot per source),
            ``autoencoder`` (one slot, fed a single source) or ``convtasnet`` (waveforms in and out, on its own
            crops: :meth:`~audioslots.kinds.Kind.training_crops`).
        device: ``auto``, ``cpu`` or ``cuda`` (under torchrun, CUDA means ``cuda:LOCAL_RANK``).
        progress: show a progress bar; compile: ``torch.compile`` the network (for CUDA; slow first steps).
        stop_after: stop (with a checkpoint) once this step is reached, as an interruption would.

    Raises:
        TrainingStopped: SIGTERM or SIGUSR1 arrived; the step it was at is checkpointed.
        NonFiniteLoss: ``max_nonfinite_steps`` steps in a row had a non-finite loss or gradient.
    """
    kind = kind_of(kind)
    if not kind.trains_network:
        raise ConfigError(f"The {kind.system} trains no network: choose one of {', '.join(MODEL_KINDS)}.")
    preset = dataclasses.replace(preset, features=dataclasses.replace(preset.features, sample_rate=dataset.sample_rate))
    cfg, ranks, files = preset.train, distributed.ranks_from_environment(), RunFiles(Path(run_dir))
    dev = distributed.process_device(resolve_device(device), ranks)
    bf16 = use_bf16(cfg, dev)
    batches = _crop_batches(dataset, preset, kind, ranks)
    config = as_json(run_config(preset, kind.name, data_config(dataset)))
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)

    with contextlib.ExitStack() as context:
        agreement = context.enter_context(distributed.process_group(dev, ranks))
        stop = context.enter_context(distributed.StopSignals())
        context.enter_context(cuda_speedups(dev))
        torch.manual_seed(cfg.seed)
        model = training_network(preset, kind, dataset.n_src, dev, ranks)
        optimizer = build_optimizer(model, dev, cfg.learning_rate)
        resumed = resume(files, config, model, optimizer, warn=ranks.is_main)
        step = start_step = resumed.step
        log = _open_log(files, config, step, ranks)
        network = _parallel_network(model, dev, ranks, compile)
        window, guard = LogWindow(dev, resumed.window), NonFiniteGuard(cfg.max_nonfinite_steps, dev)
        _preload_if_small(dataset, progress=progress and ranks.is_main)
        flops = recorded_step_flops(files, model, batches, preset, step, dev, bf16, ranks, agreement)
        loader = _step_loader(batches, step, end, cfg.num_workers, dev)
        bar = tqdm(total=cfg.steps, initial=step, desc=f"train {kind.name}", unit="step",
                   disable=not (progress and ranks.is_main))
        checkpointer = Checkpointer(files, config, cfg, model, optimizer, window, resumed, write=ranks.is_main)
        start = time.perf_counter()
        network.train()
        try:
            for inputs, targets in loader:
                inputs, targets = inputs.to(dev, non_blocking=True), targets.to(dev, non_blocking=True)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, cfg)
                loss, finite = train_step(network, optimizer, inputs, targets, preset, step, kind, bf16, ranks)
                window.add(loss, finite)
                guard.add(finite)
                step += 1
                bar.update(1)
                logging = step % cfg.log_every == 0 or step == end
                too_many_skipped = guard.too_many_in_a_row(logging)
                if logging or too_many_skipped:
                    row = window.close(step, learning_rate(step - 1, cfg), time.perf_counter() - start)
                    log.append(row)
                    bar.set_postfix(loss=f"{row.loss:.4f}")
                if too_many_skipped:
                    raise guard.error(step, files.root)
                checkpointer.after_step(step)
                if distributed.any_rank(stop.received is not None, ranks, agreement):
                    checkpointer.save(step)
                    raise _stopped(stop.received, step, cfg.steps, files.root)
        except KeyboardInterrupt:
            checkpointer.save(step)
            bar.close()
            raise
        bar.close()
        checkpointer.save(step)
    seconds = time.perf_counter() - start
    return TrainResult(files.root, step, log.final_loss, seconds, (step - start_step) / max(seconds, 1e-9),
                       log.skipped_here, flops["flop_per_step"])


def _crop_batches(dataset: LibriMix, preset: Preset, kind: Kind, ranks: distributed.Ranks) -> CropBatches:
    """The training batches of ``kind``, this process's share of each."""
    batch_size, crop_samples = kind.training_crops(preset)
    part = distributed.batch_part(batch_size, ranks)
    cfg = preset.train
    return CropBatches(dataset, batch_size, crop_samples, cfg.seed, kind, part, cfg.dynamic_mixing, cfg.crop_pool,
                       cfg.crop_speakers, cfg.crop_span)


def _parallel_network(model: torch.nn.Module, device: torch.device, ranks: distributed.Ranks,
                      compile: bool) -> torch.nn.Module:
    """``model`` as the step calls it: under DDP for several processes, compiled if asked."""
    network = distributed.data_parallel(model, device, ranks)
    return torch.compile(network) if compile else network


def _preload_if_small(dataset: LibriMix, progress: bool) -> None:
    if dataset.nbytes <= PRELOAD_BYTES:
        dataset.preload(progress=progress)  # same samples as from disk, without 3 reads per crop


def _step_loader(batches: CropBatches, first: int, end: int, workers: int,
                 device: torch.device) -> torch.utils.data.DataLoader:
    """The batches of steps ``first`` to ``end - 1``, in order, read by ``workers`` processes."""
    return torch.utils.data.DataLoader(batches, batch_size=None, sampler=range(first, end), num_workers=workers,
                                       pin_memory=device.type == "cuda")


def _open_log(files: RunFiles, config: dict, step: int, ranks: distributed.Ranks) -> TrainingLog:
    """The run's log up to ``step``; rank 0 first writes the run folder's ``config.json``."""
    if ranks.is_main:
        files.root.mkdir(parents=True, exist_ok=True)
        files.config.write_text(json.dumps(config, indent=2) + "\n")
    return TrainingLog(files.log, step, write=ranks.is_main)


def _stopped(received: signal.Signals | None, step: int, steps: int, run_dir: Path) -> TrainingStopped:
    received = received or signal.SIGTERM  # the signal reached another process
    return TrainingStopped(f"Stopped by {received.name} at step {step} of {steps}; the checkpoint of step {step} "
                           f"is in {run_dir}: re-run the same command to resume.", int(received))
