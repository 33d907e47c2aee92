"""Specification of audioslots.features: chunking, STFT round trip, compression."""

import pytest
import torch

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError, DataError
from audioslots.features import chunk, compress, decompress, istft, spectrogram, stft, stitch

HALF_SECOND = FeatureConfig()
ONE_SECOND = FeatureConfig(chunk_seconds=1.0)


@pytest.mark.parametrize("config", [HALF_SECOND, ONE_SECOND], ids=["0.5s", "1s"])
def test_stft_shape_agrees_with_feature_config(config):
    spectrum = stft(torch.randn(3, config.chunk_samples), config)
    assert spectrum.is_complex()
    assert spectrum.shape == (3, config.n_freq, config.n_frames)


def test_feature_config_grid_is_257_by_65_and_257_by_129():
    assert (HALF_SECOND.n_freq, HALF_SECOND.n_frames) == (257, 65)
    assert (ONE_SECOND.n_freq, ONE_SECOND.n_frames) == (257, 129)


@pytest.mark.parametrize("config", [HALF_SECOND, ONE_SECOND], ids=["0.5s", "1s"])
def test_istft_inverts_stft_with_batch_dims(config):
    torch.manual_seed(0)
    waveform = torch.randn(2, 3, config.chunk_samples)
    restored = istft(stft(waveform, config), config, config.chunk_samples)
    assert restored.shape == waveform.shape
    torch.testing.assert_close(restored, waveform, atol=1e-5, rtol=1e-5)


def test_stft_of_unbatched_signal_has_no_batch_dim():
    spectrum = stft(torch.randn(HALF_SECOND.chunk_samples), HALF_SECOND)
    assert spectrum.shape == (257, 65)


def test_stft_accepts_bfloat16_and_computes_in_float32():
    waveform = torch.randn(HALF_SECOND.chunk_samples)
    spectrum = stft(waveform.to(torch.bfloat16), HALF_SECOND)
    assert spectrum.dtype == torch.complex64
    torch.testing.assert_close(spectrum, stft(waveform.to(torch.bfloat16).float(), HALF_SECOND))


def test_stft_bin_of_a_sinusoid_is_its_frequency():
    config = HALF_SECOND
    bin_index = 40
    t = torch.arange(config.chunk_samples, dtype=torch.float64)
    tone = torch.cos(2 * torch.pi * bin_index * t / config.n_fft)
    magnitude = stft(tone, config).abs()
    middle_frame = config.n_frames // 2
    assert magnitude[:, middle_frame].argmax().item() == bin_index


def test_istft_rejects_a_spectrum_with_the_wrong_number_of_bins():
    with pytest.raises(DataError, match="257"):
        istft(torch.zeros(256, 65, dtype=torch.complex64), HALF_SECOND, 8000)


def test_spectrogram_is_stft_magnitude_to_the_power_0_3():
    waveform = torch.randn(2, HALF_SECOND.chunk_samples)
    expected = stft(waveform, HALF_SECOND).abs() ** 0.3
    torch.testing.assert_close(spectrogram(waveform, HALF_SECOND), expected)


def test_chunk_zero_pads_the_end():
    waveform = torch.arange(1, 11, dtype=torch.float32)  # 10 samples
    chunks = chunk(waveform, 4)
    assert chunks.shape == (3, 4)
    torch.testing.assert_close(chunks[:2].flatten(), waveform[:8])
    torch.testing.assert_close(chunks[2], torch.tensor([9.0, 10.0, 0.0, 0.0]))


@pytest.mark.parametrize("samples", [8000 * 3, 8000 * 3 + 1, 8000 * 3 - 1, 17])
def test_stitch_inverts_chunk_with_batch_dims(samples):
    waveform = torch.randn(2, 3, samples)
    chunks = chunk(waveform, 8000)
    assert chunks.shape == (2, 3, -(-samples // 8000), 8000)
    torch.testing.assert_close(stitch(chunks, samples), waveform, rtol=0, atol=0)


def test_chunk_of_an_exact_multiple_adds_no_padding_chunk():
    assert chunk(torch.randn(16000), 8000).shape == (2, 8000)


@pytest.mark.parametrize("chunk_samples", [0, -5, 2.5])
def test_chunk_rejects_a_non_positive_or_fractional_chunk_length(chunk_samples):
    with pytest.raises(ConfigError, match="chunk_samples"):
        chunk(torch.randn(100), chunk_samples)


def test_chunk_rejects_an_empty_waveform():
    with pytest.raises(DataError, match="empty"):
        chunk(torch.zeros(2, 0), 8000)


def test_stitch_rejects_a_length_longer_than_the_chunks():
    with pytest.raises(ConfigError, match="16000"):
        stitch(torch.zeros(2, 8000), 16001)


def test_decompress_inverts_compress():
    magnitude = torch.rand(4, 257, 65, dtype=torch.float64) * 10
    torch.testing.assert_close(decompress(compress(magnitude, 0.3), 0.3), magnitude)


def test_decompress_clamps_negative_values_to_zero():
    out = decompress(torch.tensor([-1.0, -1e-3, 0.0, 1.0]), 0.3)
    assert not out.isnan().any()
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, 0.0, 1.0]))


def test_decompress_rejects_a_non_positive_power():
    with pytest.raises(ConfigError, match="power"):
        decompress(torch.ones(3), 0.0)
