"""One run of the real-speech stall sweep: the `cpu` preset with overrides, trained on real speech and scored.

Trains AudioSlots (or, with ``--kind autoencoder``, its autoencoder) with fields of the `cpu` preset
overridden through :func:`audioslots.config.replace`, on the real-speech mini Libri2Mix, then scores
an AudioSlots network with oracle slot order on the first ``--eval-mixtures`` test mixtures. The
network variants the sweep tried are fields of ``ModelConfig`` like any other: ``feature_projection``
(``"per_row"`` or ``"per_cell"``: one map of z per frequency row or per grid cell) and
``fourier_axes`` (``"separate"``: Fourier features of frequency only or of time only).
``feature_grid`` follows the chunk length (32 × 8 cells for 0.5 s, 32 × 16 for 1 s).

Appends one JSON line to ``OUT/runs.jsonl``: ``name``, ``kind``, ``over`` (the overrides, as given),
``loss`` (the last logged training loss), ``train_s`` (wall seconds of training), ``ibm`` and
``wiener`` (mean SI-SNRi in dB; AudioSlots only) and ``curve`` (``step:loss`` of every logged window).
The run folder (checkpoint, log) goes to ``RUNS/NAME``; re-running the same command resumes it.

Usage, from the repository root::

    .venv/bin/python experiments/real_speech_stall/train_variant.py cell_axis_w128 --runs /tmp/real_speech_stall \\
        --overrides '{"steps": 400, "feature_projection": "per_cell", "fourier_axes": "separate",
                      "attn_dim": 128, "mlp_dim": 256, "attn_heads": 8}'
    .venv/bin/python experiments/real_speech_stall/train_variant.py ae_cell --kind autoencoder \\
        --runs /tmp/real_speech_stall --overrides '{"steps": 400, "feature_projection": "per_cell"}'
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

from audioslots.config import Preset, get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.kinds import kind_of
from audioslots.model import encoder_grid
from audioslots.pipeline import prepare_data
from audioslots.training import RunFiles, train

OUT = Path(__file__).resolve().parents[2] / "results" / "tuning" / "real_speech_stall"


def variant(overrides: dict) -> Preset:
    """The `cpu` preset with ``overrides``, its per-row and per-cell maps sized for its chunks' grid."""
    preset = replace(get_preset("cpu"), **overrides)
    return replace(preset, feature_grid=encoder_grid(preset.features.n_freq, preset.features.n_frames))


def oracle_si_snri(checkpoint: Path, data: Path, mixtures: int) -> dict[str, float]:
    """Mean SI-SNRi (dB) per mask, slots in oracle order, on the first ``mixtures`` test mixtures."""
    test = LibriMix(data, "test", max_mixtures=mixtures)
    metrics = evaluate_checkpoint(checkpoint, test, orders=("oracle",), progress=False)
    return metrics.groupby("mask")["si_snri"].mean().round(2).to_dict()


def logged_curve(run_dir: Path) -> str:
    """``step:loss`` of every window of the run's training log, separated by spaces."""
    with RunFiles(run_dir).log.open() as f:
        return " ".join(f"{row['step']}:{float(row['loss']):.4f}" for row in csv.DictReader(f))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the run's name: its line in runs.jsonl and its folder in --runs")
    parser.add_argument("--overrides", type=json.loads, default={},
                        help='JSON object of preset fields, e.g. \'{"steps": 400, "fourier_axes": "separate"}\'')
    parser.add_argument("--kind", default="audioslots", choices=("audioslots", "autoencoder"))
    parser.add_argument("--runs", type=Path, required=True, help="scratch folder for the run folders (checkpoints)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of runs.jsonl (default: %(default)s)")
    parser.add_argument("--data-root", default="",
                        help="'' (the embedded real speech, built on first use), 'synthetic' or a LibriMix folder")
    parser.add_argument("--eval-mixtures", type=int, default=40, help="test mixtures scored (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data, _ = prepare_data(args.data_root, progress=False)
    preset = variant(args.overrides)
    run_dir = args.runs / args.name
    start = time.perf_counter()
    result = train(preset, LibriMix(data, "train-360"), run_dir, kind=args.kind, device="cpu", progress=False)
    record = {"name": args.name, "kind": args.kind, "over": json.dumps(args.overrides), "loss": result.final_loss,
              "train_s": round(time.perf_counter() - start)}
    if kind_of(args.kind).separates_mixtures and args.eval_mixtures:
        record.update(oracle_si_snri(RunFiles(run_dir).checkpoint, data, args.eval_mixtures))
    record["curve"] = logged_curve(run_dir)
    print(json.dumps(record), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "runs.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
