"""One run of the `cpu` preset's tuning on real speech: the preset with settings, trained and scored.

Trains AudioSlots (or, with ``--kind autoencoder``, its autoencoder) with fields of the `cpu` preset
set by ``--set KEY=VALUE`` (:func:`audioslots.config.parse_setting`; for instance
``TrainConfig.dynamic_mixing``, the fraction of training examples mixed on the fly from sources of
different speakers), then scores an AudioSlots network with oracle slot order on the first
``--eval-mixtures`` test mixtures. ``--overrides JSON`` takes the same settings as one JSON object,
the form the committed records print.

Appends one JSON line to ``OUT/cpu_preset_real_speech.jsonl``: ``name``, ``kind``, ``over`` (the
settings, as JSON), ``loss`` (the last logged training loss), ``train_s`` (wall seconds of
training), and ``ibm`` and ``wiener`` (mean SI-SNRi in dB; AudioSlots only). The run folder
(checkpoint, log) goes to ``RUNS/NAME``; re-running the same command resumes it.

Usage, from the repository root::

    .venv/bin/python experiments/cpu_preset_tuning.py dyn1 --runs /tmp/cpu_preset_tuning \\
        --set steps=2400 --set dynamic_mixing=1.0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from audioslots.cli_options import add_run_options, experiment_parser, settings_of, start_experiment
from audioslots.config import Preset
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.kinds import kind_of
from audioslots.training import RunFiles, train

OUT = Path(__file__).resolve().parents[1] / "results" / "tuning"
RECORDS = "cpu_preset_real_speech.jsonl"


def tuning_parser(doc: str, out: Path, records: str) -> argparse.ArgumentParser:
    """The options of a tuning run: NAME, ``--set``, ``--kind``, ``--runs``, ``--out`` (the folder of ``records``),
    ``--data-root``, ``--eval-mixtures`` and ``--threads``."""
    parser = experiment_parser(doc, f"the run's name: its line in {records} and its folder in --runs", out, records)
    parser.add_argument("--kind", default="audioslots", choices=("audioslots", "autoencoder"))
    add_run_options(parser)
    return parser


def train_and_score(args: argparse.Namespace, preset: Preset, data: Path) -> dict:
    """Train (or resume) the run ``args`` names with ``preset``; its record (see the module's docstring)."""
    run_dir = args.runs / args.name
    start = time.perf_counter()
    result = train(preset, LibriMix(data, "train-360"), run_dir, kind=args.kind, device="cpu", progress=False)
    record = {"name": args.name, "kind": args.kind, "over": json.dumps(settings_of(args)), "loss": result.final_loss,
              "train_s": round(time.perf_counter() - start)}
    if kind_of(args.kind).separates_mixtures and args.eval_mixtures:
        record.update(oracle_si_snri(RunFiles(run_dir).checkpoint, data, args.eval_mixtures))
    return record


def oracle_si_snri(checkpoint: Path, data: Path, mixtures: int) -> dict[str, float]:
    """Mean SI-SNRi (dB) per mask, slots in oracle order, on the first ``mixtures`` test mixtures."""
    test = LibriMix(data, "test", max_mixtures=mixtures)
    metrics = evaluate_checkpoint(checkpoint, test, orders=("oracle",), progress=False)
    return metrics.groupby("mask")["si_snri"].mean().round(2).to_dict()


def append_record(path: Path, record: dict) -> None:
    """Print ``record`` and append it to the JSONL file ``path``."""
    print(json.dumps(record), flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def main(argv=None) -> int:
    args = tuning_parser(__doc__, OUT, RECORDS).parse_args(argv)
    data, preset = start_experiment(args)
    append_record(args.out / RECORDS, train_and_score(args, preset, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
