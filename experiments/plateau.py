"""The plateau, measured: how long AudioSlots sits on it as the number of distinct training crops grows.

For each pool size P (``--pools``; 0 is the stream of fresh crops) and seed, the `cpu` preset's
AudioSlots network trains for ``--steps`` steps (logged every 10) on a fixed pool of P crops of the
real-speech mini Libri2Mix (:attr:`audioslots.config.TrainConfig.crop_pool`); for each speaker
count K (``--speakers``), on fresh crops of the first 80 % of the mixtures of K training speakers
(``crop_speakers``, ``crop_span``), scored also on the held-out last 20 % of the same mixtures. The run's record holds
the reference losses of its crops (:mod:`audioslots.evaluation.plateau`: the plateau's level, the
floor), the step at which it leaves the plateau and the step at which it crosses the floor, and the
SI-SNRi of the final network on its pool and on ``--fresh`` crops of the test speakers, beside
the reference predictors' and the Oracle's on the same crops.

``--summarise`` fits ``escape step = a · P^b`` over the pools whose runs left the plateau (both
seeds, log-log least squares), and extrapolates it, with the band of the fit's 95 % interval, to
the number of distinct crops of the embedded mini Libri2Mix and of Libri2Mix train-360; it does the
same over the speaker counts K, extrapolated to the training speakers of both; it writes
``plateau.csv``, ``extrapolation.csv`` (crops), ``extrapolation_speakers.csv``, ``plateau.png``, and
``reference_scores.csv``: the SI-SNRi of identical slots (what every reference predictor is at test
time) on the test mixtures, scored as the networks are
(:func:`audioslots.evaluation.plateau.identical_slots_si_snri`), which the book's compute figures
draw beside the networks.

Usage, from the repository root (one process per pool and seed; two at a time on 2 cores)::

    .venv/bin/python experiments/plateau.py --pools 8 64 --seeds 0 --runs /tmp/plateau
    .venv/bin/python experiments/plateau.py --summarise
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.errors import DataError
from audioslots.evaluation import plateau
from audioslots.features import spectrogram
from audioslots.pipeline import data_label, prepare_data
from audioslots.provenance import git_commit
from audioslots.reporting.plateau_figure import EMBEDDED, plateau_figure
from audioslots.separate import predict
from audioslots.training import RunFiles, load_model, train
from audioslots.training.batches import speaker_of

OUT = Path(__file__).resolve().parents[1] / "results" / "plateau"
#: Hours of mixtures in Libri2Mix train-360, `min` mode (LibriMix's own table), for the extrapolation.
TRAIN_360_MIN_HOURS = 212.0
#: Speakers of LibriSpeech train-clean-360, the sources of Libri2Mix train-360 (the LibriSpeech corpus's own table).
TRAIN_360_SPEAKERS = 921
#: [choice] A speaker run trains on the first 80 % of each of its mixtures; the rest is held out.
SPAN = 0.8


def test_crops(data: Path, preset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` chunk-long crops of the test split (speakers no training mixture has), from each mixture's start."""
    test = LibriMix(data, "test", max_mixtures=n)
    crops = [test.crop(i, 0, preset.features.chunk_samples) for i in range(len(test))]
    return torch.stack([c.mixture for c in crops]), torch.stack([c.sources for c in crops])


def scores(model, mixtures, sources, features, prefix: str) -> dict:
    """The network's, the Oracle's and the reference predictors' SI-SNRi (IBM, Wiener-like) on crops."""
    predicted = predict(model, mixtures, features)
    oracle = spectrogram(sources, features)
    out = {}
    for mask in ("ibm", "wiener"):
        out[f"{prefix}_{mask}"] = plateau.crop_si_snri(predicted, mixtures, sources, features, mask)
        out[f"{prefix}_oracle_{mask}"] = plateau.crop_si_snri(oracle, mixtures, sources, features, mask)
    return out


def run_name(pool: int, speakers: int, seed: int) -> str:
    return f"pool{pool}_s{seed}" if not speakers else f"speakers{speakers}_s{seed}"


def run(preset_name: str, pool: int, speakers: int, seed: int, steps: int, data: Path, runs: Path, out: Path,
        fresh: int) -> dict:
    """Train one network on a pool of ``pool`` crops (0: the stream), or on the first ``SPAN`` of the
    mixtures of ``speakers`` speakers; its record, and its log copied to ``out/logs``."""
    preset = replace(get_preset(preset_name), seed=seed, crop_pool=pool, steps=steps, log_every=10, checkpoint_every=100)
    if speakers:
        preset = replace(preset, crop_speakers=speakers, crop_span=SPAN)
    name = run_name(pool, speakers, seed)
    train_set = LibriMix(data, "train-360")
    train(preset, train_set, runs / name, device="cpu", progress=False)
    # the stream's levels on fresh training crops (of its speakers and span), drawn as a pool of 256 would be
    mixtures, sources = plateau.pool_crops(train_set, preset if pool else replace(preset, crop_pool=256))
    levels = plateau.trivial_losses(mixtures, sources, preset.features)
    log = pd.read_csv(RunFiles(runs / name).log)
    model, _ = load_model(RunFiles(runs / name).checkpoint)
    record = {"pool": pool, "speakers": speakers, "seed": seed, "steps": steps, "commit": git_commit(),
              "torch": torch.__version__,
              **{f"loss_{k}": v for k, v in levels.items()}, "final_loss": float(log["loss"].iloc[-1]),
              **scores(model, mixtures, sources, preset.features, "pool"),
              **scores(model, *test_crops(data, preset, fresh), preset.features, "test")}
    if speakers:
        try:
            record.update(scores(model, *plateau.held_out_crops(train_set, preset, fresh), preset.features, "held_out"))
        except DataError as error:  # mixtures too short for a held-out crop (the tiny test set)
            print(error, flush=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RunFiles(runs / name).log, out / "logs" / f"{name}.csv")
    return record


def escape_and_floor(record: pd.Series, log: pd.DataFrame) -> dict:
    levels = {name: record[f"loss_{name}"] for name in plateau.TRIVIAL_PREDICTORS}
    return {"escape_step": plateau.escape_step(log["step"], log["loss"], plateau.leave_level(levels)),
            "floor_step": plateau.escape_step(log["step"], log["loss"], levels[plateau.FLOOR])}


def distinct_crops(train_set: LibriMix, chunk_seconds: float) -> dict[str, float]:
    """Non-overlapping chunk-long crops in the embedded training split and in train-360 (`min`)."""
    mini = float(np.sum(train_set.lengths)) / train_set.sample_rate / chunk_seconds
    return {EMBEDDED: mini, "Libri2Mix train-360": TRAIN_360_MIN_HOURS * 3600 / chunk_seconds}


def distinct_speakers(train_set: LibriMix) -> dict[str, float]:
    """Speakers of the embedded training split and of train-360."""
    speakers = {speaker_of(mixture_id, k) for mixture_id in train_set.mixture_ids for k in range(train_set.n_src)}
    return {EMBEDDED: len(speakers), "Libri2Mix train-360": TRAIN_360_SPEAKERS}


def fit_power_law(pools: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``log step = log a + b log P``; the coefficients and their covariance."""
    design = np.stack([np.ones_like(pools, dtype=float), np.log(pools)], axis=1)
    coef, residual, *_ = np.linalg.lstsq(design, np.log(steps), rcond=None)
    dof = max(1, len(steps) - 2)
    sigma2 = float(np.sum((np.log(steps) - design @ coef) ** 2)) / dof
    return coef, sigma2 * np.linalg.inv(design.T @ design)


def reference_scores(data: Path, label: str, preset_name: str) -> pd.DataFrame:
    """Identical slots scored on every test mixture of ``data`` with the preset's features, one row per mask,
    ``data`` named as the runs' ``table1.csv`` name it (``label``)."""
    scores = plateau.identical_slots_si_snri(LibriMix(data, "test"), get_preset(preset_name).features)
    scores = scores.assign(data=label, predictor=plateau.IDENTICAL_SLOTS, commit=git_commit())
    return scores[["data", "mask", "predictor", "si_snri", "n_mixtures", "commit"]]


def extrapolate(sizes: pd.Series, steps: pd.Series, targets: dict[str, float], size_column: str) -> pd.DataFrame:
    """The power law of ``steps`` against ``sizes`` (runs that left the plateau, every seed) at each target size.

    Returns:
        One row per target: ``data``, ``size_column`` (its size), ``exponent``, ``escape_step`` and the 95 %
        band ``low``–``high`` of the fit, and ``fitted_on`` (the sizes fitted); no row when fewer than two
        sizes left the plateau.
    """
    from scipy import stats

    if sizes.nunique() < 2:
        return pd.DataFrame(columns=["data", size_column, "exponent", "escape_step", "low", "high", "fitted_on"])
    coef, cov = fit_power_law(sizes.to_numpy(float), steps.to_numpy(float))
    t = stats.t.ppf(0.975, max(1, len(sizes) - 2))
    rows = []
    for name, size in targets.items():
        x = np.array([1.0, np.log(size)])
        centre, half = float(x @ coef), float(t * np.sqrt(x @ cov @ x))
        rows.append({"data": name, size_column: round(size), "exponent": coef[1], "escape_step": np.exp(centre),
                     "low": np.exp(centre - half), "high": np.exp(centre + half),
                     "fitted_on": ", ".join(str(int(p)) for p in sorted(sizes.unique()))})
    return pd.DataFrame(rows)


def summarise(out: Path, data: Path, label: str, preset_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.read_json(out / "runs.jsonl", lines=True)
    runs["speakers"] = runs.get("speakers", 0)
    runs = runs.fillna({"speakers": 0}).drop_duplicates(["pool", "speakers", "seed"], keep="last")
    names = [run_name(int(r["pool"]), int(r["speakers"]), int(r["seed"])) for _, r in runs.iterrows()]
    steps = [escape_and_floor(r, pd.read_csv(out / "logs" / f"{name}.csv")) for name, (_, r) in zip(names, runs.iterrows())]
    runs = pd.concat([runs.reset_index(drop=True), pd.DataFrame(steps)], axis=1).sort_values(["speakers", "pool", "seed"])
    runs.to_csv(out / "plateau.csv", index=False, float_format="%.4g")
    left = runs[(runs["pool"] > 0) & (runs["speakers"] == 0) & runs["escape_step"].notna()]
    train_set = LibriMix(data, "train-360")
    crops = distinct_crops(train_set, get_preset(preset_name).features.chunk_seconds)
    extrapolation = extrapolate(left["pool"], left["escape_step"], crops, "distinct_crops")
    extrapolation.to_csv(out / "extrapolation.csv", index=False, float_format="%.4g")
    left = runs[(runs["speakers"] > 0) & runs["escape_step"].notna()]
    extrapolate(left["speakers"], left["escape_step"], distinct_speakers(train_set), "speakers").to_csv(
        out / "extrapolation_speakers.csv", index=False, float_format="%.4g")
    plateau_figure(out).savefig(out / "plateau.png", dpi=110)
    reference_scores(data, label, preset_name).to_csv(out / plateau.REFERENCE_SCORES_CSV, index=False,
                                                      float_format="%.4g")
    return runs, extrapolation


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=int, nargs="*", default=[8, 64, 256, 1024, 0], help="crops per pool (0: the stream)")
    parser.add_argument("--speakers", type=int, nargs="*", default=[4, 16, 64],
                        help="speaker counts, each trained on the stream of its speakers' mixtures")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--data-root", default="", help="'' = the embedded real speech; 'synthetic'; or a LibriMix folder")
    parser.add_argument("--fresh", type=int, default=64, help="test crops scored beside the pool")
    parser.add_argument("--runs", type=Path, help="scratch folder for the run folders (checkpoints)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of runs.jsonl (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summarise", action="store_true",
                        help="fit and extrapolate from runs.jsonl and score identical slots on the test mixtures; "
                             "train nothing")
    args = parser.parse_args(argv)
    if not args.summarise and args.runs is None:
        parser.error("give --runs, or pass --summarise")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    data, data_info = prepare_data(args.data_root, progress=False)
    if args.summarise:
        runs, extrapolation = summarise(args.out, data, data_label(data_info), args.preset)
        print(runs.to_string(index=False))
        print(extrapolation.to_string(index=False))
        return 0
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = [(pool, 0) for pool in args.pools] + [(0, speakers) for speakers in args.speakers]
    for pool, speakers in settings:
        for seed in args.seeds:
            record = run(args.preset, pool, speakers, seed, args.steps, data, args.runs, args.out, args.fresh)
            print(json.dumps(record), flush=True)
            with (args.out / "runs.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
