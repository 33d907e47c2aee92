"""The reproduction as steps: the notebooks (and ``make reproduce``) call these, in this order.

A run folder (``results/cpu`` for the reference CPU run) ends up holding::

    provenance.json                       what produced everything below (see audioslots.provenance)
    audioslots_0.5s/ autoencoder_0.5s/ audioslots_1s/   training runs (config.json, log.csv; checkpoints are not committed)
    metrics/<system>_<chunk>.csv          per-mixture SI-SNR / SI-SNRi (tidy, see audioslots.evaluate)
    table1.csv                            the summary of Table 1
    notebooks/                            the executed notebooks the book renders
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from audioslots import provenance
from audioslots.config import Preset, get_preset, replace
from audioslots.data import LibriMix
from audioslots.evaluate import evaluate, evaluate_checkpoint, table1
from audioslots.synth import SynthConfig, synthesize_librimix
from audioslots.train import TrainResult, load_model, resolve_device, train

SYNTHETIC_ROOT = Path("data/synthetic/Libri2Mix")

#: Run name → (model kind, chunk seconds) of each network that Table 1 needs trained.
RUNS = {
    "audioslots_0.5s": ("audioslots", 0.5),
    "autoencoder_0.5s": ("autoencoder", 0.5),
    "audioslots_1s": ("audioslots", 1.0),
}
#: (system, chunk seconds) → row label of Table 1, in the paper's order.
ROWS = {
    ("Oracle", 0.5): "Oracle",
    ("Autoencoder", 0.5): "Autoencoder",
    ("AudioSlots", 0.5): "AudioSlots",
    ("Oracle", 1.0): "Oracle (1 s)",
    ("AudioSlots", 1.0): "AudioSlots (1 s)",
}


def prepare_data(data_root: str | Path = "", seed: int = 0, synthetic_root: str | Path = SYNTHETIC_ROOT,
                 progress: bool = True) -> tuple[Path, dict]:
    """The data folder to use and its description for the provenance.

    An empty ``data_root`` means the embedded synthetic set: it is generated (once) into
    ``synthetic_root`` from ``seed``. Otherwise ``data_root`` is a LibriMix folder, read as is.
    """
    if str(data_root):
        root = Path(data_root)
        LibriMix(root, "test")  # fails early, with a clear sentence, if the folder is not LibriMix
        return root, {"source": "LibriMix", "root": str(root.resolve())}
    root = synthesize_librimix(synthetic_root, seed=seed, progress=progress)
    return root, {"source": "synthetic", "seed": seed, "root": str(Path(root).resolve()),
                  "config": SynthConfig().to_dict()}


def resolve_preset(name: str, seed: int = 0, steps: int | None = None) -> Preset:
    """A named preset with the run's seed (and optionally its number of steps) set."""
    return replace(get_preset(name), seed=seed, steps=steps)


def train_run(name: str, preset: Preset, data_root: str | Path, run_dir: str | Path, *,
              device: str = "auto", data_info: dict | None = None, progress: bool = True) -> TrainResult:
    """Train (or resume, or find finished) one of :data:`RUNS` into ``run_dir/name``."""
    kind, chunk_seconds = RUNS[name]
    preset = replace(preset, chunk_seconds=chunk_seconds)
    start = time.perf_counter()
    result = train(preset, data_root, Path(run_dir) / name, kind=kind, device=device, progress=progress)
    provenance.record(run_dir, f"train:{name}", {
        "preset": dataclasses.asdict(preset), "model_kind": kind, "data": data_info or {"root": str(data_root)},
        "split": "train-360", "steps": result.step, "batch_size": preset.train.batch_for(chunk_seconds),
        "final_loss": result.final_loss,
        "device": provenance.device_name(resolve_device(device)),
        "wall_seconds_last_call": round(time.perf_counter() - start, 1),
    })
    return result


def evaluate_runs(systems: list[tuple[str, float]], data_root: str | Path, run_dir: str | Path, *,
                  split: str = "test", device: str = "cpu", orders: tuple[str, ...] = ("oracle", "continuity"),
                  data_info: dict | None = None, progress: bool = True) -> pd.DataFrame:
    """Score systems on ``split`` and write ``run_dir/metrics/<system>_<chunk>s.csv`` for each.

    Args:
        systems: ``(system, chunk_seconds)`` pairs, e.g. ``[("Oracle", 0.5), ("AudioSlots", 1.0)]``;
            trained systems are read from the checkpoints of :data:`RUNS` in ``run_dir``.
        orders: slot orders scored for AudioSlots (``oracle`` as the paper, ``continuity`` without ground truth).

    Returns:
        The per-mixture metrics of all systems.
    """
    run_dir = Path(run_dir)
    dataset = LibriMix(data_root, split)
    frames = []
    for system, chunk_seconds in systems:
        start = time.perf_counter()
        stem = f"{system.lower()}_{chunk_seconds:g}s"
        if system == "Oracle":
            features = dataclasses.replace(get_preset("paper").features, chunk_seconds=chunk_seconds,
                                           sample_rate=dataset.sample_rate)
            metrics = evaluate("Oracle", dataset, features, progress=progress)
        else:
            checkpoint = run_dir / stem / "checkpoint.pt"
            metrics = pd.concat([
                evaluate_checkpoint(checkpoint, dataset, order=order, device=device, progress=progress)
                for order in (orders if system == "AudioSlots" else ("oracle",))
            ], ignore_index=True)
        path = run_dir / "metrics" / f"{stem}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        metrics.to_csv(path, index=False)
        provenance.record(run_dir, f"evaluate:{stem}", {
            "data": data_info or {"root": str(data_root)}, "split": split, "n_mixtures": len(dataset),
            "device": provenance.device_name(device), "wall_seconds": round(time.perf_counter() - start, 1),
            "file": str(path.relative_to(run_dir)),
        })
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True)


def load_metrics(run_dir: str | Path) -> pd.DataFrame:
    """All per-mixture metrics of a run, with a ``label`` column naming the row of Table 1."""
    files = sorted((Path(run_dir) / "metrics").glob("*.csv"))
    metrics = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    labels = [ROWS.get((s, c), f"{s} ({c:g} s)") for s, c in zip(metrics["system"], metrics["chunk_seconds"])]
    metrics["label"] = [f"{label} (no oracle order)" if order == "continuity" else label
                        for label, order in zip(labels, metrics["order"])]
    return metrics


def write_table1(run_dir: str | Path) -> pd.DataFrame:
    """Summarise the run's metrics into ``run_dir/table1.csv`` (see :func:`audioslots.evaluate.table1`)."""
    summary = table1(load_metrics(run_dir))
    summary.to_csv(Path(run_dir) / "table1.csv", index=False, float_format="%.4f")
    return summary


def load_models(run_dir: str | Path, device: str = "cpu") -> dict[str, torch.nn.Module]:
    """The trained networks of a run, by run name (those whose checkpoint exists)."""
    return {name: load_model(Path(run_dir) / name / "checkpoint.pt", device)[0]
            for name in RUNS if (Path(run_dir) / name / "checkpoint.pt").exists()}
