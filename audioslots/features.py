"""Waveform ↔ spectrogram: chunking, STFT and magnitude compression (paper, pipeline 1 and 6).

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

#: How a chunk is cut into STFT frames (``FeatureConfig.framing``):
#:
#: - ``pad-end``: ``tf.signal.stft`` / ``tf.signal.inverse_stft`` with ``inverse_stft_window_fn``,
#:   the authors' toolkit. Frames start at sample 0, the end is zero-padded to
#:   ``(F - 1) * hop + n_fft`` samples with ``F = ceil(N / hop)``. The inverse divides by the
#:   *steady-state* sum of squared windows, so the first ``n_fft - hop`` samples of every chunk,
#:   covered by fewer frames, come back attenuated: a chunk-boundary artefact.
#: - ``centred``: ``torch.stft(center=True)``, half a window of zeros at either end; exact inverse.
FRAMINGS = ("pad-end", "centred")


def chunk(waveform: torch.Tensor, chunk_samples: int, hop_samples: int | None = None) -> torch.Tensor:
    """Split a waveform into chunks, zero-padding the end.

    Args:
        waveform: ``(..., samples)`` real signal.
        chunk_samples: length of one chunk (``FeatureConfig.chunk_samples``, 8000 for 0.5 s).
        hop_samples: distance between chunk starts; ``None`` (= ``chunk_samples``) gives the
            paper's non-overlapping chunks (paper, pipeline 6), less gives overlapping ones
            (see :func:`overlap_add`).

    Returns:
        ``(..., n_chunks, chunk_samples)`` with ``n_chunks = 1 + ceil(max(samples - chunk, 0) / hop)``
        (``ceil(samples / chunk_samples)`` without overlap); the last chunk is zero-padded.

    Raises:
        ~audioslots.errors.ConfigError: if ``chunk_samples`` or ``hop_samples`` is not a positive
            integer, or the hop is longer than a chunk.
        ~audioslots.errors.DataError: if the waveform has no samples.
    """
    chunk_samples = _whole_samples(chunk_samples, "chunk_samples")
    hop = chunk_samples if hop_samples is None else _whole_samples(hop_samples, "hop_samples")
    if hop > chunk_samples:
        raise ConfigError(f"The hop between chunks ({hop}) cannot exceed the chunk length ({chunk_samples}).")
    samples = waveform.shape[-1]
    if samples == 0:
        raise DataError("The waveform is empty (0 samples), so it cannot be split into chunks.")
    n_chunks = 1 + math.ceil(max(samples - chunk_samples, 0) / hop)
    padded = torch.nn.functional.pad(waveform, (0, (n_chunks - 1) * hop + chunk_samples - samples))
    return padded.unfold(-1, chunk_samples, hop).contiguous()  # (..., n_chunks, chunk_samples)


def _whole_samples(value, name: str) -> int:
    if int(value) != value or value <= 0:
        raise ConfigError(
            f"{name} must be a positive whole number of samples, got {value!r}; "
            "check chunk_seconds, the chunk overlap and sample_rate."
        )
    return int(value)


def chunk_hop(chunk_samples: int, overlap: float) -> int:
    """Samples between chunk starts for a fractional ``overlap`` in ``[0, 1)`` (0.5: half a chunk)."""
    if not 0 <= overlap < 1:
        raise ConfigError(f"The chunk overlap must be in [0, 1), e.g. 0.5, not {overlap!r}.")
    return max(1, round(chunk_samples * (1 - overlap)))


def crossfade_window(chunk_samples: int, hop_samples: int, dtype=torch.float32) -> torch.Tensor:
    """Weights of one chunk in :func:`overlap_add`: 1, with raised-cosine ramps over the overlaps.

    The ramps are ``chunk - hop`` samples long; where two chunks overlap one fades out as the next
    fades in (``sin² + cos² = 1``). Without overlap the window is all ones. Shape ``(chunk_samples,)``.
    """
    window = torch.ones(chunk_samples, dtype=dtype)
    ramp = min(chunk_samples - hop_samples, chunk_samples // 2)
    if ramp > 0:
        rise = torch.sin(0.5 * math.pi * (torch.arange(ramp, dtype=torch.float64) + 0.5) / ramp) ** 2
        window[:ramp] = rise.to(dtype)
        window[-ramp:] = rise.flip(0).to(dtype)
    return window


def overlap_add(chunks: torch.Tensor, hop_samples: int, length: int) -> torch.Tensor:
    """Cross-fade overlapping chunks back into one waveform (weighted overlap-add).

    Each output sample is the :func:`crossfade_window`-weighted mean of the chunks that cover it,
    so the first and last chunk keep full weight at the signal's ends. With ``hop_samples`` equal
    to the chunk length this is :func:`stitch`.

    Args:
        chunks: ``(..., n_chunks, chunk_samples)`` as cut by ``chunk(x, chunk_samples, hop_samples)``.
        hop_samples: the hop they were cut with.
        length: samples of the original waveform.

    Returns:
        ``(..., length)``.
    """
    n_chunks, chunk_samples = chunks.shape[-2:]
    if hop_samples == chunk_samples:
        return stitch(chunks, length)
    total = (n_chunks - 1) * hop_samples + chunk_samples
    if length < 0 or length > total:
        raise ConfigError(f"Cannot overlap-add {n_chunks} chunks into {length} samples (at most {total}).")
    window = crossfade_window(chunk_samples, hop_samples, chunks.dtype).to(chunks.device)
    flat = (chunks * window).reshape(-1, n_chunks, chunk_samples)

    def fold(frames):  # (batch, n_chunks, chunk) → (batch, total), summing overlaps
        return torch.nn.functional.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, chunk_samples),
                                        stride=(1, hop_samples)).reshape(-1, total)

    weights = fold(window.expand(1, n_chunks, chunk_samples))  # (1, total), > 0 everywhere
    out = fold(flat) / weights
    return out.reshape(*chunks.shape[:-2], total)[..., :length]


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
    return torch.hann_window(config.n_fft, device=like.device, dtype=like.dtype)  # periodic, as tf's


def _check_framing(config: FeatureConfig) -> None:
    if config.framing not in FRAMINGS:
        raise ConfigError(f"Unknown STFT framing {config.framing!r}: choose one of {', '.join(FRAMINGS)}.")


def pad_end_frames(samples: int, hop_samples: int) -> int:
    """``F = ceil(samples / hop)``: frames of a ``pad-end`` STFT (64 for 8000 samples at hop 125)."""
    return -(-samples // hop_samples)


def inverse_window(config: FeatureConfig, like: torch.Tensor) -> torch.Tensor:
    """``tf.signal.inverse_stft_window_fn``: the window divided by its steady-state overlap.

    ``d[i] = sum_k w[(i mod hop) + k * hop] ** 2`` is the sum of the squared windows of all frames
    that overlap sample ``i`` of a frame far from the signal's edges; ``w / d`` makes the overlap-add
    of ``w * (w / d)`` exactly 1 there. Shape ``(n_fft,)``.
    """
    window = _window(config, like)
    hop, n_fft = config.hop_samples, config.n_fft
    padded = torch.nn.functional.pad(window**2, (0, pad_end_frames(n_fft, hop) * hop - n_fft))
    overlap = padded.reshape(-1, hop).sum(0)  # (hop,)
    return window / overlap.repeat(pad_end_frames(n_fft, hop))[:n_fft]


def _stft_dtype(dtype: torch.dtype) -> torch.dtype:
    # torch.stft has no half/bfloat16 kernels (on CUDA either): compute in float32 at least.
    return torch.promote_types(dtype, torch.float32)


def stft(waveform: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """Short-time Fourier transform with a Hann window (paper, pipeline 1).

    Args:
        waveform: ``(..., samples)`` real signal.
        config: ``n_fft`` (window and FFT size, 512), ``hop_samples`` (125) and ``framing``
            (see :data:`FRAMINGS`).

    Returns:
        Complex ``(..., n_freq, n_frames)`` with ``n_freq = n_fft // 2 + 1`` (257) and
        ``n_frames = ceil(samples / hop)`` for ``pad-end`` (64 for a 0.5 s chunk, 128 for 1 s) or
        ``1 + samples // hop`` for ``centred`` (65, 129), as ``FeatureConfig.n_frames`` says.
        Float32 (complex64) unless the input is float64.
    """
    _check_framing(config)
    x = waveform.to(_stft_dtype(waveform.dtype))
    flat = x.reshape(-1, x.shape[-1])  # torch.stft takes (batch, samples) only
    if config.framing == "pad-end":
        frames = pad_end_frames(flat.shape[-1], config.hop_samples)
        padded_length = (frames - 1) * config.hop_samples + config.n_fft
        flat = torch.nn.functional.pad(flat, (0, padded_length - flat.shape[-1]))
    spectrum = torch.stft(
        flat,
        n_fft=config.n_fft,
        hop_length=config.hop_samples,
        window=_window(config, flat),
        center=config.framing == "centred",
        pad_mode=PAD_MODE,
        return_complex=True,
    )  # (batch, n_freq, n_frames)
    return spectrum.reshape(*waveform.shape[:-1], *spectrum.shape[-2:])


def istft(spectrum: torch.Tensor, config: FeatureConfig, length: int) -> torch.Tensor:
    """Inverse of ``stft``: overlap-add with the same Hann window (paper, pipeline 6).

    Args:
        spectrum: complex ``(..., n_freq, n_frames)``.
        config: the ``FeatureConfig`` the spectrum was computed with.
        length: samples of the output (the chunk length the STFT was taken of).

    Returns:
        Real ``(..., length)``. With ``centred`` framing ``istft(stft(x), config, len(x))`` equals
        ``x`` up to rounding; with ``pad-end`` it does too except for the first ``n_fft - hop``
        samples, which come back attenuated (as in the authors' TensorFlow pipeline).

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
    _check_framing(config)
    flat = spectrum.reshape(-1, *spectrum.shape[-2:])
    if config.framing == "pad-end":
        return _istft_pad_end(flat, config, length).reshape(*spectrum.shape[:-2], length)
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


def _istft_pad_end(spectrum: torch.Tensor, config: FeatureConfig, length: int) -> torch.Tensor:
    """``tf.signal.inverse_stft`` with ``inverse_stft_window_fn``: ``(batch, F, T)`` → ``(batch, length)``."""
    frames = torch.fft.irfft(spectrum.transpose(1, 2), n=config.n_fft)  # (batch, T, n_fft)
    frames = frames * inverse_window(config, frames)
    n_frames = frames.shape[1]
    total = (n_frames - 1) * config.hop_samples + config.n_fft
    waveform = torch.nn.functional.fold(
        frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, config.n_fft),
        stride=(1, config.hop_samples),
    )  # overlap-add: (batch, 1, 1, total)
    waveform = waveform.reshape(-1, total)[:, :length]
    return torch.nn.functional.pad(waveform, (0, length - waveform.shape[-1]))


def compress(magnitude: torch.Tensor, power: float = 0.3) -> torch.Tensor:
    """Power-law compression ``|X| ** power`` that emphasises low values (paper, pipeline 1).

    Args:
        magnitude: non-negative linear magnitudes, any shape.
        power: the exponent, ``FeatureConfig.compress_power`` (0.3).

    Returns:
        Compressed magnitudes, same shape.
    """
    return magnitude**power


def decompress(compressed: torch.Tensor, power: float = 0.3) -> torch.Tensor:
    """Undo ``compress`` with the exponent ``1 / power`` (paper, pipeline 6).

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
        Real ``(..., n_freq, n_frames)``, 257 × 64 for a 0.5 s chunk (``pad-end``).
    """
    return compress(stft(waveform, config).abs(), config.compress_power)
