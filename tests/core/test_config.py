"""Settings of a preset: ``key=value`` text parsed to each field's type, and refused in a sentence."""

import dataclasses
from typing import Literal

import pytest

from audioslots import config
from audioslots.config import PARTS, PRESETS, apply_settings, get_preset, parse_setting, replace, typed_settings
from audioslots.errors import ConfigError


def parse_settings(texts):
    """Settings as ``--set`` collects them: in order, a later one of the same key winning."""
    return dict(parse_setting(text) for text in texts)


def _text(value) -> str:
    """A field's value as one would write it after ``--set KEY=``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


@pytest.mark.parametrize("preset", PRESETS.values(), ids=PRESETS)
def test_every_field_of_every_preset_reads_back_from_its_text(preset):
    for part in PARTS:
        for field in dataclasses.fields(getattr(preset, part)):
            value = getattr(getattr(preset, part), field.name)
            assert parse_setting(f"{part}.{field.name}={_text(value)}") == (f"{part}.{field.name}", value)


def test_a_setting_is_parsed_to_its_fields_type():
    assert parse_settings(["steps=10", "learning_rate=1e-3", "fourier_scale=48", "factorised_decoder=false",
                           "framing=centred", "resnet_blocks=3,4,6,3", "feature_grid=(32, 16)", "keep_checkpoints=",
                           "clip_grad_norm=none", "name=mine"]) == {
        "steps": 10, "learning_rate": 1e-3, "fourier_scale": 48.0, "factorised_decoder": False, "framing": "centred",
        "resnet_blocks": (3, 4, 6, 3), "feature_grid": (32, 16), "keep_checkpoints": (), "clip_grad_norm": None,
        "name": "mine"}


def test_a_dotted_key_sets_the_same_field_as_its_bare_name():
    cpu = get_preset("cpu")
    assert apply_settings(cpu, parse_settings(["model.slot_dim=128"])) == replace(cpu, slot_dim=128)


def test_no_field_name_is_in_two_configs_so_a_bare_name_is_never_ambiguous():
    names = [field.name for part in PARTS.values() for field in dataclasses.fields(part)]
    assert len(names) == len(set(names))


def test_an_optional_field_is_set_to_none_by_apply_settings_and_kept_by_replace():
    cpu = get_preset("cpu")
    assert cpu.train.batch_seconds is not None
    assert apply_settings(cpu, {"batch_seconds": None}).train.batch_seconds is None
    assert replace(cpu, batch_seconds=None) == cpu  # an option left unset keeps the preset's value


def test_json_values_are_typed_as_the_same_settings_written_as_text():
    assert typed_settings({"fourier_scale": 48, "resnet_blocks": [1, 1, 1, 1], "steps": "400"}) == \
        parse_settings(["fourier_scale=48", "resnet_blocks=1,1,1,1", "steps=400"])


@pytest.mark.parametrize("text, words", [
    ("slot_dims=3", "Unknown setting 'slot_dims'.*did you mean slot_dim"),
    ("train.slot_dim=3", "slot_dim is a field of the model config; write model.slot_dim"),
    ("lr=1e-3", "Unknown setting 'lr'.*learning_rate"),
    ("steps", "not a setting: write KEY=VALUE"),
    ("steps=ten", "Cannot set steps to 'ten': it takes a whole number"),
    ("steps=1.5", "Cannot set steps to '1.5': it takes a whole number"),
    ("learning_rate=fast", "it takes a number"),
    ("factorised_decoder=maybe", "it takes true or false"),
    ("feature_grid=32,8,2", "it takes 2 values"),
])
def test_a_bad_setting_is_refused_in_a_sentence(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_setting(text)


@pytest.mark.parametrize("settings, words", [
    ({"steps": 2.5}, "Cannot set steps to 2.5: it takes a whole number"),
    ({"steps": True}, "it takes a whole number"),
    ({"framing": 1}, "it takes text"),
    ({"resnet_blocks": 3}, "it takes a list of values"),
])
def test_a_value_of_the_wrong_type_is_refused_in_a_sentence(settings, words):
    with pytest.raises(ConfigError, match=words):
        apply_settings(get_preset("tiny"), settings)


def test_a_literal_field_takes_one_of_its_choices():
    kind = Literal["narrow", "wide"]
    assert config._typed("slot_path", "wide", kind) == "wide"
    with pytest.raises(ConfigError, match="choose one of narrow, wide"):
        config._typed("slot_path", "broad", kind)
