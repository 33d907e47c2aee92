"""Command-line options shared by the ``audioslots`` command and the experiment scripts.

A config is set on any command line in one way, ``--set KEY=VALUE`` (repeatable), for any field of
any config of a preset (:func:`audioslots.config.parse_setting`)::

    audioslots train --data DATA --out RUN --preset cpu --set model.slot_dim=512 --set clip_grad_norm=1.0
    .venv/bin/python experiments/cpu_preset_tuning.py dyn1 --runs /tmp/tuning --set steps=2400 --set dynamic_mixing=1

The experiment scripts also take ``--overrides JSON``, the same settings as one JSON object, the form
their committed records and READMEs print; both go through :func:`audioslots.config.apply_settings`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from audioslots.config import Preset, apply_settings, get_preset, parse_setting, typed_settings
from audioslots.errors import ConfigError
from audioslots.pipeline import prepare_data

#: What ``--data-root`` of an experiment script names (see :func:`audioslots.pipeline.prepare_data`).
DATA_ROOT_HELP = "'' (the embedded real speech, built on first use), 'synthetic' or a LibriMix folder"


def add_set_option(parser: argparse.ArgumentParser, overrides: bool = False) -> None:
    """``--set KEY=VALUE`` (repeatable) on ``parser``; with ``overrides``, also ``--overrides JSON``."""
    parser.add_argument("--set", dest="settings", action="append", default=[], type=_setting, metavar="KEY=VALUE",
                        help="set a field of the preset's configs, e.g. --set steps=2400 --set model.slot_dim=512 "
                             "(repeatable; any field of audioslots.config, bare or dotted; 'none' for an optional "
                             "field; applied after the options that name a field)")
    if overrides:
        parser.add_argument("--overrides", type=_json_settings, default={}, metavar="JSON",
                            help="the same settings as one JSON object, e.g. '{\"steps\": 2400}' (the form of the "
                                 "committed records); --set is applied after it")


def settings_of(args: argparse.Namespace) -> dict[str, object]:
    """The settings of parsed options: ``--overrides`` (if the parser has it), then ``--set``, later ones winning."""
    return {**getattr(args, "overrides", {}), **dict(args.settings)}


def _setting(text: str) -> tuple[str, object]:
    try:
        return parse_setting(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _json_settings(text: str) -> dict[str, object]:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({error}); write e.g. '{{\"steps\": 2400}}'.") from None
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object of settings; write e.g. '{{\"steps\": 2400}}'.")
    try:
        return typed_settings(values)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def experiment_parser(doc: str, name_help: str, out: Path, out_file: str, *,
                      optional_name: bool = False) -> argparse.ArgumentParser:
    """The opening every tuning experiment's command line shares.

    The description is the first paragraph of ``doc`` (the script's docstring); the options are the
    run's NAME, ``--set``/``--overrides``, ``--out`` (the folder of ``out_file``, default ``out``),
    ``--data-root`` and ``--threads``. :func:`start_experiment` turns them into data and a preset.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("name", nargs="?" if optional_name else None, help=name_help)
    add_set_option(parser, overrides=True)
    parser.add_argument("--out", type=Path, default=out, help=f"folder of {out_file} (default: %(default)s)")
    parser.add_argument("--data-root", default="", help=DATA_ROOT_HELP)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    return parser


def add_run_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--runs`` (the scratch folder of the run folders) and ``--eval-mixtures``, of an experiment that trains runs."""
    parser.add_argument("--runs", type=Path, required=required, help="scratch folder for the run folders (checkpoints)")
    parser.add_argument("--eval-mixtures", type=int, default=40, help="test mixtures scored (0: none)")


def start_experiment(args: argparse.Namespace, preset: str | Preset = "cpu") -> tuple[Path, Preset]:
    """The data folder and preset of an experiment's options: ``--threads`` taken, ``--data-root`` prepared,
    ``preset`` (a name or a preset) with the settings of ``--overrides`` and ``--set``."""
    torch.set_num_threads(args.threads)
    data, _ = prepare_data(args.data_root, progress=False)
    base = get_preset(preset) if isinstance(preset, str) else preset
    return data, apply_settings(base, settings_of(args))
