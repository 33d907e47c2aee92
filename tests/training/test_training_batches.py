"""Training batches: a pure function of (seed, step), and dynamic mixing of sources of different speakers."""

import numpy as np
import pytest
import torch

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError
from audioslots.training import CropBatches, train
from audioslots.training.batches import REMIX_GAIN_DB, speaker_of

CROP = 800


@pytest.fixture(scope="module")
def dataset(tiny_data):
    return LibriMix(tiny_data, "train-360")


def _drawn_as_ever(dataset, batch_size, seed, step):
    """The batch of ``step`` as training has always drawn it: mixtures, then offsets, from ``(seed, step)``."""
    rng = np.random.default_rng([seed, step])
    indices = rng.integers(len(dataset), size=batch_size)
    spare = np.maximum(np.asarray(dataset.lengths)[indices] - CROP, 0)
    offsets = (rng.random(batch_size) * (spare + 1)).astype(np.int64)
    crops = [dataset.crop(int(i), int(o), CROP) for i, o in zip(indices, offsets)]
    return torch.stack([c.mixture for c in crops]), torch.stack([c.sources for c in crops])


def test_without_dynamic_mixing_a_batch_is_the_crops_drawn_from_seed_and_step(dataset):
    mixtures, sources = CropBatches(dataset, 4, CROP, seed=3, kind="audioslots")[11]
    expected_mixtures, expected_sources = _drawn_as_ever(dataset, 4, 3, 11)
    assert torch.equal(mixtures, expected_mixtures) and torch.equal(sources, expected_sources)


def test_dynamic_mixing_mixes_sources_of_different_speakers_from_different_mixtures(dataset):
    batches = CropBatches(dataset, 6, CROP, seed=1, kind="audioslots", dynamic_mixing=1.0)
    ids = dataset.mixture_ids
    for step in range(5):
        for remix in batches.remixes(step):
            speakers = [speaker_of(ids[m], s) for m, s in zip(remix.mixtures, remix.sources)]
            assert len(set(remix.mixtures)) == len(set(speakers)) == dataset.n_src


def test_dynamically_mixed_sources_are_training_sources_scaled_within_3_db(dataset):
    batches = CropBatches(dataset, 6, CROP, seed=1, kind="audioslots", dynamic_mixing=1.0)
    _, sources = batches[2]
    for example, remix in zip(sources, batches.remixes(2)):
        assert all(abs(gain) <= REMIX_GAIN_DB for gain in remix.gains_db)
        for k, (mixture, source, offset, gain_db) in enumerate(zip(remix.mixtures, remix.sources, remix.offsets,
                                                                    remix.gains_db)):
            original = dataset.crop(mixture, offset, CROP).sources[source]
            assert torch.equal(example[k], original * 10 ** (gain_db / 20))


def test_gains_of_dynamic_mixing_cover_the_range_of_plus_minus_3_db(dataset):
    batches = CropBatches(dataset, 8, CROP, seed=0, kind="audioslots", dynamic_mixing=1.0)
    gains = np.array([g for step in range(20) for remix in batches.remixes(step) for g in remix.gains_db])
    assert gains.min() < -2.5 and gains.max() > 2.5 and np.abs(gains).max() <= REMIX_GAIN_DB


def test_a_dynamically_mixed_mixture_is_the_sum_of_its_sources(dataset):
    mixtures, sources = CropBatches(dataset, 4, CROP, seed=2, kind="audioslots", dynamic_mixing=1.0)[0]
    assert torch.equal(mixtures, sources.sum(1))


def test_dynamic_mixing_is_the_same_for_the_same_seed_and_step_and_differs_between_steps(dataset):
    one = CropBatches(dataset, 4, CROP, seed=5, kind="audioslots", dynamic_mixing=0.5)
    other = CropBatches(dataset, 4, CROP, seed=5, kind="audioslots", dynamic_mixing=0.5)
    assert all(torch.equal(a, b) for a, b in zip(one[9], other[9]))
    assert one.remixes(9) == other.remixes(9) and one.remixes(9) != one.remixes(10)


def test_dynamic_mixing_remixes_about_its_fraction_and_leaves_the_other_examples_as_drawn(dataset):
    batches = CropBatches(dataset, 8, CROP, seed=4, kind="audioslots", dynamic_mixing=0.5)
    remixed = [remix is not None for step in range(50) for remix in batches.remixes(step)]
    assert 0.4 < np.mean(remixed) < 0.6
    mixtures, sources = batches[3]
    expected_mixtures, expected_sources = _drawn_as_ever(dataset, 8, 4, 3)
    kept = [i for i, remix in enumerate(batches.remixes(3)) if remix is None]
    assert kept and torch.equal(mixtures[kept], expected_mixtures[kept]) and torch.equal(sources[kept],
                                                                                          expected_sources[kept])


def test_shares_of_a_dynamically_mixed_batch_are_the_whole_batch(dataset):
    whole = CropBatches(dataset, 4, CROP, seed=1, kind="audioslots", dynamic_mixing=0.5)[6]
    halves = [CropBatches(dataset, 4, CROP, seed=1, kind="audioslots", part=part, dynamic_mixing=0.5)[6]
              for part in (slice(0, 2), slice(2, 4))]
    assert all(torch.equal(torch.cat([h[i] for h in halves]), whole[i]) for i in (0, 1))


def test_dynamic_mixing_outside_zero_to_one_is_refused_with_a_sentence(dataset):
    with pytest.raises(ConfigError, match="dynamic_mixing is 1.5.*from 0 to 1"):
        CropBatches(dataset, 4, CROP, seed=0, kind="audioslots", dynamic_mixing=1.5)


def test_a_run_with_dynamic_mixing_trains_and_resumes_exactly(tiny_train, tmp_path):
    preset = replace(get_preset("tiny"), steps=4, dynamic_mixing=0.5)
    full = train(preset, tiny_train, tmp_path / "full", progress=False)
    train(preset, tiny_train, tmp_path / "resumed", progress=False, stop_after=2)
    assert train(preset, tiny_train, tmp_path / "resumed", progress=False).final_loss == full.final_loss


@pytest.mark.parametrize("field, value", [("dynamic_mixing", 1.5), ("dynamic_mixing", -0.1),
                                          ("decoded_cells", 0.0), ("decoded_cells", 1.2)])
def test_a_fraction_outside_its_range_is_refused_with_the_field_named(field, value):
    with pytest.raises(ConfigError, match=field):
        replace(get_preset("tiny"), **{field: value})


def test_a_crop_pool_draws_every_batch_from_the_same_fixed_crops(dataset):
    batches = CropBatches(dataset, 4, CROP, seed=2, kind="audioslots", crop_pool=3)
    pool = {tuple(dataset.crop(int(i), int(o), CROP).mixture[:50].tolist()) for i, o in zip(*batches.pool)}
    seen = {tuple(m[:50].tolist()) for step in range(6) for m in batches[step][0]}
    assert len(batches.pool[0]) == 3 and seen <= pool and len(seen) > 1


def test_a_crop_pool_depends_on_the_seed_and_not_on_the_batch_size(dataset):
    first = CropBatches(dataset, 4, CROP, seed=2, kind="audioslots", crop_pool=5).pool
    wider = CropBatches(dataset, 8, CROP, seed=2, kind="audioslots", crop_pool=5).pool
    other = CropBatches(dataset, 4, CROP, seed=3, kind="audioslots", crop_pool=5).pool
    assert np.array_equal(first[0], wider[0]) and np.array_equal(first[1], wider[1])
    assert not (np.array_equal(first[0], other[0]) and np.array_equal(first[1], other[1]))


def test_crop_pool_and_dynamic_mixing_are_refused_together(dataset):
    with pytest.raises(ConfigError, match="set dynamic_mixing to 0"):
        CropBatches(dataset, 4, CROP, seed=0, kind="audioslots", crop_pool=3, dynamic_mixing=0.5)


def test_a_negative_crop_pool_is_refused_with_a_sentence():
    with pytest.raises(ConfigError, match="crop_pool=-1"):
        replace(get_preset("tiny"), crop_pool=-1)


def test_a_speaker_subset_keeps_exactly_the_mixtures_of_its_speakers(dataset):
    from audioslots.training.batches import speaker_subset

    kept = speaker_subset(dataset, 4, seed=0)
    speakers = [{speaker_of(m, k) for k in range(2)} for m in dataset.mixture_ids]
    chosen = set().union(*(speakers[i] for i in kept))
    assert len(kept) >= 1 and len(chosen) <= 4
    assert [i for i, s in enumerate(speakers) if s <= chosen] == kept.tolist()


def test_crops_of_a_speaker_subset_come_from_its_mixtures_and_the_first_part_of_each(dataset):
    batches = CropBatches(dataset, 4, CROP, seed=0, kind="audioslots", crop_speakers=4, crop_span=0.5)
    for step in range(5):
        rng = np.random.default_rng([0, step])
        indices = batches.mixtures[rng.integers(len(batches.mixtures), size=4)]
        offsets = (rng.random(4) * (np.maximum(np.asarray(dataset.lengths)[indices] // 2 - CROP, 0) + 1)).astype(int)
        assert set(indices) <= set(batches.mixtures.tolist())
        assert all(o + CROP <= max(n // 2, CROP) for o, n in zip(offsets, np.asarray(dataset.lengths)[indices]))
        expected = [dataset.crop(int(i), int(o), CROP).mixture for i, o in zip(indices, offsets)]
        assert torch.equal(batches[step][0], torch.stack(expected))


def test_more_speakers_than_the_split_has_is_refused(dataset):
    with pytest.raises(ConfigError, match="ask for fewer"):
        CropBatches(dataset, 4, CROP, seed=0, kind="audioslots", crop_speakers=10_000)


@pytest.mark.parametrize("field, value", [("crop_speakers", 1), ("crop_span", 0.0), ("crop_span", 1.5)])
def test_speaker_and_span_fields_out_of_range_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        replace(get_preset("tiny"), **{field: value})
