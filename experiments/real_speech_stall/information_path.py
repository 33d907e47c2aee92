"""Which part of the autoencoder's path limits it? The `cpu` preset's autoencoder with parts of its path replaced.

Every probe maps a source's spectrogram to one slot and decodes it with the library's spatial
broadcast decoder; ``--path`` says what comes before the slot:

- ``full``: the library's encoder and slot transformer (the autoencoder as the library builds it);
- ``flat``: the library's ResNet, then its flattened grid → linear map → LayerNorm (no transformer);
  ``--bottleneck WIDTH`` puts a linear bottleneck of that width before the slot;
- ``raw``: the cropped spectrogram itself → linear map → LayerNorm (no network before the slot).

``--slot-skip`` also adds the slot, through its own linear map (zero at the start), to every hidden
layer of the decoder. Model fields go through ``--set KEY=VALUE`` (for instance
``--set feature_projection=per_row``, ``--set fourier_axes=separate`` or
``--set attn_dim=128 --set mlp_dim=256 --set attn_heads=8``; ``--overrides JSON`` takes the same
settings as one JSON object).

Each probe trains for ``--steps`` steps of the preset's schedule (warm-up, then cosine decay over
those steps) on the autoencoder's training batches (16 crops: 32 single sources), each step the
library's :func:`audioslots.training.train_step`. The mean training loss of every ``--log-every``
steps is appended to ``OUT/information_path.csv`` (columns ``variant``, ``step``, ``loss``).

Usage, from the repository root::

    .venv/bin/python experiments/real_speech_stall/information_path.py flat_axis --path flat \\
        --set fourier_axes=separate
    .venv/bin/python experiments/real_speech_stall/information_path.py full_cell_axis --path full \\
        --set feature_projection=per_cell --set fourier_axes=separate
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from audioslots.cli_options import experiment_parser, start_experiment
from audioslots.config import Preset, get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.model import (ENCODER_STRIDE, AudioSlots, SpatialBroadcastDecoder, crop_to_stride, encoder_grid,
                              fourier_features)
from audioslots.training import CropBatches, learning_rate, model_config_for, train_step, training_crops

OUT = Path(__file__).resolve().parents[2] / "results" / "tuning" / "real_speech_stall"
KIND = "autoencoder"  # one slot per source, fed that source


class Probe(nn.Module):
    """Spectrogram ``(batch, freq, frames)`` → ``to_slot`` → one slot → ``decoder`` → ``(batch, 1, freq, frames)``.

    Called as the library's networks are (``network(spectrogram, cells)``), so that the library's
    training step trains it.
    """

    def __init__(self, to_slot: nn.Module, decoder: nn.Module):
        super().__init__()
        self.to_slot, self.decoder = to_slot, decoder

    def forward(self, spectrogram: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        slots = self.to_slot(spectrogram)  # (batch, 1, slot_dim)
        return self.decoder(slots, spectrogram.shape[1], spectrogram.shape[2], cells)


class LibrarySlot(nn.Module):
    """The library's encoder and slot transformer: :meth:`AudioSlots.encode`."""

    def __init__(self, model: AudioSlots):
        super().__init__()
        self.model = model

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.model.encode(spectrogram)  # (batch, 1, slot_dim)


class LinearSlot(nn.Module):
    """A linear map of the flattened ResNet grid of ``model`` (``None``: of the cropped spectrogram
    itself), then LayerNorm; ``bottleneck`` puts a narrower linear map first."""

    def __init__(self, model: AudioSlots | None, in_features: int, slot_dim: int, bottleneck: int | None):
        super().__init__()
        self.model = model
        widths = [in_features] + ([bottleneck] if bottleneck else []) + [slot_dim]
        self.linear = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:])))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        if self.model is None:
            inputs = crop_to_stride(spectrogram)  # (batch, freq8, frames8)
        else:
            inputs = self.model.encoder_features(spectrogram)  # (batch, channels, rows, cols)
        slots = self.linear(inputs.flatten(1))  # (batch, slot_dim)
        return F.layer_norm(slots, slots.shape[-1:])[:, None]  # (batch, 1, slot_dim)


class SlotSkipDecoder(nn.Module):
    """The library's decoder with the slot also added, through its own linear map, to every hidden layer.

    The maps start at zero, so the probe starts as the library's decoder.
    """

    def __init__(self, decoder: SpatialBroadcastDecoder, slot_dim: int):
        super().__init__()
        self.decoder = decoder
        self.skips = nn.ModuleList(nn.Linear(slot_dim, layer.out_features, bias=False) for layer in decoder.hidden)
        for skip in self.skips:
            nn.init.zeros_(skip.weight)

    def forward(self, slots: torch.Tensor, n_freq: int, n_frames: int, cells: torch.Tensor | None = None):
        """Slots ``(batch, n, d)`` → ``(batch, n, n_freq, n_frames)``, or ``(batch, n, K, 1)`` at ``cells``."""
        batch, n, _ = slots.shape
        positions = fourier_features(n_freq, n_frames, self.decoder.fourier_matrix)  # (F*T, e)
        if cells is not None:
            positions = positions[cells]  # (K, e)
        h = F.relu(self.decoder.first_layer(slots, positions))  # (B, n, cells, hidden)
        for layer, skip in zip(self.decoder.hidden, self.skips):
            h = F.relu(layer(h) + skip(slots)[:, :, None, :])  # (B, n, cells, hidden)
        out = self.decoder.out(h)  # (B, n, cells, 1)
        return out if cells is not None else out.view(batch, n, n_freq, n_frames)


def build_probe(preset: Preset, path: str, bottleneck: int | None, slot_skip: bool) -> Probe:
    """The probe of ``path`` around a freshly initialised autoencoder of ``preset``."""
    model = AudioSlots(model_config_for(preset, KIND, n_src=2))
    slot_dim, features = preset.model.slot_dim, preset.features
    rows, cols = encoder_grid(features.n_freq, features.n_frames)
    if path == "full":
        to_slot = LibrarySlot(model)
    elif path == "flat":
        to_slot = LinearSlot(model, model.encoder.out_channels * rows * cols, slot_dim, bottleneck)
    else:
        to_slot = LinearSlot(None, rows * cols * ENCODER_STRIDE**2, slot_dim, bottleneck)  # the cropped cells
    decoder = SlotSkipDecoder(model.decoder, slot_dim) if slot_skip else model.decoder
    return Probe(to_slot, decoder)


def train_probe(network: nn.Module, preset: Preset, dataset: LibriMix, log_every: int) -> list[tuple[int, float]]:
    """Train with the library's step on the autoencoder's batches; ``(step, mean loss)`` every ``log_every`` steps."""
    config = preset.train
    batches = CropBatches(dataset, *training_crops(preset, KIND), config.seed, KIND)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    window, points = [], []
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        inputs, targets = batches[step]
        loss, _ = train_step(network, optimizer, inputs, targets, preset, step, KIND)
        window.append(loss.item())
        if (step + 1) % log_every == 0:
            points.append((step + 1, round(sum(window) / len(window), 4)))
            print(*points[-1], flush=True)
            window = []
    return points


def parse_args(argv=None) -> argparse.Namespace:
    parser = experiment_parser(__doc__, "the probe's name in the CSV's variant column", OUT, "information_path.csv")
    parser.add_argument("--path", choices=("full", "flat", "raw"), default="full", help="what comes before the slot")
    parser.add_argument("--bottleneck", type=int, help="(flat, raw) width of a linear bottleneck before the slot")
    parser.add_argument("--slot-skip", action="store_true", help="also add the slot to every hidden decoder layer")
    parser.add_argument("--steps", type=int, default=300, help="training steps (the schedule follows them)")
    parser.add_argument("--log-every", type=int, default=50, help="steps per point of the curve")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    data, preset = start_experiment(args, replace(get_preset("cpu"), steps=args.steps))
    preset = replace(preset, feature_grid=encoder_grid(preset.features.n_freq, preset.features.n_frames))
    torch.manual_seed(preset.train.seed)
    network = build_probe(preset, args.path, args.bottleneck, args.slot_skip)
    points = train_probe(network, preset, LibriMix(data, "train-360"), args.log_every)
    path = args.out / "information_path.csv"
    new = not path.exists()
    args.out.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if new:
            writer.writerow(["variant", "step", "loss"])
        writer.writerows([args.name, step, loss] for step, loss in points)
    return 0


if __name__ == "__main__":
    sys.exit(main())
