"""Does decoding a random fraction of the grid learn as fast per step as decoding all of it?

``TrainConfig.decoded_cells < 1`` evaluates the spatial broadcast decoder (and the MSE) at a random
subset of the F × T cells in each step: an unbiased estimate of the full-grid loss at a fraction
of the decoder's cost. This experiment trains the same preset with several fractions and seeds for
the same number of steps and records, per run:

- the training loss against steps (the run's ``log.csv``; at a fraction it is the loss on the
  decoded cells, an estimate of the full-grid loss);
- ``test_loss_full_grid``: the matched MSE of the final network on the *whole* grid of a fixed set
  of test crops (the same crops for every run), so that all variants are scored alike;
- SI-SNR and SI-SNRi with both masks (oracle slot order, as in the paper) on the first
  ``--eval-mixtures`` test mixtures, by :func:`audioslots.evaluation.scores.evaluate_checkpoint`;
- the wall seconds of training and of scoring.

Every variant is ``audioslots.config.replace(preset, decoded_cells=..., seed=..., steps=...)``.
Runs are trained into ``--runs`` (a scratch folder: checkpoints are large); the results go to
``--out``: ``summary.csv`` (one row per run), ``curves.csv`` (step, loss per run),
``comparison.md`` (a MyST table of the runs and of the mean per fraction, for the book) and
``loss_curves.png``. Re-running the same command skips the runs already in ``summary.csv`` and
resumes an interrupted training run from its checkpoint.

Usage, from the repository root::

    .venv/bin/python experiments/decoded_cells.py --runs /tmp/decoded_cells \\
        --out results/decoded_cells --steps 300 --fractions 1.0 0.25 0.05 --seeds 0 1

Seeds run in parallel, each into its own ``--out`` folder, are gathered into one with
``--merge``, which trains nothing::

    .venv/bin/python experiments/decoded_cells.py --out results/decoded_cells --merge /tmp/seed0 /tmp/seed1
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from audioslots.config import Preset, get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.masks import MASKS
from audioslots.pipeline import prepare_data
from audioslots.provenance import git_commit
from audioslots.training import CropBatches, RunFiles, load_model, preset_from_dict, train, training_loss

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_COLUMNS = (
    ["preset", "decoded_cells", "seed", "steps", "final_loss", "test_loss_full_grid"]
    + [f"{metric}_{mask}" for metric in ("si_snri", "si_snr") for mask in MASKS]
    + ["eval_mixtures", "train_seconds", "eval_seconds", "resumed", "commit", "data", "run"]
)
CURVE_COLUMNS = ["preset", "decoded_cells", "seed", "steps", "step", "loss"]
#: Fixed test crops for ``test_loss_full_grid``: batches of this many, drawn with this seed.
HELDOUT_BATCH, HELDOUT_SEED = 64, 10_000


def variant(preset: Preset, fraction: float, seed: int, steps: int, log_every: int) -> Preset:
    """The preset with a decoded fraction, seed and length; the schedule's shape follows ``steps``."""
    return replace(preset, decoded_cells=fraction, seed=seed, steps=steps, log_every=log_every)


def run_name(preset: Preset) -> str:
    train_config = preset.train
    return f"{preset.name}_cells{train_config.decoded_cells:g}_seed{train_config.seed}_steps{train_config.steps}"


def run_key(row: dict) -> tuple[str, float, int, int]:
    return str(row["preset"]), float(row["decoded_cells"]), int(row["seed"]), int(row["steps"])


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write ``rows`` atomically: an interrupted write never leaves half a summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


@torch.no_grad()
def heldout_loss(checkpoint: Path, dataset: LibriMix, batches: int = 2) -> float:
    """The training loss of the checkpoint's network on the whole grid of fixed test crops (eval mode)."""
    model, config = load_model(checkpoint, "cpu")  # in eval mode: BatchNorm uses its running statistics
    preset = replace(preset_from_dict(config["preset"]), decoded_cells=1.0)  # every cell of the grid
    crops = CropBatches(dataset, HELDOUT_BATCH, preset.features.chunk_samples, HELDOUT_SEED, "audioslots")
    losses = [training_loss(model, *crops[index], preset, step=index).item() for index in range(batches)]
    return sum(losses) / len(losses)


def run_one(preset: Preset, data_root: Path, runs: Path, eval_mixtures: int, data_label: str) -> tuple[dict, list[dict]]:
    """Train (or resume) one variant and score it: its summary row and its loss curve."""
    run_dir = runs / run_name(preset)
    resumed = RunFiles(run_dir).checkpoint.exists()
    start = time.perf_counter()
    result = train(preset, LibriMix(data_root, "train-360"), run_dir, device="cpu", progress=False)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    test = LibriMix(data_root, "test", max_mixtures=eval_mixtures)
    metrics = evaluate_checkpoint(RunFiles(run_dir).checkpoint, test, orders=("oracle",), device="cpu", progress=False)
    means = metrics.groupby("mask")[["si_snri", "si_snr"]].mean()
    test_loss = heldout_loss(RunFiles(run_dir).checkpoint, test)
    eval_seconds = time.perf_counter() - start

    train_config = preset.train
    row = {
        "preset": preset.name, "decoded_cells": train_config.decoded_cells, "seed": train_config.seed,
        "steps": result.step, "final_loss": f"{result.final_loss:.6g}", "test_loss_full_grid": f"{test_loss:.6g}",
        **{f"{metric}_{mask}": f"{means.loc[mask, metric]:.4f}" for metric in ("si_snri", "si_snr") for mask in MASKS},
        "eval_mixtures": len(test), "train_seconds": f"{train_seconds:.1f}", "eval_seconds": f"{eval_seconds:.1f}",
        "resumed": resumed, "commit": git_commit(ROOT), "data": data_label, "run": run_dir.name,
    }
    curve = [{"preset": preset.name, "decoded_cells": train_config.decoded_cells, "seed": train_config.seed,
              "steps": train_config.steps, "step": log["step"], "loss": log["loss"]} for log in read_rows(RunFiles(run_dir).log)]
    return row, curve


def write_comparison(rows: list[dict], path: Path) -> None:
    """A MyST table of every run and of the mean over seeds per fraction (for the book)."""
    columns = [("decoded_cells", "decoded cells"), ("seed", "seed"), ("steps", "steps"),
               ("final_loss", "training loss (last window)"), ("test_loss_full_grid", "test loss, full grid"),
               ("si_snri_ibm", "SI-SNRi IBM (dB)"), ("si_snri_wiener", "SI-SNRi Wiener-like (dB)"),
               ("train_seconds", "training (s)")]
    numeric = [name for name, _ in columns[3:]]
    groups: dict[tuple, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (-float(r["decoded_cells"]), int(r["seed"]))):
        groups.setdefault((row["preset"], float(row["decoded_cells"]), int(row["steps"])), []).append(row)
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for (_, fraction, steps), members in groups.items():
        for row in members:
            lines.append("| " + " | ".join(_fmt(name, row[name]) for name, _ in columns) + " |")
        means = {name: sum(float(r[name]) for r in members) / len(members) for name in numeric}
        seeds = ", ".join(str(r["seed"]) for r in members)
        lines.append(f"| **{fraction:g}** | **mean of {seeds}** | {steps} | "
                     + " | ".join(f"**{_fmt(name, means[name])}**" for name in numeric) + " |")
    lines += ["", *_against_full_grid(groups)]
    path.write_text("\n".join(lines) + "\n")


def _against_full_grid(groups: dict[tuple, list[dict]]) -> list[str]:
    """Each fraction's means over seeds beside the full grid's of the same preset and steps."""
    def mean(members, name):
        return sum(float(r[name]) for r in members) / len(members)

    lines = ["| decoded cells | steps | test loss, full grid: ratio to 1.0 | SI-SNRi IBM − 1.0 (dB) "
             "| SI-SNRi Wiener-like − 1.0 (dB) | training time: ratio to 1.0 |", "|" + "---|" * 6]
    for (preset, fraction, steps), members in groups.items():
        full = groups.get((preset, 1.0, steps))
        if full is None or fraction >= 1.0:
            continue
        lines.append(
            f"| {fraction:g} | {steps} | {mean(members, 'test_loss_full_grid') / mean(full, 'test_loss_full_grid'):.3f} "
            f"| {mean(members, 'si_snri_ibm') - mean(full, 'si_snri_ibm'):+.2f} "
            f"| {mean(members, 'si_snri_wiener') - mean(full, 'si_snri_wiener'):+.2f} "
            f"| {mean(members, 'train_seconds') / mean(full, 'train_seconds'):.2f} |")
    return lines if len(lines) > 2 else []


def _fmt(name: str, value) -> str:
    if name in ("decoded_cells",):
        return f"{float(value):g}"
    if name in ("seed", "steps"):
        return str(value)
    if name.startswith("si_snr"):
        return f"{float(value):.2f}"
    if name.endswith("seconds"):
        return f"{float(value):.0f}"
    return f"{float(value):.4f}"


def plot_curves(curves: list[dict], path: Path) -> None:
    """The training loss against steps of every run: one panel per run length, one line per fraction and seed."""
    runs: dict[tuple, list[dict]] = {}
    for point in curves:
        runs.setdefault((int(point["steps"]), float(point["decoded_cells"]), int(point["seed"])), []).append(point)
    lengths = sorted({steps for steps, _, _ in runs})
    fractions = sorted({fraction for _, fraction, _ in runs}, reverse=True)
    colours = {fraction: f"C{i}" for i, fraction in enumerate(fractions)}
    fig = Figure(figsize=(6.4 * len(lengths), 3.6), layout="constrained")
    axes = dict(zip(lengths, fig.subplots(1, len(lengths), squeeze=False)[0]))
    for (steps, fraction, seed), points in sorted(runs.items(), key=lambda item: (item[0][0], -item[0][1], item[0][2])):
        axes[steps].plot([int(p["step"]) for p in points], [float(p["loss"]) for p in points], color=colours[fraction],
                         linestyle=("-", "--", ":", "-.")[seed % 4], label=f"decoded cells {fraction:g}, seed {seed}")
    for steps, ax in axes.items():
        ax.set(title=f"runs of {steps} steps", xlabel="training step", yscale="log",
               ylabel="training loss (mean over the log window)")
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=120)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="scratch folder for the run folders (checkpoints; required unless --merge)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "decoded_cells",
                        help="where summary.csv, curves.csv, comparison.md and loss_curves.png go")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--data-root", default="synthetic",
                        help="'synthetic' (the embedded synthetic set), '' (embedded real speech) or a LibriMix folder")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.25, 0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, help="training steps of every run (required unless --merge)")
    parser.add_argument("--log-every", type=int, default=25, help="steps per point of the loss curve")
    parser.add_argument("--eval-mixtures", type=int, default=40, help="the first this many test mixtures are scored")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="OUT",
                        help="train nothing: append the runs of these other --out folders (e.g. seeds run in parallel, "
                             "each into its own folder) that are not here yet, then redraw comparison.md and the plot")
    args = parser.parse_args(argv)
    if not args.merge and (args.steps is None or args.runs is None):
        parser.error("--runs and --steps are required (unless --merge)")
    return args


def merge(out: Path, others: list[Path]) -> tuple[list[dict], list[dict]]:
    """``out``'s summary and curve rows, with the runs of ``others`` that ``out`` lacks appended, as written."""
    rows, curves = read_rows(out / "summary.csv"), read_rows(out / "curves.csv")
    for other in others:
        done = {run_key(row) for row in rows}
        new = [row for row in read_rows(other / "summary.csv") if run_key(row) not in done]
        keys = {run_key(row) for row in new}
        rows += new
        curves += [point for point in read_rows(other / "curves.csv") if run_key(point) in keys]
        print(f"{other}: {len(new)} run(s) appended", flush=True)
    write_rows(out / "summary.csv", SUMMARY_COLUMNS, rows)
    write_rows(out / "curves.csv", CURVE_COLUMNS, curves)
    return rows, curves


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        rows, curves = merge(args.out, args.merge)
        write_comparison(rows, args.out / "comparison.md")
        if not args.no_plot and curves:
            plot_curves(curves, args.out / "loss_curves.png")
        return 0
    torch.set_num_threads(args.threads)
    data_root, data_info = prepare_data(args.data_root, progress=False)
    summary_path, curves_path = args.out / "summary.csv", args.out / "curves.csv"
    rows, curves = read_rows(summary_path), read_rows(curves_path)
    done = {run_key(row) for row in rows}
    base = get_preset(args.preset)
    for seed in args.seeds:
        for fraction in args.fractions:
            preset = variant(base, fraction, seed, args.steps, args.log_every)
            key = run_key({"preset": preset.name, "decoded_cells": fraction, "seed": seed, "steps": args.steps})
            if key in done:
                print(f"{run_name(preset)}: in {summary_path}, skipped", flush=True)
                continue
            row, curve = run_one(preset, data_root, args.runs, args.eval_mixtures, data_info["source"])
            rows.append(row)
            curves = [p for p in curves if run_key(p) != key] + curve
            write_rows(summary_path, SUMMARY_COLUMNS, rows)
            write_rows(curves_path, CURVE_COLUMNS, curves)
            done.add(key)
            print(f"{run_name(preset)}: loss {row['final_loss']}, full-grid test loss {row['test_loss_full_grid']}, "
                  f"SI-SNRi IBM {row['si_snri_ibm']} dB, Wiener-like {row['si_snri_wiener']} dB, "
                  f"{row['train_seconds']} s training", flush=True)
    write_comparison(rows, args.out / "comparison.md")
    if not args.no_plot and curves:
        plot_curves(curves, args.out / "loss_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
