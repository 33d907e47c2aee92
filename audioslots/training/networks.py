"""The networks training builds, what they train on, and the loss of one training step.

Each is the business of the network's kind (:mod:`audioslots.kinds`): AudioSlots with one slot per
source, its autoencoder with one slot fed a single source, and the Conv-TasNet peer on waveforms.
The functions here take a kind or its name (``"audioslots"``), as runs record it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from audioslots.config import ModelConfig, Preset
from audioslots.errors import CheckpointError
from audioslots.kinds import Kind, decoded_cells, kind_of  # noqa: F401  (decoded_cells: part of training's API)
from audioslots.model import AudioSlots
from audioslots.training import distributed
from audioslots.training.checkpoints import load_checkpoint, preset_from_dict


def model_config_for(preset: Preset, kind: str | Kind, n_src: int) -> ModelConfig:
    """The network of ``kind``: AudioSlots has one slot per source, the autoencoder one slot."""
    return kind_of(kind).model_config(preset, n_src)


def build_model(preset: Preset, kind: str | Kind, n_src: int) -> torch.nn.Module:
    """A freshly initialised network of ``kind`` (one of :data:`~audioslots.kinds.MODEL_KINDS`) for ``n_src`` sources."""
    return kind_of(kind).build(preset, n_src)


def training_network(preset: Preset, kind: Kind, n_src: int, device: torch.device,
                     ranks: distributed.Ranks) -> torch.nn.Module:
    """:func:`build_model` as a training process uses it: BatchNorm over the global batch under
    torchrun on CUDA, on ``device``, and on CUDA the encoder's convolutions in channels-last layout."""
    model = distributed.synchronise_batch_norm(kind.build(preset, n_src), device, ranks).to(device)
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


def training_crops(preset: Preset, kind: str | Kind) -> tuple[int, int]:
    """``(crops per batch, samples per crop)`` of the training batches of ``kind``.

    AudioSlots and the autoencoder train on crops of the chunk length (``TrainConfig.batch_for``);
    Conv-TasNet on its own crops (``ConvTasNetConfig.crop_seconds``), as many as hold the seconds
    of audio of an AudioSlots batch of the preset.
    """
    return kind_of(kind).training_crops(preset)


def training_loss(network: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                  step: int, kind: str | Kind = "audioslots") -> torch.Tensor:
    """The forward pass of training step ``step``: the matched MSE of one batch (under the caller's autocast);
    for Conv-TasNet the matched negative SI-SNR of its waveforms (:func:`~audioslots.loss.matched_neg_si_snr`).

    Args:
        network: the network of ``kind``, on the device of ``inputs``.
        inputs: ``(batch, samples)`` mixtures (the autoencoder: single sources).
        targets: ``(batch, n, samples)`` their sources.
        preset: the run's features and training options (``decoded_cells``).
        step: decides which grid cells are decoded (:func:`~audioslots.kinds.decoded_cells`).
        kind: one of :data:`~audioslots.kinds.MODEL_KINDS`, or a kind.

    Returns:
        The 0-d loss, float32.
    """
    return kind_of(kind).training_loss(network, inputs, targets, preset, step)
