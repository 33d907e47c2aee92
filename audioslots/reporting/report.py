"""Tables and examples for the book: everything the results notebooks show, computed from a run.

Nothing here is typed in: every number comes from a run's metrics, provenance or checkpoints,
and the paper's figures from ``results/paper_table1.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audioslots.reporting import provenance
from audioslots.config import FeatureConfig, get_preset
from audioslots.convtasnet import NO_MASK, WHOLE
from audioslots.data.dataset import Example
from audioslots.evaluation.scores import confidence_interval
from audioslots.features import chunk, spectrogram
from audioslots.model import AudioSlots, count_parameters
from audioslots.separate import audioslots_estimates, autoencoder_estimates, masked_sources, oracle_estimates
from audioslots.pipeline import ROWS
from audioslots.training import build_model, model_config_for, preset_from_dict

MASK_NAMES = {"ibm": "IBM", "wiener": "Wiener-like"}
#: The masks' names in tables: a waveform network (Conv-TasNet, not in the paper) masks no STFT.
TABLE_MASK_NAMES = {**MASK_NAMES, NO_MASK: "none (waveform)"}
METRIC_NAMES = {"si_snr": "SI-SNR", "si_snri": "SI-SNRi"}
ROW_ORDER = ["Oracle", "Autoencoder", "AudioSlots", "Oracle (1 s)", "AudioSlots (1 s)",
             "AudioSlots (no oracle order)", "AudioSlots (1 s) (no oracle order)",
             ROWS[("ConvTasNet", WHOLE)], ROWS[("ConvTasNet", 0.5)]]


def provenance_table(run_dir: str | Path) -> pd.DataFrame:
    """The run's provenance as two columns (what, value), one row per fact."""
    info = provenance.load(run_dir)
    rows = [("run folder", str(run_dir)), ("commit", info.get("commit", "not recorded")),
            ("last update (UTC)", info.get("updated", "not recorded"))]
    for section in sorted(k for k in info if k.startswith("train:")):
        run = info[section]
        rows += [
            (f"{section}: preset", run["preset"]["name"]),
            (f"{section}: data", _describe_data(run["data"])),
            (f"{section}: steps × batch", f"{run['steps']} × {run.get('batch_size', run['preset']['train']['batch_size'])} crops"
                                          + (" (every source of each: one item per source)"
                                             if run.get("model_kind") == "autoencoder" else "")),
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


def _labelled(metrics: pd.DataFrame) -> pd.DataFrame:
    if "label" not in metrics:
        raise ValueError("metrics need a 'label' column (see audioslots.pipeline.load_metrics)")
    return metrics


def ours(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % CI half-width per row label × mask × metric (long format)."""
    rows = []
    for (label, mask), group in _labelled(metrics).groupby(["label", "mask"], sort=False):
        for metric in METRIC_NAMES:
            rows.append({"label": label, "mask": mask, "metric": metric, "mean": group[metric].mean(),
                         "ci95": confidence_interval(group[metric].to_numpy()), "n_mixtures": len(group)})
    return pd.DataFrame(rows)


def table1_beside_paper(metrics: pd.DataFrame, paper_csv: str | Path) -> pd.DataFrame:
    """Table 1 as in the paper (rows × SI-SNR/SI-SNRi × IBM/Wiener-like), ours beside the paper's."""
    summary = ours(metrics)
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


def gap(metrics: pd.DataFrame, metric: str = "si_snri") -> pd.DataFrame:
    """Autoencoder − AudioSlots (0.5 s, oracle order) per mask: mean of the per-mixture differences ± 95 % CI."""
    metrics = _labelled(metrics)
    rows = []
    for mask in MASK_NAMES:
        pick = metrics[metrics["mask"] == mask]
        autoencoder = pick[pick["label"] == "Autoencoder"].set_index("mixture_id")[metric]
        audioslots = pick[pick["label"] == "AudioSlots"].set_index("mixture_id")[metric]
        paired = (autoencoder - audioslots).dropna()
        rows.append({"mask": mask, "autoencoder": autoencoder.mean(), "audioslots": audioslots.mean(),
                     "gap_db": paired.mean(), "ci95": confidence_interval(paired.to_numpy()),
                     "paper_gap_db": "0.18 ± 0.01 (metric and mask not stated)"})
    return pd.DataFrame(rows)


#: Why a claim of the paper may fail on a run, as (short reason, label of the section of
#: book/deviations.md that explains it), per kind of claim. The reasons are the ones the
#: diagnostics on that page measured, not guesses.
LIKELY_REASONS = {
    "network": ("too little training: the networks have not learned to map a mixture to slots", "why-gap"),
    "oracle": ("STFT framing and data differ from the paper's", "why-oracle"),
    "undecided": ("the 95 % interval straddles a bound: more test mixtures would decide", "why-undecided"),
}
#: [choice] How far the gap autoencoder − AudioSlots may lie from the paper's 0.18 ± 0.01 dB and
#: still count as the paper's finding: the whole 95 % interval must lie in
#: [0.17 − tolerance, 0.19 + tolerance] dB. The paper states no interval of its own for it.
GAP_TOLERANCE_DB = 0.25


def interval_verdict(mean: float, half_width: float, low: float, high: float) -> str:
    """Compare the interval ``mean ± half_width`` with the range ``[low, high]`` (either end may be infinite).

    Returns:
        ``yes`` when the whole interval lies inside the range, ``no`` when it lies wholly outside,
        ``undecided`` when it straddles an end of the range (noise alone could tip it either
        way), ``not in this run`` when ``mean`` is missing (nan).
    """
    if np.isnan(mean):
        return "not in this run"
    lower, upper = mean - half_width, mean + half_width
    if low <= lower and upper <= high:
        return "yes"
    if upper < low or lower > high:
        return "no"
    return "undecided"


def _all_of(verdicts: list[str]) -> str:
    """The verdict of a claim made of several parts: every part holds, one fails, or neither is known."""
    for verdict in ("not in this run", "no", "undecided"):
        if verdict in verdicts:
            return verdict
    return "yes"


def _paired(metrics: pd.DataFrame, left: str, right: str, mask: str, metric: str = "si_snri") -> tuple[float, float]:
    """Mean and 95 % CI half-width of the per-mixture difference ``left − right`` (nan if a row is missing)."""
    pick = metrics[metrics["mask"] == mask]
    a = pick[pick["label"] == left].groupby("mixture_id")[metric].mean()
    b = pick[pick["label"] == right].groupby("mixture_id")[metric].mean()
    paired = (a - b).dropna()
    if paired.empty:
        return np.nan, np.nan
    return float(paired.mean()), float(confidence_interval(paired.to_numpy()))


def _interval_text(mean: float, half_width: float, signed: bool = False) -> str:
    return "—" if np.isnan(mean) else (f"{mean:+.2f}" if signed else f"{mean:.2f}") + f" ± {half_width:.2f} dB"


def claims(metrics: pd.DataFrame, paper_csv: str | Path | None = None) -> pd.DataFrame:
    """The paper's claims about its Table 1, each with this run's measurement and a verdict.

    SI-SNRi, oracle chunk order, one row per claim and mask; only what the paper states. Every
    measurement is a mean ± the half-width of its 95 % confidence interval over test mixtures
    (differences: of the per-mixture differences), and every verdict comes from
    :func:`interval_verdict`: ``yes`` only when the whole interval lies in the range the paper's
    statement allows, so that a noisy run cannot pass by touching it; ``undecided`` when it
    straddles an end. The ranges:

    * each row (Oracle, Autoencoder, AudioSlots, at 0.5 s and 1 s): the paper's value, of which
      our copy keeps only the integer dB part (``12.x`` is [12, 13]);
    * 1 s chunks raise the Oracle: the difference of the two rows' integer ranges
      (``13.x − 12.x`` is [0, 2] dB);
    * the gap autoencoder − AudioSlots: 0.18 ± 0.01 dB widened by :data:`audioslots.reporting.report.GAP_TOLERANCE_DB`;
    * the ordering Oracle > Autoencoder ≥ AudioSlots > mixture: each of the three differences
      (the last is AudioSlots' SI-SNRi) above 0; it fails if any lies wholly below.

    Args:
        metrics: per-mixture metrics with a ``label`` column (:func:`audioslots.pipeline.load_metrics`).
        paper_csv: ``results/paper_table1.csv``; without it, the claims that need the paper's
            numbers are ``not in this run``.

    Returns:
        Columns ``claim of the paper``, ``mask``, ``paper``, ``this run``, ``verdict``,
        ``likely reason`` (a short pointer when the verdict is not ``yes``) and ``why`` (the
        label of the section of the Deviations page that explains it, see ``LIKELY_REASONS``).
    """
    metrics = _labelled(metrics)
    means = ours(metrics).set_index(["label", "mask", "metric"])
    paper = None
    if paper_csv is not None and Path(paper_csv).exists():
        paper = pd.read_csv(paper_csv).set_index(["paper_row", "mask", "metric"])

    def row_interval(label, mask):
        key = (label, mask, "si_snri")
        return float(means["mean"].get(key, np.nan)), float(means["ci95"].get(key, np.nan))

    def bounds(row, mask, metric="si_snri"):
        if paper is None or (row, mask, metric) not in paper.index:
            return None
        entry = paper.loc[(row, mask, metric)]
        return float(entry["paper_low_db"]), float(entry["paper_high_db"]), str(entry["paper_value"])

    rows = []

    def add(claim, mask, paper_text, ours_text, verdict, kind):
        reason, label = ("", "")
        if verdict == "undecided":
            reason, label = LIKELY_REASONS["undecided"]
        elif verdict == "no":
            reason, label = LIKELY_REASONS[kind]
        rows.append({"claim of the paper": claim, "mask": MASK_NAMES[mask], "paper": paper_text,
                     "this run": ours_text, "verdict": verdict, "likely reason": reason, "why": label})

    for mask in MASK_NAMES:
        for label, kind in (("Oracle", "oracle"), ("Oracle (1 s)", "oracle"), ("Autoencoder", "network"),
                            ("AudioSlots", "network"), ("AudioSlots (1 s)", "network")):
            paper_bounds, (value, half) = bounds(label, mask), row_interval(label, mask)
            verdict = "not in this run" if paper_bounds is None else interval_verdict(value, half, *paper_bounds[:2])
            add(f"{label} row as in the paper", mask, f"{paper_bounds[2]} dB" if paper_bounds else "—",
                _interval_text(value, half), verdict, kind)

        diff, half = _paired(metrics, "Oracle (1 s)", "Oracle", mask)
        one, half_s = bounds("Oracle (1 s)", mask), bounds("Oracle", mask)
        if one is None or half_s is None:
            add("1 s chunks raise the Oracle (1 s − 0.5 s)", mask, "—", _interval_text(diff, half, True),
                "not in this run", "oracle")
        else:
            low, high = one[0] - half_s[1], one[1] - half_s[0]
            add("1 s chunks raise the Oracle (1 s − 0.5 s)", mask,
                f"{one[2]} − {half_s[2]}: {low:+g} to {high:+g} dB", _interval_text(diff, half, True),
                interval_verdict(diff, half, low, high), "oracle")

        gap_bounds = bounds("Autoencoder - AudioSlots", "unspecified", "gap")
        diff, half = _paired(metrics, "Autoencoder", "AudioSlots", mask)
        if gap_bounds is None:
            add("AudioSlots within 0.18 ± 0.01 dB of the autoencoder", mask, "—", _interval_text(diff, half, True),
                "not in this run", "network")
        else:
            low, high = gap_bounds[0] - GAP_TOLERANCE_DB, gap_bounds[1] + GAP_TOLERANCE_DB
            add(f"AudioSlots within {gap_bounds[2]} dB of the autoencoder", mask,
                f"{gap_bounds[2]} dB (counted: {low:.2f} to {high:.2f})", _interval_text(diff, half, True),
                interval_verdict(diff, half, low, high), "network")

        steps = [_paired(metrics, "Oracle", "Autoencoder", mask), _paired(metrics, "Autoencoder", "AudioSlots", mask),
                 row_interval("AudioSlots", mask)]
        verdict = _all_of([interval_verdict(m, h, 0.0, np.inf) for m, h in steps])
        text = "; ".join(f"{name} {_interval_text(m, h, True)}" for name, (m, h) in
                         zip(("Oracle − Autoencoder", "Autoencoder − AudioSlots", "AudioSlots − mixture"), steps))
        add("Oracle > Autoencoder ≥ AudioSlots > mixture", mask, "each difference > 0", text, verdict, "network")
    return pd.DataFrame(rows)


#: The paper's training data (PAPER.md, Evaluation), for sentences that compare ours with it.
PAPER_TRAINING_DATA = "Libri2Mix train-360 (364 h of mixtures)"


def paper_training_flop(paper_compute_csv: str | Path = "results/paper_compute.csv", row: str = "AudioSlots") -> float | None:
    """FLOPs of the paper's whole training of one network (its 300 000 steps × the counted FLOPs of a step).

    Read from ``results/paper_compute.csv`` (``scripts/paper_compute.py``); ``None`` if it is missing.
    """
    path = Path(paper_compute_csv)
    if not path.exists():
        return None
    table = pd.read_csv(path).set_index("paper_row")
    return float(table.loc[row, "train_flop"]) if row in table.index else None


def trained_networks(run_dir: str | Path) -> pd.DataFrame:
    """One row per network a run trained, from its provenance: what it is and what its training cost.

    Columns ``run`` (e.g. ``audioslots_0.5s``), ``network`` (``audioslots``/``autoencoder``/…),
    ``preset``, ``parameters``, ``steps``, ``batch``, ``train_flop`` (total training FLOPs as the
    run recorded them; nan where it recorded none) and ``training mixtures``.
    """
    rows = []
    info = provenance.load(run_dir)
    for section in sorted(k for k in info if k.startswith("train:")):
        run = info[section]
        preset = preset_from_dict(run["preset"])
        kind = run.get("model_kind", "audioslots")
        n_src = run.get("data", {}).get("config", {}).get("n_src", 2)
        with torch.device("meta"):
            parameters = count_parameters(build_model(preset, kind, n_src))
        mixtures = run.get("data", {}).get("config", {}).get("mixtures", {}).get("train-360")
        rows.append({"run": section.removeprefix("train:"), "network": kind, "preset": preset.name,
                     "parameters": parameters, "steps": run["steps"],
                     "batch": run.get("batch_size", preset.train.batch_size),
                     "train_flop": float(run.get("train_flop", np.nan)),
                     "training mixtures": mixtures})
    return pd.DataFrame(rows)


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
        table["system_row"] = [ROWS.get((s, float(c)), f"{s} ({float(c):g} s)")
                               for s, c in zip(table["system"], table["chunk_seconds"])]
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
    runs[PAPER_COLUMN] = [paper.get((label, mask), "—") for label, mask in zip(labels, runs["mask"])]
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


def model_summary(preset_names: list[str], n_src: int = 2) -> pd.DataFrame:
    """Parameters and forward FLOPs on one chunk of each network of each preset (counted, not estimated)."""
    from torch.utils.flop_counter import FlopCounterMode

    rows = []
    for name in preset_names:
        preset = get_preset(name)
        for kind in ("audioslots", "autoencoder"):
            with torch.device("meta"):
                # .to("meta") also moves the Fourier matrix, which is always drawn on the CPU.
                model = AudioSlots(model_config_for(preset, kind, n_src)).to("meta").eval()
                x = torch.zeros(1, preset.features.n_freq, preset.features.n_frames)
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(x)
            rows.append({"preset": name, "network": kind, "parameters (M)": count_parameters(model) / 1e6,
                         "GFLOPs per 0.5 s chunk": counter.get_total_flops() / 1e9,
                         "encoder (M)": count_parameters(model.encoder) / 1e6,
                         "transformer (M)": count_parameters(model.transformer) / 1e6,
                         "decoder (M)": count_parameters(model.decoder) / 1e6})
    return pd.DataFrame(rows).round(3)


def transformer_sizes() -> pd.DataFrame:
    """Parameters of the paper-size slot transformer: our reading versus a literal 4096-wide one.

    The paper gives the queries (and slots) dimension 4096 but no attention width. Read
    literally, the whole transformer is 4096 wide; we run attention at 512 and project the
    queries and slots (see the Deviations page). Counted on the meta device, nothing allocated.
    """
    from audioslots.model import SlotTransformer

    paper = get_preset("paper").model
    readings = {"ours: attention 512 wide, slots 4096": (paper.attn_dim, paper.mlp_dim),
                "literal: everything 4096 wide": (paper.slot_dim, 4 * paper.slot_dim)}
    rows = []
    for reading, (attn_dim, mlp_dim) in readings.items():
        with torch.device("meta"):
            transformer = SlotTransformer(paper.n_slots, paper.slot_dim, 8 * paper.resnet_width, attn_dim,
                                          paper.attn_heads, mlp_dim, paper.transformer_layers)
        rows.append({"reading": reading, "attention width": attn_dim, "MLP width": mlp_dim,
                     "parameters (M)": count_parameters(transformer) / 1e6})
    return pd.DataFrame(rows).round(2)


def architecture_shapes(model_config, features: FeatureConfig, n_src: int | None = None) -> list[tuple[str, str, tuple]]:
    """The tensor shapes along AudioSlots for one chunk, traced through the model (meta device).

    Args:
        model_config: the network's :class:`~audioslots.config.ModelConfig`.
        features: the chunk length and STFT (:class:`~audioslots.config.FeatureConfig`).
        n_src: slots; ``None`` keeps ``model_config.n_slots``.

    Returns:
        ``(stage, what it is, shape)`` per stage, batch dimension dropped, from the compressed
        spectrogram to the predicted spectrograms.
    """
    import dataclasses

    if n_src is not None:
        model_config = dataclasses.replace(model_config, n_slots=n_src)
    with torch.device("meta"):
        model = AudioSlots(model_config).to("meta").eval()
        x = torch.zeros(1, features.n_freq, features.n_frames)
    with torch.no_grad():
        z = model.encoder_features(x)  # (1, C, F/8, T/8)
        slots = model.transformer(z)  # (1, n, d)
        out = model.decoder(slots, features.n_freq, features.n_frames)  # (1, n, F, T)
    stride = x.shape[1] // z.shape[2]
    return [
        ("STFT, |X|^0.3", f"{features.chunk_seconds:g} s chunk, (freq, frames)", tuple(x.shape[1:])),
        ("encoder input", f"cropped to a multiple of {stride}", (1, (x.shape[1] // stride) * stride,
                                                                (x.shape[2] // stride) * stride)),
        ("ResNet grid z", "(channels, freq cells, time cells)", tuple(z.shape[1:])),
        ("slot transformer", f"{model_config.transformer_layers} layers, learned queries", tuple(slots.shape[1:])),
        ("broadcast decoder", "slot + Fourier features per cell", (slots.shape[1], features.n_freq * features.n_frames,
                                                                    slots.shape[2] + 2 * model_config.fourier_features)),
        ("spectrograms", "one per slot, (slots, freq, frames)", tuple(out.shape[1:])),
    ]


def reconstruction_by_band(columns: list[dict], sample_rate: int,
                           bands_khz: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)) -> pd.DataFrame:
    """Reconstruction error of the autoencoder and AudioSlots per frequency band (compressed magnitudes).

    Args:
        columns: Figure 2 columns (:func:`figure2_column`), one per chunk; estimates in the
            ground truth's order.
        sample_rate: In Hz (bin ``k`` of ``F`` is at ``k / (F - 1) * sample_rate / 2``).
        bands_khz: Band edges in kHz; the last band includes the Nyquist bin.

    Returns:
        A table with one row per band and system and the columns ``band``, ``system``, ``mse``
        (mean squared error per cell), ``relative error`` (that MSE over the ground truth's mean
        square in the band, comparable across loud and quiet bands) and ``chunks``.
    """
    rows = []
    n_freq = columns[0]["ground_truth"].shape[-2]
    freqs_khz = np.linspace(0.0, sample_rate / 2000, n_freq)
    for low, high in zip(bands_khz[:-1], bands_khz[1:]):
        pick = (freqs_khz >= low) & ((freqs_khz < high) | (high == bands_khz[-1]))
        truth = np.concatenate([np.asarray(c["ground_truth"])[:, pick].ravel() for c in columns])
        for key, name in (("autoencoder", "Autoencoder"), ("audioslots", "AudioSlots")):
            estimate = np.concatenate([np.asarray(c[key])[:, pick].ravel() for c in columns])
            mse = float(np.mean((estimate - truth) ** 2))
            rows.append({"band": f"{low:g}–{high:g} kHz", "system": name, "mse": mse,
                         "relative error": mse / max(float(np.mean(truth ** 2)), 1e-12), "chunks": len(columns)})
    return pd.DataFrame(rows)


def band_error_trend(bands: pd.DataFrame) -> str:
    """One sentence on how each system's relative error changes from the lowest to the highest band.

    Args:
        bands: :func:`reconstruction_by_band`'s table.
    """
    parts, rises = [], {}
    for system, group in bands.groupby("system", sort=False):
        low, high = group.iloc[0], group.iloc[-1]
        rises[system] = high["relative error"] > low["relative error"]
        parts.append(f"{system}'s relative error {'rises' if rises[system] else 'falls'} from "
                     f"{low['relative error']:.2f} ({low['band']}) to {high['relative error']:.2f} ({high['band']})")
    text = "; ".join(parts) + "."
    if "AudioSlots" in rises:
        text += (" The paper sees high frequencies blurred, an error that grows with frequency: "
                 + ("this run agrees." if rises["AudioSlots"] else "this run's AudioSlots shows the opposite."))
    return text


def figure2_column(example: Example, models: dict, features: FeatureConfig, chunk_index: int = 0) -> dict:
    """One column of Figure 2: compressed spectrograms of one chunk of ``example``.

    AudioSlots' slots are put in the ground truth's order (oracle order, as the paper does).
    """
    mixture = chunk(example.mixture, features.chunk_samples)[chunk_index]  # (samples,)
    sources = chunk(example.sources, features.chunk_samples)[:, chunk_index]  # (n_src, samples)
    truth = spectrogram(sources, features)  # (n_src, F, T)
    with torch.no_grad():
        autoencoder = models["autoencoder_0.5s"](truth)[:, 0]  # each source through the n = 1 network
        slots = models["audioslots_0.5s"](spectrogram(mixture, features)[None])  # (1, n, F, T)
    from audioslots.loss import hungarian_match, pairwise_mse

    perm = hungarian_match(pairwise_mse(slots, truth[None]))[0]
    return {"title": example.mixture_id, "mixture": spectrogram(mixture, features).numpy(),
            "ground_truth": truth.numpy(), "autoencoder": autoencoder.clamp(min=0).numpy(),
            "audioslots": slots[0, perm].clamp(min=0).numpy()}


def listening_examples(example: Example, models: dict, features: FeatureConfig,
                       mask: str = "wiener") -> dict[str, list[np.ndarray]]:
    """What each system of Table 1 makes of one test mixture, as waveforms to listen to.

    Args:
        example: a test mixture and its references.
        models: the run's networks by run name (:func:`audioslots.pipeline.load_models`); the
            autoencoder and AudioSlots rows are left out when their network is missing.
        mask: the mask that turns each system's magnitudes into sources (``wiener`` or ``ibm``).

    Returns:
        ``{row: [waveform, ...]}``: ``mixture`` (one waveform), ``references`` (one per source),
        then ``Oracle``, ``Autoencoder`` and ``AudioSlots`` (one per source, in the references'
        order; AudioSlots' chunks in oracle order, as the paper scores them).
    """
    clips = {"mixture": [example.mixture.numpy()], "references": [s.numpy() for s in example.sources]}
    estimates = {"Oracle": oracle_estimates(example.sources, features)}
    if "autoencoder_0.5s" in models:
        estimates["Autoencoder"] = autoencoder_estimates(models["autoencoder_0.5s"], example.sources, features)
    if "audioslots_0.5s" in models:
        estimates["AudioSlots"] = audioslots_estimates(models["audioslots_0.5s"], example.mixture, features,
                                                       order="oracle", sources=example.sources)
    for system, magnitudes in estimates.items():
        clips[system] = [s.numpy() for s in masked_sources(magnitudes, example.mixture, features, mask=mask)]
    return clips


def audio_table(clips: dict[str, list[np.ndarray]], sample_rate: int) -> str:
    """HTML table of audio players: one row per entry of ``clips``, one column per waveform (source)."""
    from IPython.display import Audio

    width = max(len(waves) for waves in clips.values())
    head = "<tr><th></th>" + "".join(f"<th>source {i}</th>" for i in range(1, width + 1)) + "</tr>"
    rows = []
    for name, waves in clips.items():
        cells = "".join(f"<td>{Audio(w, rate=sample_rate)._repr_html_()}</td>" for w in waves)
        span = f' colspan="{width}"' if len(waves) == 1 and width > 1 else ""
        if span:
            cells = f"<td{span}>{Audio(waves[0], rate=sample_rate)._repr_html_()}</td>"
        rows.append(f"<tr><th>{name}</th>{cells}</tr>")
    return f'<table class="listening">{head}{"".join(rows)}</table>'


__all__ = ["provenance_table", "ours", "table1_beside_paper", "gap", "GAP_TOLERANCE_DB", "interval_verdict", "claims", "paper_training_flop",
           "trained_networks", "table1_of_runs", "model_summary",
           "architecture_shapes", "reconstruction_by_band",
           "transformer_sizes", "PAPER_COLUMN",
           "band_error_trend", "figure2_column", "listening_examples", "audio_table"]
