"""A run of the compute series: a preset's networks trained for a multiple of its default steps.

The `cpu` preset's 750 steps are about a millionth of the paper's training compute. A point of
the compute series trains the same networks for ``--scale`` times as many steps (same schedule
shape: the preset's warm-up, then cosine decay over the longer run), keeps checkpoints at
log-spaced steps for the learning curve, and scores the final networks on the test split into a
run folder like ``results/cpu`` (``provenance.json``, ``metrics/``, ``table1.csv``; checkpoints
are not committed). Re-running the same command resumes an interrupted run; finished networks
are found and not retrained.

Usage, from the repository root::

    .venv/bin/python experiments/compute_series.py --run-dir results/real_cpu_x10 --scale 10
    .venv/bin/python -m audioslots score-checkpoints results/real_cpu_x10/audioslots_0.5s \
        results/real_cpu_x10/autoencoder_0.5s --data data/real/Libri2Mix --out results/real_cpu_x10/learning_curve.csv

The learning curve (SI-SNRi of each kept checkpoint) is scored by ``audioslots score-checkpoints``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audioslots.config import replace
from audioslots.pipeline import curve_steps, evaluate_runs, prepare_data, resolve_preset, train_runs, write_table1
from audioslots import provenance
from audioslots.runs import RUNS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="e.g. results/real_cpu_x10")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--scale", type=float, required=True, help="multiple of the preset's training steps")
    parser.add_argument("--networks", nargs="+", default=["audioslots_0.5s", "autoencoder_0.5s"], choices=sorted(RUNS))
    parser.add_argument("--curve-points", type=int, default=7, help="kept checkpoints, log-spaced, the last at the end")
    parser.add_argument("--data-root", default="", help="'' = the embedded real speech; 'synthetic'; or a LibriMix folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    base = resolve_preset(args.preset, seed=args.seed)
    steps = int(round(base.train.steps * args.scale))
    preset = replace(base, steps=steps, keep_checkpoints=curve_steps(steps, args.curve_points))
    data_root, data_info = prepare_data(args.data_root, seed=args.seed, progress=False)
    provenance.record(args.run_dir, "compute_series", {
        "what": f"the {args.preset} preset trained for {args.scale:g}x its {base.train.steps} steps",
        "scale": args.scale, "steps": steps, "kept_checkpoints": list(preset.train.keep_checkpoints),
    })
    for name, result in train_runs(args.networks, preset, data_root, args.run_dir, device=args.device,
                                   data_info=data_info, progress=False).items():
        print(f"{name}: {result.step} steps, final loss {result.final_loss:.4f}", flush=True)
    systems = [("Oracle", 0.5)] + [(RUNS[name].system, RUNS[name].chunk_seconds) for name in args.networks]
    evaluate_runs(systems, data_root, args.run_dir, device=args.device, data_info=data_info, progress=False)
    print(write_table1(args.run_dir).to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
