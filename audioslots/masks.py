"""Masks from estimated source magnitudes, applied to the mixture STFT (paper, pipeline 6).

AudioSlots predicts source spectrograms directly, but at test time the paper turns the
(decompressed) predictions into masks and multiplies them with the mixture's complex STFT,
so that the mixture's phase is reused and the estimates sum to the mixture.

All functions are pure, batched over any leading dimensions, and keep the input's device.
"""

from __future__ import annotations

import torch

from audioslots.errors import ConfigError, DataError

MASKS = ("ibm", "wiener")


def _check_sources_axis(estimates: torch.Tensor) -> None:
    if estimates.ndim < 3:
        raise DataError(
            f"Estimates must be shaped (..., sources, freq, frames), got {tuple(estimates.shape)}."
        )


def ibm(estimates: torch.Tensor) -> torch.Tensor:
    """Ideal-binary-style mask: 1 for the source with the largest estimate in each bin, else 0.

    Args:
        estimates: ``(..., n_src, freq, frames)`` non-negative linear magnitudes.

    Returns:
        ``(..., n_src, freq, frames)`` of 0 and 1, exactly one 1 per bin; ties go to the
        first source.
    """
    _check_sources_axis(estimates)
    winner = estimates.argmax(dim=-3, keepdim=True)  # (..., 1, freq, frames); first on ties
    masks = torch.zeros_like(estimates)
    return masks.scatter_(-3, winner, 1.0)


def wiener_like(estimates: torch.Tensor, power: float = 2.0, eps: float = 1e-8) -> torch.Tensor:
    """Wiener-like mask ``Ŝ_i ** p / Σ_j Ŝ_j ** p``: each source's share of the estimated power.

    [choice] The power 2 (estimated power over total estimated power): the paper's formula is
    illegible in our copy; power 2 is what its cited reference [33] (Erdogan et al.) calls
    "Wiener-like". ``power`` makes the exponent a parameter.

    Args:
        estimates: ``(..., n_src, freq, frames)`` non-negative linear magnitudes.
        power: the exponent ``p`` (2 = estimated power).
        eps: bins whose summed ``Ŝ_j ** p`` is at most ``eps`` count as silent and are split
            equally (``1 / n_src`` each), so that the masks always sum to one and no 0/0
            appears (not even in the gradient).

    Returns:
        ``(..., n_src, freq, frames)`` in ``[0, 1]``, summing to one over sources.
    """
    _check_sources_axis(estimates)
    n_src = estimates.shape[-3]
    powered = estimates.clamp(min=0) ** power  # (..., n_src, freq, frames)
    total = powered.sum(dim=-3, keepdim=True)  # (..., 1, freq, frames)
    silent = total <= eps
    share = powered / torch.where(silent, torch.ones_like(total), total)
    return torch.where(silent, torch.full_like(share, 1.0 / n_src), share)


def compute_masks(estimates: torch.Tensor, kind: str, power: float = 2.0) -> torch.Tensor:
    """Masks of the given kind, one per source.

    Args:
        estimates: ``(..., n_src, freq, frames)`` non-negative linear magnitudes (decompressed).
        kind: ``"ibm"`` or ``"wiener"`` (see ``MASKS``).
        power: exponent of the Wiener-like mask (ignored for the IBM).

    Returns:
        ``(..., n_src, freq, frames)``.

    Raises:
        ~audioslots.errors.ConfigError: for an unknown ``kind``.
    """
    if kind == "ibm":
        return ibm(estimates)
    if kind == "wiener":
        return wiener_like(estimates, power=power)
    raise ConfigError(f"Unknown mask {kind!r}: choose one of {', '.join(MASKS)}.")


def apply_masks(masks: torch.Tensor, mixture_spectrum: torch.Tensor) -> torch.Tensor:
    """Multiply each source's mask with the mixture's complex STFT.

    Args:
        masks: real ``(..., n_src, freq, frames)``.
        mixture_spectrum: complex ``(..., freq, frames)``.

    Returns:
        Complex ``(..., n_src, freq, frames)``: the masked mixture, one spectrum per source.

    Raises:
        ~audioslots.errors.DataError: if the mixture spectrum is real, or the masks and the
            mixture cover different time-frequency grids.
    """
    _check_sources_axis(masks)
    if masks.shape[-2:] != mixture_spectrum.shape[-2:]:
        raise DataError(
            f"Masks of shape {tuple(masks.shape)} do not fit a mixture spectrum of shape "
            f"{tuple(mixture_spectrum.shape)}: their (freq, frames) must agree."
        )
    if not mixture_spectrum.is_complex():
        raise DataError("apply_masks needs the mixture's complex STFT, got a real tensor.")
    # Keep the mixture's precision: a bfloat16 mask would otherwise not promote cleanly.
    masks = masks.to(mixture_spectrum.real.dtype)
    return masks * mixture_spectrum.unsqueeze(-3)  # (..., n_src, freq, frames)
