"""Learning curves: the test score of a network at the steps its run kept, against training compute.

A run keeps checkpoints at chosen steps (``TrainConfig.keep_checkpoints``, files
``checkpoint_step0001000.pt``). :func:`score_checkpoints` scores each of them and the final
``checkpoint.pt`` on a test split, with the ground truth's slot order as in the paper, and writes
one row per run × step × mask (:data:`COLUMNS`) into ``learning_curve.csv``; ``train_flop`` is the
training compute up to that step (FLOPs per step × step, :mod:`audioslots.flops`).

:func:`compute_points` gathers every run's points (learning curves and the final networks of
``table1.csv``) for :func:`audioslots.reporting.plots.compute_figure`, which puts them beside the paper's
Table 1 at the paper's compute (:func:`paper_compute`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.data.layout import DATA_LABELS, embedded_source
from audioslots.errors import CheckpointError, DataError
from audioslots.evaluation.intervals import utterance_interval
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.flops import affine_in_batch, read_flops
from audioslots import provenance
from audioslots.runs import RUNS, row_label, run_name_of
from audioslots.training import RunFiles, count_run_flops, load_checkpoint, preset_from_dict, run_config

#: The file name :func:`score_checkpoints` is meant to write beside a run folder's ``table1.csv``.
LEARNING_CURVE = "learning_curve.csv"
#: The columns of a learning curve, one row per run × step × mask.
COLUMNS = ["run", "system", "chunk_seconds", "step", "flop_per_step", "train_flop", "split", "mask", "si_snr",
           "si_snri", "si_snri_ci", "n_mixtures", "ci_resamples"]
#: What the interval of a learning curve resamples, the utterances the test mixtures are made of
#: (:func:`~audioslots.evaluation.intervals.utterance_interval`). Curves scored before this column
#: existed resampled mixtures, too narrow an interval, so their intervals are not drawn.
CI_RESAMPLES = "utterances"


def run_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """The checkpoints of a network's run folder by step: the kept ones and the final ``checkpoint.pt``.

    Raises:
        CheckpointError: the folder does not exist or holds no checkpoint.
    """
    files = RunFiles(Path(run_dir))
    if not files.root.is_dir():
        raise CheckpointError(f"{files.root} is not a folder; give the run folders of trained networks, "
                              "e.g. results/cpu/audioslots_0.5s.")
    checkpoints = {int(path.stem.removeprefix("checkpoint_step")): path for path in files.kept_checkpoints()}
    if files.checkpoint.exists():
        checkpoints.setdefault(int(load_checkpoint(files.checkpoint)["step"]), files.checkpoint)
    if not checkpoints:
        raise CheckpointError(f"{files.root} holds no checkpoint (checkpoint.pt or checkpoint_step*.pt); train the "
                              "network first. Checkpoints are not committed: a run folder from results/ must be "
                              "trained again, keeping checkpoints for a learning curve with TrainConfig.keep_checkpoints.")
    return dict(sorted(checkpoints.items()))


def flop_per_step(run_dir: str | Path) -> int:
    """FLOPs of one training step of a run: its ``flops.json``, else its ``train:<name>`` provenance in
    the folder above, else counted now from its ``config.json`` (:func:`audioslots.training.step_flops.count_run_flops`,
    from batches of 1, 2 and 3 by :func:`audioslots.flops.affine_in_batch`)."""
    files = RunFiles(Path(run_dir))
    counted = read_flops(files.flops)
    if counted is not None:
        return counted["flop_per_step"]
    recorded = provenance.load(files.root.parent).get(f"train:{files.root.name}", {})
    if "flop_per_step" in recorded:
        return recorded["flop_per_step"]
    config = json.loads(files.config.read_text())
    preset = preset_from_dict(config["preset"])
    return affine_in_batch(lambda batch: count_run_flops(config, batch),
                           preset.train.batch_for(preset.features.chunk_seconds))


def curve_rows(metrics: pd.DataFrame, run: str, step: int, flop: int, split: str) -> pd.DataFrame:
    """One row per mask of a checkpoint's per-mixture ``metrics``: means, the 95 % CI of SI-SNRi by utterance, mixtures."""
    rows = []
    for mask, scores in metrics.groupby("mask", sort=False):
        rows.append({"run": run, "system": scores["system"].iloc[0], "chunk_seconds": scores["chunk_seconds"].iloc[0],
                     "step": step, "flop_per_step": flop, "train_flop": flop * step, "split": split, "mask": mask,
                     "si_snr": scores["si_snr"].mean(), "si_snri": scores["si_snri"].mean(),
                     "si_snri_ci": utterance_interval(scores["si_snri"].to_numpy(), scores["mixture_id"].tolist()),
                     "n_mixtures": scores["mixture_id"].nunique(), "ci_resamples": CI_RESAMPLES})
    return pd.DataFrame(rows, columns=COLUMNS)


def _write(curve: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    curve.sort_values(["run", "step", "mask"], kind="stable").to_csv(tmp, index=False, float_format="%.4f")
    os.replace(tmp, out)


def score_checkpoints(run_dirs: list[str | Path], dataset: LibriMix, out: str | Path, *, device: str = "cpu",
                      progress: bool = True) -> pd.DataFrame:
    """Score every checkpoint of each run folder on ``dataset`` and write the learning curve to ``out``.

    Rows already in ``out`` (same run, step and split) are kept and not scored again, and ``out``
    is rewritten after each checkpoint: an interrupted call loses at most the checkpoint it was
    scoring, and the same call resumes.

    Args:
        run_dirs: network run folders (``RUN_DIR/audioslots_0.5s``, ...).
        dataset: the test split (``LibriMix(..., max_mixtures=N)`` for the first N mixtures).
        out: the CSV (:data:`COLUMNS`); runs are named by their folder relative to its folder.
        device: where the networks run.

    Returns:
        The whole learning curve, the rows of earlier calls included.

    Raises:
        CheckpointError: a folder that does not exist or holds no checkpoint (before anything is scored).
        DataError: ``out`` holds rows of this split scored on another number of mixtures.
    """
    out = Path(out)
    curve = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=COLUMNS)
    same_split = curve[curve["split"] == dataset.split]
    if len(same_split) and set(same_split["n_mixtures"]) != {len(dataset)}:
        counts = " and ".join(str(n) for n in sorted(set(same_split["n_mixtures"])))
        raise DataError(f"{out} holds scores on {counts} mixtures of {dataset.split} but {len(dataset)} were asked for; "
                        "use the same --mixtures or another --out file.")
    done = set(zip(same_split["run"], same_split["step"]))
    todo = []
    for run_dir in run_dirs:
        run = Path(os.path.relpath(Path(run_dir).resolve(), out.resolve().parent)).as_posix()
        todo += [(run_dir, run, step, path) for step, path in run_checkpoints(run_dir).items() if (run, step) not in done]
    flops = {run_dir: flop_per_step(run_dir) for run_dir, *_ in todo}
    bar = tqdm(todo, desc="score checkpoints", unit="checkpoint", disable=not progress)
    for run_dir, run, step, path in bar:
        bar.set_postfix(run=run, step=step)
        metrics = evaluate_checkpoint(path, dataset, orders=("oracle",), device=device, progress=progress)
        rows = curve_rows(metrics, run, step, flops[run_dir], dataset.split)
        curve = pd.concat([curve, rows], ignore_index=True) if len(curve) else rows
        _write(curve, out)
    if not out.exists():  # nothing to score and nothing scored before: still leave the (empty) file
        _write(curve, out)
    return pd.read_csv(out)


#: Columns of :func:`compute_points`: one point per Table-1 row (``row``) × mask × network and step.
POINT_COLUMNS = ["row", "mask", "train_flop", "si_snri", "si_snri_ci", "run", "step", "final", "data"]


def compute_points(results: str | Path = "results") -> pd.DataFrame:
    """Every trained network's SI-SNRi against its training FLOPs, from ``results/*/``.

    The final networks come from each run's ``table1.csv`` (its rows in the paper's setting: the
    plain row label, oracle order, no overlap; those with ``train_flop`` above 0), the learning
    curves from its ``learning_curve.csv`` (:data:`LEARNING_CURVE`). ``run`` names the network
    (``cpu/audioslots_0.5s``); ``final`` tells the two apart; ``data`` is the run's data as its
    ``table1.csv`` names it, or, for a run not yet scored, as its networks' configs do
    (:func:`run_data_label`).

    Returns:
        :data:`POINT_COLUMNS`, ``si_snri_ci`` empty for the final networks (``table1.csv`` has no CI)
        and for curves whose interval did not resample utterances (:data:`CI_RESAMPLES`).
    """
    frames, data = [], {}
    for path in sorted(Path(results).glob("*/table1.csv")):
        table = pd.read_csv(path)
        data[path.parent.name] = str(table["data"].iloc[0]) if "data" in table and len(table) else "—"
        if "train_flop" not in table:
            continue
        plain = pd.Series([label == row_label(system, chunk) for label, system, chunk in
                           zip(table["label"], table["system"], table["chunk_seconds"])], index=table.index)
        table = table[plain & (table["train_flop"] > 0)]
        frames.append(pd.DataFrame({
            "row": table["label"], "mask": table["mask"], "train_flop": table["train_flop"],
            "si_snri": table["si_snri"], "si_snri_ci": float("nan"),
            "run": [f"{path.parent.name}/{run_name_of(s, c)}" for s, c in zip(table["system"], table["chunk_seconds"])],
            "step": float("nan"), "final": True, "data": data[path.parent.name]}))
    for path in sorted(Path(results).glob(f"*/{LEARNING_CURVE}")):
        curve = pd.read_csv(path)
        frames.append(pd.DataFrame({
            "row": [row_label(s, c) for s, c in zip(curve["system"], curve["chunk_seconds"])], "mask": curve["mask"],
            "train_flop": curve["train_flop"], "si_snri": curve["si_snri"],
            "si_snri_ci": curve["si_snri_ci"].where(curve.get("ci_resamples", pd.Series(index=curve.index)) == CI_RESAMPLES),
            "run": [f"{path.parent.name}/{run}" for run in curve["run"]], "step": curve["step"], "final": False,
            "data": data.get(path.parent.name) or run_data_label(path.parent)}))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[POINT_COLUMNS] if frames else pd.DataFrame(columns=POINT_COLUMNS)


def run_data_label(run_dir: str | Path) -> str:
    """How tables name the data of a run folder that has no ``table1.csv`` yet (a run still training), from the
    data folder its networks' ``config.json`` record: an embedded set by where it lies in the checkout
    (:func:`audioslots.data.layout.embedded_source`), any other folder ``LibriMix``; ``—`` without a config."""
    roots = {json.loads(path.read_text()).get("data", {}).get("root") for path in Path(run_dir).glob("*/config.json")}
    roots.discard(None)
    if not roots:
        return "—"
    labels = {DATA_LABELS.get(embedded_source(root), "LibriMix") for root in roots}
    if len(labels) > 1:
        raise DataError(f"The networks of {run_dir} were trained on different data ({', '.join(sorted(labels))}); "
                        "a run folder holds networks of one data set.")
    return labels.pop()


def paper_compute(paper_csv: str | Path, preset_name: str = "paper", probes: tuple[int, ...] = (1, 2, 3)) -> pd.DataFrame:
    """The paper's training compute for each trained row of its Table 1, as our ``paper`` preset counts it.

    The paper's 300 000 steps of batch 64 (the ``paper`` preset's ``steps`` and ``batch_size``)
    times the FLOPs of one step of that row's network, counted from batches of ``probes`` and
    extrapolated (:func:`audioslots.flops.affine_in_batch`; a paper step does not fit a CPU's
    memory). Minutes on a CPU; ``preset_name`` counts another preset the same way.

    Returns:
        Columns ``paper_row``, ``model_kind``, ``chunk_seconds``, ``steps``, ``batch_size``,
        ``flop_per_step``, ``train_flop``.
    """
    paper_rows = set(pd.read_csv(paper_csv)["paper_row"])
    rows = []
    for run in RUNS.values():
        if run.row not in paper_rows:
            continue
        preset = replace(get_preset(preset_name), chunk_seconds=run.chunk_seconds)
        batch = preset.train.batch_for(run.chunk_seconds)
        config = run_config(preset, run.network, {"n_src": 2})
        flop = affine_in_batch(lambda b: count_run_flops(config, b), batch, probes)
        rows.append({"paper_row": run.row, "model_kind": run.network, "chunk_seconds": run.chunk_seconds,
                     "steps": preset.train.steps, "batch_size": batch, "flop_per_step": flop,
                     "train_flop": flop * preset.train.steps})
    return pd.DataFrame(rows)
