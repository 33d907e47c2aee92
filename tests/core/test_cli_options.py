"""The command-line options the ``audioslots`` command and the experiment scripts share."""

import json
from pathlib import Path

import pytest

from audioslots.cli_options import experiment_parser, settings_of
from audioslots.config import apply_settings, get_preset


def _parse(*argv):
    return experiment_parser("An experiment.\n\nMore.", "the run's name", Path("out"), "runs.jsonl").parse_args(argv)


def test_an_experiment_takes_the_same_settings_from_set_and_from_overrides():
    cpu = get_preset("cpu")
    by_set = _parse("x", "--set", "fourier_scale=48", "--set", "model.resnet_blocks=1,2,3,4")
    by_json = _parse("x", "--overrides", json.dumps({"fourier_scale": 48, "resnet_blocks": [1, 2, 3, 4]}))
    assert apply_settings(cpu, settings_of(by_set)) == apply_settings(cpu, settings_of(by_json))
    assert apply_settings(cpu, settings_of(by_set)).model.resnet_blocks == (1, 2, 3, 4)


def test_a_later_set_of_the_same_key_wins():
    assert settings_of(_parse("x", "--set", "steps=1", "--set", "steps=2")) == {"steps": 2}


def test_set_is_applied_after_overrides():
    args = _parse("x", "--set", "steps=7", "--overrides", '{"steps": 5, "warmup_steps": 2}')
    assert settings_of(args) == {"steps": 7, "warmup_steps": 2}


def test_an_experiment_takes_its_shared_options():
    args = _parse("x")
    assert (args.name, args.out, args.data_root, args.threads, settings_of(args)) == ("x", Path("out"), "", 1, {})


@pytest.mark.parametrize("option, words", [
    (["--overrides", "{steps: 1}"], "is not JSON"),
    (["--overrides", "[1]"], "is not a JSON object of settings"),
    (["--overrides", '{"stepz": 1}'], "Unknown setting 'stepz'"),
    (["--set", "steps=x"], "Cannot set steps to 'x'"),
])
def test_a_bad_setting_stops_the_command_line_with_a_sentence(option, words, capsys):
    with pytest.raises(SystemExit) as stopped:
        _parse("x", *option)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and words in err and "Traceback" not in err
