"""Why AudioSlots separates real speech poorly at the `cpu` preset: two measurements on a run's networks.

1. **Train vs test.** The same 0.5 s AudioSlots network scored (oracle order, both masks) on
   training mixtures and on test mixtures (held-out speakers). Much better on training mixtures
   would mean it memorised the training voices (overfitting); about as poor on both means it has
   not learned to separate at all yet (underfitting).
2. **Slot similarity.** Per test chunk, the mean squared difference between the two slots'
   predicted compressed spectrograms, against the same between the two true sources'
   compressed spectrograms. A ratio far below 1 means the slots predict alike spectra (both
   close to the mixture): the slots have not learned to tell the voices apart.

Usage, from the repository root, after ``make reproduce`` (the checkpoints are in the run folder,
not in git)::

    .venv/bin/python results/diagnostics/run.py results/cpu --out results/diagnostics

Writes ``train_vs_test.csv``, ``slot_similarity.csv`` (per mixture) and
``slot_similarity_summary.csv`` with the run's commit and the count of mixtures (the book's
Deviations page shows the first and the last), and prints them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from audioslots import provenance
from audioslots.config import features_from_dict
from audioslots.data import LibriMix
from audioslots.evaluate import evaluate_checkpoint
from audioslots.features import chunk, spectrogram
from audioslots.reproduce import REAL_ROOT
from audioslots.separate import predict
from audioslots.train import load_model


def train_vs_test(checkpoint: Path, root: Path, mixtures: int) -> pd.DataFrame:
    rows = []
    for split in ("train-360", "test"):
        metrics = evaluate_checkpoint(checkpoint, LibriMix(root, split, max_mixtures=mixtures), progress=False)
        for mask, group in metrics.groupby("mask"):
            rows.append({"split": split, "mask": mask, "mixtures": len(group), "si_snri": group["si_snri"].mean()})
    return pd.DataFrame(rows)


def slot_similarity(checkpoint: Path, root: Path, mixtures: int) -> pd.DataFrame:
    model, config = load_model(checkpoint)
    features = features_from_dict(config["preset"]["features"])
    rows = []
    dataset = LibriMix(root, "test", max_mixtures=mixtures)
    for example in (dataset[i] for i in range(len(dataset))):
        chunks = chunk(example.mixture, features.chunk_samples)  # (n_chunks, chunk)
        with torch.no_grad():
            slots = predict(model, chunks, features).clamp_min(0)  # (n_chunks, 2, F, T) compressed
        truth = spectrogram(chunk(example.sources, features.chunk_samples).transpose(0, 1), features)
        rows.append({
            "mixture_id": example.mixture_id,
            "slots_msd": (slots[:, 0] - slots[:, 1]).square().mean().item(),
            "sources_msd": (truth[:, 0] - truth[:, 1]).square().mean().item(),
        })
    table = pd.DataFrame(rows)
    table["ratio"] = table["slots_msd"] / table["sources_msd"]
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", type=Path, default=REAL_ROOT)
    parser.add_argument("--mixtures", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("results/diagnostics"))
    args = parser.parse_args(argv)
    checkpoint = args.run_dir / "audioslots_0.5s" / "checkpoint.pt"
    run_commit = provenance.load(args.run_dir).get("commit", "unrecorded")
    args.out.mkdir(parents=True, exist_ok=True)

    scores = train_vs_test(checkpoint, args.data, args.mixtures).assign(run=str(args.run_dir), run_commit=run_commit)
    scores.to_csv(args.out / "train_vs_test.csv", index=False, float_format="%.4f")
    print(scores.to_string(index=False))
    similarity = slot_similarity(checkpoint, args.data, args.mixtures).assign(run=str(args.run_dir),
                                                                            run_commit=run_commit)
    similarity.to_csv(args.out / "slot_similarity.csv", index=False, float_format="%.6f")
    columns = ["slots_msd", "sources_msd", "ratio"]
    summary = pd.DataFrame({"statistic": ["mean", "median"],
                            **{c: [similarity[c].mean(), similarity[c].median()] for c in columns}})
    summary = summary.assign(mixtures=len(similarity), run_commit=run_commit)
    summary.to_csv(args.out / "slot_similarity_summary.csv", index=False, float_format="%.4f")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
