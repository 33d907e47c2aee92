"""The plateau study's figure: training loss against step for each pool of crops, with the trivial
predictors' levels as reference lines, and the step at which training left the plateau against the
number of distinct crops, with the fitted power law and its extrapolation.

Drawn from ``results/plateau/`` (``plateau.csv``, ``logs/``, ``extrapolation.csv``), which
``experiments/plateau.py`` writes; nothing here trains or scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from audioslots.evaluation.plateau import FLOOR, LEAVE_FRACTION, PLATEAU

#: The reference levels drawn on each loss panel, as (predictor, line style, label).
LEVELS = ((PLATEAU, "--", "coarse copy (the plateau)"), (FLOOR, ":", "mean of sources (the floor)"))
SEED_COLOURS = ("#1f77b4", "#d95f02")


def _pool_name(pool: int) -> str:
    return "the stream (fresh crops)" if pool == 0 else f"{pool:,} crops"


def plateau_figure(folder: str | Path) -> Figure:
    """The figure of a plateau study folder: one loss panel per pool size, then the escape steps.

    Args:
        folder: a folder written by ``experiments/plateau.py`` (``plateau.csv`` and ``logs/``,
            optionally ``extrapolation.csv``).
    """
    folder = Path(folder)
    runs = pd.read_csv(folder / "plateau.csv")
    pools = runs[runs["speakers"] == 0]
    sizes = sorted(pools["pool"].unique(), key=lambda p: (p == 0, p))
    columns = 3
    rows = -(-(len(sizes) + 1) // columns)
    figure = Figure(figsize=(7.2, 2.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, size in zip(axes, sizes):
        for _, run in pools[pools["pool"] == size].iterrows():
            log = pd.read_csv(folder / "logs" / f"pool{int(size)}_s{int(run['seed'])}.csv")
            colour = SEED_COLOURS[int(run["seed"]) % len(SEED_COLOURS)]
            ax.plot(log["step"], log["loss"], color=colour, lw=0.9, label=f"seed {int(run['seed'])}")
            for name, style, label in LEVELS:
                ax.axhline(run[f"loss_{name}"], color=colour, ls=style, lw=0.8, alpha=0.7)
            if pd.notna(run.get("escape_step")):
                ax.axvline(run["escape_step"], color=colour, lw=0.6, alpha=0.5)
        ax.set_title(_pool_name(int(size)), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("training loss", fontsize=8)
        ax.tick_params(labelsize=7)
        top = pools.loc[pools["pool"] == size, f"loss_{PLATEAU}"].max()
        ax.set_ylim(0, 1.6 * top)
    _escape_panel(axes[len(sizes)], pools, folder / "extrapolation.csv")
    for ax in axes[len(sizes) + 1:]:
        ax.set_axis_off()
    handles = [axes[0].plot([], [], color="grey", ls=style, lw=0.8)[0] for _, style, _ in LEVELS]
    handles.append(axes[0].plot([], [], color="grey", lw=0.6)[0])
    handles += [axes[0].plot([], [], color=colour, lw=0.9)[0] for colour in SEED_COLOURS]
    labels = [label for *_, label in LEVELS] + ["left the plateau"] + [f"seed {i}" for i in range(len(SEED_COLOURS))]
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return figure


def _escape_panel(ax, pools: pd.DataFrame, extrapolation_csv: Path) -> None:
    """Escape step against distinct crops (log–log), the fit and its extrapolation with its band."""
    left = pools[(pools["pool"] > 0) & pools["escape_step"].notna()]
    fits = _fits(extrapolation_csv)
    ax.set_title("left the plateau", fontsize=9)
    if left.empty and fits.empty:
        ax.text(0.5, 0.5, "no run left the plateau", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_axis_off()
        return
    ax.scatter(left["pool"], left["escape_step"], s=14, color="black", zorder=3, label="a run (each seed)")
    if not fits.empty:
        x = np.geomspace(min(left["pool"].min(), 8), fits["distinct_crops"].max(), 50)
        slope = fits["exponent"].iloc[0]
        first = fits.iloc[0]
        ax.plot(x, first["escape_step"] * (x / first["distinct_crops"]) ** slope, color="grey", lw=0.8,
                label=f"fit, steps ∝ crops^{slope:.2f}")
        for _, row in fits.iterrows():
            ax.errorbar(row["distinct_crops"], row["escape_step"],
                        yerr=[[row["escape_step"] - row["low"]], [row["high"] - row["escape_step"]]],
                        fmt="D", ms=4, color="#7570b3", capsize=2, lw=0.8)
            ax.annotate(row["data"].replace("Libri2Mix ", ""), (row["distinct_crops"], row["escape_step"]),
                        fontsize=6, xytext=(-5, 3), textcoords="offset points", ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("left the plateau", fontsize=9)
    ax.set_xlabel("distinct training crops", fontsize=8)
    ax.set_ylabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, frameon=False, loc="upper left")


def plateau_sentence(folder: str | Path) -> str:
    """What the study measured and where its fit puts the escape for the embedded data and train-360."""
    folder = Path(folder)
    runs = pd.read_csv(folder / "plateau.csv")
    pools = runs[(runs["speakers"] == 0) & (runs["pool"] > 0)]

    def escapes(group: pd.DataFrame) -> str:
        steps = " and ".join(str(int(s)) if pd.notna(s) else f"none within {int(n):,}"
                             for s, n in zip(group["escape_step"], group["steps"]))
        seeds = ", ".join(str(int(seed)) for seed in group["seed"])
        return f"{steps} (seed{'s' if len(group) > 1 else ''} {seeds})"

    steps = "; ".join(f"{int(pool):,} crops at step {escapes(group)}" for pool, group in pools.groupby("pool"))
    text = (f"The `cpu` network left the plateau (its loss {LEAVE_FRACTION:.0%} of the way from the coarse copy's "
            f"down to the mean of sources') on pools of {steps}.")
    fits = _fits(folder / "extrapolation.csv")
    if fits.empty:
        return text + " Too few pool sizes have left it for a fit.\n"
    parts = [f"{row['data']} ({row['distinct_crops']:,} distinct crops of one chunk) at about step "
             f"{row['escape_step']:,.0f} (95 % band {row['low']:,.0f} to {row['high']:,.0f})" for _, row in fits.iterrows()]
    return (text + f" A power law fitted to those steps (exponent {fits['exponent'].iloc[0]:.2f}, fitted on pools of "
            f"{fits['fitted_on'].iloc[0]} crops) puts the escape on " + " and on ".join(parts)
            + ". This is an extrapolation over orders of magnitude of crops from a handful of runs, not a measurement.\n")


def _fits(path: Path) -> pd.DataFrame:
    """The extrapolation table, empty when there is none (too few pools left the plateau for a fit)."""
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()
