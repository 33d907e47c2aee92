"""The README contract's plumbing: pinned dependencies agree, the commands exist."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s]+)", line).groups()
            pins[name.lower()] = version
    return pins


def test_every_requirement_is_pinned_exactly():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = _pins(lines)
    assert pins["torch"] == "2.11.0" and pins["torchaudio"] == "2.11.0"


def test_environment_yml_pins_the_same_versions_as_requirements():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == requirements


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_console_command_prints_help_for_every_subcommand(capsys):
    from audioslots.cli import build_parser, main

    out = subprocess.run([sys.executable, "-m", "audioslots", "--help"], capture_output=True, text=True, check=True).stdout
    commands = build_parser()._subparsers._group_actions[0].choices
    assert all(command in out for command in commands)
    for command in commands:  # in this process: one interpreter start is enough to show the entry point works
        with pytest.raises(SystemExit) as exit:
            main([command, "--help"])
        assert exit.value.code == 0 and "usage: audioslots " + command in capsys.readouterr().out
