"""Specification of audioslots.metrics: SI-SNR, permutation matching, SI-SNRi."""

import numpy as np
import pytest
import torch

from audioslots.errors import DataError
from audioslots.metrics import (
    is_silent,
    pairwise_si_snr,
    permutation_si_snr,
    si_snr,
    si_snri,
)


def signals(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def numpy_si_snr(estimate, reference):
    """Le Roux et al. (2019), written independently in float64 numpy."""
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    estimate = estimate - estimate.mean()
    reference = reference - reference.mean()
    alpha = reference @ estimate / (reference @ reference)
    target = alpha * reference
    return 10 * np.log10(np.sum(target**2) / np.sum((target - estimate) ** 2))


def test_si_snr_matches_an_independent_numpy_formula():
    estimates, references = signals(3, 2, 1000, seed=1), signals(3, 2, 1000, seed=2)
    estimates = estimates + 2 * references  # a range of realistic values
    expected = np.array(
        [
            [numpy_si_snr(e, r) for e, r in zip(e_row, r_row)]
            for e_row, r_row in zip(estimates.numpy(), references.numpy())
        ]
    )
    np.testing.assert_allclose(si_snr(estimates, references).numpy(), expected, atol=1e-6)


def test_si_snr_in_float32_is_close_to_float64():
    estimate, reference = signals(4, 8000, seed=1), signals(4, 8000, seed=2)
    estimate = estimate + reference
    exact = si_snr(estimate, reference)
    approx = si_snr(estimate.float(), reference.float())
    assert approx.dtype == torch.float32
    torch.testing.assert_close(approx.double(), exact, atol=1e-3, rtol=0)


@pytest.mark.parametrize("scale", [1e-2, 0.5, 3.0, 1e2])
def test_si_snr_is_unchanged_by_scaling_the_estimate(scale):
    estimate, reference = signals(2, 2000, seed=1), signals(2, 2000, seed=2)
    estimate = estimate + reference
    torch.testing.assert_close(
        si_snr(scale * estimate, reference), si_snr(estimate, reference), atol=1e-6, rtol=0
    )


def test_si_snr_of_the_reference_itself_is_very_large():
    reference = signals(3, 8000)
    assert (si_snr(reference, reference) > 100).all()


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 12.5])
def test_si_snr_with_orthogonal_noise_of_known_power_gives_that_snr(snr_db):
    reference = signals(4000, seed=1)
    reference = reference - reference.mean()
    noise = signals(4000, seed=2)
    noise = noise - noise.mean()
    noise = noise - (noise @ reference) / (reference @ reference) * reference  # ⟂ reference
    target_noise_energy = reference.square().sum() / 10 ** (snr_db / 10)
    noise = noise * torch.sqrt(target_noise_energy / noise.square().sum())
    assert si_snr(reference + noise, reference).item() == pytest.approx(snr_db, abs=1e-6)


def test_si_snr_ignores_a_constant_offset_when_zero_mean():
    estimate, reference = signals(2000, seed=1) + signals(2000, seed=2), signals(2000, seed=2)
    shifted = si_snr(estimate + 5.0, reference)
    torch.testing.assert_close(shifted, si_snr(estimate, reference))
    assert si_snr(estimate + 5.0, reference, zero_mean=False) < shifted


def test_si_snr_of_silence_is_finite():
    assert torch.isfinite(si_snr(torch.zeros(100), torch.zeros(100)))
    assert torch.isfinite(si_snr(signals(100), torch.zeros(100)))


def test_a_silent_estimate_scores_ten_log_eps_as_asteroid_not_zero_db():
    reference = signals(8000)
    for silent in (torch.zeros(8000), torch.full((8000,), 0.3), 1e-7 * torch.ones(8000) + 1e-9 * reference):
        assert si_snr(silent, reference).item() == pytest.approx(-80.0)
    assert si_snr(torch.zeros(8000), reference, eps=1e-6).item() == pytest.approx(-60.0)


def test_a_quiet_but_audible_estimate_keeps_its_scale_invariant_score():
    reference = signals(8000)
    estimate = reference + 0.1 * signals(8000, seed=1)
    assert si_snr(1e-3 * estimate, reference).item() == pytest.approx(si_snr(estimate, reference).item(), abs=1e-2)


def test_is_silent_looks_at_the_energy_about_the_mean():
    assert is_silent(torch.stack([torch.zeros(100), torch.full((100,), 2.0), signals(100)])).tolist() == [True, True, False]


def test_si_snri_of_a_silent_slot_is_far_below_that_of_the_mixture():
    references = torch.stack([signals(8000), signals(8000, seed=1)])
    mixture = references.sum(0)
    _, improvement = si_snri(torch.stack([mixture, torch.zeros(8000)]), references, mixture)
    assert improvement.mean() < -30


def test_si_snr_rejects_signals_of_different_lengths():
    with pytest.raises(DataError, match="same length"):
        si_snr(torch.zeros(100), torch.zeros(101))


def test_pairwise_si_snr_entry_is_si_snr_of_that_pair():
    estimates, references = signals(2, 3, 500, seed=1), signals(2, 2, 500, seed=2)
    scores = pairwise_si_snr(estimates, references)
    assert scores.shape == (2, 3, 2)
    torch.testing.assert_close(scores[1, 2, 0], si_snr(estimates[1, 2], references[1, 0]))


def test_shuffled_estimates_give_the_same_per_reference_scores():
    references = signals(5, 3, 1000, seed=1)
    estimates = references + 0.5 * signals(5, 3, 1000, seed=2)
    order = torch.tensor([2, 0, 1])
    scores, perm = permutation_si_snr(estimates, references)
    shuffled_scores, shuffled_perm = permutation_si_snr(estimates[:, order], references)
    torch.testing.assert_close(shuffled_scores, scores)
    assert (order[shuffled_perm] == perm).all()
    assert (perm == torch.arange(3)).all()  # each noisy estimate is closest to its own source


def test_si_snri_of_the_mixture_itself_is_zero():
    references = signals(4, 2, 1000)
    mixture = references.sum(dim=-2)  # (4, samples)
    estimates = torch.stack([mixture, mixture], dim=-2)
    _, improvement = si_snri(estimates, references, mixture)
    torch.testing.assert_close(improvement, torch.zeros(4, 2, dtype=torch.float64))


def test_si_snri_is_the_matched_si_snr_minus_that_of_the_mixture():
    references = signals(3, 2, 1000, seed=1)
    mixture = references.sum(dim=-2)
    estimates = references.flip(-2) + 0.3 * signals(3, 2, 1000, seed=2)  # swapped order
    scores, improvement = si_snri(estimates, references, mixture)
    expected_scores = si_snr(estimates.flip(-2), references)
    torch.testing.assert_close(scores, expected_scores)
    torch.testing.assert_close(
        improvement, expected_scores - si_snr(mixture.unsqueeze(-2), references)
    )
