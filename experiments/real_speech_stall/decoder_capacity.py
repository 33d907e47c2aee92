"""Can the `cpu` preset's decoder represent real speech? The decoder alone fits source spectrograms from free slots.

No encoder: every source of one training batch (``--crops`` crops of two sources) gets its own
learned slot, layer-normalised, decoded by the preset's spatial broadcast decoder as the library
builds it. The slots and the decoder are trained together with the library's
:func:`audioslots.training.train_step` (which decodes the preset's fraction of the cells per step,
5 % for `cpu`) at a constant learning rate, always on that one batch. Every ``--log-every`` steps
the step's loss on the decoded cells and the MSE on the whole grid are printed and appended to
``OUT/decoder_capacity.csv`` (columns ``variant``, ``step``, ``sampled_loss``, ``full_grid_mse``).

Usage, from the repository root::

    .venv/bin/python experiments/real_speech_stall/decoder_capacity.py preset
    .venv/bin/python experiments/real_speech_stall/decoder_capacity.py fourier_time_scale=10,fourier_features=128 \\
        --set fourier_time_scale=10 --set fourier_features=128

Fields of the preset are set by ``--set KEY=VALUE`` (:func:`audioslots.config.parse_setting`);
``--overrides JSON`` takes the same settings as one JSON object.
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
from audioslots.config import replace
from audioslots.data.dataset import LibriMix
from audioslots.model import AudioSlots
from audioslots.training import CropBatches, model_config_for, train_step, training_loss

OUT = Path(__file__).resolve().parents[2] / "results" / "tuning" / "real_speech_stall"
KIND = "autoencoder"  # each source its own item: inputs (items, samples), targets (items, 1, samples)


class FreeSlots(nn.Module):
    """One learned slot per item of a fixed batch, decoded by ``decoder``: no encoder.

    Called as the library's networks are (``network(spectrogram, cells)``); the spectrogram gives
    only the grid's size, since item ``i`` of every batch is the same source.
    """

    def __init__(self, decoder: nn.Module, items: int, slot_dim: int):
        super().__init__()
        self.decoder = decoder
        self.slots = nn.Parameter(torch.randn(items, 1, slot_dim))

    def forward(self, spectrogram: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        slots = F.layer_norm(self.slots, self.slots.shape[-1:])  # (items, 1, slot_dim)
        return self.decoder(slots, spectrogram.shape[1], spectrogram.shape[2], cells)


def parse_args(argv=None) -> argparse.Namespace:
    parser = experiment_parser(__doc__, "the run's name in the CSV's variant column", OUT, "decoder_capacity.csv")
    parser.add_argument("--crops", type=int, default=32, help="training crops fitted (two sources each)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--learning-rate", type=float, default=5e-3, help="constant (no schedule)")
    parser.add_argument("--log-every", type=int, default=100)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    data, preset = start_experiment(args)
    whole_grid = replace(preset, decoded_cells=1.0)
    torch.manual_seed(preset.train.seed)
    batch = CropBatches(LibriMix(data, "train-360"), args.crops, preset.features.chunk_samples, preset.train.seed, KIND)
    inputs, targets = batch[0]  # (items, samples), (items, 1, samples)
    decoder = AudioSlots(model_config_for(preset, KIND, n_src=2)).decoder
    network = FreeSlots(decoder, len(inputs), preset.model.slot_dim)
    optimizer = torch.optim.Adam(network.parameters(), lr=args.learning_rate)
    rows = []
    for step in range(args.steps):
        loss, _ = train_step(network, optimizer, inputs, targets, preset, step, KIND)
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            with torch.no_grad():
                full_grid = training_loss(network, inputs, targets, whole_grid, step, KIND)
            rows.append([args.name, step + 1, round(loss.item(), 4), round(full_grid.item(), 4)])
            print(*rows[-1][1:], flush=True)
    path = args.out / "decoder_capacity.csv"
    new = not path.exists()
    args.out.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if new:
            writer.writerow(["variant", "step", "sampled_loss", "full_grid_mse"])
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
