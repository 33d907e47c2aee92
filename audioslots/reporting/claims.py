"""The paper's claims about its Table 1, each measured on a run and given a verdict.

Every measurement is a mean ± the half-width of its 95 % confidence interval over test mixtures
(differences: of the per-mixture differences), an interval that resamples the *utterances* the
mixtures are made of, not the mixtures (``audioslots.evaluation.intervals.utterance_interval``:
the test mixtures share utterances, so they are not independent), and every verdict comes from
:func:`interval_verdict`: a claim holds only when the whole interval lies in the range the paper's
statement allows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audioslots.evaluation.intervals import utterance_interval
from audioslots.reporting.tables import check_labelled, row_means
from audioslots.kinds import AUDIOSLOTS_1S_ROW, AUDIOSLOTS_ROW, AUTOENCODER_ROW, ORACLE_1S_ROW, ORACLE_ROW
from audioslots.runs import MASK_NAMES

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
#: The rows of Table 1 whose values the paper states, and the kind of each (see :data:`LIKELY_REASONS`).
STATED_ROWS = ((ORACLE_ROW, "oracle"), (ORACLE_1S_ROW, "oracle"), (AUTOENCODER_ROW, "network"),
               (AUDIOSLOTS_ROW, "network"), (AUDIOSLOTS_1S_ROW, "network"))
#: The row of ``results/paper_table1.csv`` that holds the paper's gap autoencoder − AudioSlots.
GAP_ROW = f"{AUTOENCODER_ROW} - {AUDIOSLOTS_ROW}"
CHUNK_LENGTH_CLAIM = "1 s chunks raise the Oracle (1 s − 0.5 s)"
ORDERING_CLAIM = "Oracle > Autoencoder ≥ AudioSlots > mixture"


def row_claim(label: str) -> str:
    """The claim that a row of Table 1 is as in the paper (``AudioSlots row as in the paper``)."""
    return f"{label} row as in the paper"


def autoencoder_gap(metrics: pd.DataFrame, metric: str = "si_snri") -> pd.DataFrame:
    """Autoencoder − AudioSlots (0.5 s, oracle order) per mask: mean of the per-mixture differences ± 95 % CI
    (resampling the utterances of the paired mixtures)."""
    metrics = check_labelled(metrics)
    rows = []
    for mask in MASK_NAMES:
        pick = metrics[metrics["mask"] == mask]
        autoencoder = pick[pick["label"] == AUTOENCODER_ROW].set_index("mixture_id")[metric]
        audioslots = pick[pick["label"] == AUDIOSLOTS_ROW].set_index("mixture_id")[metric]
        paired = (autoencoder - audioslots).dropna()
        rows.append({"mask": mask, "autoencoder": autoencoder.mean(), "audioslots": audioslots.mean(),
                     "gap_db": paired.mean(), "ci95": utterance_interval(paired.to_numpy(), paired.index.tolist()),
                     "paper_gap_db": "0.18 ± 0.01 (metric and mask not stated)"})
    return pd.DataFrame(rows)


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


def claims(metrics: pd.DataFrame, paper_csv: str | Path | None = None) -> pd.DataFrame:
    """The paper's claims about its Table 1, each with this run's measurement and a verdict.

    SI-SNRi, oracle chunk order, one row per claim and mask; only what the paper states. Every
    verdict comes from :func:`interval_verdict`: ``yes`` only when the whole interval lies in the
    range the paper's statement allows, so that a noisy run cannot pass by touching it;
    ``undecided`` when it straddles an end. The ranges:

    * each row (Oracle, Autoencoder, AudioSlots, at 0.5 s and 1 s): the paper's value, of which
      our copy keeps only the integer dB part (``12.x`` is [12, 13]);
    * 1 s chunks raise the Oracle: the difference of the two rows' integer ranges
      (``13.x − 12.x`` is [0, 2] dB);
    * the gap autoencoder − AudioSlots: 0.18 ± 0.01 dB widened by :data:`GAP_TOLERANCE_DB`;
    * the ordering Oracle > Autoencoder ≥ AudioSlots > mixture: each of the three differences
      (the last is AudioSlots' SI-SNRi) above 0; it fails if any lies wholly below.

    Args:
        metrics: per-mixture metrics with a ``label`` column (:func:`audioslots.evaluation.scores.load_metrics`).
        paper_csv: ``results/paper_table1.csv``; without it, the claims that need the paper's
            numbers are ``not in this run``.

    Returns:
        Columns ``claim of the paper``, ``mask``, ``paper``, ``this run``, ``verdict``,
        ``likely reason`` (a short pointer when the verdict is not ``yes``) and ``why`` (the
        label of the section of the Deviations page that explains it, see :data:`LIKELY_REASONS`).
    """
    metrics = check_labelled(metrics)
    means = row_means(metrics).set_index(["label", "mask", "metric"])
    paper = None
    if paper_csv is not None and Path(paper_csv).exists():
        paper = pd.read_csv(paper_csv).set_index(["paper_row", "mask", "metric"])
    rows = []
    for mask in MASK_NAMES:
        rows += [_row_claim(means, paper, label, mask, kind) for label, kind in STATED_ROWS]
        rows += [_chunk_length_claim(metrics, paper, mask), _gap_claim(metrics, paper, mask),
                 _ordering_claim(metrics, means, mask)]
    return pd.DataFrame(rows)


def _claim(claim: str, mask: str, paper_text: str, ours_text: str, verdict: str, kind: str) -> dict:
    """One row of :func:`claims`, with the likely reason for a verdict other than ``yes``."""
    reason, label = ("", "")
    if verdict == "undecided":
        reason, label = LIKELY_REASONS["undecided"]
    elif verdict == "no":
        reason, label = LIKELY_REASONS[kind]
    return {"claim of the paper": claim, "mask": MASK_NAMES[mask], "paper": paper_text,
            "this run": ours_text, "verdict": verdict, "likely reason": reason, "why": label}


def _row_claim(means: pd.DataFrame, paper: pd.DataFrame | None, label: str, mask: str, kind: str) -> dict:
    """The row ``label`` of this run lies in the range of the paper's value."""
    paper_bounds, (value, half) = _paper_bounds(paper, label, mask), _row_interval(means, label, mask)
    verdict = "not in this run" if paper_bounds is None else interval_verdict(value, half, *paper_bounds[:2])
    return _claim(row_claim(label), mask, f"{paper_bounds[2]} dB" if paper_bounds else "—",
                  _interval_text(value, half), verdict, kind)


def _chunk_length_claim(metrics: pd.DataFrame, paper: pd.DataFrame | None, mask: str) -> dict:
    """The Oracle at 1 s minus the Oracle at 0.5 s lies in the difference of the paper's two ranges."""
    diff, half = _paired(metrics, ORACLE_1S_ROW, ORACLE_ROW, mask)
    one, half_s = _paper_bounds(paper, ORACLE_1S_ROW, mask), _paper_bounds(paper, ORACLE_ROW, mask)
    if one is None or half_s is None:
        return _claim(CHUNK_LENGTH_CLAIM, mask, "—", _interval_text(diff, half, True), "not in this run", "oracle")
    low, high = one[0] - half_s[1], one[1] - half_s[0]
    return _claim(CHUNK_LENGTH_CLAIM, mask, f"{one[2]} − {half_s[2]}: {low:+g} to {high:+g} dB",
                  _interval_text(diff, half, True), interval_verdict(diff, half, low, high), "oracle")


def _gap_claim(metrics: pd.DataFrame, paper: pd.DataFrame | None, mask: str) -> dict:
    """The autoencoder − AudioSlots lies within :data:`GAP_TOLERANCE_DB` of the paper's gap."""
    gap_bounds = _paper_bounds(paper, GAP_ROW, "unspecified", "gap")
    diff, half = _paired(metrics, AUTOENCODER_ROW, AUDIOSLOTS_ROW, mask)
    if gap_bounds is None:
        return _claim("AudioSlots within 0.18 ± 0.01 dB of the autoencoder", mask, "—",
                      _interval_text(diff, half, True), "not in this run", "network")
    low, high = gap_bounds[0] - GAP_TOLERANCE_DB, gap_bounds[1] + GAP_TOLERANCE_DB
    return _claim(f"AudioSlots within {gap_bounds[2]} dB of the autoencoder", mask,
                  f"{gap_bounds[2]} dB (counted: {low:.2f} to {high:.2f})", _interval_text(diff, half, True),
                  interval_verdict(diff, half, low, high), "network")


def _ordering_claim(metrics: pd.DataFrame, means: pd.DataFrame, mask: str) -> dict:
    """Oracle > Autoencoder ≥ AudioSlots > mixture: each of the three differences above 0."""
    steps = [_paired(metrics, ORACLE_ROW, AUTOENCODER_ROW, mask), _paired(metrics, AUTOENCODER_ROW, AUDIOSLOTS_ROW, mask),
             _row_interval(means, AUDIOSLOTS_ROW, mask)]
    verdict = _all_of([interval_verdict(m, h, 0.0, np.inf) for m, h in steps])
    text = "; ".join(f"{name} {_interval_text(m, h, True)}" for name, (m, h) in
                     zip(("Oracle − Autoencoder", "Autoencoder − AudioSlots", "AudioSlots − mixture"), steps))
    return _claim(ORDERING_CLAIM, mask, "each difference > 0", text, verdict, "network")


def _row_interval(means: pd.DataFrame, label: str, mask: str) -> tuple[float, float]:
    """Mean and 95 % CI half-width of a row's SI-SNRi (nan if the run lacks the row)."""
    key = (label, mask, "si_snri")
    return float(means["mean"].get(key, np.nan)), float(means["ci95"].get(key, np.nan))


def _paper_bounds(paper: pd.DataFrame | None, row: str, mask: str,
                  metric: str = "si_snri") -> tuple[float, float, str] | None:
    """The paper's range for a row (low and high dB, and its value as our copy writes it), or ``None``."""
    if paper is None or (row, mask, metric) not in paper.index:
        return None
    entry = paper.loc[(row, mask, metric)]
    return float(entry["paper_low_db"]), float(entry["paper_high_db"]), str(entry["paper_value"])


def _all_of(verdicts: list[str]) -> str:
    """The verdict of a claim made of several parts: every part holds, one fails, or neither is known."""
    for verdict in ("not in this run", "no", "undecided"):
        if verdict in verdicts:
            return verdict
    return "yes"


def _paired(metrics: pd.DataFrame, left: str, right: str, mask: str, metric: str = "si_snri") -> tuple[float, float]:
    """Mean and 95 % CI half-width of the per-mixture difference ``left − right`` (nan if a row is missing);
    the interval resamples the utterances of the paired mixtures."""
    pick = metrics[metrics["mask"] == mask]
    a = pick[pick["label"] == left].groupby("mixture_id")[metric].mean()
    b = pick[pick["label"] == right].groupby("mixture_id")[metric].mean()
    paired = (a - b).dropna()
    if paired.empty:
        return np.nan, np.nan
    return float(paired.mean()), float(utterance_interval(paired.to_numpy(), paired.index.tolist()))


def _interval_text(mean: float, half_width: float, signed: bool = False) -> str:
    return "—" if np.isnan(mean) else (f"{mean:+.2f}" if signed else f"{mean:.2f}") + f" ± {half_width:.2f} dB"
