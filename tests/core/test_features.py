"""Specification of audioslots.features: chunking, STFT round trip, compression."""

import numpy as np
import pytest
import torch

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError, DataError
from audioslots.features import (
    chunk, chunk_hop, compress, crossfade_window, decompress, inverse_window, istft, overlap_add, spectrogram, stft,
    stitch,
)

HALF_SECOND = FeatureConfig(framing="centred")
ONE_SECOND = FeatureConfig(chunk_seconds=1.0, framing="centred")
PAD_END = FeatureConfig(framing="pad-end")
PAD_END_1S = FeatureConfig(chunk_seconds=1.0, framing="pad-end")


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


# --- pad-end framing: tf.signal.stft / tf.signal.inverse_stft, checked against loops over frames


def _periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def _brute_force_pad_end_stft(x, n_fft, hop):
    """Frame k covers samples [k*hop, k*hop + n_fft) of x zero-padded at the end; ceil(N/hop) frames."""
    n_frames = -(-len(x) // hop)
    padded = np.zeros((n_frames - 1) * hop + n_fft)
    padded[: len(x)] = x
    w = _periodic_hann(n_fft)
    return np.stack([np.fft.rfft(padded[k * hop: k * hop + n_fft] * w) for k in range(n_frames)], axis=1)


def _brute_force_pad_end_istft(spectrum, n_fft, hop, length):
    """Overlap-add of irfft(frame) * w / d, with d[i] the sum over every frame offset j*hop of w[i - j*hop]**2."""
    w = _periodic_hann(n_fft)
    d = np.zeros(n_fft)
    for i in range(n_fft):
        for j in range(-(n_fft // hop) - 1, n_fft // hop + 2):
            if 0 <= i - j * hop < n_fft:
                d[i] += w[i - j * hop] ** 2
    n_frames = spectrum.shape[1]
    out = np.zeros((n_frames - 1) * hop + n_fft)
    for k in range(n_frames):
        out[k * hop: k * hop + n_fft] += np.fft.irfft(spectrum[:, k], n=n_fft) * w / d
    return out[:length]


def test_pad_end_grid_is_257_by_64_and_257_by_128():
    assert (PAD_END.n_freq, PAD_END.n_frames) == (257, 64)
    assert (PAD_END_1S.n_freq, PAD_END_1S.n_frames) == (257, 128)


@pytest.mark.parametrize("samples", [8000, 16000, 1001, 125])
def test_pad_end_stft_matches_a_brute_force_reference(samples):
    x = np.random.default_rng(samples).standard_normal(samples)
    ours = stft(torch.from_numpy(x), PAD_END).numpy()
    expected = _brute_force_pad_end_stft(x, PAD_END.n_fft, PAD_END.hop_samples)
    assert ours.shape == expected.shape == (257, -(-samples // 125))
    np.testing.assert_allclose(ours, expected, atol=1e-9)


@pytest.mark.parametrize("samples", [8000, 16000, 1001])
def test_pad_end_istft_matches_a_brute_force_reference(samples):
    spectrum = _brute_force_pad_end_stft(np.random.default_rng(1).standard_normal(samples), 512, 125)
    rng = np.random.default_rng(2)
    spectrum = spectrum * (rng.random(spectrum.shape) + 0.5)  # not the STFT of any signal
    ours = istft(torch.from_numpy(spectrum), PAD_END, samples).numpy()
    np.testing.assert_allclose(ours, _brute_force_pad_end_istft(spectrum, 512, 125, samples), atol=1e-9)


def test_pad_end_round_trip_is_exact_after_the_first_n_fft_minus_hop_samples_only():
    x = torch.randn(3, 8000, dtype=torch.float64)
    restored = istft(stft(x, PAD_END), PAD_END, 8000)
    edge = PAD_END.n_fft - PAD_END.hop_samples  # 387 samples covered by fewer frames
    torch.testing.assert_close(restored[:, edge:], x[:, edge:])
    error = (restored[:, :edge] - x[:, :edge]).abs().amax(-1)
    assert (error > 0.1 * x[:, :edge].abs().amax(-1)).all()


def test_inverse_window_overlap_adds_to_one_in_the_steady_state():
    w = torch.hann_window(512, dtype=torch.float64)
    product = w * inverse_window(PAD_END, w)
    total = torch.zeros(512 + 10 * 125, dtype=torch.float64)
    for k in range(11):
        total[k * 125: k * 125 + 512] += product
    torch.testing.assert_close(total[512:10 * 125], torch.ones(10 * 125 - 512, dtype=torch.float64))


def test_unknown_framing_is_a_config_error():
    with pytest.raises(ConfigError, match="framing"):
        stft(torch.randn(8000), FeatureConfig(framing="center"))


# --- overlapping chunks


def test_chunk_with_a_hop_cuts_overlapping_windows_and_pads_the_last():
    waveform = torch.arange(10, dtype=torch.float32)
    chunks = chunk(waveform, 4, hop_samples=2)  # starts 0, 2, 4, 6 → the last covers 6..9
    assert chunks.shape == (4, 4)
    torch.testing.assert_close(chunks[1], torch.tensor([2.0, 3.0, 4.0, 5.0]))
    torch.testing.assert_close(chunks[3], torch.tensor([6.0, 7.0, 8.0, 9.0]))


@pytest.mark.parametrize("samples", [8000, 20000, 20001, 3000])
@pytest.mark.parametrize("hop", [4000, 6000, 1000])
def test_overlap_add_of_unchanged_chunks_gives_back_the_waveform(samples, hop):
    waveform = torch.randn(2, samples, dtype=torch.float64)
    chunks = chunk(waveform, 8000, hop)
    torch.testing.assert_close(overlap_add(chunks, hop, samples), waveform)


def test_overlap_add_cross_fades_between_chunks_with_weights_summing_to_one():
    ones = torch.ones(3, 8000, dtype=torch.float64)
    ones[1] *= 3.0  # chunk 1 says 3, its neighbours 1
    out = overlap_add(ones, 4000, 16000)
    window = crossfade_window(8000, 4000, torch.float64)
    # sample 4000: the end of chunk 0's fade-out (weight w[4000]) meets the start of chunk 1's fade-in (w[0])
    torch.testing.assert_close(window[0] + window[4000], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(out[4000], 1.0 + 2 * window[0])
    assert (out >= 1 - 1e-12).all() and (out <= 3 + 1e-12).all()
    assert torch.all(torch.diff(out[:8000]) >= -1e-12)  # a monotone fade in, no jump at the boundary


def test_crossfade_window_without_overlap_is_all_ones():
    assert torch.equal(crossfade_window(8000, 8000), torch.ones(8000))


@pytest.mark.parametrize("overlap", [-0.1, 1.0])
def test_chunk_overlap_outside_0_1_is_a_config_error(overlap):
    with pytest.raises(ConfigError, match="overlap"):
        chunk_hop(8000, overlap)
