"""Training throughput of a preset: steps/s, crops/s, model FLOPs, MFU, peak memory, data wait.

The timed loop is training's own step, :func:`audioslots.training.train_step`, without the loop's
bookkeeping: crops from :class:`~audioslots.training.CropBatches` through a ``DataLoader``,
:func:`~audioslots.training.training_loss` (spectrograms, the model, the matched MSE) under bf16
autocast (on by default on CUDA, as in training; optional on CPU), its backward pass, the
non-finite check on the device and Adam (fused on CUDA, as in training).
There is no ``loss.item()`` per step: the device is synchronised only where the clock is read.

Usage, from the repository root::

    .venv/bin/python -m benchmarks.train_throughput --preset cpu --device cpu \\
        --out results/benchmarks/train_throughput_cpu_cpu.json
    .venv/bin/python -m benchmarks.train_throughput --preset paper --device cuda --steps 50 \\
        --out results/benchmarks/train_throughput_paper_h100.json        # add --compile to compare

The crops come from ``--data`` (a LibriMix-layout folder); by default the Libri2Mix-sized synthetic
set of :mod:`benchmarks.data_pipeline` (2000 mixtures of 14 s, made on first use, a few minutes).
As in training, a split that fits in 1 GiB is preloaded into memory; a larger one is read from disk.

Fields of the JSON: ``steps_per_second`` and ``crops_per_second`` over the timed steps (after
``--warmup`` steps, which include kernel selection and, with ``--compile``, compilation);
``tflop_per_step``: matrix products, convolutions and attention of one forward + backward pass as
:func:`audioslots.training.count_step_flops` counts them for every training run (STFTs, element-wise
work and the optimiser are not counted); ``achieved_tflops`` = that × steps/s; ``mfu`` = achieved / the device's dense bf16 peak
(``null`` with ``mfu_note`` saying why when there is none, e.g. on a CPU); ``peak_memory_bytes``;
``data_wait_share``: the share of the timed wall time the training process spent blocked waiting
for the next batch (on CUDA the GPU may still be busy with queued work meanwhile, so this bounds
the GPU's idle share from above).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from benchmarks.common import DATA, Stopwatch, ensure_synthetic, header, peak_memory, peak_tflops
from benchmarks.common import reset_peak_memory, sync, write_result

from audioslots.config import get_preset
from audioslots.data.dataset import LibriMix
from audioslots.model import AudioSlots, count_parameters
from audioslots.training import CropBatches, build_optimizer, count_step_flops, model_config_for, train_step

#: The Libri2Mix-sized training set the benchmarks share (Libri2Mix train-360: 50 800 mixtures
#: averaging 15 s; 2000 of 14 s are 7.8 h of audio, 2.7 GB of WAV, too large to preload).
DEFAULT_DATA = DATA / "libri2mix-train-2000x14s"
DEFAULT_MIXTURES, DEFAULT_SECONDS = 2000, 14.0
#: train.py preloads splits up to this size instead of reading 3 files per crop.
PRELOAD_BYTES = 1 << 30


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", help="paper, cpu or tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, help="crops per step (default: the preset's)")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: the preset's)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--autocast", choices=("auto", "on", "off"), default="auto",
                        help="bf16 autocast; auto: on for CUDA (as train.py), off on the CPU")
    parser.add_argument("--data", type=Path, help="LibriMix-layout folder (default: the synthetic Libri2Mix-sized set)")
    parser.add_argument("--split", default="train-360")
    parser.add_argument("--preload", choices=("auto", "yes", "no"), default="auto",
                        help="read the split into memory first; auto: if it fits in 1 GiB, as train.py")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    preset = get_preset(args.preset)
    features_config, train_config = preset.features, preset.train
    batch_size = args.batch_size or train_config.batch_for(features_config.chunk_seconds)
    workers = train_config.num_workers if args.workers is None else args.workers
    use_autocast = device.type == "cuda" if args.autocast == "auto" else args.autocast == "on"

    root = args.data
    if root is None:
        root = ensure_synthetic(DEFAULT_DATA, args.split, DEFAULT_MIXTURES, DEFAULT_SECONDS)
    dataset = LibriMix(root, args.split, sample_rate=features_config.sample_rate)
    preload = dataset.nbytes <= PRELOAD_BYTES if args.preload == "auto" else args.preload == "yes"
    if preload:
        dataset.preload()

    torch.manual_seed(train_config.seed)
    model = AudioSlots(model_config_for(preset, "audioslots", dataset.n_src)).to(device).train()
    network = torch.compile(model) if args.compile else model
    optimizer = build_optimizer(model, device, train_config.learning_rate)
    steps = iter(range(10**9))  # the step index picks the decoded cells, as in training

    def step(inputs, targets) -> torch.Tensor:
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        loss, _ = train_step(network, optimizer, inputs, targets, preset, next(steps), bf16=use_autocast)
        return loss

    batches = CropBatches(dataset, batch_size, features_config.chunk_samples, train_config.seed, "audioslots")
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(args.warmup + args.steps + 1), num_workers=workers,
        pin_memory=device.type == "cuda", persistent_workers=False,
    )
    iterator = iter(loader)
    # One step counted as training counts it (on a copy of the eager model, whatever --compile says).
    inputs, targets = (t.to(device) for t in next(iterator))
    flops = count_step_flops(model, inputs, targets, preset, bf16=use_autocast)
    for _ in range(args.warmup):
        loss = step(*next(iterator))
    sync(device)
    reset_peak_memory(device)

    wait_seconds = 0.0
    with Stopwatch(device) as total:
        for _ in range(args.steps):
            with Stopwatch(torch.device("cpu")) as wait:  # host time blocked on the loader
                batch = next(iterator)
            wait_seconds += wait.seconds
            loss = step(*batch)
    memory_bytes, memory_kind = peak_memory(device)
    final_loss = loss.item()
    if not math.isfinite(final_loss):
        raise RuntimeError(f"The loss became {final_loss} during the benchmark; the timing would be meaningless.")

    steps_per_second = args.steps / total.seconds
    achieved = flops * steps_per_second / 1e12
    peak, peak_note = peak_tflops(device)
    return {
        **header("train_throughput", device),
        "preset": preset.name,
        "parameters": count_parameters(model),
        "batch": batch_size,
        "crop_seconds": features_config.chunk_seconds,
        "grid": [features_config.n_freq, features_config.n_frames],
        "decoded_cells": train_config.decoded_cells,
        "autocast": use_autocast,
        "compile": args.compile,
        "workers": workers,
        "data": {"root": str(root), "split": args.split, "mixtures": len(dataset),
                 "hours": sum(dataset.lengths) / features_config.sample_rate / 3600, "preloaded": preload},
        "warmup_steps": args.warmup,
        "steps": args.steps,
        "seconds": total.seconds,
        "steps_per_second": steps_per_second,
        "crops_per_second": steps_per_second * batch_size,
        "tflop_per_step": flops / 1e12,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "mfu": None if peak is None else achieved / peak,
        "mfu_note": peak_note,
        "peak_memory_bytes": memory_bytes,
        "peak_memory": memory_kind,
        "data_wait_seconds": wait_seconds,
        "data_wait_share": wait_seconds / total.seconds,
        "final_loss": final_loss,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    mfu = "n/a" if result["mfu"] is None else f"{result['mfu']:.1%}"
    print(
        f"{result['preset']} on {result['device_name']}: {result['steps_per_second']:.3g} steps/s, "
        f"{result['crops_per_second']:.4g} crops/s, {result['tflop_per_step']:.4g} TFLOP/step, "
        f"{result['achieved_tflops']:.3g} TFLOP/s, MFU {mfu}, "
        f"peak memory {result['peak_memory_bytes'] / 2**20:,.0f} MiB, data wait {result['data_wait_share']:.1%}",
        file=sys.stderr,
    )
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
