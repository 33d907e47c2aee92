"""Separation: stitching orders and the mask → waveform path."""

import math

import pytest
import torch

from audioslots.config import FeatureConfig
from audioslots.features import chunk, spectrogram
from audioslots.separate import continuity_order, masked_sources, oracle_estimates

FEATURES = FeatureConfig(framing="centred")  # exact STFT round trip; pad-end has its own tests


def _tones(seconds=3.0, freqs=(220.0, 1500.0)):
    t = torch.arange(int(seconds * FEATURES.sample_rate)) / FEATURES.sample_rate
    return torch.stack([torch.sin(2 * math.pi * f * t) * (0.5 + 0.1 * i) for i, f in enumerate(freqs)])


@pytest.mark.parametrize("mask", ["ibm", "wiener"])
def test_separated_sources_sum_to_the_mixture(mask):
    sources = _tones() + 0.01 * torch.randn(2, 48000)
    mixture = sources.sum(0)
    separated = masked_sources(oracle_estimates(sources, FEATURES), mixture, FEATURES, mask=mask)
    assert separated.shape == sources.shape
    torch.testing.assert_close(separated.sum(0), mixture, atol=1e-4, rtol=0)


def test_oracle_masks_recover_sources_that_do_not_overlap_in_frequency():
    sources = _tones()
    separated = masked_sources(oracle_estimates(sources, FEATURES), sources.sum(0), FEATURES, mask="ibm")
    error = (separated - sources).pow(2).sum() / sources.pow(2).sum()
    assert error < 1e-3


def test_continuity_order_undoes_a_per_chunk_shuffle_of_two_distinct_sources():
    sources = _tones(seconds=4.0)
    compressed = spectrogram(chunk(sources, FEATURES.chunk_samples).transpose(0, 1), FEATURES)  # (chunks, 2, F, T)
    generator = torch.Generator().manual_seed(0)
    shuffles = torch.stack([torch.randperm(2, generator=generator) for _ in range(len(compressed))])
    shuffled = torch.gather(compressed, 1, shuffles[:, :, None, None].expand_as(compressed))
    order = continuity_order(shuffled)
    restored = torch.gather(shuffled, 1, order[:, :, None, None].expand_as(shuffled))
    # The result is consistent up to one global permutation (chunk 0 keeps its order).
    assert torch.equal(restored, compressed) or torch.equal(restored, compressed.flip(1))


PAD_END = FeatureConfig(framing="pad-end")


def test_pad_end_oracle_loses_the_start_of_every_chunk_and_overlap_recovers_it():
    from audioslots.features import chunk_hop
    from audioslots.metrics import si_snr

    sources = _tones() + 0.01 * torch.randn(2, 48000)
    mixture = sources.sum(0)

    def quality(hop):
        separated = masked_sources(oracle_estimates(sources, PAD_END, hop), mixture, PAD_END, mask="wiener",
                                   hop_samples=hop)
        return si_snr(separated, sources).mean().item()

    non_overlapping, overlapping = quality(None), quality(chunk_hop(8000, 0.5))
    centred = masked_sources(oracle_estimates(sources, FEATURES), mixture, FEATURES, mask="wiener")
    assert overlapping > non_overlapping + 3  # dB: the under-weighted chunk starts are cross-faded away
    assert si_snr(centred, sources).mean().item() > non_overlapping
