"""The networks, inspected rather than run: their sizes, forward FLOPs, tensor shapes and training costs.

Everything is counted on the meta device (nothing is allocated) or read from a run's provenance, so
that the paper-size network can be described on a laptop.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from audioslots.config import FeatureConfig, ModelConfig, get_preset
from audioslots.kinds import AUDIOSLOTS, AUDIOSLOTS_ROW, AUTOENCODER, kind_of
from audioslots.model import AudioSlots, SlotTransformer, count_parameters
from audioslots import provenance
from audioslots.training import preset_from_dict


def model_summary(preset_names: list[str], n_src: int = 2) -> pd.DataFrame:
    """Parameters and forward FLOPs on one chunk of each network of each preset (counted, not estimated)."""
    rows = []
    for name in preset_names:
        preset = get_preset(name)
        for kind in (AUDIOSLOTS, AUTOENCODER):
            with torch.device("meta"):
                # .to("meta") also moves the Fourier matrix, which is always drawn on the CPU.
                model = AudioSlots(kind.model_config(preset, n_src)).to("meta").eval()
                x = torch.zeros(1, preset.features.n_freq, preset.features.n_frames)
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(x)
            rows.append({"preset": name, "network": kind.name, "parameters (M)": count_parameters(model) / 1e6,
                         "GFLOPs per 0.5 s chunk": counter.get_total_flops() / 1e9,
                         "encoder (M)": count_parameters(model.encoder) / 1e6,
                         "transformer (M)": count_parameters(model.transformer) / 1e6,
                         "decoder (M)": count_parameters(model.decoder) / 1e6})
    return pd.DataFrame(rows).round(3)


def transformer_sizes() -> pd.DataFrame:
    """Parameters of the paper-size slot transformer: our reading versus a literal 4096-wide one.

    The paper gives the queries (and slots) dimension 4096 but no attention width. Read
    literally, the whole transformer is 4096 wide; we run attention at 512 and project the
    queries and slots (see the Deviations page). Counted on the meta device, nothing allocated.
    """
    paper = get_preset("paper").model
    readings = {"ours: attention 512 wide, slots 4096": (paper.attn_dim, paper.mlp_dim),
                "literal: everything 4096 wide": (paper.slot_dim, 4 * paper.slot_dim)}
    rows = []
    for reading, (attn_dim, mlp_dim) in readings.items():
        with torch.device("meta"):
            transformer = SlotTransformer(paper.n_slots, paper.slot_dim, 8 * paper.resnet_width, attn_dim,
                                          paper.attn_heads, mlp_dim, paper.transformer_layers)
        rows.append({"reading": reading, "attention width": attn_dim, "MLP width": mlp_dim,
                     "parameters (M)": count_parameters(transformer) / 1e6})
    return pd.DataFrame(rows).round(2)


def architecture_shapes(model_config: ModelConfig, features: FeatureConfig, n_src: int | None = None) -> list[tuple[str, str, tuple]]:
    """The tensor shapes along AudioSlots for one chunk, traced through the model (meta device).

    Args:
        model_config: the network's :class:`~audioslots.config.ModelConfig`.
        features: the chunk length and STFT (:class:`~audioslots.config.FeatureConfig`).
        n_src: slots; ``None`` keeps ``model_config.n_slots``.

    Returns:
        ``(stage, what it is, shape)`` per stage, batch dimension dropped, from the compressed
        spectrogram to the predicted spectrograms.
    """
    if n_src is not None:
        model_config = dataclasses.replace(model_config, n_slots=n_src)
    with torch.device("meta"):
        model = AudioSlots(model_config).to("meta").eval()
        x = torch.zeros(1, features.n_freq, features.n_frames)
    with torch.no_grad():
        z = model.encoder_features(x)  # (1, C, F/8, T/8)
        slots = model.transformer(z)  # (1, n, d)
        out = model.decoder(slots, features.n_freq, features.n_frames)  # (1, n, F, T)
    stride = x.shape[1] // z.shape[2]
    return [
        ("STFT, |X|^0.3", f"{features.chunk_seconds:g} s chunk, (freq, frames)", tuple(x.shape[1:])),
        ("encoder input", f"cropped to a multiple of {stride}", (1, (x.shape[1] // stride) * stride,
                                                                (x.shape[2] // stride) * stride)),
        ("ResNet grid z", "(channels, freq cells, time cells)", tuple(z.shape[1:])),
        ("slot transformer", f"{model_config.transformer_layers} layers, learned queries", tuple(slots.shape[1:])),
        ("broadcast decoder", "slot + Fourier features per cell", (slots.shape[1], features.n_freq * features.n_frames,
                                                                    slots.shape[2] + 2 * model_config.fourier_features)),
        ("spectrograms", "one per slot, (slots, freq, frames)", tuple(out.shape[1:])),
    ]


#: The paper's training data (paper, evaluation), for sentences that compare ours with it. The 364 h are the
#: paper's own figure, that of LibriSpeech train-clean-360; Libri2Mix train-360 in min mode (each mixture cut
#: to its shorter utterance), which our GPU recipe uses, holds about 212 h by LibriMix's own table.
PAPER_TRAINING_DATA = ("Libri2Mix train-360, 364 h by the paper's own figure, that of LibriSpeech train-clean-360; "
                       "Libri2Mix train-360 in min mode, which our GPU recipe uses, is about 212 h by LibriMix's own table")


def paper_training_flop(paper_compute_csv: str | Path = "results/paper_compute.csv",
                        row: str = AUDIOSLOTS_ROW) -> float | None:
    """FLOPs of the paper's whole training of one network (its 300 000 steps × the counted FLOPs of a step).

    Read from ``results/paper_compute.csv`` (``scripts/paper_compute.py``); ``None`` if it is missing.
    """
    path = Path(paper_compute_csv)
    if not path.exists():
        return None
    table = pd.read_csv(path).set_index("paper_row")
    return float(table.loc[row, "train_flop"]) if row in table.index else None


def trained_networks(run_dir: str | Path) -> pd.DataFrame:
    """One row per network a run trained, from its provenance: what it is and what its training cost.

    Columns ``run`` (e.g. ``audioslots_0.5s``), ``network`` (``audioslots``/``autoencoder``/…),
    ``preset``, ``parameters``, ``steps``, ``batch``, ``train_flop`` (total training FLOPs as the
    run recorded them; nan where it recorded none) and ``training mixtures``.
    """
    rows = []
    info = provenance.load(run_dir)
    for section in sorted(k for k in info if k.startswith("train:")):
        run = info[section]
        preset = preset_from_dict(run["preset"])
        kind = kind_of(run.get("model_kind", AUDIOSLOTS.name))
        n_src = run.get("data", {}).get("config", {}).get("n_src", 2)
        with torch.device("meta"):
            parameters = count_parameters(kind.build(preset, n_src))
        mixtures = run.get("data", {}).get("config", {}).get("mixtures", {}).get("train-360")
        rows.append({"run": section.removeprefix("train:"), "network": kind.name, "preset": preset.name,
                     "parameters": parameters, "steps": run["steps"],
                     "batch": run.get("batch_size", preset.train.batch_size),
                     "train_flop": float(run.get("train_flop", np.nan)),
                     "training mixtures": mixtures})
    return pd.DataFrame(rows)
