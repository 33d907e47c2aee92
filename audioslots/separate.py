"""Separation at test time (paper, pipeline 6).

mixture → non-overlapping chunks → STFT → compressed magnitude → network → decompressed
estimates → slot order per chunk → masks → mixture STFT × mask → inverse STFT → stitched sources.

Every function takes ``hop_samples``: ``None`` is the paper's non-overlapping chunks; a shorter
hop (``features.chunk_hop(chunk_samples, 0.5)``) separates overlapping chunks and cross-fades
them (:func:`audioslots.features.overlap_add`), beyond the paper, against its chunk-boundary
artefacts.

Three ways to obtain the per-chunk magnitude estimates, one per row of Table 1:

- :func:`audioslots_estimates` — the separation model (slot order unknown, resolved per chunk);
- :func:`autoencoder_estimates` — the n = 1 network reconstructing each source from itself;
- :func:`oracle_estimates` — the preprocessed ground-truth sources themselves.

The evaluation separates many mixtures at once: :func:`predict_each` and
:func:`autoencoder_estimates_each` send the chunks of all of them through the network together, and
the one-mixture functions above are these with one mixture.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError
from audioslots.features import chunk, decompress, istft, overlap_add, spectrogram, stft
from audioslots.loss import pairwise_mse
from audioslots.matching import hungarian
from audioslots.masks import apply_masks, compute_masks

ORDERS = ("oracle", "continuity")


@torch.no_grad()
def predict(model: torch.nn.Module, chunks: torch.Tensor, features: FeatureConfig, batch_size: int = 64) -> torch.Tensor:
    """Compressed-magnitude predictions of ``model`` for waveform chunks, on the model's device.

    Args:
        chunks: ``(n_chunks, chunk_samples)`` waveform chunks (of one or many mixtures).
        batch_size: chunks per forward pass.

    Returns:
        ``(n_chunks, n_slots, freq, frames)`` compressed magnitudes (unbounded network output), on the CPU.
    """
    device = next(model.parameters()).device
    out = []
    for start in range(0, chunks.shape[0], batch_size):
        batch = chunks[start:start + batch_size].to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(model(spectrogram(batch, features)).float())
    return torch.cat(out).cpu()


def oracle_estimates(sources: torch.Tensor, features: FeatureConfig, hop_samples: int | None = None) -> torch.Tensor:
    """Per-chunk magnitudes of the ground-truth sources after the paper's preprocessing.

    Args:
        sources: ``(n_src, samples)``.

    Returns:
        ``(n_chunks, n_src, freq, frames)`` linear magnitudes (compressed, then decompressed).
    """
    chunks = chunk(sources, features.chunk_samples, hop_samples).transpose(0, 1)  # (n_chunks, n_src, chunk)
    compressed = spectrogram(chunks, features)
    return decompress(compressed, features.compress_power)


def predict_each(model: torch.nn.Module, waveforms: Sequence[torch.Tensor], features: FeatureConfig,
                 hop_samples: int | None = None) -> list[torch.Tensor]:
    """:func:`predict` for the chunks of several waveforms, all of them through the network together.

    Args:
        waveforms: ``(samples,)`` each, of any lengths.

    Returns:
        Per waveform, ``(n_chunks, n_slots, freq, frames)`` compressed magnitudes, on the CPU.
    """
    chunks = [chunk(waveform, features.chunk_samples, hop_samples) for waveform in waveforms]  # (n_chunks, chunk) each
    return list(predict(model, torch.cat(chunks), features).split([len(c) for c in chunks]))


def autoencoder_estimates_each(model: torch.nn.Module, sources: Sequence[torch.Tensor], features: FeatureConfig,
                               hop_samples: int | None = None) -> list[torch.Tensor]:
    """:func:`autoencoder_estimates` of several mixtures' sources, all their chunks through the network together.

    Args:
        sources: ``(n_src, samples)`` per mixture.

    Returns:
        Per mixture, ``(n_chunks, n_src, freq, frames)`` linear magnitudes, in the order of its sources.
    """
    chunks = [chunk(s, features.chunk_samples, hop_samples) for s in sources]  # (n_src, n_chunks, chunk) each
    predicted = predict(model, torch.cat([c.flatten(0, 1) for c in chunks]), features)[:, 0]  # (all chunks, F, T)
    # Decompressed in one piece: an element-wise power's last elements may round differently from the
    # rest, so cutting first would move the evaluation's numbers.
    linear = decompress(predicted, features.compress_power).split([c.shape[0] * c.shape[1] for c in chunks])
    return [part.unflatten(0, c.shape[:2]).transpose(0, 1) for part, c in zip(linear, chunks)]


def autoencoder_estimates(model: torch.nn.Module, sources: torch.Tensor, features: FeatureConfig,
                          hop_samples: int | None = None) -> torch.Tensor:
    """Each source's chunks reconstructed by the n = 1 network from that source alone.

    Returns:
        ``(n_chunks, n_src, freq, frames)`` linear magnitudes, in the order of ``sources``.
    """
    return autoencoder_estimates_each(model, [sources], features, hop_samples)[0]


def order_slots(
    predicted: torch.Tensor,
    features: FeatureConfig,
    *,
    order: str = "continuity",
    sources: torch.Tensor | None = None,
    hop_samples: int | None = None,
) -> torch.Tensor:
    """Put one mixture's per-chunk predictions in a consistent slot order and decompress them.

    Args:
        predicted: ``(n_chunks, n_slots, freq, frames)`` compressed magnitudes from :func:`predict`.
        order: ``oracle`` matches each chunk's slots to the ground truth, as the paper does (needs
            ``sources``); ``continuity`` needs no ground truth (see :func:`continuity_order`).
        sources: ``(n_src, samples)`` ground truth, only for ``order="oracle"``.

    Returns:
        ``(n_chunks, n_slots, freq, frames)`` linear magnitudes.
    """
    if order not in ORDERS:
        raise ConfigError(f"Unknown stitching order {order!r}: choose one of {', '.join(ORDERS)}.")
    if order == "oracle":
        if sources is None:
            raise ConfigError("Oracle stitching needs the ground-truth sources; use order='continuity' without them.")
        target = spectrogram(chunk(sources, features.chunk_samples, hop_samples).transpose(0, 1), features)
        perm = hungarian(pairwise_mse(predicted, target))  # (chunks, n): slot matched to source j
    else:
        perm = continuity_order(predicted)
    ordered = torch.gather(predicted, 1, perm[:, :, None, None].expand_as(predicted))
    return decompress(ordered, features.compress_power)


def audioslots_estimates(
    model: torch.nn.Module,
    mixture: torch.Tensor,
    features: FeatureConfig,
    *,
    order: str = "continuity",
    sources: torch.Tensor | None = None,
    hop_samples: int | None = None,
) -> torch.Tensor:
    """The separation model's per-chunk estimates, slots put in a consistent order across chunks.

    Args:
        mixture: ``(samples,)``.
        order, sources: see :func:`order_slots`.

    Returns:
        ``(n_chunks, n_slots, freq, frames)`` linear magnitudes.
    """
    if order not in ORDERS:
        raise ConfigError(f"Unknown stitching order {order!r}: choose one of {', '.join(ORDERS)}.")
    predicted, = predict_each(model, [mixture], features, hop_samples)  # (chunks, n, F, T)
    return order_slots(predicted, features, order=order, sources=sources, hop_samples=hop_samples)


def continuity_order(predicted: torch.Tensor, boundary_frames: int = 4) -> torch.Tensor:
    """Ground-truth-free slot order: each chunk continues the previous one.

    The first chunk keeps its slot order. Every later chunk takes the permutation whose slots
    best continue the (already ordered) previous chunk, measured as the squared distance
    between the compressed spectra of the last ``boundary_frames`` frames of the previous chunk
    and the first ones of this chunk, plus the distance between the two chunks' mean spectra
    (a speaker's timbre persists across a pause, the boundary alone may be silent).

    Args:
        predicted: ``(n_chunks, n_slots, freq, frames)`` compressed magnitudes.

    Returns:
        ``(n_chunks, n_slots)`` slot index to put at each position.
    """
    n_chunks, n_slots = predicted.shape[:2]
    perms = torch.tensor(list(itertools.permutations(range(n_slots))))  # (n!, n)
    order = [torch.arange(n_slots)]
    for k in range(1, n_chunks):
        previous = predicted[k - 1, order[-1]]  # (n, F, T) in the chosen order
        current = predicted[k]  # (n, F, T)
        tail = previous[..., -boundary_frames:].mean(-1)  # (n, F)
        head = current[..., :boundary_frames].mean(-1)  # (n, F)
        cost = (tail[:, None] - head[None]).pow(2).mean(-1)  # (n_prev, n_cur)
        cost = cost + (previous.mean(-1)[:, None] - current.mean(-1)[None]).pow(2).mean(-1)
        totals = cost[torch.arange(n_slots), perms].sum(-1)  # (n!,)
        order.append(perms[totals.argmin()])
    return torch.stack(order)


def masked_sources(
    estimates: torch.Tensor,
    mixture: torch.Tensor,
    features: FeatureConfig,
    *,
    mask: str = "ibm",
    power: float = 2.0,
    hop_samples: int | None = None,
) -> torch.Tensor:
    """Turn per-chunk magnitude estimates into waveforms by masking the mixture's STFT.

    Args:
        estimates: ``(n_chunks, n_src, freq, frames)`` linear magnitudes, consistently ordered.
        mixture: ``(samples,)``.
        mask: ``ibm`` or ``wiener`` (exponent ``power``).
        hop_samples: the chunk hop the estimates were made with (``None``: no overlap).

    Returns:
        ``(n_src, samples)`` separated sources, stitched (or cross-faded) and cut to the mixture's length.
    """
    hop = features.chunk_samples if hop_samples is None else hop_samples
    chunks = chunk(mixture, features.chunk_samples, hop)  # (n_chunks, chunk)
    mixture_spec = stft(chunks, features)  # (n_chunks, F, T) complex
    masks = compute_masks(estimates.to(mixture_spec.real.dtype), mask, power)  # (n_chunks, n, F, T)
    separated = istft(apply_masks(masks, mixture_spec), features, features.chunk_samples)  # (n_chunks, n, chunk)
    return overlap_add(separated.transpose(0, 1), hop, mixture.shape[-1])


def separate(
    model: torch.nn.Module,
    mixture: torch.Tensor,
    features: FeatureConfig,
    *,
    mask: str = "wiener",
    power: float = 2.0,
    order: str = "continuity",
    sources: torch.Tensor | None = None,
    hop_samples: int | None = None,
) -> torch.Tensor:
    """Separate one mixture with a trained AudioSlots model: ``(samples,)`` → ``(n_slots, samples)``."""
    estimates = audioslots_estimates(model, mixture, features, order=order, sources=sources, hop_samples=hop_samples)
    return masked_sources(estimates, mixture, features, mask=mask, power=power, hop_samples=hop_samples)


__all__ = [
    "ORDERS", "predict", "predict_each", "oracle_estimates", "autoencoder_estimates", "autoencoder_estimates_each",
    "order_slots", "audioslots_estimates", "continuity_order", "masked_sources", "separate",
]
