"""Scale-invariant SNR and its improvement, after matching estimates to references.

The paper's evaluation: SI-SNR (Le Roux et al. 2019) with ``α = yᵀŷ / ‖y‖²``,
``SI-SNR(y, ŷ) = 10 log10(‖αy‖² / ‖αy − ŷ‖²)``; SI-SNRi subtracts the SI-SNR of the unprocessed
mixture used as the estimate of each source; estimates are first matched to references so as
to maximise SI-SNR.

All functions are batched over any leading dimensions and keep the input's device; only
the matching visits the CPU (for the assignment solver, :func:`audioslots.matching.hungarian`).
"""

from __future__ import annotations

import math

import torch
from audioslots.errors import DataError
from audioslots.matching import hungarian


def si_snr(
    estimate: torch.Tensor, reference: torch.Tensor, zero_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Scale-invariant signal-to-noise ratio in dB.

    [choice] ``zero_mean=True`` subtracts each signal's mean first, as Le Roux et al. (2019)
    do; the formula in the paper does not show that step.

    Args:
        estimate: ``(..., samples)`` the estimate ``ŷ``.
        reference: ``(..., samples)`` the target ``y``; leading dimensions broadcast.
        zero_mean: remove the mean of both signals before comparing them.
        eps: added to both energies so that silent signals give finite values (a perfect
            estimate gives about ``10 log10(‖y‖² / eps)``, a very large number).

    Returns:
        ``(...)`` SI-SNR in dB, computed in at least float32.

    Raises:
        ~audioslots.errors.DataError: if the signals have different numbers of samples.
    """
    if estimate.shape[-1] != reference.shape[-1]:
        raise DataError(
            f"Cannot compare an estimate of {estimate.shape[-1]} samples with a reference of "
            f"{reference.shape[-1]} samples: trim or pad them to the same length."
        )
    dtype = torch.promote_types(torch.promote_types(estimate.dtype, reference.dtype), torch.float32)
    estimate, reference = estimate.to(dtype), reference.to(dtype)
    if zero_mean:
        estimate = estimate - estimate.mean(dim=-1, keepdim=True)
        reference = reference - reference.mean(dim=-1, keepdim=True)
    dot = (estimate * reference).sum(dim=-1, keepdim=True)  # (..., 1) yᵀŷ
    alpha = dot / (reference.square().sum(dim=-1, keepdim=True) + eps)  # (..., 1)
    target = alpha * reference  # (..., samples) αy
    # Energies from the difference itself, not from the dot products: their difference would
    # cancel catastrophically for good estimates.
    noise = target - estimate  # (..., samples)
    target_energy = target.square().sum(dim=-1)
    noise_energy = noise.square().sum(dim=-1)
    snr = 10 * torch.log10((target_energy + eps) / (noise_energy + eps))
    # A silent estimate says nothing of the reference: the eps above would score it 0 dB (0 / 0),
    # above a mixture at about 0 dB. It gets 10 log10(eps) instead, -80 dB for the default eps,
    # what Asteroid's and the field's usual SI-SDR give for an all-zero estimate.
    return torch.where(is_silent(estimate, eps), torch.full_like(snr, 10 * math.log10(eps)), snr)


def is_silent(estimate: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(...)`` bool: whether each ``(..., samples)`` signal's energy about its mean is at most ``eps``.

    For 16-bit audio in [-1, 1] that is less than ten samples a step of the last bit away from the mean.
    """
    centred = estimate - estimate.mean(dim=-1, keepdim=True)
    return centred.to(torch.promote_types(centred.dtype, torch.float32)).square().sum(dim=-1) <= eps


def pairwise_si_snr(estimates: torch.Tensor, references: torch.Tensor, **kwargs) -> torch.Tensor:
    """SI-SNR of every estimate against every reference.

    Args:
        estimates: ``(..., n_est, samples)``.
        references: ``(..., n_ref, samples)``.
        **kwargs: passed to ``si_snr`` (``zero_mean``, ``eps``).

    Returns:
        ``(..., n_est, n_ref)``; entry ``[..., i, j]`` is the SI-SNR of estimate ``i``
        against reference ``j``. Memory grows as ``n_est * n_ref * samples`` per item.
    """
    return si_snr(estimates.unsqueeze(-2), references.unsqueeze(-3), **kwargs)


def permutation_si_snr(
    estimates: torch.Tensor, references: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """SI-SNR of each reference against its best-matching estimate.

    Args:
        estimates: ``(..., n_est, samples)`` in any order.
        references: ``(..., n_ref, samples)``.

    Returns:
        ``(scores, perm)``: ``scores`` ``(..., n_ref)`` is the SI-SNR in dB of the estimate
        matched to each reference, ``perm`` ``(..., n_ref)`` the index of that estimate; the
        matching maximises the sum of SI-SNR over references.
    """
    pairwise = pairwise_si_snr(estimates, references)  # (..., n_est, n_ref)
    perm = hungarian(pairwise, maximize=True)  # (..., n_ref)
    scores = pairwise.gather(-2, perm.unsqueeze(-2)).squeeze(-2)  # (..., n_ref)
    return scores, perm


def si_snri(
    estimates: torch.Tensor, references: torch.Tensor, mixture: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """SI-SNR after matching, and its improvement over the unprocessed mixture.

    Args:
        estimates: ``(..., n_est, samples)`` in any order.
        references: ``(..., n_ref, samples)``.
        mixture: ``(..., samples)``, used as the estimate of every reference for the baseline.

    Returns:
        ``(si_snr, si_snri)``, both ``(..., n_ref)`` in dB, in the order of the references.
    """
    scores, _ = permutation_si_snr(estimates, references)  # (..., n_ref)
    baseline = si_snr(mixture.unsqueeze(-2), references)  # (..., n_ref)
    return scores, scores - baseline
