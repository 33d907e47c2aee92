"""Evaluation speed at Libri2Mix's test size: the Oracle and a model through ``evaluate``.

Libri2Mix's test split has 3000 mixtures (about 11 h: 13 s each on average). This script makes a
synthetic test split of that size in the LibriMix layout (3000 mixtures of 13 s, made on first use
by :func:`audioslots.data.synthetic.synthesize_librimix`, about 3.7 GB) and times, through the library's
public entry points only:

- ``Oracle``: :func:`audioslots.evaluation.scores.evaluate` with no model (every mixture of the split;
  our target is 2 minutes on 2 CPU cores);
- ``AudioSlots``: :func:`audioslots.evaluation.scores.evaluate_checkpoint` on ``--checkpoint``, or on a
  freshly initialised model of ``--preset`` saved as a checkpoint (the weights do not change the
  speed), on ``--device``; ``--model-mixtures`` of them (all by default), with the time for the
  whole split projected linearly.

With ``--profile`` each system also runs under ``cProfile`` (a second, untimed pass over
``--profile-mixtures`` mixtures): the functions with the most own time and the most cumulative
time go into the JSON, so that one can see where the time goes.

Usage, from the repository root::

    .venv/bin/python -m benchmarks.evaluate_speed --device cpu --model-mixtures 300 --profile \\
        --out results/benchmarks/evaluate_speed_cpu.json
    .venv/bin/python -m benchmarks.evaluate_speed --device cuda --preset paper --profile \\
        --out results/benchmarks/evaluate_speed_paper_h100.json
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

import torch

from audioslots.config import get_preset
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate, evaluate_checkpoint
from audioslots.kinds import system_kind
from audioslots.model import AudioSlots
from audioslots.training import model_config_for, run_config, save_checkpoint
from benchmarks.common import DATA, Stopwatch, ensure_synthetic, header, write_result

#: Libri2Mix test: 3000 mixtures, about 11 h (min mode), i.e. 13 s per mixture on average.
DEFAULT_DATA = DATA / "libri2mix-test-3000x13s"
DEFAULT_MIXTURES, DEFAULT_SECONDS = 3000, 13.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="LibriMix-layout folder (default: the synthetic 3000-mixture test split)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--systems", nargs="+", choices=("Oracle", "AudioSlots"), default=["Oracle", "AudioSlots"])
    parser.add_argument("--oracle-mixtures", type=int, help="mixtures for the Oracle (default: all)")
    parser.add_argument("--model-mixtures", type=int, help="mixtures for the model (default: all)")
    parser.add_argument("--checkpoint", type=Path, help="a trained checkpoint (default: a fresh --preset model)")
    parser.add_argument("--preset", default="cpu", help="preset of the fresh model")
    parser.add_argument("--profile", action="store_true", help="also profile each system (untimed)")
    parser.add_argument("--profile-mixtures", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    return parser.parse_args(argv)


def fresh_checkpoint(preset_name: str, n_src: int, sample_rate: int, folder: Path) -> Path:
    """A checkpoint of an untrained model of ``preset_name``, readable by ``evaluate_checkpoint``."""
    preset = get_preset(preset_name)
    torch.manual_seed(0)
    model = AudioSlots(model_config_for(preset, "audioslots", n_src))
    data = {"root": "", "split": "train-360", "n_src": n_src, "sample_rate": sample_rate, "mode": "min"}
    path = folder / "checkpoint.pt"
    save_checkpoint(path, {"step": 0, "config": run_config(preset, "audioslots", data),
                           "model": model.state_dict()})
    return path


def top_functions(profile: cProfile.Profile, key: str, count: int = 15) -> list[dict]:
    """The ``count`` functions with the largest ``key`` (``tottime`` or ``cumtime``)."""
    stats = pstats.Stats(profile)
    total = stats.total_tt
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({name})", "calls": calls,
                     "own_seconds": own, "cumulative_seconds": cumulative})
    column = {"tottime": "own_seconds", "cumtime": "cumulative_seconds"}[key]
    rows.sort(key=lambda row: row[column], reverse=True)
    for row in rows:
        row["share"] = row[column] / total
    return rows[:count]


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    root = args.data or ensure_synthetic(DEFAULT_DATA, args.split, DEFAULT_MIXTURES, DEFAULT_SECONDS)
    full = LibriMix(root, args.split)
    features = get_preset(args.preset).features
    workdir = tempfile.TemporaryDirectory(prefix="evaluate_speed_")
    checkpoint = args.checkpoint or fresh_checkpoint(args.preset, full.n_src, full.sample_rate, Path(workdir.name))

    def evaluation(system: str, dataset: LibriMix):
        if not system_kind(system).trains_network:
            return lambda: evaluate(system, dataset, features, progress=False)
        return lambda: evaluate_checkpoint(checkpoint, dataset, device=str(device), progress=False)

    rows, profiles = [], {}
    for system in args.systems:
        limit = args.model_mixtures if system_kind(system).trains_network else args.oracle_mixtures
        dataset = LibriMix(root, args.split, max_mixtures=limit)
        with Stopwatch(device) as clock:
            metrics = evaluation(system, dataset)()
        audio_seconds = sum(dataset.lengths) / dataset.sample_rate
        rows.append({
            "system": system,
            "mixtures": len(dataset),
            "audio_hours": audio_seconds / 3600,
            "metric_rows": len(metrics),
            "seconds": clock.seconds,
            "projected_seconds": clock.seconds * len(full) / len(dataset),
            "mixtures_per_second": len(dataset) / clock.seconds,
            "realtime_factor": audio_seconds / clock.seconds,
            "mean_si_snri": float(metrics["si_snri"].mean()),
        })
        print(f"{system}: {len(dataset)} mixtures in {clock.seconds:.1f} s "
              f"({rows[-1]['projected_seconds']:.0f} s for {len(full)})", file=sys.stderr)
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(evaluation(system, LibriMix(root, args.split, max_mixtures=args.profile_mixtures)))
            profiles[system] = {"mixtures": min(args.profile_mixtures, len(full)),
                                "seconds": pstats.Stats(profile).total_tt,
                                "by_own_time": top_functions(profile, "tottime"),
                                "by_cumulative_time": top_functions(profile, "cumtime", 25)}
    workdir.cleanup()
    return {
        **header("evaluate_speed", device),
        "data": {"root": str(root), "split": args.split, "mixtures": len(full),
                 "hours": sum(full.lengths) / full.sample_rate / 3600},
        "model": str(args.checkpoint) if args.checkpoint else f"fresh {args.preset}-preset model (untrained)",
        "chunk_seconds": features.chunk_seconds,
        "rows": rows,
        "profile": profiles or None,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    write_result(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
