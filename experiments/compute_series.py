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

A variant of the preset (``--variant NAME --set KEY=VALUE ...``, e.g. a wider network) is trained
for the same *compute* as ``--scale`` times the preset's AudioSlots training, not the same steps:
its steps are the preset's, times ``--scale``, times the preset's FLOPs per AudioSlots step over
the variant's (rounded to 50 from 500 steps on). Its preset is named ``<preset>-<variant>`` in the run's records::

    .venv/bin/python experiments/compute_series.py --run-dir results/real_cpu_w128_x16 --scale 16 \
        --variant w128 --set attn_dim=128 --set mlp_dim=256 --set attn_heads=8 --set slot_dim=512 \
        --set feature_projection=per_cell --set fourier_axes=separate

Another training seed of the same networks on the same data (``--seed``; the data set is built
with ``--data-seed``, 0 by default, so every seed is scored on the reference run's test mixtures)::

    .venv/bin/python experiments/compute_series.py --run-dir results/cpu_seed1 --scale 1 --seed 1 \
        --networks audioslots_0.5s autoencoder_0.5s audioslots_1s convtasnet

``--overrides JSON`` takes the same settings as one JSON object, the form the committed READMEs print.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from audioslots.cli_options import add_set_option, settings_of
from audioslots.config import Preset, apply_settings, replace
from audioslots.model import encoder_grid
from audioslots.pipeline import curve_steps, evaluate_runs, prepare_data, resolve_preset, train_runs, write_table1
from audioslots import provenance
from audioslots.runs import ORACLE, RUNS, EvalSpec
from audioslots.training.step_flops import count_run_flops


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="e.g. results/real_cpu_x10")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--scale", type=float, required=True, help="multiple of the preset's training steps")
    parser.add_argument("--networks", nargs="+", default=["audioslots_0.5s", "autoencoder_0.5s"], choices=sorted(RUNS))
    parser.add_argument("--curve-points", type=int, default=7, help="kept checkpoints, log-spaced, the last at the end")
    parser.add_argument("--data-root", default="", help="'' = the embedded real speech; 'synthetic'; or a LibriMix folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0, help="the training seed (initialisation, crops)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="the seed that builds the data set (default 0, the reference run's test mixtures)")
    parser.add_argument("--variant", default="", help="name of the variant that the settings make (e.g. w128)")
    add_set_option(parser, overrides=True)
    args = parser.parse_args(argv)
    if bool(args.variant) != bool(settings_of(args)):
        parser.error("--variant and its settings (--set or --overrides) go together: name the variant they make")
    return args


def variant_preset(base: Preset, name: str, settings: dict) -> Preset:
    """``base`` with ``settings``, named ``<base>-<name>``; per-row and per-cell maps sized for its chunks' grid."""
    if not settings:
        return base
    preset = apply_settings(base, settings)
    preset = replace(preset, feature_grid=encoder_grid(preset.features.n_freq, preset.features.n_frames))
    return dataclasses.replace(preset, name=f"{base.name}-{name}")


def audioslots_step_flop(preset: Preset) -> int:
    """FLOPs of one AudioSlots training step of ``preset`` (on two sources, as the mixtures hold)."""
    chunked = replace(preset, chunk_seconds=RUNS["audioslots_0.5s"].chunk_seconds)
    return count_run_flops({"preset": dataclasses.asdict(chunked), "model_kind": "audioslots", "data": {"n_src": 2}})


def scaled_steps(base: Preset, preset: Preset, scale: float) -> int:
    """Steps that give ``preset``'s AudioSlots ``scale`` times ``base``'s training compute (``base``'s steps × scale if the same)."""
    if preset is base:
        return int(round(base.train.steps * scale))
    steps = base.train.steps * scale * audioslots_step_flop(base) / audioslots_step_flop(preset)
    unit = 50 if steps >= 500 else 1
    return max(unit, int(round(steps / unit)) * unit)


def main(argv=None) -> int:
    args = parse_args(argv)
    base = resolve_preset(args.preset, seed=args.seed)
    settings = settings_of(args)
    preset = variant_preset(base, args.variant, settings)
    steps = scaled_steps(base, preset, args.scale)
    preset = replace(preset, steps=steps, keep_checkpoints=curve_steps(steps, args.curve_points))
    data_root, data_info = prepare_data(args.data_root, seed=args.data_seed, progress=False)
    what = (f"the {args.preset} preset trained for {args.scale:g}x its {base.train.steps:,} steps" if not settings else
            f"the {args.preset} preset's variant {args.variant} trained for {steps:,} steps, "
            f"{args.scale:g}x the compute of the {args.preset} preset's AudioSlots training")
    what += f", training seed {args.seed}" if args.seed else ""
    provenance.record(args.run_dir, "compute_series", {
        "what": what, "scale": args.scale, "steps": steps, "kept_checkpoints": list(preset.train.keep_checkpoints),
        **({"variant": args.variant, "overrides": settings} if settings else {}),
    })
    for name, result in train_runs(args.networks, preset, data_root, args.run_dir, device=args.device,
                                   data_info=data_info, progress=False).items():
        print(f"{name}: {result.step} steps, final loss {result.final_loss:.4f}", flush=True)
    systems = [EvalSpec(ORACLE.system, 0.5)] + [EvalSpec(RUNS[name].system, RUNS[name].chunk_seconds)
                                                 for name in args.networks]
    evaluate_runs(systems, data_root, args.run_dir, device=args.device, data_info=data_info, progress=False)
    print(write_table1(args.run_dir).to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
