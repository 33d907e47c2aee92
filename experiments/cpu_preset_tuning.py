"""One run of the `cpu` preset's tuning on real speech: the preset with overrides, trained and scored.

Trains AudioSlots (or, with ``--kind autoencoder``, its autoencoder) with fields of the `cpu` preset
overridden through :func:`audioslots.config.replace` (for instance ``TrainConfig.dynamic_mixing``, the
fraction of training examples mixed on the fly from sources of different speakers), then scores an
AudioSlots network with oracle slot order on the first ``--eval-mixtures`` test mixtures.

Appends one JSON line to ``OUT/cpu_preset_real_speech.jsonl``: ``name``, ``kind``, ``over`` (the
overrides, as given), ``loss`` (the last logged training loss), ``train_s`` (wall seconds of
training), and ``ibm`` and ``wiener`` (mean SI-SNRi in dB; AudioSlots only). The run folder
(checkpoint, log) goes to ``RUNS/NAME``; re-running the same command resumes it.

Usage, from the repository root::

    .venv/bin/python experiments/cpu_preset_tuning.py dyn1 --runs /tmp/cpu_preset_tuning \\
        --overrides '{"steps": 2400, "dynamic_mixing": 1.0}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.kinds import kind_of
from audioslots.pipeline import prepare_data
from audioslots.training import RunFiles, train

OUT = Path(__file__).resolve().parents[1] / "results" / "tuning"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the run's name: its line in the JSONL file and its folder in --runs")
    parser.add_argument("--overrides", type=json.loads, default={},
                        help='JSON object of preset fields, e.g. \'{"steps": 2400, "dynamic_mixing": 1.0}\'')
    parser.add_argument("--kind", default="audioslots", choices=("audioslots", "autoencoder"))
    parser.add_argument("--runs", type=Path, required=True, help="scratch folder for the run folders (checkpoints)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="folder of cpu_preset_real_speech.jsonl (default: %(default)s)")
    parser.add_argument("--data-root", default="",
                        help="'' (the embedded real speech, built on first use), 'synthetic' or a LibriMix folder")
    parser.add_argument("--eval-mixtures", type=int, default=40, help="test mixtures scored (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data, _ = prepare_data(args.data_root, progress=False)
    preset = replace(get_preset("cpu"), **args.overrides)
    run_dir = args.runs / args.name
    start = time.perf_counter()
    result = train(preset, LibriMix(data, "train-360"), run_dir, kind=args.kind, device="cpu", progress=False)
    record = {"name": args.name, "kind": args.kind, "over": json.dumps(args.overrides), "loss": result.final_loss,
              "train_s": round(time.perf_counter() - start)}
    if kind_of(args.kind).separates_mixtures and args.eval_mixtures:
        test = LibriMix(data, "test", max_mixtures=args.eval_mixtures)
        metrics = evaluate_checkpoint(RunFiles(run_dir).checkpoint, test, orders=("oracle",), progress=False)
        record.update(metrics.groupby("mask")["si_snri"].mean().round(2).to_dict())
    print(json.dumps(record), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "cpu_preset_real_speech.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
