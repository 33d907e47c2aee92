"""Intervals that resample utterances: the test mixtures share utterances, so they are not independent."""

import time

import numpy as np
import pytest

from audioslots.evaluation.intervals import (membership, utterance_bounds, utterance_interval, utterance_variance,
                                             utterances_of)
from audioslots.evaluation.scores import confidence_interval


def _unique_ids(n: int) -> list[str]:
    """``n`` mixtures, each of two utterances of its own."""
    return [f"{100 + i}-1-{i:04d}_{900 + i}-2-{i:04d}" for i in range(n)]


def _shared_ids(n_mixtures: int = 100, n_utterances: int = 39, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n_mixtures`` distinct pairs drawn from ``n_utterances`` utterances, and each pair's positions."""
    rng = np.random.default_rng(seed)
    utterances = [f"{1000 + u}-{2000 + u}-0000" for u in range(n_utterances)]
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_mixtures:
        a, b = (int(v) for v in rng.choice(n_utterances, 2, replace=False))
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.append((a, b))
    return [f"{utterances[a]}_{utterances[b]}" for a, b in pairs], np.array(pairs)


def test_utterances_of_parses_librimix_ids():
    assert utterances_of("8238-274553-0000_4267-287369-0000") == ("8238-274553-0000", "4267-287369-0000")
    assert utterances_of("19-198-0001_26-495-0002_39-121-0003") == ("19-198-0001", "26-495-0002", "39-121-0003")
    assert utterances_of("5") == ("5",) and utterances_of(7) == ("7",)  # no separator: a mixture of its own


def test_membership_marks_each_mixtures_utterances():
    matrix, utterances = membership(["a_b", "b_c", "d_e"])
    assert utterances == ["a", "b", "c", "d", "e"]
    assert matrix.tolist() == [[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_shared_utterances_it_is_the_students_t_interval(seed):
    values = np.random.default_rng(seed).normal(3.0, 2.0, 100)
    ids = _unique_ids(100)
    t_half, ours = confidence_interval(values), utterance_interval(values, ids)
    assert abs(ours / t_half - 1) < 0.15, (ours, t_half)
    assert abs(utterance_interval(values, ids, n_boot=None) / t_half - 1) < 0.05  # the exact variance


def test_shared_utterances_with_strong_effects_widen_the_interval():
    ids, pairs = _shared_ids()
    rng = np.random.default_rng(1)
    effects = rng.normal(0.0, 2.0, 39)  # a per-utterance effect: easy and hard utterances
    values = effects[pairs].sum(axis=1) + rng.normal(0.0, 0.3, len(pairs))
    t_half, ours = confidence_interval(values), utterance_interval(values, ids)
    assert ours > 1.5 * t_half, (ours, t_half)


def test_shared_utterances_without_effects_barely_change_the_interval():
    ids, _ = _shared_ids()
    values = np.random.default_rng(3).normal(0.0, 1.0, len(ids))
    ratio = utterance_interval(values, ids) / confidence_interval(values)
    assert 0.9 < ratio < 1.5, ratio  # never narrower than the independent interval (the floor)


def test_the_bootstrap_estimates_the_exact_multiway_variance():
    ids, pairs = _shared_ids()
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 1.0, 39)[pairs].sum(axis=1) + rng.normal(0.0, 1.0, len(pairs))
    x = (values - values.mean()) / len(values)
    share = (membership(ids)[0] @ membership(ids)[0].T > 0).astype(float)  # mixtures sharing an utterance
    exact = utterance_variance(values, ids, n_boot=None)
    assert exact == pytest.approx(x @ share @ x, rel=0.05)
    assert utterance_variance(values, ids, n_boot=20000) == pytest.approx(exact, rel=0.05)


def test_the_same_seed_gives_the_same_interval_and_is_fast():
    ids, pairs = _shared_ids()
    values = np.random.default_rng(5).normal(0.0, 1.0, len(ids))
    start = time.perf_counter()
    first = utterance_interval(values, ids, seed=7)
    assert time.perf_counter() - start < 0.5  # 2000 resamples × 100 mixtures
    assert utterance_interval(values, ids, seed=7) == first
    assert utterance_interval(values, ids, seed=8) != first
    low, high = utterance_bounds(values, ids, seed=7)
    assert (high - low) / 2 == pytest.approx(first) and (low + high) / 2 == pytest.approx(values.mean())


def test_fewer_than_two_values_have_no_interval_and_lengths_must_agree():
    assert np.isnan(utterance_interval(np.array([1.0]), ["a_b"]))
    with pytest.raises(ValueError):
        utterance_interval(np.array([1.0, 2.0]), ["a_b"])
