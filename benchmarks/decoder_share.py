"""The decoder's share of a training step's FLOPs, and the paper's schedule projected with a fraction.

One training step is :func:`audioslots.training.networks.training_loss` and its backward pass (the step every
run takes, not a copy of it) under ``torch.utils.flop_counter.FlopCounterMode``, which attributes the
matrix products, convolutions and attention of the forward *and* backward pass to the module that
ran them (2 FLOPs per multiply-add; element-wise work, normalisation, the optimiser and FFTs count
zero). The parts of a step:

- ``encoder`` (ResNet), ``transformer`` (slot transformer) and ``decoder`` (spatial broadcast
  decoder): the modules of :class:`audioslots.model.AudioSlots`;
- ``model_other``: what ``AudioSlots.forward`` does outside those three modules;
- ``outside_model``: the spectrograms (their STFTs count zero) and the matched MSE.

They add up to the step's count. Because the counter has no formula for FFTs, the JSON also holds
``stft_flops_estimate``: the usual 2.5 · N · log2 N real-FFT count per frame for the spectrograms
of the step's mixtures and sources (an estimate, kept apart from the counted parts).

The counts are taken at a few small batches on the CPU (a paper-preset step at batch 64 is
minutes there) and checked to be exactly affine in the batch (the decoder's per-cell first-layer
term is computed once per step, so there is a constant part); the preset's batch is then
extrapolated along that line. The extrapolated full-grid total is compared with the FLOPs per
step that :mod:`benchmarks.train_throughput` counted at the preset's batch on the GPU.

Projection: the throughput JSONs give the seconds per full-grid step (eager and compiled). For a
fraction of the grid, the hours are a **projection**: the decoder's share of the step's time is
assumed equal to its share of the FLOPs, and that time to scale with the decoder's FLOPs.

Usage, from the repository root::

    .venv/bin/python -m benchmarks.decoder_share --preset paper --fractions 1.0 0.25 --batches 1 2 4 \\
        --out results/decoded_cells/decoder_share_paper_cpu.json
    .venv/bin/python -m benchmarks.decoder_share --project-only      # redo the projection from the JSON

Outputs beside ``--out``, each as CSV and as a MyST table (``.md``, included by the book's Performance
page): ``decoder_share`` (GFLOP and share per part and fraction, at the preset's batch) and
``projected_hours`` (the paper's steps on the throughput JSONs' GPU).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from audioslots.config import Preset, get_preset, replace
from audioslots.model import AudioSlots
from audioslots.training import model_config_for, training_loss
from benchmarks.common import RESULTS, ROOT, header, write_result

OUT = ROOT / "results" / "decoded_cells"
#: The modules of AudioSlots whose FLOPs are reported apart (attribute names in the model).
MODULES = ("encoder", "transformer", "decoder")
PARTS = (*MODULES, "model_other", "outside_model")
#: Throughput measured at the full grid on a GPU: (label, file in results/benchmarks/).
THROUGHPUT = (("eager", "train_throughput_paper_h200.json"), ("torch.compile", "train_throughput_paper_h200_compile.json"))


def step_flops(preset: Preset, batch: int, n_src: int = 2) -> dict[str, int]:
    """FLOPs of one training step of ``preset`` on ``batch`` crops, by part (:data:`PARTS`) and ``total``.

    The parts add up to the total.

    The step is :func:`audioslots.training.networks.training_loss` (the forward pass every training step runs)
    and its backward pass, on a fresh network and noise of the step's shapes: the count depends on
    the shapes only. Adam's update is element-wise and counts zero. Attention runs in PyTorch's
    math kernel while counting, as :func:`audioslots.flops.count_flops` does (the counter has no
    formula for the fused CPU kernel).
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = AudioSlots(model_config_for(preset, "audioslots", n_src)).train()
        sources = 0.1 * torch.randn(batch, n_src, preset.features.chunk_samples)  # (batch, n, samples)
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
        training_loss(model, sources.sum(1), sources, preset, step=0).backward()
    by_module = {name: sum(counts.values()) for name, counts in counter.get_flop_counts().items()}
    whole_model = by_module.get("AudioSlots", 0)
    parts = {name: by_module.get(f"AudioSlots.{name}", 0) for name in MODULES}
    parts["model_other"] = whole_model - sum(parts.values())
    parts["outside_model"] = by_module["Global"] - whole_model
    return {**parts, "total": by_module["Global"]}


def extrapolate(counts: dict[int, dict[str, int]], batch: int) -> tuple[dict[str, int], bool]:
    """Each part at ``batch`` along the line through the two smallest measured batches.

    Returns the counts and whether every measured batch lies exactly on those lines (integer FLOP
    counts: equality, not closeness).
    """
    (b0, c0), (b1, c1) = sorted(counts.items())[:2]
    slope = {k: (c1[k] - c0[k]) // (b1 - b0) for k in c0}
    exact = all((c1[k] - c0[k]) % (b1 - b0) == 0 for k in c0) and all(
        c[k] == c0[k] + slope[k] * (b - b0) for b, c in counts.items() for k in c0
    )
    return {k: c0[k] + slope[k] * (batch - b0) for k in c0}, exact


def stft_flops_estimate(preset: Preset, batch: int, n_src: int) -> int:
    """2.5 · N · log2 N per real FFT frame, for the mixtures' and the sources' spectrograms of a step."""
    features = preset.features
    per_frame = 2.5 * features.n_fft * math.log2(features.n_fft)
    return round(batch * (1 + n_src) * features.n_frames * per_frame)


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    preset = get_preset(args.preset)
    batch = preset.train.batch_for(preset.features.chunk_seconds)
    n_cells = preset.features.n_freq * preset.features.n_frames
    fractions = []
    for fraction in args.fractions:
        counts = {}
        for b in args.batches:
            counts[b] = step_flops(replace(preset, decoded_cells=fraction), b)
            print(f"decoded cells {fraction:g}, batch {b}: {counts[b]}", file=sys.stderr, flush=True)
        at_batch, affine = extrapolate(counts, batch)
        if not affine:
            raise RuntimeError(f"The FLOPs of decoded_cells={fraction} are not affine in the batch ({counts}); "
                               "extrapolating to the preset's batch would be wrong.")
        fractions.append({
            "decoded_cells": fraction,
            "cells": n_cells if fraction >= 1.0 else max(1, round(fraction * n_cells)),
            "measured": [{"batch": b, **c} for b, c in counts.items()],
            "affine_in_batch": affine,
            "at_batch": at_batch,
            "shares": {part: at_batch[part] / at_batch["total"] for part in PARTS},
        })
    full = next((f for f in fractions if f["decoded_cells"] >= 1.0), None)
    check = {}
    gpu_file = RESULTS / THROUGHPUT[0][1]
    if full is not None and gpu_file.exists():
        gpu = json.loads(gpu_file.read_text())
        if gpu.get("preset") == preset.name and gpu.get("batch") == batch:
            counted = gpu["tflop_per_step"] * 1e12
            check = {"file": gpu_file.name, "commit": gpu["commit"], "tflop_per_step": gpu["tflop_per_step"],
                     "relative_difference": full["at_batch"]["total"] / counted - 1}
    return {
        **header("decoder_share", torch.device("cpu")),
        "preset": preset.name,
        "batch": batch,
        "grid": [preset.features.n_freq, preset.features.n_frames],
        "counted": "torch.utils.flop_counter: matmuls, convolutions, attention; forward + backward; 2 FLOPs per MAC",
        "stft_flops_estimate": stft_flops_estimate(preset, batch, n_src=2),
        "stft_flops_estimate_note": "not counted by FlopCounterMode; 2.5 N log2 N per real FFT frame",
        "fractions": fractions,
        "gpu_count_check": check,
    }


def write_table(rows: list[dict], stem: Path, note: str = "") -> None:
    """``rows`` as ``stem.csv`` and as a MyST table ``stem.md`` (for the book), ``note`` below the table."""
    columns = list(rows[0])
    with stem.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n" + (f"\n{note}\n" if note else ""))


def share_rows(result: dict) -> list[dict]:
    """One row per part: GFLOP per step and share of the step, per decoded fraction, at the preset's batch."""
    rows = []
    for part in (*PARTS, "total"):
        row = {"part": part}
        for fraction in result["fractions"]:
            label = f"{fraction['decoded_cells']:g} ({fraction['cells']:,} cells)"
            flops = fraction["at_batch"][part]
            row[f"GFLOP per step, decoded cells {label}"] = f"{flops / 1e9:,.1f}"
            row[f"share, decoded cells {label}"] = f"{100 * flops / fraction['at_batch']['total']:.1f} %"
        rows.append(row)
    return rows


def share_note(result: dict) -> str:
    """Where the counts come from, and how the full-grid total compares with the GPU benchmark's count."""
    batches = ", ".join(str(m["batch"]) for m in result["fractions"][0]["measured"])
    note = (f"Preset `{result['preset']}`, batch {result['batch']}: counted at batches {batches} on the CPU "
            f"(`{result['commit'][:7]}`, {result['date'][:10]}), exactly affine in the batch, extrapolated. "
            f"The STFTs count zero; the usual real-FFT estimate for a step's spectrograms is "
            f"{result['stft_flops_estimate'] / 1e9:,.2f} GFLOP.")
    check = result.get("gpu_count_check")
    if check:
        note += (f" `{check['file']}` (`{check['commit'][:7]}`) counted {check['tflop_per_step']:.3f} TFLOP for the "
                 f"full-grid step on the GPU; the total here differs from it by {100 * check['relative_difference']:+.4f} %.")
    return note


def project_hours(result: dict, throughput: dict[str, dict], steps: int) -> list[dict]:
    """Hours of ``steps`` training steps: measured seconds per full-grid step, and the fractions projected.

    For a fraction f, seconds per step = full-grid seconds × (1 − s + s · r), with s the decoder's
    share of the full-grid step's FLOPs and r its FLOPs at f over its FLOPs at the full grid: the
    decoder's time is assumed to be its FLOP share of the step and to scale with its FLOPs.
    """
    full = next(f for f in result["fractions"] if f["decoded_cells"] >= 1.0)
    share = full["shares"]["decoder"]
    rows = []
    for mode, measured in throughput.items():
        seconds_full = 1.0 / measured["steps_per_second"]
        for fraction in result["fractions"]:
            ratio = fraction["at_batch"]["decoder"] / full["at_batch"]["decoder"]
            seconds = seconds_full * (1 - share + share * ratio)
            basis = (f"measured ({measured['commit'][:7]})" if fraction is full else
                     f"projected from the measured row and decoder FLOPs ({result['commit'][:7]})")
            rows.append({"GPU": measured["device_name"], "mode": mode, "decoded cells": f"{fraction['decoded_cells']:g}",
                         "seconds per step": f"{seconds:.4f}", f"hours for {steps:,} steps": f"{steps * seconds / 3600:.2f}",
                         "basis": basis})
    return rows


def write_projection(result: dict, stem: Path) -> list[dict]:
    """``stem.csv`` and ``stem.md``: :func:`project_hours` for the preset's steps and the throughput JSONs."""
    preset = get_preset(result["preset"])
    throughput = {}
    for mode, name in THROUGHPUT:
        measured = json.loads((RESULTS / name).read_text())
        if measured.get("preset") != result["preset"] or measured.get("decoded_cells", 1.0) < 1.0:
            raise ValueError(f"{name} is not a full-grid {result['preset']}-preset measurement.")
        throughput[mode] = {**measured, "file": name}
    rows = project_hours(result, throughput, preset.train.steps)
    files = ", ".join(f"`{name}` ({mode})" for mode, name in THROUGHPUT)
    write_table(rows, stem, note=(
        f"The measured rows are those of {files} in `results/benchmarks/`. "
        "Rows with decoded cells below 1 are projections, not measurements: they assume that the decoder takes "
        "the same share of a step's time as of its FLOPs, and that its time scales with its FLOPs."))
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.25], help="decoded_cells values")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4],
                        help="batches counted (at least two; more check that the count is affine in the batch)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT / "decoder_share_paper_cpu.json")
    parser.add_argument("--project-only", action="store_true", help="read --out and write the CSVs again")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.project_only:
        result = json.loads(args.out.read_text())
    else:
        result = measure(args)
        write_result(result, args.out)
    write_table(share_rows(result), args.out.parent / "decoder_share", note=share_note(result))
    if any(f["decoded_cells"] >= 1.0 for f in result["fractions"]):
        for row in write_projection(result, args.out.parent / "projected_hours"):
            print(row, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
