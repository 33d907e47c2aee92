"""Training: one plain loop, resumable by re-running the same command (PAPER.md, Pipeline 5).

A run folder holds everything a run needs to continue or to be evaluated::

    RUN_DIR/config.json      the resolved preset, model kind and data source
    RUN_DIR/checkpoint.pt    model, optimiser and RNG state at the last saved step (atomic writes)
    RUN_DIR/log.csv          step, loss, learning_rate, seconds (one row per ``log_every`` steps)

The batch of step ``k`` is drawn from a generator seeded with ``(seed, k)``: it does not depend
on what ran before, so a resumed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from audioslots.config import ModelConfig, Preset, TrainConfig
from audioslots.data import LibriMix
from audioslots.errors import CheckpointError, ConfigError
from audioslots.features import spectrogram
from audioslots.loss import matched_mse
from audioslots.model import AudioSlots

MODEL_KINDS = ("audioslots", "autoencoder")
#: Training splits up to this size are read into memory once instead of per crop (the synthetic set
#: is about 350 MB; a Libri2Mix training split is far larger and stays on disk).
PRELOAD_BYTES = 1 << 30
LOG_COLUMNS = ("step", "loss", "learning_rate", "seconds")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; a clear error for an unusable choice."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"Unknown device {device!r}: use auto, cpu or cuda.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device {device!r} was asked for but no CUDA GPU is available; use --device cpu.")
    return torch.device(device)


def model_config_for(preset: Preset, kind: str, n_src: int) -> ModelConfig:
    """The network of ``kind``: AudioSlots has one slot per source, the autoencoder one slot."""
    if kind not in MODEL_KINDS:
        raise ConfigError(f"Unknown model {kind!r}: choose one of {', '.join(MODEL_KINDS)}.")
    return dataclasses.replace(preset.model, n_slots=1 if kind == "autoencoder" else n_src)


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
    """

    def __init__(self, dataset: LibriMix, batch_size: int, crop_samples: int, seed: int, kind: str):
        self.dataset, self.batch_size, self.crop_samples = dataset, batch_size, crop_samples
        self.seed, self.kind = seed, kind
        self.lengths = np.asarray(dataset.lengths)

    def __len__(self) -> int:
        return 2**62  # indexed by step; the sampler says which steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        indices = rng.integers(len(self.dataset), size=self.batch_size)
        spare = np.maximum(self.lengths[indices] - self.crop_samples, 0)
        offsets = (rng.random(self.batch_size) * (spare + 1)).astype(np.int64)
        examples = [self.dataset.crop(int(i), int(o), self.crop_samples) for i, o in zip(indices, offsets)]
        mixtures = torch.stack([e.mixture for e in examples])  # (batch, samples)
        sources = torch.stack([e.sources for e in examples])  # (batch, n_src, samples)
        if self.kind == "autoencoder":
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
    return torch.randperm(n_cells, generator=generator)[:keep].to(device)


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
    def log(self) -> Path:
        return self.root / "log.csv"


def run_config(preset: Preset, kind: str, data: dict) -> dict:
    """Everything that defines a run, as plain JSON-able values (stored with every checkpoint)."""
    return {"preset": dataclasses.asdict(preset), "model_kind": kind, "data": data}


def _comparable(config: dict) -> dict:
    # JSON turns tuples into lists: compare through a JSON round trip.
    return json.loads(json.dumps(config))


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


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
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
    )


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[AudioSlots, dict]:
    """The trained network of a checkpoint, in eval mode, and the run's config dict."""
    state = load_checkpoint(path)
    config = state["config"]
    preset = preset_from_dict(config["preset"])
    model = AudioSlots(model_config_for(preset, config["model_kind"], config["data"]["n_src"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"Checkpoint {path} does not fit the network its config describes: {error}") from None
    return model.to(device).eval(), config


def _read_log(path: Path, up_to_step: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= up_to_step]


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
) -> TrainResult:
    """Train AudioSlots (or its autoencoder) on ``split`` of a LibriMix-layout folder.

    Re-running with the same arguments resumes from ``run_dir/checkpoint.pt``; a run folder
    written with another configuration is refused rather than overwritten.

    Args:
        preset: resolved configuration (see :mod:`audioslots.config`).
        data_root: folder that holds ``wav16k/`` (or ``wav8k/``).
        run_dir: where the config, checkpoint and log are written.
        kind: ``audioslots`` (one slot per source) or ``autoencoder`` (one slot, fed a single source).
        split, n_src, sample_rate, mode: which LibriMix data to read.
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: show a progress bar.
        stop_after: stop (with a checkpoint) once this step is reached, as an interruption would.

    Returns:
        TrainResult with the last step, the mean loss of the last logged window and the speed.
    """
    if preset.features.sample_rate != sample_rate:
        preset = dataclasses.replace(preset, features=dataclasses.replace(preset.features, sample_rate=sample_rate))
    model_config = model_config_for(preset, kind, n_src)
    dev = resolve_device(device)
    files = RunFiles(Path(run_dir))
    dataset = LibriMix(data_root, split, n_src=n_src, sample_rate=sample_rate, mode=mode)
    data = {"root": str(Path(data_root).resolve()), "split": split, "n_src": n_src,
            "sample_rate": sample_rate, "mode": mode}
    config = _comparable(run_config(preset, kind, data))

    cfg = preset.train
    torch.manual_seed(cfg.seed)
    model = AudioSlots(model_config).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    step = 0
    if files.checkpoint.exists():
        state = load_checkpoint(files.checkpoint)
        # The data root may move between machines; everything else must match.
        old, new = dict(state["config"]), dict(config)
        old["data"] = {k: v for k, v in old["data"].items() if k != "root"}
        new["data"] = {k: v for k, v in new["data"].items() if k != "root"}
        diff = _differences(old, new)
        if diff:
            raise CheckpointError(
                f"{files.checkpoint} was written with a different configuration ({'; '.join(diff[:3])}); "
                "re-run with the same options or choose another --out folder."
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        step = int(state["step"])
    files.root.mkdir(parents=True, exist_ok=True)
    files.config.write_text(json.dumps(config, indent=2) + "\n")
    log_rows = _read_log(files.log, step)
    _write_log(files.log, log_rows)

    def checkpoint() -> None:
        save_checkpoint(files.checkpoint, {
            "step": step, "config": config, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": {"torch": torch.get_rng_state()},
        })

    if dataset.nbytes <= PRELOAD_BYTES:
        dataset.preload(progress=progress)  # same samples as from disk, without 3 file reads per crop
    batch_size = cfg.batch_for(preset.features.chunk_seconds)
    batches = CropBatches(dataset, batch_size, preset.features.chunk_samples, cfg.seed, kind)
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(step, end), num_workers=cfg.num_workers,
        pin_memory=dev.type == "cuda", persistent_workers=False,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {kind}", disable=not progress, unit="step")
    window: list[float] = []
    start, start_step = time.perf_counter(), step
    model.train()
    try:
        for inputs, targets in loader:
            inputs, targets = inputs.to(dev, non_blocking=True), targets.to(dev, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, cfg)
            with autocast:
                features = spectrogram(inputs, preset.features)  # (batch, freq, frames)
                target_features = spectrogram(targets, preset.features)  # (batch, n, freq, frames)
                cells = decoded_cells(step, target_features.shape[-2:], cfg, dev)
                predictions = model(features, cells)  # (batch, n, freq, frames) or (batch, n, K, 1)
                if cells is not None:
                    target_features = target_features.flatten(-2)[..., cells, None]  # (batch, n, K, 1)
                loss, _ = matched_mse(predictions.float(), target_features.float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            window.append(loss.item())
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                mean_loss = float(np.mean(window))
                window.clear()
                log_rows.append({"step": step, "loss": f"{mean_loss:.6g}",
                                 "learning_rate": f"{learning_rate(step - 1, cfg):.6g}",
                                 "seconds": f"{time.perf_counter() - start:.3f}"})
                _write_log(files.log, log_rows)
                bar.set_postfix(loss=f"{mean_loss:.4f}")
            if step % cfg.checkpoint_every == 0:
                checkpoint()
    except KeyboardInterrupt:
        checkpoint()
        bar.close()
        raise
    bar.close()
    checkpoint()
    seconds = time.perf_counter() - start
    final_loss = float(log_rows[-1]["loss"]) if log_rows else float("nan")
    return TrainResult(files.root, step, final_loss, seconds, (step - start_step) / max(seconds, 1e-9))
