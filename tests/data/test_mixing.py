"""The LibriMix mixing recipe both builders share: loudness targets, one clipping weight, min mode, speaker splits."""

import warnings

import numpy as np
import pyloudnorm
import pytest

from audioslots.data.mixing import (
    LOUDNESS_RANGE_LUFS,
    MAX_AMPLITUDE,
    draw_loudness_targets,
    gain_to_loudness,
    mix_without_clipping,
    split_speakers,
)
from audioslots.errors import ConfigError


def test_loudness_targets_are_drawn_from_librimix_range():
    targets = draw_loudness_targets(np.random.default_rng(0), 1000)
    assert targets.shape == (1000,)
    assert LOUDNESS_RANGE_LUFS == (-33.0, -25.0)
    assert targets.min() >= -33.0 and targets.max() <= -25.0 and targets.std() > 2


def test_the_gain_to_a_loudness_is_pyloudnorms_to_the_bit():
    audio = np.random.default_rng(1).standard_normal(16000) * 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = pyloudnorm.normalize.loudness(audio, -21.7, -28.3)
    assert np.array_equal(gain_to_loudness(-21.7, -28.3) * audio, expected)


def test_gains_of_several_sources_come_in_one_call():
    gains = gain_to_loudness(np.array([-20.0, -40.0]), np.array([-30.0, -30.0]))
    np.testing.assert_allclose(gains, [10 ** -0.5, 10 ** 0.5])


def test_sources_that_do_not_clip_are_only_cut_to_the_shortest():
    quiet = [np.full(5, 0.2), np.full(3, -0.1)]
    sources, weight = mix_without_clipping(quiet)
    assert weight == 1.0
    assert np.array_equal(sources, np.array([[0.2] * 3, [-0.1] * 3]))


def test_a_mixture_that_would_clip_is_scaled_to_a_0_9_peak_with_one_weight():
    loud = [np.array([0.6, 0.7, -0.2]), np.array([0.5, 0.4, 0.1])]
    sources, weight = mix_without_clipping(loud)
    assert weight == pytest.approx(MAX_AMPLITUDE / 1.1)
    assert np.abs(sources.sum(0)).max() == pytest.approx(MAX_AMPLITUDE)
    np.testing.assert_allclose(sources, np.stack(loud) * weight)


def test_the_clipping_check_looks_past_the_shortest_source_like_librimix():
    # The mixture clips only where the longer source goes on: LibriMix checks the max-mode mixture.
    sources, weight = mix_without_clipping([np.array([0.5, 0.5]), np.array([0.1, 0.1, 1.2])])
    assert weight == pytest.approx(MAX_AMPLITUDE / 1.2)
    assert sources.shape == (2, 2)


def test_a_source_peak_counts_only_when_asked():
    opposite = [np.array([0.95, -0.3]), np.array([-0.9, 0.3])]  # their sum stays small
    assert mix_without_clipping(opposite)[1] == 1.0
    _, weight = mix_without_clipping(opposite, clip_at=0.94, count_source_peaks=True)
    assert weight == pytest.approx(MAX_AMPLITUDE / 0.95)


def test_speaker_splits_are_disjoint_cover_every_speaker_and_follow_the_seed():
    speakers = [str(s) for s in range(100, 150)] * 2
    splits = split_speakers(speakers, dev_fraction=0.1, test_fraction=0.2, seed=0)
    assert [len(splits[k]) for k in ("train-360", "dev", "test")] == [35, 5, 10]
    assert sorted(sum(splits.values(), [])) == sorted(set(speakers))
    assert split_speakers(speakers, 0.1, 0.2, seed=0) == splits
    assert split_speakers(speakers, 0.1, 0.2, seed=1) != splits


def test_speaker_split_fractions_must_leave_training_speakers():
    with pytest.raises(ConfigError, match="fractions"):
        split_speakers(["1", "2", "3"], 0.5, 0.6, seed=0)
