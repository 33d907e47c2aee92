"""A time-boxed run of the ``paper`` preset on a GPU, scored on the real-speech test speakers.

This is not the paper's 300 000-step run: it trains the paper's network (ResNet-34, 4096-d
slots, batch 64, learning rate 2e-4, bf16 on CUDA) for as many steps as fit ``--seconds`` at the
throughput measured just before (``--throughput`` JSON from ``benchmarks/train_throughput.py``),
with the warm-up shortened to a tenth of the run so that the cosine schedule completes. It
exercises the whole GPU path of the library — training, checkpointing, evaluation on the device
— and writes a run folder like ``results/cpu`` (``provenance.json``, ``table1.csv``, metrics,
the training log, and ``learning_curve.csv``: each network's kept checkpoints scored on the test
split; no checkpoint is meant to be committed), so that the book lists it beside the other runs and
draws its learning curve on the compute figure. ``--compile`` trains each network under
``torch.compile``.

Usage (on the GPU machine, repository root; ``scripts/gpu_check.sh`` calls it)::

    python3 scripts/time_boxed_run.py --run-dir results/paper_h200_short --seconds 180 \\
        --throughput out/train_throughput_paper.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from audioslots.config import replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.learning_curve import LEARNING_CURVE, score_checkpoints
from audioslots.pipeline import (CURVE_POINTS, curve_steps, evaluate_runs, prepare_data, resolve_preset, train_runs,
                                 write_table1)
from audioslots import provenance
from audioslots.runs import ORACLE, RUNS, EvalSpec


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=180.0, help="training time to fill, per network")
    parser.add_argument("--runs", nargs="+", default=["audioslots_0.5s"], choices=["audioslots_0.5s", "autoencoder_0.5s"],
                        help="networks to train (the autoencoder's steps cost about as much as AudioSlots')")
    parser.add_argument("--throughput", type=Path, help="train_throughput.py JSON of the paper preset on this device")
    parser.add_argument("--steps", type=int, help="training steps (instead of --seconds × measured steps/s)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="paper", help="paper (tiny: a dry run of this script on the CPU)")
    parser.add_argument("--data-root", default="", help="'' = the embedded real speech (default)")
    parser.add_argument("--compile", action="store_true", help="torch.compile each network (CUDA; slow first steps)")
    parser.add_argument("--curve-points", type=int, default=CURVE_POINTS,
                        help="checkpoints each network keeps (log-spaced, the last at the end), each scored on the "
                             "test split into learning_curve.csv after Table 1")
    return parser.parse_args(argv)


def planned_steps(seconds: float, steps_per_second: float) -> int:
    """Steps that fit ``seconds`` at the measured rate, rounded down to a multiple of 50 (at least 50)."""
    return max(50, int(seconds * steps_per_second) // 50 * 50)


def main(argv=None) -> int:
    args = parse_args(argv)
    seconds_asked = None
    if args.steps is None:
        seconds_asked = args.seconds
        if args.throughput is None:
            sys.exit("error: give --steps, or --throughput with the measured steps/s of the paper preset")
        rate = json.loads(args.throughput.read_text())["steps_per_second"]
        args.steps = planned_steps(args.seconds, rate)
        print(f"{rate:.2f} steps/s measured: {args.steps} steps fill {args.seconds:g} s", flush=True)
    preset = replace(resolve_preset(args.preset, steps=args.steps), warmup_steps=max(1, args.steps // 10),
                     checkpoint_every=max(50, args.steps // 4), log_every=max(1, args.steps // 40),
                     keep_checkpoints=curve_steps(args.steps, args.curve_points))
    data_root, data_info = prepare_data(args.data_root, progress=False)
    provenance.record(args.run_dir, "time_boxed", {
        "what": f"time-boxed run of the {args.preset} preset (not the paper's 300 000 steps); warm-up a tenth of the run",
        "steps": args.steps, "warmup_steps": preset.train.warmup_steps, "seconds_asked": seconds_asked,
        "compile": args.compile,
    })
    evaluate_runs([EvalSpec(ORACLE.system, 0.5)], data_root, args.run_dir, device=args.device, data_info=data_info,
                  progress=False)
    # One network at a time, each scored as soon as it is trained: a run stopped at its time limit keeps
    # the rows of every network it finished; the learning curves come last.
    for name in args.runs:
        result = train_runs([name], preset, data_root, args.run_dir, device=args.device, data_info=data_info,
                            progress=False, compile=args.compile)[name]
        print(f"{name}: {result.step} steps in {result.seconds:.0f} s, final loss {result.final_loss:.4f}", flush=True)
        evaluate_runs([EvalSpec(RUNS[name].system, RUNS[name].chunk_seconds)], data_root, args.run_dir,
                      device=args.device, data_info=data_info, progress=False)
        print(write_table1(args.run_dir).to_string(index=False), flush=True)
    curve = score_checkpoints([args.run_dir / name for name in args.runs], LibriMix(data_root, "test"),
                              args.run_dir / LEARNING_CURVE, device=args.device, progress=False)
    print(curve[["run", "step", "train_flop", "mask", "si_snri"]].to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
