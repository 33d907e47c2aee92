"""Training crops per second from a Libri2Mix-sized folder on disk, by DataLoader workers.

Training reads random 0.5 s crops of random mixtures (:class:`audioslots.training.batches.CropBatches`);
each crop reads three files (the mixture and two sources). At the paper's batch of 64 and the
step rate of 40 % MFU on an H100, our throughput target (about 31 steps/s), the loader has to deliver about
2000 crops/s. This script measures what it delivers with 0, 1, 2 and 4 worker processes, from a
folder of 2000 synthetic mixtures of 14 s in the LibriMix layout (7.8 h, 2.7 GB of 16-bit WAV,
made on first use by :func:`audioslots.data.synthetic.synthesize_librimix`; Libri2Mix's train-360 has
50 800 mixtures of 15 s on average, so reads are as scattered but the set is smaller).

Two readers are compared: ``pcm16``, what :meth:`audioslots.data.dataset.LibriMix.crop` does (after the
first, fully checked read of a file, one ``pread`` of the crop's bytes), and ``read_wav``, the
previous path (``libsndfile`` opens and checks every file for every crop). Two page-cache states:
``cold`` evicts the set's files from the page cache (``posix_fadvise(DONTNEED)``, these files
only) before each measurement, so crops come from the disk; ``warm`` keeps whatever the earlier
measurements left cached. Every measurement reads different steps' crops.

Usage, from the repository root::

    .venv/bin/python -m benchmarks.data_pipeline --out results/benchmarks/data_pipeline_cpu.json
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

from audioslots.audio import read_wav
from audioslots.data.dataset import LibriMix
from audioslots.training import CropBatches
from benchmarks.common import ensure_synthetic, header, write_result
from benchmarks.train_throughput import DEFAULT_DATA, DEFAULT_MIXTURES, DEFAULT_SECONDS

#: Crops per second that keep an H100 busy at the target rate with the paper's batch of 64.
TARGET_CROPS_PER_SECOND = 2000


class ReadWavLibriMix(LibriMix):
    """:class:`LibriMix` whose crops read every file through ``read_wav``, as before the pcm16 path."""

    def _read_range(self, path: Path, start: int, stop: int) -> torch.Tensor:
        return read_wav(path, self.sample_rate, start, stop)


READERS = {"pcm16": LibriMix, "read_wav": ReadWavLibriMix}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="LibriMix-layout folder (default: the synthetic Libri2Mix-sized set)")
    parser.add_argument("--split", default="train-360")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4])
    parser.add_argument("--readers", nargs="+", choices=sorted(READERS), default=["pcm16", "read_wav"])
    parser.add_argument("--caches", nargs="+", choices=("cold", "warm"), default=["cold", "warm"])
    parser.add_argument("--batch-size", type=int, default=64, help="crops per batch (the paper's 64)")
    parser.add_argument("--crop-seconds", type=float, default=0.5)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per measurement")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    return parser.parse_args(argv)


def evict_from_page_cache(dataset: LibriMix) -> int:
    """Drop the data set's WAV files from the page cache; returns how many files."""
    files = 0
    for index in range(len(dataset)):
        for path in dataset._wav_paths(index):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)  # dirty pages cannot be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            files += 1
    return files


def crops_per_second(dataset: LibriMix, workers: int, first_step: int, args, crop_samples: int) -> dict:
    """Time ``args.batches`` batches after a warm-up of two batches per worker (their start-up)."""
    warmup = max(1, 2 * workers)
    batches = CropBatches(dataset, args.batch_size, crop_samples, seed=0, kind="audioslots")
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(first_step, first_step + warmup + args.batches),
        num_workers=workers,
    )
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    crops = 0
    for mixtures, _ in iterator:
        crops += len(mixtures)
    seconds = time.perf_counter() - start
    rate = crops / seconds
    return {
        "workers": workers,
        "batches": args.batches,
        "crops": crops,
        "seconds": seconds,
        "crops_per_second": rate,
        "crops_per_second_per_worker": rate / max(1, workers),
        "milliseconds_per_crop": 1000 * max(1, workers) / rate,
    }


def run(args: argparse.Namespace) -> dict:
    root = args.data or ensure_synthetic(DEFAULT_DATA, args.split, DEFAULT_MIXTURES, DEFAULT_SECONDS)
    sample_rate = 16000
    crop_samples = round(args.crop_seconds * sample_rate)
    rows, first_step = [], 0
    for cache in args.caches:
        for reader in args.readers:
            dataset = READERS[reader](root, args.split, sample_rate=sample_rate)
            for workers in args.workers:
                if cache == "cold":
                    evict_from_page_cache(dataset)
                row = crops_per_second(dataset, workers, first_step, args, crop_samples)
                first_step += 1000  # other crops than any earlier measurement
                rows.append({"cache": cache, "reader": reader, **row})
                print(f"{cache:>4} {reader:>8} {workers} workers: {row['crops_per_second']:8.0f} crops/s "
                      f"({row['crops_per_second_per_worker']:.0f} per worker)", file=sys.stderr)
    dataset = LibriMix(root, args.split, sample_rate=sample_rate)
    one_worker = [r for r in rows if r["reader"] == "pcm16" and r["workers"] == 1]
    return {
        **header("data_pipeline", torch.device("cpu")),
        "cpu_count": os.cpu_count(),
        "data": {"root": str(root), "split": args.split, "mixtures": len(dataset),
                 "hours": sum(dataset.lengths) / sample_rate / 3600,
                 "wav_bytes": sum(p.stat().st_size for i in range(len(dataset)) for p in dataset._wav_paths(i))},
        "batch": args.batch_size,
        "crop_seconds": args.crop_seconds,
        "files_per_crop": 1 + dataset.n_src,
        "target_crops_per_second": TARGET_CROPS_PER_SECOND,
        # Workers scale until they run out of cores or disk; this assumes a core per worker.
        "workers_for_target": {
            r["cache"]: math.ceil(TARGET_CROPS_PER_SECOND / r["crops_per_second"]) for r in one_worker
        },
        "rows": rows,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    write_result(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
