"""The reproduction as steps: the notebooks (and ``make reproduce``) call these, in this order.

A run folder (``results/cpu`` for the reference CPU run) ends up holding::

    provenance.json               what produced everything below (audioslots.provenance)
    audioslots_0.5s/              training runs (config.json, log.csv; checkpoints
    autoencoder_0.5s/               are not committed)
    audioslots_1s/
    convtasnet/                   the Conv-TasNet peer's training run (not in the paper)
    metrics/<system>_<chunk>.csv  per-mixture SI-SNR / SI-SNRi (evaluation.scores)
    table1.csv                    the summary of Table 1
    notebooks/                    the executed notebooks the book renders

The networks, their folders, their metric files and their rows of Table 1 are named in :mod:`audioslots.runs`.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audioslots.config import Preset, get_preset, replace
from audioslots.convtasnet import WHOLE
from audioslots.data.dataset import LibriMix
from audioslots.data.layout import DATA_LABELS, EMBEDDED_ROOTS
from audioslots.data.mix_librispeech import build_librimix
from audioslots.data.synthetic import SynthConfig, synthesize_librimix
from audioslots.evaluation.scores import evaluate, evaluate_checkpoint, load_metrics, table1
from audioslots import provenance
from audioslots.runs import PAPER_FRAMING, RUNS, EvalSpec, run_name_of
from audioslots.training import TrainResult, load_model, resolve_device, train

SYNTHETIC_ROOT = EMBEDDED_ROOTS["synthetic"]
#: The vendored real speech (251 LibriSpeech speakers, CC BY 4.0) and the mini Libri2Mix built from it.
SPEECH_DIR = Path("data/librispeech-mini")
REAL_ROOT = EMBEDDED_ROOTS["real"]
#: ``data_root`` values of the notebooks that name an embedded data set rather than a folder → that data set.
EMBEDDED_DATA_SETS = {"": "real", "real": "real", "synthetic": "synthetic"}


def prepare_data(data_root: str | Path = "", seed: int = 0, synthetic_root: str | Path = SYNTHETIC_ROOT,
                 real_root: str | Path = REAL_ROOT, progress: bool = True) -> tuple[Path, dict]:
    """The data folder to use and its description for the provenance.

    ``""`` (or ``"real"``) means the embedded real speech: a speaker-disjoint mini Libri2Mix is
    built (once) into ``real_root`` from the vendored LibriSpeech utterances by the LibriMix recipe
    (:mod:`audioslots.data.mix_librispeech`). ``"synthetic"`` means the embedded speech-like synthetic set,
    generated (once) into ``synthetic_root``. Anything else is a LibriMix folder, read as is.
    """
    kind = EMBEDDED_DATA_SETS.get(str(data_root))
    if kind is None:
        root = Path(data_root)
        LibriMix(root, "test")  # fails early, with a clear sentence, if the folder is not LibriMix
        return root, {"source": "LibriMix", "root": str(root.resolve())}
    if kind == "synthetic":
        root = synthesize_librimix(synthetic_root, seed=seed, progress=progress)
        return root, {"source": "synthetic", "seed": seed, "root": str(Path(root).resolve()),
                      "config": SynthConfig().to_dict()}
    root = build_librimix(SPEECH_DIR, real_root, seed=seed, progress=progress)
    settings = (Path(root) / "wav16k" / "min" / "metadata" / "build.json").read_text()
    return root, {"source": "real", "seed": seed, "root": str(Path(root).resolve()), "speech": str(SPEECH_DIR),
                  "config": json.loads(settings)}


def data_label(data_info: dict) -> str:
    """Short name of a run's data for tables: ``real speech (LibriSpeech mini)``, ``synthetic`` or ``LibriMix``."""
    return DATA_LABELS.get(data_info.get("source"), "LibriMix")


def resolve_preset(name: str, seed: int = 0, steps: int | None = None) -> Preset:
    """A named preset with the run's seed (and optionally its number of steps) set."""
    return replace(get_preset(name), seed=seed, steps=steps)


def train_run(name: str, preset: Preset, data_root: str | Path, run_dir: str | Path, *,
              device: str = "auto", data_info: dict | None = None, progress: bool = True,
              compile: bool = False) -> TrainResult:
    """Train (or resume, or find finished) one of :data:`~audioslots.runs.RUNS` into ``run_dir/name``
    (``compile``: ``torch.compile`` the network, for CUDA)."""
    preset = run_preset(preset, name)
    result, seconds, where = _train_one(name, preset, data_root, run_dir, device, progress, compile=compile)
    _record_training(name, preset, run_dir, result, seconds, where, data_info, data_root, compile)
    return result


#: How many checkpoints each trained network keeps (log-spaced, the last at the end), the points of
#: its learning curve for ``audioslots score-checkpoints``. Keeping them changes no result.
CURVE_POINTS = 3


def curve_steps(total_steps: int, points: int = CURVE_POINTS, first: int = 100) -> tuple[int, ...]:
    """``points`` log-spaced steps from ``first`` (or a tenth of the run, if less) to ``total_steps`` (the
    last is the end), rounded to 50 when the run is long enough for that to keep them apart."""
    unit = 50 if total_steps >= 500 else 1
    steps = np.geomspace(min(first, max(1, total_steps // 10)), total_steps, points)[:-1]
    return tuple(sorted({max(unit, int(round(s / unit)) * unit) for s in steps} | {total_steps}))


def train_runs(names: list[str] | tuple[str, ...], preset: Preset, data_root: str | Path, run_dir: str | Path, *,
               device: str = "auto", data_info: dict | None = None, progress: bool = True,
               jobs: int | None = None, compile: bool = False) -> dict[str, TrainResult]:
    """Train several of :data:`~audioslots.runs.RUNS`, side by side in separate processes when on the CPU.

    [choice] On a CPU, small networks use several threads poorly: one single-threaded training
    process per run keeps the cores busier than the runs one after another with every thread.
    Each process gets
    ``cores // jobs`` threads (at least 1), so a run's result depends on the core count, as
    PyTorch's does anyway. On CUDA the runs share the device one after another.

    Args:
        jobs: processes at once; ``None``: one per run on the CPU (three runs on two cores share
            them: the runs take unequal times, and a core left idle by the shortest would cost
            more than the sharing), 1 on CUDA. With 1 the runs are trained in this process.
        compile: ``torch.compile`` each network (for CUDA; its first steps are slow).

    Each run keeps the checkpoints of :func:`curve_steps` unless ``preset`` names its own
    (``keep_checkpoints``, an execution option: the runs train exactly as without).

    Returns:
        The :class:`~audioslots.training.loop.TrainResult` of each run, by name, in the order of ``names``.
    """
    cores = os.cpu_count() or 1
    if jobs is None:
        jobs = 1 if resolve_device(device).type == "cuda" else len(names)
    if jobs <= 1:
        return {name: train_run(name, preset, data_root, run_dir, device=device, data_info=data_info,
                                progress=progress, compile=compile) for name in names}
    threads = max(1, cores // jobs)
    print(f"Training {', '.join(names)} in {jobs} processes of {threads} thread(s) each "
          "(each resumes from its checkpoint if interrupted).", flush=True)
    results = {}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no state shared with the notebook's
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        presets = {name: run_preset(preset, name) for name in names}
        futures = {pool.submit(_train_one, name, presets[name], data_root, run_dir, device, False, threads,
                               compile): name
                   for name in names}
        try:
            for future in as_completed(futures):
                name = futures[future]
                result, seconds, where = future.result()
                _record_training(name, presets[name], run_dir, result, seconds, where, data_info, data_root, compile)
                print(f"{name}: step {result.step}, final loss {result.final_loss:.4f} ({seconds:.0f} s)", flush=True)
                results[name] = result
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return {name: results[name] for name in names}


def run_preset(preset: Preset, name: str) -> Preset:
    """The preset that run ``name`` of :data:`~audioslots.runs.RUNS` trains with, assembled once per run: its chunk
    length (a whole-mixture network keeps the preset's features; its crops are its own, see
    :func:`audioslots.training.networks.training_crops`) and the checkpoints it keeps (:func:`curve_steps` unless
    the preset names its own)."""
    chunk_seconds = RUNS[name].chunk_seconds
    return replace(preset, chunk_seconds=None if chunk_seconds == WHOLE else chunk_seconds,
                   keep_checkpoints=preset.train.keep_checkpoints or curve_steps(preset.train.steps))


def _train_one(name: str, preset: Preset, data_root: str | Path, run_dir: str | Path, device: str,
               progress: bool, threads: int | None = None, compile: bool = False) -> tuple[TrainResult, float, str]:
    """Train one run with its preset (:func:`run_preset`), in this process or in a worker of :func:`train_runs`
    with ``threads`` threads.

    Returns:
        The result, the wall time of this call in seconds and the name of the device it ran on.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    result = train(preset, LibriMix(data_root, "train-360"), Path(run_dir) / name, kind=RUNS[name].kind,
                   device=device, progress=progress, compile=compile)
    return result, time.perf_counter() - start, provenance.device_name(resolve_device(device))


def _record_training(name: str, preset: Preset, run_dir: str | Path, result: TrainResult, seconds: float,
                     device_name: str, data_info: dict | None, data_root: str | Path, compile: bool = False) -> None:
    """The run's ``train:<name>`` section of ``provenance.json`` (written by this process only)."""
    kind = RUNS[name].kind
    provenance.record(run_dir, f"train:{name}", {
        "preset": dataclasses.asdict(preset), "model_kind": kind.name, "data": data_info or {"root": str(data_root)},
        "split": "train-360", "steps": result.step, "batch_size": kind.training_crops(preset)[0],
        "final_loss": result.final_loss,
        "device": device_name, "compile": compile,
        "wall_seconds_last_call": round(seconds, 1),
        **training_compute(result.flop_per_step, result.step),
    })


def training_compute(flop_per_step: int | None, steps: int) -> dict:
    """``flop_per_step`` and ``train_flop`` (FLOPs of the whole training) of a ``train:<name>`` section."""
    if flop_per_step is None:
        return {}
    return {"flop_per_step": flop_per_step, "train_flop": flop_per_step * steps}


def evaluate_runs(systems: list[EvalSpec], data_root: str | Path, run_dir: str | Path, *,
                  split: str = "test", device: str = "auto", orders: tuple[str, ...] = ("oracle", "continuity"),
                  data_info: dict | None = None, progress: bool = True) -> pd.DataFrame:
    """Score systems on ``split`` and write ``run_dir/metrics/<stem>.csv`` for each (see :func:`audioslots.runs.metrics_stem`).

    Args:
        systems: what to score, e.g. ``[EvalSpec("Oracle", 0.5), EvalSpec("Oracle", 0.5, "centred"),
            EvalSpec("AudioSlots", 0.5, chunk_overlap=0.5)]`` (:class:`~audioslots.runs.EvalSpec`). Trained
            systems are read from the checkpoints of :data:`~audioslots.runs.RUNS` in ``run_dir``;
            ``EvalSpec("ConvTasNet", WHOLE)`` scores the peer on whole mixtures, ``EvalSpec("ConvTasNet", 0.5)``
            the same network on 0.5 s chunks.
        device: where the networks run (``auto``: CUDA when available).
        orders: slot orders scored for AudioSlots (``oracle`` as the paper, ``continuity`` without ground truth).

    Returns:
        The per-mixture metrics of all systems, with a ``data`` column naming the data set.
    """
    run_dir = Path(run_dir)
    dataset = LibriMix(data_root, split)
    dev = resolve_device(device)
    data_info = data_info or {"root": str(data_root)}
    frames = []
    for spec in systems:
        start, kind, stem = time.perf_counter(), spec.kind, spec.stem
        if kind.trains_network:
            checkpoint = run_dir / kind.run_name(spec.chunk_seconds) / "checkpoint.pt"
            metrics = evaluate_checkpoint(checkpoint, dataset, orders=orders, framing=spec.framing,
                                          chunk_overlap=spec.chunk_overlap,
                                          chunk_seconds=spec.chunk_seconds if kind.any_chunk_length else None,
                                          device=dev, progress=progress)
        else:
            features = dataclasses.replace(get_preset("paper").features, chunk_seconds=spec.chunk_seconds,
                                           sample_rate=dataset.sample_rate, framing=spec.framing or PAPER_FRAMING)
            metrics = evaluate(spec.system, dataset, features, chunk_overlap=spec.chunk_overlap, progress=progress)
        metrics.insert(0, "data", data_label(data_info))
        path = run_dir / "metrics" / f"{stem}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        metrics.to_csv(path, index=False)
        provenance.record(run_dir, f"evaluate:{stem}", {
            "data": data_info, "split": split, "n_mixtures": len(dataset),
            "device": provenance.device_name(dev), "wall_seconds": round(time.perf_counter() - start, 1),
            "file": str(path.relative_to(run_dir)),
        })
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True)


def write_table1(run_dir: str | Path) -> pd.DataFrame:
    """Summarise the run's metrics into ``run_dir/table1.csv`` (see :func:`audioslots.evaluation.scores.table1`).

    The ``train_flop`` column is the training compute of the network behind each row, from the
    ``train_flop`` of its ``train:<name>`` provenance: 0 for the oracle, empty where not recorded.
    """
    metrics = load_metrics(run_dir)
    summary = table1(metrics)  # the row labels of load_metrics come through as a key
    record = provenance.load(run_dir)

    def train_flop(system: str, chunk_seconds: float) -> int | None:
        run_name = run_name_of(system, chunk_seconds)
        return 0 if run_name is None else record.get(f"train:{run_name}", {}).get("train_flop")

    rows = metrics[["label", "system", "chunk_seconds"]].drop_duplicates("label").itertuples(index=False)
    by_label = {label: train_flop(system, chunk_seconds) for label, system, chunk_seconds in rows}
    summary["train_flop"] = summary["label"].map(by_label).astype("Int64")
    summary.to_csv(Path(run_dir) / "table1.csv", index=False, float_format="%.4f")
    return summary


def load_models(run_dir: str | Path, device: str = "cpu") -> dict[str, torch.nn.Module]:
    """The trained networks of a run, by run name (those whose checkpoint exists), on ``device`` (``auto``: CUDA if any)."""
    device = resolve_device(device)
    return {name: load_model(Path(run_dir) / name / "checkpoint.pt", device)[0]
            for name in RUNS if (Path(run_dir) / name / "checkpoint.pt").exists()}
