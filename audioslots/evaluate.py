"""Evaluation: the rows of Table 1 (PAPER.md, Evaluation).

:func:`evaluate` separates every mixture of a split with one system and scores it with both
masks; the result is a tidy table, one row per mixture × system × mask × chunk length.
:func:`table1` averages it into the paper's table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from audioslots.config import FeatureConfig, features_from_dict
from audioslots.data import LibriMix
from audioslots.errors import ConfigError
from audioslots.masks import MASKS
from audioslots.metrics import si_snri
from audioslots.separate import audioslots_estimates, autoencoder_estimates, masked_sources, oracle_estimates
from audioslots.train import load_model

SYSTEMS = ("Oracle", "Autoencoder", "AudioSlots")
METRIC_COLUMNS = ["mixture_id", "system", "order", "chunk_seconds", "mask", "si_snr", "si_snri", "n_src"]
TABLE1_COLUMNS = ["system", "chunk_seconds", "mask", "si_snr", "si_snri", "n_mixtures"]


def evaluate(
    system: str,
    dataset: LibriMix,
    features: FeatureConfig,
    *,
    model: torch.nn.Module | None = None,
    masks: tuple[str, ...] = MASKS,
    power: float = 2.0,
    order: str = "oracle",
    progress: bool = True,
) -> pd.DataFrame:
    """Score one system on every mixture of ``dataset``.

    Args:
        system: ``Oracle`` (no model), ``Autoencoder`` or ``AudioSlots`` (a trained ``model``).
        dataset: whole test utterances.
        features: the preprocessing, including ``chunk_seconds``.
        masks: mask kinds to score (the estimates are computed once and reused).
        power: exponent of the Wiener-like mask.
        order: how AudioSlots' slots are ordered per chunk (``oracle`` as in the paper, or ``continuity``).

    Returns:
        Tidy frame with columns ``METRIC_COLUMNS``; ``si_snr`` and ``si_snri`` are means over the
        sources of the mixture (dB), after matching estimates to references.
    """
    if system not in SYSTEMS:
        raise ConfigError(f"Unknown system {system!r}: choose one of {', '.join(SYSTEMS)}.")
    if (model is None) != (system == "Oracle"):
        raise ConfigError(f"System {system} {'needs' if model is None else 'takes no'} trained model.")
    rows = []
    for index in tqdm(range(len(dataset)), desc=f"evaluate {system} {features.chunk_seconds:g} s", disable=not progress):
        example = dataset[index]
        if system == "Oracle":
            estimates = oracle_estimates(example.sources, features)
        elif system == "Autoencoder":
            estimates = autoencoder_estimates(model, example.sources, features)
        else:
            estimates = audioslots_estimates(model, example.mixture, features, order=order, sources=example.sources)
        for mask in masks:
            separated = masked_sources(estimates, example.mixture, features, mask=mask, power=power)
            snr, snri = si_snri(separated, example.sources, example.mixture)
            rows.append({
                "mixture_id": example.mixture_id, "system": system,
                "order": order if system == "AudioSlots" else "given",
                "chunk_seconds": features.chunk_seconds, "mask": mask,
                "si_snr": snr.mean().item(), "si_snri": snri.mean().item(), "n_src": len(example.sources),
            })
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: LibriMix,
    *,
    order: str = "oracle",
    power: float = 2.0,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`evaluate` with the model, system name and chunk length read from a checkpoint."""
    model, config = load_model(checkpoint, device)
    system = "Autoencoder" if config["model_kind"] == "autoencoder" else "AudioSlots"
    features = features_from_dict(config["preset"]["features"])
    if features.sample_rate != dataset.sample_rate:
        raise ConfigError(
            f"{checkpoint} was trained at {features.sample_rate} Hz but the data is {dataset.sample_rate} Hz; "
            "use the matching --sample-rate."
        )
    return evaluate(system, dataset, features, model=model, power=power, order=order, progress=progress)


def oracle_features(features: FeatureConfig, chunk_seconds: float) -> FeatureConfig:
    return dataclasses.replace(features, chunk_seconds=chunk_seconds)


def table1(metrics: pd.DataFrame) -> pd.DataFrame:
    """Means over mixtures (each already a mean over its sources), one row per system × chunk × mask."""
    keys = ["system", "order", "chunk_seconds", "mask"]
    summary = (
        metrics.groupby(keys, sort=False)
        .agg(si_snr=("si_snr", "mean"), si_snri=("si_snri", "mean"), n_mixtures=("mixture_id", "nunique"))
        .reset_index()
    )
    # The paper's rows use oracle stitching; ground-truth-free stitching gets its own label.
    free = summary["order"] == "continuity"
    summary.loc[free, "system"] = summary.loc[free, "system"] + " (no oracle order)"
    return summary[TABLE1_COLUMNS]


def confidence_interval(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(stats.sem(values) * stats.t.ppf(0.5 + level / 2, len(values) - 1))


def table1_with_ci(metrics: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """:func:`table1` plus the half-width of the confidence interval of each mean over mixtures."""
    out = table1(metrics)
    keys = ["system", "order", "chunk_seconds", "mask"]
    ci = (
        metrics.groupby(keys, sort=False)
        .agg(si_snr_ci=("si_snr", lambda v: confidence_interval(v, level)),
             si_snri_ci=("si_snri", lambda v: confidence_interval(v, level)))
        .reset_index(drop=True)
    )
    return pd.concat([out, ci], axis=1)
