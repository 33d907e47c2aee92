"""Chunk boundaries: where in a chunk the paper's pipeline loses signal, under each STFT framing.

The paper separates non-overlapping chunks and names the boundaries between them as a
limitation; its Oracle row — ground-truth magnitudes through the same pipeline — is about 1 dB
better with 1 s chunks than with 0.5 s ones. :func:`error_by_position` measures the error of the
pipeline at every sample position of a chunk, averaged over all chunks of a data set, so that the
cause is visible: with ``pad-end`` framing (``tf.signal``) the first ``n_fft - hop`` samples of
every chunk are covered by fewer STFT frames than the inverse assumes; ``centred`` framing has no
such zone. A 0.5 s chunk has twice the share of such samples a 1 s chunk has.
:func:`audioslots.reporting.plots.chunk_error_profile` draws the profile.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from audioslots.config import FeatureConfig
from audioslots.data.dataset import LibriMix
from audioslots.features import chunk, istft, stft
from audioslots.kinds import ORACLE
from audioslots.separate import masked_sources, oracle_estimates

#: What :func:`error_by_position` measures: the mixture through STFT and inverse alone, and the
#: Oracle system (ground-truth magnitudes → Wiener-like masks on the mixture → inverse STFT).
PIPELINES = {"round trip": "STFT → inverse STFT of the mixture", ORACLE.system: "Oracle separation, Wiener-like mask"}


def error_by_position(dataset: LibriMix, features: FeatureConfig, framings=("pad-end", "centred"),
                      max_mixtures: int | None = None) -> pd.DataFrame:
    """Relative squared error at each sample position of a chunk, over every whole chunk of ``dataset``.

    Args:
        dataset: mixtures and their sources.
        features: chunk length and STFT; ``framing`` is replaced by each of ``framings``.
        max_mixtures: use only the first this many mixtures.

    Returns:
        A long frame with the columns ``framing``, ``pipeline`` (a key of :data:`PIPELINES`), ``position`` (sample
        index in the chunk), ``position_ms``, ``error_db`` = 10 log10(Σ error² / Σ reference²) over
        all chunks and sources at that position.
    """
    n = len(dataset) if max_mixtures is None else min(max_mixtures, len(dataset))
    size = features.chunk_samples
    rows = []
    for framing in framings:
        config = dataclasses.replace(features, framing=framing)
        error = {p: torch.zeros(size, dtype=torch.float64) for p in PIPELINES}
        power = {p: torch.zeros(size, dtype=torch.float64) for p in PIPELINES}
        for index in range(n):
            example = dataset[index]
            whole = example.mixture.shape[-1] // size  # the zero-padded last chunk would dilute the profile
            if whole == 0:
                continue
            mixture_chunks = chunk(example.mixture, size)[:whole]  # (chunks, size)
            round_trip = istft(stft(mixture_chunks, config), config, size)
            error["round trip"] += (round_trip - mixture_chunks).double().pow(2).sum(0)
            power["round trip"] += mixture_chunks.double().pow(2).sum(0)
            separated = masked_sources(oracle_estimates(example.sources, config), example.mixture, config, mask="wiener")
            estimate = chunk(separated, size)[:, :whole]  # (n_src, chunks, size)
            reference = chunk(example.sources, size)[:, :whole]
            error[ORACLE.system] += (estimate - reference).double().pow(2).sum((0, 1))
            power[ORACLE.system] += reference.double().pow(2).sum((0, 1))
        for pipeline in PIPELINES:
            db = 10 * torch.log10(error[pipeline].clamp_min(1e-30) / power[pipeline].clamp_min(1e-30))
            rows.append(pd.DataFrame({"framing": framing, "pipeline": pipeline, "position": np.arange(size),
                                      "position_ms": np.arange(size) / config.sample_rate * 1000,
                                      "error_db": db.numpy()}))
    return pd.concat(rows, ignore_index=True)


def edge_summary(profile: pd.DataFrame, features: FeatureConfig) -> pd.DataFrame:
    """Mean error (dB of the mean ratio) in the first ``n_fft - hop`` samples of a chunk and after them.

    Also the share of a chunk's samples in that edge zone, for this chunk length and for twice it.
    """
    edge = features.n_fft - features.hop_samples
    out = []
    for (framing, pipeline), group in profile.groupby(["framing", "pipeline"], sort=False):
        ratio = 10 ** (group["error_db"].to_numpy() / 10)
        out.append({"framing": framing, "pipeline": pipeline,
                    f"first {edge} samples (dB)": 10 * np.log10(ratio[:edge].mean()),
                    "rest of the chunk (dB)": 10 * np.log10(ratio[edge:].mean())})
    return pd.DataFrame(out)


def edge_share(features: FeatureConfig, chunk_seconds: float) -> float:
    """Share of a chunk's samples that lie in the ``n_fft - hop`` edge zone (pad-end framing)."""
    return (features.n_fft - features.hop_samples) / round(chunk_seconds * features.sample_rate)
