"""Tables of a run's results: Table 1 beside the paper's, Table 1 of several runs, and the run's provenance.

Nothing here is typed in: every number comes from a run's metrics (:func:`audioslots.evaluation.scores.load_metrics`),
its ``table1.csv`` or its ``provenance.json``, and the paper's from ``results/paper_table1.csv``.

Every ± is the half-width of a 95 % interval that resamples *utterances*, not mixtures
(``audioslots.evaluation.intervals.utterance_interval``): the test mixtures share utterances,
so mixtures are not independent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from audioslots.convtasnet import NO_FRAMING, NO_MASK
from audioslots.data.layout import DATA_LABELS
from audioslots.evaluation.intervals import utterance_interval
from audioslots import provenance
from audioslots.kinds import AUDIOSLOTS, kind_of
from audioslots.runs import MASK_NAMES, PAPER_FRAMING, ROW_ORDER, system_row

#: The masks' names in tables (a waveform network, Conv-TasNet, not in the paper, masks no STFT).
TABLE_MASK_NAMES = {**MASK_NAMES, NO_MASK: "none (waveform)"}
METRIC_NAMES = {"si_snr": "SI-SNR", "si_snri": "SI-SNRi"}


def check_labelled(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` itself, once it is known to name each row of Table 1 (a ``label`` column)."""
    if "label" not in metrics:
        raise ValueError("metrics need a 'label' column (see audioslots.evaluation.scores.load_metrics)")
    return metrics


def row_means(metrics: pd.DataFrame) -> pd.DataFrame:
    """This run's mean and 95 % CI half-width per row label × mask × metric (long format).

    The interval resamples the utterances the mixtures are made of
    (``audioslots.evaluation.intervals.utterance_interval``), not the mixtures.
    """
    rows = []
    for (label, mask), group in check_labelled(metrics).groupby(["label", "mask"], sort=False):
        for metric in METRIC_NAMES:
            rows.append({"label": label, "mask": mask, "metric": metric, "mean": group[metric].mean(),
                         "ci95": utterance_interval(group[metric].to_numpy(), group["mixture_id"].tolist()),
                         "n_mixtures": len(group)})
    return pd.DataFrame(rows)


def table1_beside_paper(metrics: pd.DataFrame, paper_csv: str | Path) -> pd.DataFrame:
    """Table 1 as in the paper (rows × SI-SNR/SI-SNRi × IBM/Wiener-like), ours beside the paper's."""
    summary = row_means(metrics)
    summary["ours"] = [f"{m:.2f} ± {c:.2f}" for m, c in zip(summary["mean"], summary["ci95"])]
    paper = pd.read_csv(paper_csv)
    paper = paper[paper["metric"].isin(METRIC_NAMES)].rename(columns={"paper_row": "label"})
    table = summary.merge(paper[["label", "mask", "metric", "paper_value"]], on=["label", "mask", "metric"],
                          how="left").fillna({"paper_value": "—"})
    wide = table.pivot(index="label", columns=["metric", "mask"], values=["ours", "paper_value"])
    wide.columns = pd.MultiIndex.from_tuples(
        [(METRIC_NAMES[m], TABLE_MASK_NAMES[k], "ours" if w == "ours" else "paper") for w, m, k in wide.columns])
    wide = wide.sort_index(axis=1, level=[0, 1], sort_remaining=False).fillna("—")  # a mask the row was not scored with
    order = [r for r in ROW_ORDER if r in wide.index] + [r for r in wide.index if r not in ROW_ORDER]
    wide = wide.loc[order]
    wide.index.name = "system"
    return wide


#: The paper's column in the table of every run.
PAPER_COLUMN = "paper (Table 1)"


def table1_of_runs(run_dirs: list[str | Path], paper_csv: str | Path, metric: str = "si_snri") -> pd.DataFrame:
    """Table 1 (means) of several runs side by side, with the paper's column, one row per system × mask.

    Reads each run's ``table1.csv``; the optional columns ``data``, ``framing`` and the chunk
    overlap (present in runs that record them) become columns of the result, ``—`` where a run
    lacks them.

    Returns:
        Columns ``mask``, ``system``, [``data``, ``framing``, ``overlap``,] one per run (named
        after its folder) and :data:`PAPER_COLUMN`.
    """
    extra = ["data", "framing", "overlap"]
    frames = []
    for run_dir in run_dirs:
        table = pd.read_csv(Path(run_dir) / "table1.csv")
        if "chunk_overlap" in table:
            table["overlap"] = [f"{round(100 * o)} %" if o else "none" for o in table["chunk_overlap"]]
        table["system_row"] = [system_row(s, c) for s, c in zip(table["system"], table["chunk_seconds"])]
        table["run"] = Path(run_dir).name
        frames.append(table)
    runs = pd.concat(frames, ignore_index=True)
    keys = [c for c in extra if c in runs]
    runs[keys] = runs[keys].fillna("—").astype(str)
    runs["value"] = [f"{v:.2f}" for v in runs[metric]]
    # The paper's value only for the paper's own rows: matched on the full row label, which names any
    # framing, overlap or slot order that differs from the paper's (runs without labels: no paper value).
    paper = pd.read_csv(paper_csv)
    paper = paper[paper["metric"] == metric].set_index(["paper_row", "mask"])["paper_value"]
    labels = runs["label"] if "label" in runs else pd.Series([None] * len(runs))
    # Named so that no run folder (results/paper, say) can take the column's name.
    # Nor on rows of the synthetic set: the paper's values are on speech.
    data = runs["data"] if "data" in runs else pd.Series([None] * len(runs))
    runs[PAPER_COLUMN] = [paper.get((label, mask), "—") if source != DATA_LABELS["synthetic"] else "—"
                          for label, mask, source in zip(labels, runs["mask"], data)]
    wide = runs.pivot_table(index=["mask", "system_row", *keys, PAPER_COLUMN], columns="run", values="value",
                            aggfunc="first", sort=False).fillna("—")
    wide.columns.name = None
    wide = wide.reset_index()
    wide = wide[[c for c in wide.columns if c != PAPER_COLUMN] + [PAPER_COLUMN]]
    order = {row: i for i, row in enumerate(ROW_ORDER)}
    wide = wide.sort_values(["mask", "system_row"], key=lambda c: c.map(order).fillna(len(order))
                            if c.name == "system_row" else c, kind="stable")
    wide["mask"] = wide["mask"].map(TABLE_MASK_NAMES).fillna(wide["mask"])
    return wide.rename(columns={"system_row": "system"}).reset_index(drop=True)


def runs_by_row(run_dirs: list[str | Path], paper_csv: str | Path, metric: str = "si_snri") -> dict[tuple[str, str], pd.DataFrame]:
    """Table 1 (means) of several runs, one table per data set × mask with one row per run.

    The overview of many runs, narrow enough to read: its columns are the rows of Table 1 in the
    paper's setting (the paper's STFT framing, chunks without overlap); a run's variants (centred
    framing, overlapping chunks) stay on its own page. On speech the last row is the paper's.

    Returns:
        ``{(data, mask name): table}`` in the order of :func:`table1_of_runs`; each table has a
        ``run`` column, then one column per row label of Table 1 that some run has, ``—`` where a
        run lacks it.
    """
    table = table1_of_runs(run_dirs, paper_csv, metric)
    if "framing" in table:
        table = table[table["framing"].isin([PAPER_FRAMING, NO_FRAMING, "—"])]
    if "overlap" in table:
        table = table[table["overlap"].isin(["none", "—"])]
    runs = [Path(r).name for r in run_dirs]
    data = table["data"] if "data" in table else pd.Series("—", index=table.index)
    out = {}
    for (source, mask), group in table.groupby([data, table["mask"]], sort=False):
        by_run = group.set_index("system")[[r for r in runs if r in group]].T
        by_run = by_run.loc[[r for r in by_run.index if (by_run.loc[r] != "—").any()]]
        if source != DATA_LABELS["synthetic"] and (group[PAPER_COLUMN] != "—").any():
            by_run.loc[PAPER_COLUMN] = group.set_index("system")[PAPER_COLUMN]
        out[(source, mask)] = by_run.rename_axis(index="run", columns=None).reset_index()
    return out


def provenance_table(run_dir: str | Path) -> pd.DataFrame:
    """The run's provenance as two columns (what, value), one row per fact."""
    info = provenance.load(run_dir)
    rows = [("run folder", str(run_dir)), ("commit", info.get("commit", "not recorded")),
            ("last update (UTC)", info.get("updated", "not recorded"))]
    for section in sorted(k for k in info if k.startswith("train:")):
        run = info[section]
        kind = kind_of(run.get("model_kind", AUDIOSLOTS.name))  # sections that name no model kind are AudioSlots'
        rows += [
            (f"{section}: preset", run["preset"]["name"]),
            (f"{section}: data", _describe_data(run["data"])),
            (f"{section}: steps × batch", f"{run['steps']} × {run.get('batch_size', run['preset']['train']['batch_size'])} crops"
                                          + (" (every source of each: one item per source)"
                                             if kind.single_sources else "")),
            (f"{section}: device", run["device"]),
            (f"{section}: wall time of the last call", f"{run['wall_seconds_last_call']} s"),
            (f"{section}: final loss", f"{run['final_loss']:.4f}"),
        ]
    for section in sorted(k for k in info if k.startswith("evaluate:")):
        run = info[section]
        rows.append((f"{section}", f"{run['n_mixtures']} mixtures of {run['split']} on {run['device']}, "
                                   f"{run['wall_seconds']} s"))
    env = info.get("environment", {})
    if env:
        packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
        rows += [("python", env["python"]), ("packages", packages)]
    return pd.DataFrame(rows, columns=["what", "value"]).set_index("what")


def _describe_data(data: dict) -> str:
    # No machine paths: where the data lay on the machine that made the run says nothing to a reader.
    if data.get("source") == "synthetic":
        return f"embedded synthetic speech-like Libri2Mix layout, seed {data['seed']}"
    if data.get("source") == "real":
        return f"real speech: mini Libri2Mix built from {data.get('speech')} (LibriSpeech), seed {data['seed']}"
    return f"LibriMix (a folder named {Path(data.get('root', '?')).name})"


def markdown_table(table: pd.DataFrame) -> str:
    """A pandas table as a Markdown pipe table (index dropped; ``|`` in cells escaped)."""
    def row(values):
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    lines = [row(table.columns), row(["---"] * len(table.columns))]
    lines += [row(values) for values in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


#: Columns of commits, which a table shows as their first seven hex digits.
COMMIT_COLUMNS = ("commit", "run_commit")
#: A table with more columns than this is shown transposed, one column per row of its CSV.
MAX_COLUMNS = 7


def csv_markdown(path: str | Path, label: str | None = None) -> str:
    """A results CSV as a Markdown table that fits the book's text column, with a line naming the CSV.

    Nothing is dropped: a column that holds one value on every row is said once, above the table;
    commits are shortened to seven digits; a table still wider than :data:`MAX_COLUMNS` columns is
    transposed (one column per row of the CSV, headed by its first column when that names each
    row, else by its number).
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in COMMIT_COLUMNS:
        if column in table:
            table[column] = [f"`{c[:7]}`" if c else c for c in table[column]]
    same = [c for c in table.columns if len(table) > 1 and table[c].nunique() == 1]
    lead = f"From `{label or path.as_posix()}`"
    lead += (": on every row, " + "; ".join(f"{c} {table[c].iloc[0]}" for c in same) + ".\n\n") if same else ".\n\n"
    table = table.drop(columns=same)
    if len(table.columns) > MAX_COLUMNS:
        first = table.columns[0]
        if table[first].is_unique:  # its first column names each row: those names head the columns
            corner, heads, body = first, _distinct_parts(table[first].tolist()), table.drop(columns=first)
        else:
            corner, heads, body = "", [str(i + 1) for i in range(len(table))], table
        table = body.T.reset_index()
        table.columns = [corner, *heads]
    return lead + markdown_table(table)


def _distinct_parts(names: list[str]) -> list[str]:
    """Names without the prefix and suffix they all share, their parts joined by spaces
    (``train_throughput_paper_h200.json`` → ``paper h200``), so that a header can wrap."""
    prefix = os.path.commonprefix(names)
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]
    if len(names) < 2 or any(len(n) <= len(prefix) + len(suffix) for n in names):
        return names
    return [n[len(prefix):len(n) - len(suffix)].replace("_", " ").strip() for n in names]


#: Where the runs of other training seeds of a run lie, beside it and named ``<run>_seed<k>``.
SEED_RUN_PATTERN = "{run}_seed*"


def seed_runs(run_dir: str | Path) -> list[Path]:
    """The run and the runs of its other training seeds that have a ``table1.csv`` (same preset and data,
    another ``TrainConfig.seed``; ``experiments/compute_series.py --seed``)."""
    run_dir = Path(run_dir)
    others = sorted(p for p in run_dir.parent.glob(SEED_RUN_PATTERN.format(run=run_dir.name)) if (p / "table1.csv").exists())
    return [run_dir, *others]


def seed_spread(run_dir: str | Path, metrics: pd.DataFrame, metric: str = "si_snri") -> pd.DataFrame:
    """The trained rows of Table 1 across training seeds, beside this run's interval over test mixtures.

    One row per trained row label and mask that every seed's run has: this run's mean and the
    half-width of its 95 % interval over the test set (by utterance, :func:`row_means`), each seed's
    mean, and the spread (largest minus smallest mean). Empty when no other seed is committed.
    """
    runs = seed_runs(run_dir)
    if len(runs) < 2:
        return pd.DataFrame()
    means = row_means(metrics)
    means = means[means["metric"] == metric].set_index(["label", "mask"])
    tables = [pd.read_csv(run / "table1.csv") for run in runs]
    trained = tables[0].loc[tables[0]["train_flop"] > 0, ["label", "mask"]]  # the Oracle trains nothing
    seeds = [_training_seed(run) for run in runs]
    values = pd.concat([t.set_index(["label", "mask"])[metric] for t in tables], axis=1, join="inner").dropna()
    rows = []
    for label, mask in trained.itertuples(index=False):
        if (label, mask) not in values.index or (label, mask) not in means.index:
            continue
        each = values.loc[(label, mask)].to_numpy(float)
        rows.append({"system": label, "mask": TABLE_MASK_NAMES.get(mask, mask),
                     "this run ± 95 % (test set)": f"{means.loc[(label, mask), 'mean']:.2f} ± {means.loc[(label, mask), 'ci95']:.2f}",
                     **{f"seed {seed}": f"{v:.2f}" for seed, v in zip(seeds, each)},
                     "spread over seeds": f"{each.max() - each.min():.2f}"})
    return pd.DataFrame(rows)


def _training_seed(run_dir: Path) -> int | str:
    """The training seed of a run's networks, from its provenance (``?`` if it has no training section)."""
    info = provenance.load(run_dir)
    seeds = {section["preset"]["train"]["seed"] for key, section in info.items() if key.startswith("train:")}
    return seeds.pop() if len(seeds) == 1 else "?"
