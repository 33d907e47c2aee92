"""Why AudioSlots separates real speech poorly at the `cpu` preset: two measurements on a run's networks.

1. **Train vs test.** The same 0.5 s AudioSlots network scored (oracle order, both masks) on
   training mixtures and on test mixtures (held-out speakers). Much better on training mixtures
   would mean it memorised the training voices (overfitting); about as poor on both means it has
   not learned to separate at all yet (underfitting).
2. **Slot similarity.** Per test chunk, the mean squared difference between the two slots'
   predicted compressed spectrograms, against the same between the two true sources'
   compressed spectrograms. A ratio far below 1 means the slots predict alike spectra (both
   close to the mixture): the slots have not learned to tell the voices apart.
3. **Loss floors.** The final training loss of the run's networks beside the matched MSE of
   trivial predictors on fresh training crops: a constant, each source's own time-averaged
   spectrum, and for the separation model the best output that separates nothing (both slots
   predict the mean of the two sources) and a scaled copy of the mixture. A network above these
   floors has not learned to reconstruct what it sees, let alone to separate it.
4. **Attention and time.** The entropy of each layer's cross-attention from the slots to the
   encoder's grid, against that of uniform attention (every slot reads the average of the
   grid), and how much the predicted spectrograms vary over the frames of a chunk against the
   true sources.

Usage, from the repository root, after ``make reproduce`` (the checkpoints are in the run folder,
not in git)::

    .venv/bin/python experiments/diagnostics.py results/cpu --out results/diagnostics

Writes ``train_vs_test.csv``, ``slot_similarity.csv`` (per mixture),
``slot_similarity_summary.csv``, ``loss_floors.csv`` and ``attention_time.csv`` with the run's
commit and the count of mixtures or crops (the book's Deviations page shows all but the
per-mixture one), and prints them.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
import torch

from audioslots.config import features_from_dict
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.features import chunk, spectrogram
from audioslots.loss import matched_mse
from audioslots.pipeline import REAL_ROOT
from audioslots import provenance
from audioslots.separate import predict
from audioslots.training import CropBatches, load_checkpoint, load_model

FLOOR_CROPS = 256  # training crops the loss floors are measured on


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


def _training_loss(run: Path) -> float:
    """Mean loss of the last logged window of a run's training log."""
    return float(pd.read_csv(run / "log.csv")["loss"].iloc[-1])


def loss_floors(run_dir: Path, root: Path, crops: int) -> pd.DataFrame:
    """The runs' final training losses beside the matched MSE of trivial predictors on training crops."""
    config = load_checkpoint(run_dir / "audioslots_0.5s" / "checkpoint.pt")["config"]
    features = features_from_dict(config["preset"]["features"])
    batches = CropBatches(LibriMix(root, "train-360"), crops, features.chunk_samples, seed=12345, kind="audioslots")
    mixtures, sources = batches[0]
    mixture, target = spectrogram(mixtures, features), spectrogram(sources, features)  # (B, F, T), (B, 2, F, T)
    single = target.flatten(0, 1)[:, None]  # (2B, 1, F, T): the autoencoder's inputs and targets

    def floor(pred: torch.Tensor, truth: torch.Tensor) -> float:
        return matched_mse(pred.expand_as(truth), truth)[0].item()

    scale = (mixture[:, None] * target).sum() / mixture.square().sum() / target.shape[1]  # least squares
    rows = [
        ("AudioSlots", "the network after training (last logged window)", _training_loss(run_dir / "audioslots_0.5s")),
        ("AudioSlots", "one constant for every cell", floor(target.mean().reshape(1, 1, 1, 1), target)),
        ("AudioSlots", "a scaled copy of the mixture in both slots", floor(scale * mixture[:, None], target)),
        ("AudioSlots", "the mean of the two sources in both slots (no separation)",
         floor(target.mean(1, keepdim=True), target)),
        ("AudioSlots", "each source's own time-averaged spectrum", floor(target.mean(-1, keepdim=True), target)),
        ("Autoencoder", "the network after training (last logged window)",
         _training_loss(run_dir / "autoencoder_0.5s")),
        ("Autoencoder", "one constant for every cell", floor(single.mean().reshape(1, 1, 1, 1), single)),
        ("Autoencoder", "the source's own time-averaged spectrum", floor(single.mean(-1, keepdim=True), single)),
    ]
    return pd.DataFrame(rows, columns=["network", "prediction", "mse"]).assign(crops=crops)


def attention_and_time(checkpoint: Path, root: Path, mixtures: int) -> pd.DataFrame:
    """Cross-attention entropy per layer and the predictions' variation over frames, on test chunks."""
    model, config = load_model(checkpoint)
    model.eval()
    features = features_from_dict(config["preset"]["features"])
    dataset = LibriMix(root, "test", max_mixtures=mixtures)
    examples = [dataset[i] for i in range(len(dataset))]
    chunks = torch.cat([chunk(e.mixture, features.chunk_samples) for e in examples])
    truth = torch.cat([chunk(e.sources, features.chunk_samples).transpose(0, 1) for e in examples])
    weights = []

    def keep_weights(module, inputs, _output):
        weights.append(module.weights(*inputs))  # (chunks, heads, slots, cells)

    hooks = [layer.cross_attn.register_forward_hook(keep_weights) for layer in model.transformer.layers]
    with torch.no_grad():
        predicted = predict(model, chunks, features, batch_size=len(chunks))  # (chunks, 2, F, T)
    for hook in hooks:
        hook.remove()
    rows = []
    for index, w in enumerate(weights):
        entropy = -(w * w.clamp_min(1e-12).log()).sum(-1).mean().item()
        rows.append({"quantity": f"cross-attention entropy, layer {index + 1} (nats)", "network": entropy,
                     "reference": math.log(w.shape[-1]), "reference_is": "uniform attention over the grid"})
    true_spectra = spectrogram(truth, features)  # (chunks, 2, F, T)
    rows.append({"quantity": "standard deviation over the frames of a chunk", "network": predicted.std(-1).mean().item(),
                 "reference": true_spectra.std(-1).mean().item(), "reference_is": "the true sources"})
    return pd.DataFrame(rows).assign(chunks=len(chunks))


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
    floors = loss_floors(args.run_dir, args.data, FLOOR_CROPS).assign(run_commit=run_commit)
    floors.to_csv(args.out / "loss_floors.csv", index=False, float_format="%.4f")
    print(floors.to_string(index=False))
    attention = attention_and_time(checkpoint, args.data, args.mixtures).assign(run_commit=run_commit)
    attention.to_csv(args.out / "attention_time.csv", index=False, float_format="%.4f")
    print(attention.to_string(index=False))


if __name__ == "__main__":
    main()
