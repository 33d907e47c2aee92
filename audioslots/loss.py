"""Permutation-invariant training loss: Hungarian matching, then MSE (paper, pipeline 4).

The slots come out in no fixed order. For every item the predicted spectrograms are matched to
the target spectrograms by the assignment with the smallest total MSE (Hungarian algorithm, as
DETR's matcher), and the loss is the MSE between matched pairs, in the compressed-magnitude
domain. Matching is done without gradients; the gradient flows through the matched MSE only.

The waveform peer (Conv-TasNet, not in the paper) is trained the same way with negative SI-SNR
in place of the MSE (:func:`matched_neg_si_snr`).
"""

from __future__ import annotations

import torch

from audioslots.errors import ConfigError
from audioslots.matching import pit
from audioslots.metrics import pairwise_si_snr, si_snr


@torch.no_grad()
def pairwise_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between every predicted and every target spectrogram of an item.

    Args:
        pred: ``(batch, n_pred, freq, frames)``.
        target: ``(batch, n_target, freq, frames)``.

    Returns:
        ``(batch, n_pred, n_target)`` float32; entry ``[b, i, j]`` is the MSE of prediction ``i``
        against target ``j`` of item ``b``.
    """
    pred = pred.float()[:, :, None]  # (B, n_pred, 1, F, T)
    target = target.float()[:, None, :]  # (B, 1, n_target, F, T)
    return (pred - target).square().mean(dim=(-2, -1))  # (B, n_pred, n_target)


def matched_mse(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE between predictions and targets after the best (Hungarian) matching of each item.

    Args:
        pred: ``(batch, n, freq, frames)`` model output, in any slot order.
        target: ``(batch, n, freq, frames)`` ground-truth compressed magnitudes.

    Returns:
        ``(loss, perm)``: the scalar float32 loss (mean over items, sources and cells; the
        gradient flows to ``pred``) and the ``(batch, n)`` matching of :func:`audioslots.matching.hungarian`.

    Raises:
        ConfigError: if the numbers of predicted and target sources, or the grids, differ.
    """
    if pred.shape != target.shape:
        raise ConfigError(
            f"The model predicts spectrograms shaped {tuple(pred.shape)} but the targets are "
            f"{tuple(target.shape)} (batch, sources, freq, frames): set n_slots to the number of "
            "sources in the data and use the same features for both."
        )
    matched, perm = pit(pairwise_mse, pred, target)  # (B, n, F, T), matched[b, j] = pred[b, perm[b, j]]
    loss = (matched.float() - target.float()).square().mean()
    return loss, perm


def matched_neg_si_snr(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative SI-SNR after the best (Hungarian) matching of each item: permutation-invariant
    training of a waveform network (Conv-TasNet, Luo & Mesgarani 2019), for any number of sources.

    The matching maximises the total SI-SNR of an item, as the evaluation's does
    (:func:`audioslots.metrics.permutation_si_snr`); it is found without gradients.

    Args:
        pred: ``(batch, n, samples)`` estimated waveforms, in any order.
        target: ``(batch, n, samples)`` reference waveforms.

    Returns:
        ``(loss, perm)``: the scalar loss, minus the mean SI-SNR in dB of the matched pairs (the
        gradient flows to ``pred``), and the ``(batch, n)`` matching of :func:`audioslots.matching.hungarian`.

    Raises:
        ConfigError: if the numbers of estimated and reference sources, or the lengths, differ.
    """
    if pred.shape != target.shape:
        raise ConfigError(
            f"The model estimates waveforms shaped {tuple(pred.shape)} but the references are "
            f"{tuple(target.shape)} (batch, sources, samples): build it with one output per source."
        )
    matched, perm = pit(pairwise_si_snr, pred, target, maximize=True)  # (B, n, samples) in target order
    return -si_snr(matched, target).mean(), perm
