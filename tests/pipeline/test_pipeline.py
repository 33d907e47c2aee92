"""The reproduction's steps: the preset each network trains with, assembled once per run."""

from audioslots.config import get_preset, replace
from audioslots.pipeline import curve_steps, run_preset

TINY = get_preset("tiny")


def test_a_run_trains_at_its_chunk_length_and_keeps_the_checkpoints_of_its_learning_curve():
    preset = run_preset(TINY, "audioslots_1s")
    assert preset.features.chunk_seconds == 1.0
    assert preset.train.keep_checkpoints == curve_steps(TINY.train.steps)
    assert replace(preset, chunk_seconds=TINY.features.chunk_seconds, keep_checkpoints=()) == TINY


def test_a_whole_mixture_network_keeps_the_presets_features():
    assert run_preset(TINY, "convtasnet").features == TINY.features


def test_a_preset_that_names_its_checkpoints_keeps_them():
    assert run_preset(replace(TINY, keep_checkpoints=(2,)), "audioslots_0.5s").train.keep_checkpoints == (2,)
