"""Conv-TasNet (Luo & Mesgarani 2019): a mask-based waveform separator, trained and scored beside
AudioSlots on the same data by the same pipeline. It is not in the paper.

mixture waveform → learned encoder (1-D convolution) → separator (a temporal convolutional
network) → one mask per source on the encoder's output → learned decoder → source waveforms.

The network is ``torchaudio.models.ConvTasNet``, sized by a
:class:`~audioslots.config.ConvTasNetConfig`; it is trained by :func:`audioslots.training.loop.train`
(``kind="convtasnet"``) with negative SI-SNR under permutation-invariant training
(:func:`audioslots.loss.matched_neg_si_snr`). At test time it separates whole mixtures: no chunks,
no STFT, no mask on the mixture's spectrogram. Its metrics say so with :data:`WHOLE`,
:data:`NO_FRAMING` and :data:`NO_MASK`; :func:`separate` can also cut the mixture into chunks and
put each chunk's outputs in the ground truth's order, as the paper does for AudioSlots.
"""

from __future__ import annotations

import dataclasses

import torch
from torchaudio.models import ConvTasNet

from audioslots.config import ConvTasNetConfig
from audioslots.errors import ConfigError
from audioslots.features import chunk, stitch
from audioslots.matching import pit
from audioslots.metrics import pairwise_si_snr

#: ``chunk_seconds`` of whole-mixture separation in the metrics (a number, so that tables group by it).
WHOLE = 0.0
#: ``framing`` and ``mask`` of a waveform network in the metrics: it has no STFT and masks none.
NO_FRAMING = "none"
#: ``mask`` of a waveform network in the metrics (see :data:`NO_FRAMING`).
NO_MASK = "none"


def build(config: ConvTasNetConfig, n_src: int) -> torch.nn.Module:
    """A freshly initialised ``torchaudio.models.ConvTasNet`` with one output per source:
    ``(batch, 1, samples)`` mixtures in, ``(batch, n_src, samples)`` waveforms out."""
    sizes = {k: v for k, v in dataclasses.asdict(config).items() if k != "crop_seconds"}
    return ConvTasNet(num_sources=n_src, **sizes)


@torch.no_grad()
def separate(model: torch.nn.Module, mixture: torch.Tensor, *, chunk_samples: int | None = None,
             sources: torch.Tensor | None = None) -> torch.Tensor:
    """Separate one mixture with a trained Conv-TasNet, on the model's device.

    Args:
        mixture: ``(samples,)``.
        chunk_samples: ``None`` separates the whole mixture in one pass (the outputs come in the
            network's order). A length cuts it into non-overlapping chunks separated one by one,
            whose outputs are put in the order of ``sources`` (by SI-SNR, per chunk) and stitched.
        sources: ``(n_src, samples)`` ground truth, needed with ``chunk_samples`` only.

    Returns:
        ``(n_src, samples)`` float32 waveforms on the CPU.
    """
    device = next(model.parameters()).device
    if chunk_samples is None:
        return model(mixture.to(device)[None, None])[0].float().cpu()  # (n_src, samples)
    if sources is None:
        raise ConfigError("Separating in chunks puts each chunk's outputs in the ground truth's order; "
                          "pass the sources, or separate the whole mixture (chunk_samples=None).")
    chunks = chunk(mixture, chunk_samples)  # (n_chunks, chunk)
    estimates = model(chunks.to(device)[:, None]).float().cpu()  # (n_chunks, n, chunk)
    references = chunk(sources, chunk_samples).transpose(0, 1)  # (n_chunks, n, chunk)
    ordered, _ = pit(pairwise_si_snr, estimates, references, maximize=True)  # (n_chunks, n, chunk) in their order
    return stitch(ordered.transpose(0, 1), mixture.shape[-1])  # (n, samples)


__all__ = ["WHOLE", "NO_FRAMING", "NO_MASK", "build", "separate"]
