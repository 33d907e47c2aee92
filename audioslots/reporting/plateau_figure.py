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
#: The extrapolations' row for the data the study trains on (the other is train-360).
EMBEDDED = "mini Libri2Mix (embedded)"


def _setting(run: pd.Series) -> tuple[str, str]:
    """A run's setting as (its logs' file stem without the seed, its panel title)."""
    pool, speakers = int(run["pool"]), int(run["speakers"])
    if speakers:
        return f"speakers{speakers}", f"{speakers} speakers"
    return f"pool{pool}", "the stream (fresh crops)" if pool == 0 else f"{pool:,} crops"


def _settings(runs: pd.DataFrame) -> list[tuple[int, int]]:
    """The (pool, speakers) settings in the figure's order: pools by size, the stream, then speaker counts."""
    keys = {(int(p), int(k)) for p, k in zip(runs["pool"], runs["speakers"])}
    return sorted(keys, key=lambda key: (key[1] > 0, key[1], key[0] == 0, key[0]))


def plateau_figure(folder: str | Path) -> Figure:
    """The figure of a plateau study folder: one loss panel per pool size (then the stream and each
    speaker count), the escape steps against distinct crops, and, with speaker runs, against speakers.

    Args:
        folder: a folder written by ``experiments/plateau.py`` (``plateau.csv`` and ``logs/``,
            optionally ``extrapolation.csv`` and ``extrapolation_speakers.csv``).
    """
    folder = Path(folder)
    runs = pd.read_csv(folder / "plateau.csv")
    settings = _settings(runs)
    with_speakers = any(speakers for _, speakers in settings)
    panels = [*[("loss", key) for key in settings if not key[1]], ("escape", "pool"),
              *[("loss", key) for key in settings if key[1]], *([("escape", "speakers")] if with_speakers else [])]
    columns = 3
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(7.2, 2.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (what, key) in zip(axes, panels):
        if what == "escape":
            _escape_panel(ax, runs, key, folder)
            continue
        here = runs[(runs["pool"] == key[0]) & (runs["speakers"] == key[1])]
        for _, run in here.iterrows():
            stem, title = _setting(run)
            log = pd.read_csv(folder / "logs" / f"{stem}_s{int(run['seed'])}.csv")
            colour = SEED_COLOURS[int(run["seed"]) % len(SEED_COLOURS)]
            ax.plot(log["step"], log["loss"], color=colour, lw=0.9, label=f"seed {int(run['seed'])}")
            for name, style, _ in LEVELS:
                ax.axhline(run[f"loss_{name}"], color=colour, ls=style, lw=0.8, alpha=0.7)
            if pd.notna(run.get("escape_step")):
                ax.axvline(run["escape_step"], color=colour, lw=0.6, alpha=0.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("training loss", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(0, 1.6 * here[f"loss_{PLATEAU}"].max())
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    handles = [axes[0].plot([], [], color="grey", ls=style, lw=0.8)[0] for _, style, _ in LEVELS]
    handles.append(axes[0].plot([], [], color="grey", lw=0.6)[0])
    handles += [axes[0].plot([], [], color=colour, lw=0.9)[0] for colour in SEED_COLOURS]
    labels = [label for *_, label in LEVELS] + ["left the plateau"] + [f"seed {i}" for i in range(len(SEED_COLOURS))]
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return figure


#: For each runs column an escape panel can plot, its extrapolation file, that file's size column and the x label.
ESCAPE_AXES = {"pool": ("extrapolation.csv", "distinct_crops", "distinct training crops"),
               "speakers": ("extrapolation_speakers.csv", "speakers", "training speakers")}


def _escape_panel(ax, runs: pd.DataFrame, axis: str, folder: Path) -> None:
    """Escape step against distinct crops (``axis="pool"``) or speakers (log–log), the fit and its
    extrapolation with its band."""
    file, size_column, xlabel = ESCAPE_AXES[axis]
    other = "speakers" if axis == "pool" else "pool"
    left = runs[(runs[axis] > 0) & (runs[other] == 0) & runs["escape_step"].notna()]
    fits = _fits(folder / file)
    ax.set_title(f"left the plateau, by {xlabel.split()[-1]}", fontsize=9)
    if left.empty and fits.empty:
        ax.text(0.5, 0.5, "no run left the plateau", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_axis_off()
        return
    ax.scatter(left[axis], left["escape_step"], s=14, color="black", zorder=3, label="a run (each seed)")
    if not fits.empty:
        x = np.geomspace(min(left[axis].min(), 4), fits[size_column].max(), 50)
        slope = fits["exponent"].iloc[0]
        first = fits.iloc[0]
        ax.plot(x, first["escape_step"] * (x / first[size_column]) ** slope, color="grey", lw=0.8,
                label=f"fit, steps ∝ {xlabel.split()[-1]}^{slope:.2f}")
        for _, row in fits.iterrows():
            ax.errorbar(row[size_column], row["escape_step"],
                        yerr=[[row["escape_step"] - row["low"]], [row["high"] - row["escape_step"]]],
                        fmt="D", ms=4, color="#7570b3", capsize=2, lw=0.8)
            ax.annotate(row["data"].replace("Libri2Mix ", ""), (row[size_column], row["escape_step"]),
                        fontsize=6, xytext=(-5, 3), textcoords="offset points", ha="right")
        embedded = fits[fits["data"] == EMBEDDED]
        stream = runs[(runs["pool"] == 0) & (runs["speakers"] == 0) & runs["escape_step"].notna()]
        if len(embedded) and len(stream):  # the one extrapolation measured: the stream is the embedded data
            ax.scatter(np.full(len(stream), embedded[size_column].iloc[0]), stream["escape_step"], s=22, marker="x",
                       color="#d62728", zorder=4, label="the stream, measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("step", fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    ax.legend(fontsize=6, frameon=False, loc="lower right" if axis == "pool" else "upper left")  # where no point is


def _escapes(group: pd.DataFrame) -> str:
    """The escape steps of a setting's runs (``at step S``, or ``not within N steps`` for a run that never left),
    with the seeds."""
    steps = " and ".join(f"at step {int(s):,}" if pd.notna(s) else f"not within {int(n):,} steps"
                         for s, n in zip(group["escape_step"], group["steps"]))
    seeds = ", ".join(str(int(seed)) for seed in group["seed"])
    return f"{steps} (seed{'s' if len(group) > 1 else ''} {seeds})"


def _against_bands(stream: pd.DataFrame, fits: dict[str, pd.DataFrame]) -> str:
    """``: below the band …``: where the stream's measured escape steps fall against each fit's 95 % band for the
    embedded data, the measurement the extrapolations can be checked on."""
    parts = []
    for over, table in fits.items():
        row = table[table["data"] == EMBEDDED] if len(table) else table
        if row.empty:
            continue
        low, high = float(row["low"].iloc[0]), float(row["high"].iloc[0])
        where = ["below" if s < low else "above" if s > high else "within" for s in stream["escape_step"].dropna()]
        if where:
            said = where[0] if len(set(where)) == 1 else " and ".join(where)
            parts.append(f"{said} the band that the fit over {over} puts on it ({low:,.0f} to {high:,.0f})")
    return (": " + "; ".join(parts)) if parts else ""


def _censored(runs: pd.DataFrame) -> str:
    """``; …``: that runs which never left the plateau are not in the fit, when there are such runs."""
    if runs["escape_step"].notna().all():
        return ""
    return "; the runs that had not left it by their last step are not in the fit, which can only pull its steps down"


def _extrapolated(fits: pd.DataFrame, size_column: str, unit: str) -> str:
    parts = [f"{row['data']} ({row[size_column]:,} {unit}) at about step {row['escape_step']:,.0f} "
             f"(95 % band {row['low']:,.0f} to {row['high']:,.0f})" for _, row in fits.iterrows()]
    return " and on ".join(parts)


def plateau_sentence(folder: str | Path) -> str:
    """What the study measured (escape steps and scores of every setting) and where its fits put the escape for
    the embedded data and train-360."""
    folder = Path(folder)
    runs = pd.read_csv(folder / "plateau.csv")
    pools = runs[(runs["speakers"] == 0) & (runs["pool"] > 0)]
    steps = "; ".join(f"{int(pool):,} crops {_escapes(group)}" for pool, group in pools.groupby("pool"))
    text = (f"The `cpu` network left the plateau (its loss {LEAVE_FRACTION:.0%} of the way from the coarse copy's "
            f"down to the mean of sources') on pools of {steps}.")
    fits = _fits(folder / "extrapolation.csv")
    if fits.empty:
        text += " Too few pool sizes have left it for a fit."
    else:
        text += (f" A power law fitted to those steps (exponent {fits['exponent'].iloc[0]:.2f}, fitted on pools of "
                 f"{fits['fitted_on'].iloc[0]} crops{_censored(pools)}) puts the escape on "
                 + _extrapolated(fits, "distinct_crops", "distinct crops of one chunk")
                 + ". This is an extrapolation over orders of magnitude of crops from a handful of runs, "
                   "not a measurement.")
    stream = runs[(runs["speakers"] == 0) & (runs["pool"] == 0)]
    speaker_fits = _fits(folder / "extrapolation_speakers.csv")
    if len(stream):
        text += (f" On the stream of fresh crops of all the training mixtures, the embedded data itself, it left it "
                 f"{_escapes(stream)}" + _against_bands(stream, {"pools": fits, "speaker counts": speaker_fits}) + ".")
    paragraphs = [text, _scores_sentence(runs)]
    speakers = runs[runs["speakers"] > 0]
    if len(speakers):
        paragraphs.append(_speakers_sentence(speakers, speaker_fits))
    return "\n\n".join(p for p in paragraphs if p) + "\n"


def _scores_sentence(runs: pd.DataFrame) -> str:
    """The final networks' IBM SI-SNRi on the crops they trained on against crops of the test speakers."""
    pools = runs[(runs["speakers"] == 0) & (runs["pool"] > 0)]
    if pools.empty or "pool_ibm" not in pools:
        return ""
    means = pools.groupby("pool")[["pool_ibm", "pool_oracle_ibm"]].mean()
    own = "; ".join(f"{int(pool):,} crops {row.pool_ibm:+.1f} dB (Oracle {row.pool_oracle_ibm:+.1f})"
                    for pool, row in means.iterrows())
    test = runs.loc[runs["speakers"] == 0, "test_ibm"].dropna()
    return (f"Scored with the IBM at the end of training (mean of the seeds), the network separates the crops it "
            f"trained on as long as they are few: {own}. On crops of the test speakers every one of these "
            f"{len(test)} runs scored between {test.min():+.1f} and {test.max():+.1f} dB: on these budgets it "
            "learns its crops, not speech.")


def _speakers_sentence(speakers: pd.DataFrame, fits: pd.DataFrame) -> str:
    """Escape steps and scores of the runs on the mixtures of K speakers, and the fit over K."""
    groups = list(speakers.groupby("speakers"))
    text = ("Trained on the stream of crops of the first 80 % of the mixtures of K training speakers, it left "
            "the plateau with " + "; ".join(f"{int(count)} speakers {_escapes(group)}" for count, group in groups)
            + ".")
    if {"held_out_ibm", "test_ibm"} <= set(speakers.columns):
        text += (" Scored with the IBM at the end (mean of the seeds) on the held-out last 20 % of the same speakers' "
                 "mixtures, then on the test speakers: " + "; ".join(
                     f"{int(count)} speakers {group['held_out_ibm'].mean():+.1f} and {group['test_ibm'].mean():+.1f} dB"
                     for count, group in groups) + ".")
    if fits.empty:
        return text + " Too few speaker counts have left it for a fit."
    return (text + f" A power law over the speaker counts (exponent {fits['exponent'].iloc[0]:.2f}, fitted on "
            f"{fits['fitted_on'].iloc[0]} speakers{_censored(speakers)}) puts the escape on "
            + _extrapolated(fits, "speakers", "training speakers") + ", again an extrapolation.")


def _fits(path: Path) -> pd.DataFrame:
    """The extrapolation table, empty when there is none (too few pools left the plateau for a fit)."""
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()
