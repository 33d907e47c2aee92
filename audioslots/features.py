"""Waveform ↔ spectrogram: chunking, STFT and magnitude compression (PAPER.md, Pipeline 1 and 6).

The data flow at test time is ``chunk`` → ``stft`` → ``|·|`` → ``compress`` → model →
``decompress`` → masks × mixture STFT → ``istft`` → ``stitch``. Training uses the middle of
it, ``spectrogram``, on a random crop of one chunk's length.

All functions are pure, batched over any leading dimensions and run on the input's device.
"""

from __future__ import annotations

import math

import torch

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError, DataError

# [choice] Zero-pad (not reflect) the half-window at either end of a centred STFT: a chunk is
# treated as an isolated signal, which is what the paper's pre-chunked pipeline does, and it
# works for signals shorter than half a window. The round trip is exact either way.
PAD_MODE = "constant"


def chunk(waveform: torch.Tensor, chunk_samples: int) -> torch.Tensor:
    """Split a waveform into non-overlapping chunks, zero-padding the end.

    Args:
        waveform: ``(..., samples)`` real signal.
        chunk_samples: length of one chunk (``FeatureConfig.chunk_samples``, 8000 for 0.5 s).

    Returns:
        ``(..., n_chunks, chunk_samples)`` with ``n_chunks = ceil(samples / chunk_samples)``;
        the last chunk is zero-padded (PAPER.md, Pipeline 6).

    Raises:
        ~audioslots.errors.ConfigError: if ``chunk_samples`` is not a positive integer.
        ~audioslots.errors.DataError: if the waveform has no samples.
    """
    if int(chunk_samples) != chunk_samples or chunk_samples <= 0:
        raise ConfigError(
            f"chunk_samples must be a positive whole number of samples, got {chunk_samples!r}; "
            "check chunk_seconds and sample_rate."
        )
    chunk_samples = int(chunk_samples)
    samples = waveform.shape[-1]
    if samples == 0:
        raise DataError("The waveform is empty (0 samples), so it cannot be split into chunks.")
    n_chunks = math.ceil(samples / chunk_samples)
    padded = torch.nn.functional.pad(waveform, (0, n_chunks * chunk_samples - samples))
    return padded.reshape(*waveform.shape[:-1], n_chunks, chunk_samples)


def stitch(chunks: torch.Tensor, length: int) -> torch.Tensor:
    """Concatenate chunks back into one waveform and drop the end padding (inverse of ``chunk``).

    Args:
        chunks: ``(..., n_chunks, chunk_samples)``.
        length: samples of the original waveform.

    Returns:
        ``(..., length)``.

    Raises:
        ~audioslots.errors.ConfigError: if ``length`` is negative or longer than all chunks
            together.
    """
    n_chunks, chunk_samples = chunks.shape[-2:]
    if length < 0 or length > n_chunks * chunk_samples:
        raise ConfigError(
            f"Cannot stitch {n_chunks} chunks of {chunk_samples} samples into {length} samples: "
            f"the length must be between 0 and {n_chunks * chunk_samples}."
        )
    return chunks.reshape(*chunks.shape[:-2], n_chunks * chunk_samples)[..., :length]


def _window(config: FeatureConfig, like: torch.Tensor) -> torch.Tensor:
    return torch.hann_window(config.n_fft, device=like.device, dtype=like.dtype)


def _stft_dtype(dtype: torch.dtype) -> torch.dtype:
    # torch.stft has no half/bfloat16 kernels (on CUDA either): compute in float32 at least.
    return torch.promote_types(dtype, torch.float32)


def stft(waveform: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """Centred short-time Fourier transform with a Hann window (PAPER.md, Pipeline 1).

    Args:
        waveform: ``(..., samples)`` real signal.
        config: ``n_fft`` (window and FFT size, 512) and ``hop_samples`` (125).

    Returns:
        Complex ``(..., n_freq, n_frames)`` with ``n_freq = n_fft // 2 + 1`` (257) and
        ``n_frames = 1 + samples // hop_samples`` (65 for a 0.5 s chunk, 129 for 1 s), as
        ``FeatureConfig.n_freq`` and ``FeatureConfig.n_frames`` say. Float32 (complex64)
        unless the input is float64.
    """
    x = waveform.to(_stft_dtype(waveform.dtype))
    flat = x.reshape(-1, x.shape[-1])  # torch.stft takes (batch, samples) only
    spectrum = torch.stft(
        flat,
        n_fft=config.n_fft,
        hop_length=config.hop_samples,
        window=_window(config, flat),
        center=True,
        pad_mode=PAD_MODE,
        return_complex=True,
    )  # (batch, n_freq, n_frames)
    return spectrum.reshape(*waveform.shape[:-1], *spectrum.shape[-2:])


def istft(spectrum: torch.Tensor, config: FeatureConfig, length: int) -> torch.Tensor:
    """Inverse of ``stft``: overlap-add with the same Hann window (PAPER.md, Pipeline 6).

    Args:
        spectrum: complex ``(..., n_freq, n_frames)``.
        config: the ``FeatureConfig`` the spectrum was computed with.
        length: samples of the output (the chunk length the STFT was taken of).

    Returns:
        Real ``(..., length)``; ``istft(stft(x), config, len(x))`` equals ``x`` up to rounding.

    Raises:
        ~audioslots.errors.DataError: if the spectrum is real or does not have
            ``config.n_freq`` frequency bins.
    """
    if not spectrum.is_complex():
        raise DataError("istft needs a complex spectrum (magnitude and phase), got a real one.")
    if spectrum.shape[-2] != config.n_freq:
        raise DataError(
            f"The spectrum has {spectrum.shape[-2]} frequency bins but n_fft={config.n_fft} "
            f"needs {config.n_freq}; pass the FeatureConfig it was computed with."
        )
    flat = spectrum.reshape(-1, *spectrum.shape[-2:])
    window = _window(config, flat.real)
    waveform = torch.istft(
        flat,
        n_fft=config.n_fft,
        hop_length=config.hop_samples,
        window=window,
        center=True,
        length=length,
    )  # (batch, length)
    return waveform.reshape(*spectrum.shape[:-2], length)


def compress(magnitude: torch.Tensor, power: float = 0.3) -> torch.Tensor:
    """Power-law compression ``|X| ** power`` that emphasises low values (PAPER.md, Pipeline 1).

    Args:
        magnitude: non-negative linear magnitudes, any shape.
        power: the exponent, ``FeatureConfig.compress_power`` (0.3).

    Returns:
        Compressed magnitudes, same shape.
    """
    return magnitude**power


def decompress(compressed: torch.Tensor, power: float = 0.3) -> torch.Tensor:
    """Undo ``compress`` with the exponent ``1 / power`` (PAPER.md, Pipeline 6).

    Negative values are clamped to 0 first: the decoder's output is unbounded, and a
    negative number to a fractional power is NaN.

    Args:
        compressed: compressed magnitudes (e.g. the model's predictions), any shape.
        power: the exponent used by ``compress``.

    Returns:
        Non-negative linear magnitudes, same shape.

    Raises:
        ~audioslots.errors.ConfigError: if ``power`` is not positive.
    """
    if power <= 0:
        raise ConfigError(f"The compression power must be positive, got {power!r}.")
    return compressed.clamp(min=0) ** (1.0 / power)


def spectrogram(waveform: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """The paper's preprocessing: compressed STFT magnitude ``|STFT(x)| ** 0.3``.

    Args:
        waveform: ``(..., samples)``.
        config: STFT parameters and ``compress_power``.

    Returns:
        Real ``(..., n_freq, n_frames)``, 257 × 65 for a 0.5 s chunk.
    """
    return compress(stft(waveform, config).abs(), config.compress_power)
