"""Evaluation: the rows of Table 1 (paper, evaluation).

:func:`evaluate` separates every mixture of a split with one system and scores it with both
masks; the result is a tidy table, one row per mixture × system × mask × chunk length.
:func:`table1` averages it into the paper's table.

Conv-TasNet, the waveform peer (not in the paper, :mod:`audioslots.convtasnet`), is scored the
same way on the same mixtures; it masks no STFT (mask ``none``) and separates whole mixtures
(``chunk_seconds`` 0) unless asked for chunks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm.auto import tqdm

from audioslots.config import FeatureConfig, features_from_dict
from audioslots.convtasnet import WHOLE
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError, DataError
from audioslots.features import chunk_hop
from audioslots.kinds import kind_of, system_kind
from audioslots.masks import MASKS
from audioslots.metrics import is_silent, si_snri
from audioslots.runs import NO_ORACLE_ORDER, row_label
from audioslots.training import load_model

#: ``n_silent``: how many of the mixture's estimates are silent (:func:`audioslots.metrics.is_silent`),
#: each scored -80 dB; NaN in metrics written before they were counted.
METRIC_COLUMNS = ["mixture_id", "system", "order", "chunk_seconds", "framing", "chunk_overlap", "mask",
                  "si_snr", "si_snri", "n_src", "n_silent"]
TABLE1_COLUMNS = ["system", "chunk_seconds", "framing", "chunk_overlap", "mask", "si_snr", "si_snri", "n_mixtures",
                  "n_silent"]
#: Mixtures whose chunks go through the network together (one forward pass per batch of chunks).
MIXTURES_PER_BATCH = 16


def evaluate(
    system: str,
    dataset: LibriMix,
    features: FeatureConfig,
    *,
    model: torch.nn.Module | None = None,
    masks: tuple[str, ...] = MASKS,
    power: float = 2.0,
    orders: tuple[str, ...] = ("oracle",),
    chunk_overlap: float = 0.0,
    progress: bool = True,
) -> pd.DataFrame:
    """Score one system on every mixture of ``dataset``.

    The chunks of :data:`MIXTURES_PER_BATCH` mixtures go through the network together, on the
    model's device; each prediction is computed once and reused for every slot order and mask.
    How a system separates is its kind's business (:meth:`audioslots.kinds.Kind.separated`).

    Args:
        system: ``Oracle`` (no model), ``Autoencoder``, ``AudioSlots`` or ``ConvTasNet`` (a trained ``model``),
            or the system of another registered kind (:data:`audioslots.kinds.KINDS`).
        dataset: whole test utterances.
        features: the preprocessing, including ``chunk_seconds`` and ``framing``. For ``ConvTasNet``
            only ``chunk_seconds`` counts: :data:`~audioslots.convtasnet.WHOLE` (0) separates whole
            mixtures, a length separates chunks put in the ground truth's order.
        masks: mask kinds to score (``ConvTasNet`` is scored once, as :data:`~audioslots.convtasnet.NO_MASK`).
        power: exponent of the Wiener-like mask.
        orders: how AudioSlots' slots are ordered per chunk (``oracle`` as in the paper, and/or
            ``continuity``); the other systems have their sources' order.
        chunk_overlap: fraction of a chunk that consecutive chunks share (0: the paper's
            non-overlapping chunks; 0.5: cross-faded half-overlapping chunks).

    Returns:
        Tidy frame with columns ``METRIC_COLUMNS``; ``si_snr`` and ``si_snri`` are means over the
        sources of the mixture (dB), after matching estimates to references.

    Raises:
        DataError: a mixture or source is unusable (see :class:`~audioslots.data.dataset.LibriMix`), or a
            score is not finite; nothing is returned then.
    """
    kind = system_kind(system)
    if (model is None) == kind.trains_network:
        raise ConfigError(f"System {system} {'needs' if model is None else 'takes no'} trained model.")
    kind.check_chunk_overlap(chunk_overlap)
    hop = chunk_hop(features.chunk_samples, chunk_overlap)
    framing = kind.scored_framing(features)
    rows = []
    bar = tqdm(total=len(dataset), desc=f"evaluate {system} {features.chunk_seconds:g} s", disable=not progress)
    for first in range(0, len(dataset), MIXTURES_PER_BATCH):
        examples = [dataset[i] for i in range(first, min(first + MIXTURES_PER_BATCH, len(dataset)))]
        by_example = kind.separated(model, examples, features, orders=tuple(orders), masks=masks, power=power,
                                    hop_samples=hop)
        for example, separated_by in zip(examples, by_example):
            for (order, mask), separated in separated_by.items():
                snr, snri = si_snri(separated, example.sources, example.mixture)
                rows.append({
                    "mixture_id": example.mixture_id, "system": system, "order": order,
                    "chunk_seconds": features.chunk_seconds, "framing": framing,
                    "chunk_overlap": chunk_overlap, "mask": mask,
                    "si_snr": snr.mean().item(), "si_snri": snri.mean().item(), "n_src": len(example.sources),
                    "n_silent": int(is_silent(separated).sum()),
                })
            bar.update(1)
    bar.close()
    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    check_finite(metrics)
    return metrics


def check_finite(metrics: pd.DataFrame) -> None:
    """Refuse NaN or infinite scores: a mean must never skip a mixture silently."""
    bad = metrics[~np.isfinite(metrics[["si_snr", "si_snri"]].to_numpy(dtype=float)).all(axis=1)]
    if len(bad):
        ids = ", ".join(sorted(set(bad["mixture_id"].astype(str)))[:5])
        raise DataError(f"{len(bad)} score(s) are NaN or infinite (mixtures {ids}); check those files "
                        "(silent or corrupt audio) — no mean is taken over a partial set.")


def load_metrics(run_dir: str | Path) -> pd.DataFrame:
    """All per-mixture metrics of a run (``run_dir/metrics/*.csv``), with a ``label`` column naming the
    row of Table 1 (:func:`audioslots.runs.row_label`)."""
    files = sorted((Path(run_dir) / "metrics").glob("*.csv"))
    metrics = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    check_finite(metrics)
    metrics["label"] = [row_label(*row) for row in zip(metrics["system"], metrics["chunk_seconds"], metrics["framing"],
                                                       metrics["chunk_overlap"], metrics["order"])]
    return metrics


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: LibriMix,
    *,
    orders: tuple[str, ...] = ("oracle",),
    power: float = 2.0,
    framing: str | None = None,
    chunk_overlap: float = 0.0,
    chunk_seconds: float | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`evaluate` with the model, system name and features read from a checkpoint.

    ``framing`` overrides the checkpoint's STFT framing (``None`` keeps it). ``chunk_seconds``
    applies to a network of any chunk length only (Conv-TasNet, :attr:`audioslots.kinds.Kind.any_chunk_length`):
    ``None`` separates whole mixtures, a length chunks of it (an AudioSlots checkpoint fixes its own
    chunk length).
    """
    model, config = load_model(checkpoint, device)
    kind = kind_of(config["model_kind"])
    features = features_from_dict(config["preset"]["features"])
    if framing is not None:
        features = dataclasses.replace(features, framing=framing)
    if kind.any_chunk_length:
        features = dataclasses.replace(features, chunk_seconds=chunk_seconds or WHOLE)
    elif chunk_seconds is not None:
        raise ConfigError(f"{checkpoint} is a {kind.system} network, which fixes its own chunk length; "
                          "a chunk length applies to a Conv-TasNet checkpoint only.")
    if features.sample_rate != dataset.sample_rate:
        raise ConfigError(
            f"{checkpoint} was trained at {features.sample_rate} Hz but the data is {dataset.sample_rate} Hz; "
            "use the matching --sample-rate."
        )
    return evaluate(kind.system, dataset, features, model=model, power=power, orders=orders,
                    chunk_overlap=chunk_overlap, progress=progress)


def _keys(metrics: pd.DataFrame) -> list[str]:
    # Committed runs scored before silent estimates were counted do not know their count
    # (tests/evaluation/test_evaluate.py shows which).
    if "n_silent" not in metrics:
        metrics["n_silent"] = np.nan
    return [k for k in ("label", "data", "system", "order", "chunk_seconds", "framing", "chunk_overlap", "mask") if k in metrics]


def table1(metrics: pd.DataFrame) -> pd.DataFrame:
    """Means over mixtures (each already a mean over its sources), one row per data × system × chunk ×
    framing × overlap × mask. Refuses NaN scores rather than averaging over the others."""
    metrics = metrics.copy()
    check_finite(metrics)
    keys = _keys(metrics)
    summary = (
        metrics.groupby(keys, sort=False)
        .agg(si_snr=("si_snr", "mean"), si_snri=("si_snri", "mean"), n_mixtures=("mixture_id", "nunique"),
             n_silent=("n_silent", lambda v: v.sum(min_count=1)))
        .reset_index()
    )
    # The paper's rows use oracle stitching; ground-truth-free stitching gets its own label.
    free = summary["order"] == "continuity"
    summary.loc[free, "system"] = summary.loc[free, "system"] + NO_ORACLE_ORDER
    return summary[[c for c in ("label", "data") if c in summary] + TABLE1_COLUMNS]


def confidence_interval(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(stats.sem(values) * stats.t.ppf(0.5 + level / 2, len(values) - 1))
