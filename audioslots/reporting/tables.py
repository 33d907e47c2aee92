"""Tables of a run's results: Table 1 beside the paper's, Table 1 of several runs, and the run's provenance.

Nothing here is typed in: every number comes from a run's metrics (:func:`audioslots.evaluation.scores.load_metrics`),
its ``table1.csv`` or its ``provenance.json``, and the paper's from ``results/paper_table1.csv``.

Every ± is the half-width of a 95 % interval that resamples *utterances*, not mixtures
(``audioslots.evaluation.intervals.utterance_interval``): the test mixtures share utterances,
so mixtures are not independent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audioslots.convtasnet import NO_MASK
from audioslots.data.layout import DATA_LABELS
from audioslots.evaluation.intervals import utterance_interval
from audioslots import provenance
from audioslots.kinds import AUDIOSLOTS, kind_of
from audioslots.runs import MASK_NAMES, ROW_ORDER, system_row

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
