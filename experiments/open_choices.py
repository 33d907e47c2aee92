"""The paper's open choices, measured by how fast AudioSlots leaves the plateau on real speech.

For one setting (the `cpu` preset with fields set by ``--set KEY=VALUE``, or ``--overrides JSON``,
the same settings as one JSON object) and one seed, two AudioSlots trainings on the real-speech
mini Libri2Mix:

- **pool**: ``--pool-steps`` steps on a fixed pool of ``--pool`` training crops, logged every 10
  steps. The step at which the loss leaves the plateau (stays below
  :func:`audioslots.evaluation.plateau.leave_level` of the pool) and the step at which it crosses
  the separation floor (the ``mean of sources`` loss) are read from the log
  (:func:`audioslots.evaluation.plateau.escape_step`); the final network is scored on the pool's crops.
- **stream**: fresh crops for the compute of the `cpu` preset's AudioSlots training (its steps
  times the ratio of FLOPs per step, as the compute series scales a variant), scored on the first
  ``--eval-mixtures`` test mixtures with oracle slot order.

Appends one JSON line to ``OUT/runs.jsonl`` and copies both training logs to
``OUT/logs/NAME_sSEED_{pool,stream}.csv``; ``--summarise`` reads the steps from those logs and
writes ``choices.csv`` (mean and both seeds per setting), ``choices.md`` (the table the book's
Deviations page includes) and ``choices.png``. Run folders go to ``RUNS/NAME_sSEED/{pool,stream}``;
re-running resumes them.

Usage, from the repository root::

    .venv/bin/python experiments/open_choices.py base --seed 0 --runs /tmp/open_choices
    .venv/bin/python experiments/open_choices.py fourier48 --seed 0 --runs /tmp/open_choices \\
        --set fourier_scale=48
    .venv/bin/python experiments/open_choices.py --summarise
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from audioslots.cli_options import add_run_options, experiment_parser, settings_of, start_experiment
from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation import plateau
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.training import RunFiles, load_model, train
from audioslots.separate import predict

OUT = Path(__file__).resolve().parents[1] / "results" / "open_choices"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_series import audioslots_step_flop  # noqa: E402


def read_log(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(RunFiles(run_dir).log)


def pool_run(preset, data: Path, run_dir: Path, pool: int, steps: int) -> dict:
    """Train on the pool; the plateau and floor levels of the pool, the steps that pass them, and scores on it."""
    preset = replace(preset, crop_pool=pool, steps=steps, log_every=10, checkpoint_every=steps)
    train_set = LibriMix(data, "train-360")
    train(preset, train_set, run_dir, device="cpu", progress=False)
    mixtures, sources = plateau.pool_crops(train_set, preset)
    levels = plateau.trivial_losses(mixtures, sources, preset.features)
    log = read_log(run_dir)
    model, _ = load_model(RunFiles(run_dir).checkpoint)
    predicted = predict(model, mixtures, preset.features)
    return {
        "pool": pool, "pool_steps": steps, "plateau_loss": levels[plateau.PLATEAU], "floor_loss": levels[plateau.FLOOR],
        **escape_steps(log, levels[plateau.PLATEAU], levels[plateau.FLOOR]),
        "pool_final_loss": float(log["loss"].iloc[-1]),
        "pool_ibm": plateau.crop_si_snri(predicted, mixtures, sources, preset.features, "ibm"),
        "pool_wiener": plateau.crop_si_snri(predicted, mixtures, sources, preset.features, "wiener"),
    }


def escape_steps(log: pd.DataFrame, plateau_loss: float, floor_loss: float) -> dict:
    """The steps at which a pool run's log leaves the plateau and crosses the floor (``None``: not within the run)."""
    leave = plateau.leave_level({plateau.PLATEAU: plateau_loss, plateau.FLOOR: floor_loss})
    return {"escape_step": plateau.escape_step(log["step"], log["loss"], leave),
            "floor_step": plateau.escape_step(log["step"], log["loss"], floor_loss)}


def stream_run(preset, base, data: Path, run_dir: Path, mixtures: int) -> dict:
    """Train on fresh crops for the base preset's AudioSlots compute; scores on the first test mixtures."""
    flop = audioslots_step_flop(preset)
    steps = max(1, round(base.train.steps * audioslots_step_flop(base) / flop))
    preset = replace(preset, steps=steps, checkpoint_every=steps)
    train(preset, LibriMix(data, "train-360"), run_dir, device="cpu", progress=False)
    log = read_log(run_dir)
    test = LibriMix(data, "test", max_mixtures=mixtures)
    scores = evaluate_checkpoint(RunFiles(run_dir).checkpoint, test, orders=("oracle",), progress=False)
    means = scores.groupby("mask")["si_snri"].mean()
    return {"stream_steps": steps, "flop_per_step": flop, "stream_final_loss": float(log["loss"].iloc[-1]),
            "stream_ibm": float(means["ibm"]), "stream_wiener": float(means["wiener"]), "test_mixtures": mixtures}


def summarise(out: Path) -> pd.DataFrame:
    """Per setting: both seeds' escape and floor steps and scores, and their means; ``choices.csv`` and ``.png``."""
    runs = pd.read_json(out / "runs.jsonl", lines=True).drop_duplicates(["name", "seed"], keep="last")
    steps = [escape_steps(pd.read_csv(out / "logs" / f"{r.name}_s{r.seed}_pool.csv"), r.plateau_loss, r.floor_loss)
             for r in runs.itertuples()]
    runs = runs.assign(**pd.DataFrame(steps, index=runs.index))
    columns = ["escape_step", "floor_step", "pool_ibm", "pool_final_loss", "stream_ibm", "stream_wiener",
               "stream_final_loss"]
    table = runs.groupby("name", sort=False).agg(
        overrides=("overrides", "first"), seeds=("seed", "nunique"),
        **{f"{c}_mean": (c, "mean") for c in columns},
        **{f"{c}_seeds": (c, lambda v: " / ".join("never" if pd.isna(x) else f"{x:g}" for x in v)) for c in columns[:2]},
        stream_steps=("stream_steps", "first"))
    table = table.reset_index().sort_values("escape_step_mean", na_position="last")
    table.to_csv(out / "choices.csv", index=False, float_format="%.4g")
    (out / "choices.md").write_text(markdown(table))
    figure(runs, table["name"].tolist(), out / "choices.png")
    return table


def markdown(table: pd.DataFrame) -> str:
    """The table the book's Deviations page includes: a few narrow columns, numbers for reading."""
    def steps(text: str) -> str:
        return text.replace("never", "—")

    lines = ["| setting | left the plateau at step (seeds) | final pool loss | SI-SNRi IBM / Wiener-like (dB) |",
             "|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| `{row.name}` | {steps(row.escape_step_seeds)} | {row.pool_final_loss_mean:.4f} | "
                     f"{row.stream_ibm_mean:.2f} / {row.stream_wiener_mean:.2f} |")
    return "\n".join(lines) + "\n"


def figure(runs: pd.DataFrame, order: list[str], path: Path) -> None:
    """Pool loss against step (mean of the seeds) with the plateau's and floor's levels; stream SI-SNRi per setting."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(6.9, 3.2), dpi=150, gridspec_kw={"width_ratios": [1.3, 1]})
    colours = dict(zip(order, plt.get_cmap("tab10").colors))
    for name in order:
        logs = [pd.read_csv(path.parent / "logs" / f"{name}_s{seed}_pool.csv").set_index("step")["loss"]
                for seed in runs.loc[runs["name"] == name, "seed"]]
        mean = pd.concat(logs, axis=1).mean(axis=1).rolling(3, min_periods=1).mean()
        left.plot(mean.index, mean.to_numpy(), color=colours[name], lw=1.2, label=name)
    levels = runs[["plateau_loss", "floor_loss"]].mean()
    leave = plateau.leave_level({plateau.PLATEAU: levels["plateau_loss"], plateau.FLOOR: levels["floor_loss"]})
    for value, text in ((levels["plateau_loss"], "coarse copy"), (leave, "left the plateau"),
                        (levels["floor_loss"], "mean of sources (floor)")):
        left.axhline(value, color="0.4", lw=0.8, ls=":")
        left.text(5, value, text, fontsize=7, va="bottom", color="0.3")
    left.set(xlabel="step (pool of crops)", ylabel="training loss", ylim=(0.018, 0.05))
    left.legend(fontsize=7, ncol=2, frameon=False, loc="upper right")
    for y, name in enumerate(order):
        scores = runs.loc[runs["name"] == name, "stream_ibm"]
        right.plot(scores, [y] * len(scores), "o", color=colours[name], ms=4)
        right.plot([scores.mean()], [y], "|", color="k", ms=10)
    right.axvline(0, color="0.4", lw=0.8, ls=":")
    right.set_yticks(range(len(order)), order, fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("SI-SNRi, IBM (dB), fresh crops,\nsame compute, 40 test mixtures")
    for axis in (left, right):
        axis.tick_params(labelsize=8)
        axis.xaxis.label.set_size(8)
        axis.yaxis.label.set_size(8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    parser = experiment_parser(__doc__, "the setting's name (its line in runs.jsonl)", OUT, "runs.jsonl",
                               optional_name=True)
    add_run_options(parser, required=False)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--pool", type=int, default=64, help="crops in the fixed pool")
    parser.add_argument("--pool-steps", type=int, default=600)
    parser.add_argument("--summarise", action="store_true", help="write choices.csv from runs.jsonl; train nothing")
    args = parser.parse_args(argv)
    if not args.summarise and (args.name is None or args.runs is None):
        parser.error("name a setting and give --runs, or pass --summarise")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.summarise:
        print(summarise(args.out).to_string(index=False))
        return 0
    base = replace(get_preset(args.preset), seed=args.seed)
    data, preset = start_experiment(args, base)
    folder = args.runs / f"{args.name}_s{args.seed}"
    start = time.perf_counter()
    record = {"name": args.name, "seed": args.seed, "overrides": json.dumps(settings_of(args), sort_keys=True),
              **pool_run(preset, data, folder / "pool", args.pool, args.pool_steps),
              **stream_run(preset, base, data, folder / "stream", args.eval_mixtures),
              "seconds": round(time.perf_counter() - start)}
    print(json.dumps(record), flush=True)
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    for part in ("pool", "stream"):
        shutil.copyfile(RunFiles(folder / part).log, args.out / "logs" / f"{args.name}_s{args.seed}_{part}.csv")
    with (args.out / "runs.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
