"""Specification of audioslots.masks: IBM and Wiener-like masks, and applying them."""

import pytest
import torch

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError, DataError
from audioslots.features import istft, stft
from audioslots.masks import MASKS, apply_masks, compute_masks, ibm, wiener_like


def random_estimates(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator, dtype=torch.float64)


def with_silent_bins(estimates):
    estimates = estimates.clone()
    estimates[..., :, 0, :] = 0.0  # every source silent in the first frequency bin
    return estimates


@pytest.mark.parametrize("kind", MASKS)
def test_masks_sum_to_one_over_sources_including_all_zero_bins(kind):
    estimates = with_silent_bins(random_estimates(2, 3, 5, 7))
    masks = compute_masks(estimates, kind)
    assert masks.shape == estimates.shape
    torch.testing.assert_close(masks.sum(dim=-3), torch.ones(2, 5, 7, dtype=torch.float64))


def test_ibm_is_binary_and_picks_the_largest_estimate():
    estimates = random_estimates(2, 4, 5, 7)
    masks = ibm(estimates)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    expected = torch.nn.functional.one_hot(estimates.argmax(dim=-3), 4)  # (2, 5, 7, 4)
    torch.testing.assert_close(masks, expected.movedim(-1, -3).to(masks.dtype))


def test_ibm_gives_ties_to_the_first_source():
    estimates = torch.tensor([[[1.0]], [[2.0]], [[2.0]]])  # (3 sources, 1, 1)
    assert ibm(estimates).flatten().tolist() == [0.0, 1.0, 0.0]


def test_wiener_like_splits_silent_bins_equally():
    masks = wiener_like(torch.zeros(3, 2, 2))
    torch.testing.assert_close(masks, torch.full((3, 2, 2), 1 / 3))


@pytest.mark.parametrize("power", [1.0, 2.0, 3.5])
def test_wiener_like_matches_the_hand_formula(power):
    estimates = random_estimates(2, 3, 5, 7) + 0.1
    expected = estimates**power / (estimates**power).sum(dim=-3, keepdim=True)
    torch.testing.assert_close(wiener_like(estimates, power=power), expected)


def test_wiener_like_default_is_the_power_2_form_of_the_paper():
    estimates = torch.tensor([[[3.0]], [[4.0]]])
    torch.testing.assert_close(wiener_like(estimates).flatten(), torch.tensor([9 / 25, 16 / 25]))


def test_wiener_like_has_finite_gradients_on_silent_bins():
    estimates = with_silent_bins(random_estimates(2, 5, 7)).requires_grad_()
    wiener_like(estimates).square().sum().backward()
    assert torch.isfinite(estimates.grad).all()


def test_compute_masks_rejects_an_unknown_kind_naming_the_known_ones():
    with pytest.raises(ConfigError, match="ibm, wiener"):
        compute_masks(random_estimates(2, 3, 3), "ratio")


def test_apply_masks_with_oracle_masks_recovers_two_non_overlapping_sources():
    config = FeatureConfig(framing="centred")  # the exact round trip; pad-end attenuates a chunk's first samples
    # Apart in time by more than a window, so that no STFT frame sees both sources.
    sources = torch.zeros(2, config.chunk_samples, dtype=torch.float64)
    sources[0, :3000] = torch.randn(3000, dtype=torch.float64)
    sources[1, 5000:] = torch.randn(config.chunk_samples - 5000, dtype=torch.float64)
    mixture = sources.sum(dim=0)
    oracle = ibm(stft(sources, config).abs())  # (2, freq, frames)
    separated = istft(apply_masks(oracle, stft(mixture, config)), config, config.chunk_samples)
    torch.testing.assert_close(separated, sources, atol=1e-9, rtol=0)


def test_apply_masks_multiplies_each_mask_with_the_mixture_spectrum():
    masks = random_estimates(2, 3, 5, 7).float()
    mixture = torch.randn(2, 5, 7, dtype=torch.complex64)
    out = apply_masks(masks, mixture)
    assert out.shape == (2, 3, 5, 7) and out.dtype == torch.complex64
    torch.testing.assert_close(out[:, 1], masks[:, 1] * mixture)


def test_apply_masks_rejects_a_mixture_on_another_grid():
    with pytest.raises(DataError, match="freq, frames"):
        apply_masks(torch.ones(2, 5, 7), torch.ones(5, 8, dtype=torch.complex64))
