"""The networks training builds, what they train on, and the loss of one training step.

Three kinds (:data:`audioslots.runs.MODEL_KINDS`): AudioSlots with one slot per source, its
autoencoder with one slot fed a single source, and the Conv-TasNet peer on waveforms.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from audioslots import convtasnet
from audioslots.config import ModelConfig, Preset, TrainConfig
from audioslots.errors import CheckpointError, ConfigError
from audioslots.features import spectrogram
from audioslots.loss import matched_mse, matched_neg_si_snr
from audioslots.model import AudioSlots
from audioslots.runs import MODEL_KINDS
from audioslots.training import distributed
from audioslots.training.checkpoints import load_checkpoint, preset_from_dict


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
    """A freshly initialised network of ``kind`` (one of :data:`~audioslots.runs.MODEL_KINDS`) for ``n_src`` sources."""
    if kind == "convtasnet":
        return convtasnet.build(preset.convtasnet, n_src)
    return AudioSlots(model_config_for(preset, kind, n_src))


def training_network(preset: Preset, kind: str, n_src: int, device: torch.device,
                     ranks: distributed.Ranks) -> torch.nn.Module:
    """:func:`build_model` as a training process uses it: BatchNorm over the global batch under
    torchrun on CUDA, on ``device``, and on CUDA the encoder's convolutions in channels-last layout."""
    model = distributed.synchronise_batch_norm(build_model(preset, kind, n_src), device, ranks).to(device)
    if device.type == "cuda" and isinstance(model, AudioSlots):
        model.encoder.to(memory_format=torch.channels_last)  # NHWC convolutions on tensor cores
    return model


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
        kind: one of :data:`~audioslots.runs.MODEL_KINDS`.

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
