"""Where training sits and when it leaves: trivial predictors, their losses and scores, and escape steps.

On real speech the AudioSlots loss stays for hundreds of steps near what a network earns by
predicting the same coarse picture of the mixture in every slot. These reference predictors put
numbers on that plateau and on the floors below it, on the crops a network trains on:

- ``constant``: one value for every cell of every slot (the targets' mean);
- ``coarse copy``: about the plateau's level, the same prediction in every slot, an average spectral
  profile ``p(f)`` (fitted by least squares to the targets) times the mixture's frame envelope
  ``e(t)`` (its mean compressed magnitude per frame);
- ``mixture halves``: the compressed spectrogram of half the mixture's waveform in every slot;
- ``scaled copy``: the mixture's compressed spectrogram times one least-squares scale, in every slot;
- ``mean of sources``: the mean of the true sources' compressed spectrograms in every slot, the
  best a network can do without telling the sources apart (the floor that separating crosses).

Every predictor but ``mean of sources`` sees only the mixture (and statistics fitted over the
crops); all of them put the same prediction in every slot, so their masks do not separate: the
Wiener-like mask gives each slot half of every bin, the IBM gives every bin to the first slot and
leaves the other silent, whichever the prediction. :func:`reference_losses` are their losses on
fresh training crops (the lines of a loss figure); :func:`crop_si_snri` scores any estimates of
single-chunk crops as the evaluation scores a chunk, and :func:`identical_slots_si_snri` scores
identical slots on whole test mixtures as :func:`audioslots.evaluation.scores.evaluate` scores a
network (the line of the compute figures). :func:`escape_step` reads the step at which a training
log falls below a level: :func:`leave_level` (the plateau left) or the floor (separation begun).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from audioslots.config import FeatureConfig, Preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError, DataError
from audioslots.evaluation.scores import check_finite
from audioslots.features import chunk, spectrogram
from audioslots.kinds import AUDIOSLOTS
from audioslots.loss import matched_mse
from audioslots.masks import MASKS
from audioslots.metrics import si_snri
from audioslots.separate import masked_sources, order_slots
from audioslots.training.batches import CropBatches

#: The reference predictors, from the weakest to the floor that separating crosses.
TRIVIAL_PREDICTORS = ("constant", "coarse copy", "mixture halves", "scaled copy", "mean of sources")
#: The predictor whose loss is the plateau's level, and the one whose loss is the separation floor.
PLATEAU, FLOOR = "coarse copy", "mean of sources"
#: The same prediction in every slot, what every reference predictor is at test time (where only its masks count).
IDENTICAL_SLOTS = "identical slots"
#: The file of ``experiments/plateau.py --summarise`` that holds :func:`identical_slots_si_snri` on the test mixtures.
REFERENCE_SCORES_CSV = "reference_scores.csv"
#: [choice] A run has left the plateau once its loss stays this fraction of the way from the
#: plateau's level down to the floor: networks sit just below the coarse copy for hundreds of
#: steps, so the coarse copy's own loss would count them out before they move.
LEAVE_FRACTION = 0.25


def leave_level(losses: dict[str, float]) -> float:
    """The loss below which a run has left the plateau, from :func:`trivial_losses` of its crops."""
    return losses[PLATEAU] - LEAVE_FRACTION * (losses[PLATEAU] - losses[FLOOR])


def pool_crops(dataset: LibriMix, preset: Preset) -> tuple[torch.Tensor, torch.Tensor]:
    """The crops a run with ``TrainConfig.crop_pool`` trains on (of AudioSlots' chunk length).

    Returns:
        ``(mixtures (pool, samples), sources (pool, n_src, samples))``.
    """
    cfg, samples = preset.train, preset.features.chunk_samples
    pool = CropBatches(dataset, 1, samples, cfg.seed, AUDIOSLOTS, crop_pool=cfg.crop_pool,
                       crop_speakers=cfg.crop_speakers, crop_span=cfg.crop_span).pool
    return _crops(dataset, zip(*pool), samples)


def held_out_crops(dataset: LibriMix, preset: Preset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n`` crops from the parts of the training mixtures a run with ``crop_span < 1`` never saw.

    One crop per mixture (of the run's speaker subset, if any), starting where its span ends;
    mixtures whose held-out part is shorter than a crop give none.

    Raises:
        DataError: if no mixture has a held-out part as long as a crop.
    """
    cfg, samples = preset.train, preset.features.chunk_samples
    batches = CropBatches(dataset, 1, samples, cfg.seed, AUDIOSLOTS, crop_speakers=cfg.crop_speakers)
    mixtures = batches.mixtures if batches.mixtures is not None else np.arange(len(dataset))
    starts = np.ceil(np.asarray(dataset.lengths)[mixtures] * cfg.crop_span).astype(np.int64)
    fits = starts + samples <= np.asarray(dataset.lengths)[mixtures]
    return _crops(dataset, list(zip(mixtures[fits], starts[fits]))[:n], samples)


def _crops(dataset: LibriMix, where, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    crops = [dataset.crop(int(index), int(offset), samples) for index, offset in where]
    if not crops:
        raise DataError(f"No crop of {samples} samples fits where asked in {dataset.metadata_path}: the mixtures "
                        "are too short for it; use a larger crop_span or longer mixtures.")
    return torch.stack([c.mixture for c in crops]), torch.stack([c.sources for c in crops])


@torch.no_grad()
def trivial_predictions(mixtures: torch.Tensor, sources: torch.Tensor,
                        features: FeatureConfig) -> dict[str, torch.Tensor]:
    """The reference predictions of :data:`TRIVIAL_PREDICTORS` for a set of crops.

    Args:
        mixtures: ``(crops, samples)`` waveforms.
        sources: ``(crops, n_src, samples)`` their sources.
        features: the preprocessing (compressed magnitudes of ``features.compress_power``).

    Returns:
        ``{name: (crops, n_src, freq, frames)}`` compressed magnitudes, the same in every slot.
    """
    mixture = spectrogram(mixtures, features)  # (B, F, T)
    target = spectrogram(sources, features)  # (B, n, F, T)
    n_src = target.shape[1]
    envelope = mixture.mean(dim=1)  # (B, T) frame envelope
    # p(f) minimising sum over b, j, t of (p(f) e_b(t) - y_bj(f, t))^2
    profile = torch.einsum("bt,bjft->f", envelope, target) / (n_src * envelope.square().sum())  # (F,)
    halves = spectrogram(mixtures / 2, features)  # (B, F, T)
    scale = (mixture[:, None] * target).sum() / (n_src * mixture.square().sum())
    every_slot = {
        "constant": target.mean().expand_as(mixture),
        "coarse copy": profile[None, :, None] * envelope[:, None, :],
        "mixture halves": halves,
        "scaled copy": scale * mixture,
        "mean of sources": target.mean(dim=1),
    }
    return {name: every_slot[name][:, None].expand_as(target) for name in TRIVIAL_PREDICTORS}


@torch.no_grad()
def trivial_losses(mixtures: torch.Tensor, sources: torch.Tensor, features: FeatureConfig) -> dict[str, float]:
    """The matched MSE (the training loss on the full grid) of each reference predictor on the crops."""
    target = spectrogram(sources, features)
    return {name: float(matched_mse(pred, target)[0])
            for name, pred in trivial_predictions(mixtures, sources, features).items()}


def reference_losses(dataset: LibriMix, preset: Preset, n: int = 256) -> dict[str, float]:
    """:func:`trivial_losses` on ``n`` fresh training crops of ``dataset``, drawn as a pool of ``n`` crops of
    ``preset``'s seed would be: where a network of ``preset`` that trains on the stream of fresh crops
    plateaus (``coarse copy``) and what separating crosses (``mean of sources``).

    Raises:
        ConfigError: if ``n`` is not a positive number of crops.
    """
    if n < 1:
        raise ConfigError(f"reference_losses needs at least one crop, got n={n}; use e.g. the default 256.")
    return trivial_losses(*pool_crops(dataset, replace(preset, crop_pool=n)), preset.features)


@torch.no_grad()
def crop_si_snri(predicted: torch.Tensor, mixtures: torch.Tensor, sources: torch.Tensor, features: FeatureConfig,
                 mask: str = "ibm") -> float:
    """Mean SI-SNRi (dB) of compressed estimates of single-chunk crops, slots in oracle order.

    Args:
        predicted: ``(crops, n_slots, freq, frames)`` compressed magnitudes (a network's output, or
            one of :func:`trivial_predictions`).
        mixtures: ``(crops, samples)``, each one chunk (``features.chunk_samples``).
        sources: ``(crops, n_src, samples)``.
        mask: ``ibm`` or ``wiener``.

    Returns:
        The mean over crops of the mean over sources of the SI-SNRi, as the evaluation scores a mixture.
    """
    scores = []
    for pred, mixture, truth in zip(predicted, mixtures, sources):
        estimates = order_slots(pred[None], features, order="oracle", sources=truth)  # (1, n, F, T) linear
        separated = masked_sources(estimates, mixture, features, mask=mask)  # (n, samples)
        scores.append(si_snri(separated, truth, mixture)[1].mean().item())
    return float(np.mean(scores))


def trivial_si_snri(mixtures: torch.Tensor, sources: torch.Tensor, features: FeatureConfig,
                    mask: str = "ibm") -> dict[str, float]:
    """:func:`crop_si_snri` of every reference predictor on the crops."""
    return {name: crop_si_snri(pred, mixtures, sources, features, mask)
            for name, pred in trivial_predictions(mixtures, sources, features).items()}


@torch.no_grad()
def identical_slots_si_snri(dataset: LibriMix, features: FeatureConfig, *, predictor: str = PLATEAU,
                            masks: tuple[str, ...] = MASKS, power: float = 2.0) -> pd.DataFrame:
    """Table 1's SI-SNRi of one reference predictor put in every slot of every chunk of whole test mixtures.

    Scored as :func:`audioslots.evaluation.scores.evaluate` scores an AudioSlots network: the paper's
    non-overlapping chunks of ``features.chunk_samples``, the slots of each chunk in the oracle order
    (:func:`~audioslots.separate.order_slots`), each mask on the mixture's STFT, the chunks stitched
    (:func:`~audioslots.separate.masked_sources`), the SI-SNRi averaged over the sources of a mixture and then
    over mixtures. The predictor is fitted to each mixture's chunks (:func:`trivial_predictions`); since its
    slots are identical, every predictor gives the same masks and the same scores.

    Args:
        dataset: whole test mixtures, each ``mixture`` ``(samples,)`` and ``sources`` ``(n_src, samples)``.
        features: the network's preprocessing (``chunk_seconds``, ``framing``, ``compress_power``).
        predictor: one of :data:`TRIVIAL_PREDICTORS`.
        masks: the masks to score (``ibm``, ``wiener``).
        power: the exponent of the Wiener-like mask.

    Returns:
        A frame with one row per mask and the columns ``mask``, ``si_snri`` (mean over mixtures, dB) and
        ``n_mixtures``.

    Raises:
        ConfigError: for an unknown predictor or mask.
        DataError: if a score is not finite (see :func:`~audioslots.evaluation.scores.check_finite`).
    """
    if predictor not in TRIVIAL_PREDICTORS:
        raise ConfigError(f"Unknown reference predictor {predictor!r}: choose one of {', '.join(TRIVIAL_PREDICTORS)}.")
    rows = []
    for index in range(len(dataset)):
        example = dataset[index]
        mixtures = chunk(example.mixture, features.chunk_samples)  # (chunks, chunk)
        sources = chunk(example.sources, features.chunk_samples).transpose(0, 1)  # (chunks, n_src, chunk)
        predicted = trivial_predictions(mixtures, sources, features)[predictor]  # (chunks, n_src, F, T)
        estimates = order_slots(predicted, features, order="oracle", sources=example.sources)  # linear
        for mask in masks:
            separated = masked_sources(estimates, example.mixture, features, mask=mask, power=power)  # (n_src, samples)
            snr, snri = si_snri(separated, example.sources, example.mixture)
            rows.append({"mixture_id": example.mixture_id, "mask": mask, "si_snr": snr.mean().item(),
                         "si_snri": snri.mean().item()})
    scores = pd.DataFrame(rows, columns=["mixture_id", "mask", "si_snr", "si_snri"])
    check_finite(scores)
    return (scores.groupby("mask", sort=False)
            .agg(si_snri=("si_snri", "mean"), n_mixtures=("mixture_id", "nunique")).reset_index())


def escape_step(steps, losses, level: float, patience: int = 2) -> int | None:
    """The first logged step whose loss, and the losses of the next ``patience`` logged windows, are below ``level``.

    Args:
        steps, losses: a training log's ``step`` and ``loss`` columns, in order.
        level: e.g. :func:`leave_level` (leaving the plateau) or the ``mean of sources`` loss
            (crossing the separation floor), on the crops the run trains on.
        patience: later windows that must stay below, so that one lucky batch does not count.

    Returns:
        The step, or ``None`` if the log never stays below ``level``.
    """
    below = np.asarray(losses, dtype=float) < level
    for index in range(len(below)):
        if below[index:index + patience + 1].all() and index + patience < len(below):
            return int(np.asarray(steps)[index])
    return None

