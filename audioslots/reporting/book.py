"""The book's prose about the runs: every sentence and table with a number, computed from ``results/``.

Each function returns the MyST text (or figure) of one part of a page, from the committed results
alone: the paper's claims with a verdict each (:func:`status_markdown`), the first screen's finding
(:func:`headline_markdown`, :func:`write_headline_figure`), the outcome table, the compute axis
(:func:`compute_findings_markdown`, :func:`write_compute_figure`), Table 1 of every run
(:func:`all_runs_markdown`), the GPU recipe's costs (:func:`gpu_hours_markdown`) and the plateau
study's findings. :mod:`audioslots.reporting.staging` writes them into ``book/run/`` when the book
is built; nothing here trains, scores or writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audioslots.config import get_preset
from audioslots.convtasnet import WHOLE
from audioslots.data.layout import DATA_LABELS
from audioslots.evaluation import plateau
from audioslots.evaluation.intervals import utterances_of
from audioslots.evaluation.learning_curve import compute_points, run_data_label
from audioslots.evaluation.scores import load_metrics
from audioslots.flops import read_flops
from audioslots.kinds import (AUDIOSLOTS, AUDIOSLOTS_1S_ROW, AUDIOSLOTS_ROW, AUTOENCODER_ROW, CONVTASNET, ORACLE,
                              ORACLE_1S_ROW, ORACLE_ROW, PAPER_ROWS)
from audioslots.model import count_parameters
from audioslots import provenance
from audioslots.reporting import plots
from audioslots.reporting.claims import CHUNK_LENGTH_CLAIM, GAP_ROW, claims, row_claim
from audioslots.reporting.inspection import PAPER_TRAINING_DATA, paper_training_flop, trained_networks
from audioslots.convtasnet import NO_MASK
from audioslots.reporting.plateau_figure import plateau_sentence
from audioslots.reporting.tables import TABLE_MASK_NAMES, markdown_table, seed_runs, seed_spread, row_means, runs_by_row
from audioslots.runs import RUNS, row_label

def status_markdown(run_dir: str | Path) -> str:
    """The paper's claims with this run's verdicts (:func:`audioslots.reporting.claims.claims`) as MyST,
    one row per distinct likely reason (:func:`status_by_reason`)."""

    try:
        metrics = load_metrics(run_dir)
    except (ValueError, FileNotFoundError):
        return "```{warning}\nThis run has no metrics yet: no claim of the paper can be checked.\n```\n"
    return (markdown_table(status_by_reason(claims(metrics, Path(run_dir).parent / "paper_table1.csv")))
            + "\n" + seeds_markdown(run_dir, metrics))


def seeds_markdown(run_dir: str | Path, metrics: pd.DataFrame) -> str:
    """The paper's trained rows of the run across training seeds (:func:`~audioslots.reporting.tables.seed_spread`)."""
    spread = seed_spread(run_dir, metrics)
    if spread.empty:
        return ("Only one training seed of this run is committed: its verdicts rest on the test-set intervals alone, "
                "not on how much another training seed would move the trained rows.\n")
    spread = spread[spread["system"].isin(PAPER_ROWS)]
    return ("The trained rows of the paper across training seeds: the same preset and data, another "
            "`TrainConfig.seed` (runs `" + "`, `".join(p.name for p in seed_runs(run_dir)[1:]) + "`, "
            "`experiments/compute_series.py --seed`), each scored on the same test mixtures. The verdicts above "
            "use the shown run's test-set interval; the spread says how far another seed moves the mean. A re-run "
            "of the same seed reproduces the committed rows bit for bit on the same kind of CPU and torch build; on "
            "another CPU the trained rows move within about this spread ({doc}`changelog`).\n\n"
            + markdown_table(spread))


#: The reason column of :func:`status_by_reason` for the claims that hold (verdict ``yes``).
HOLDS = "— (the claim holds)"


def status_by_reason(table: pd.DataFrame) -> pd.DataFrame:
    """The claims of :func:`audioslots.reporting.claims.claims` grouped by their likely reason: one row per reason.

    Each row lists its claims as ``claim (mask): this run vs paper``; the verdict column names the
    verdicts of the group (one, unless claims of different verdicts share the reason). Claims that
    hold have no reason and share one row (:data:`HOLDS`), first; then the reasons in the order
    they first appear.
    """
    table = table.copy()
    table["reason"] = [f"{{ref}}`{reason} <{label}>`" if label else (HOLDS if verdict == "yes" else reason or "—")
                       for reason, label, verdict in zip(table["likely reason"], table["why"], table["verdict"])]
    rows = []
    for reason, group in sorted(table.groupby("reason", sort=False), key=lambda item: item[0] != HOLDS):
        verdicts = list(dict.fromkeys(group["verdict"]))
        rows.append({
            "verdict": " / ".join(f"**{v}**" if v in ("yes", "no") else v for v in verdicts),
            "claims of the paper (mask: this run; paper)": "; ".join(
                f"{claim} ({mask}: {ours}; paper {paper})" for claim, mask, ours, paper in
                zip(group["claim of the paper"], group["mask"], group["this run"], group["paper"])),
            "likely reason": reason,
        })
    return pd.DataFrame(rows, columns=["verdict", "claims of the paper (mask: this run; paper)", "likely reason"])


#: The rows of the outcome table on the book's first page, in the paper's order.
OUTCOME_ROWS = (ORACLE_ROW, ORACLE_1S_ROW, AUTOENCODER_ROW, AUDIOSLOTS_ROW, AUDIOSLOTS_1S_ROW)
#: The Oracle's rows with the centred STFT, which show where the effect of the chunk length comes from.
CENTRED_ORACLE_ROWS = (row_label(ORACLE.system, 0.5, "centred"), row_label(ORACLE.system, 1.0, "centred"))


def flop_text(flop: float) -> str:
    """FLOPs with an SI prefix: ``5.1 TFLOP``, ``4.2 EFLOP``."""
    for power, prefix in ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M")):
        if flop >= 10 ** power:
            return f"{float(f'{flop / 10 ** power:.2g}'):g} {prefix}FLOP"
    return f"{flop:.0f} FLOP"


def _two_digits(ratio: float) -> str:
    """A large ratio rounded to two significant digits, with thousands separators: ``820,000``."""
    return f"{float(f'{ratio:.2g}'):,.0f}"


def _run_steps(results: Path, run: str) -> int | None:
    """The training steps of a network ``folder/network`` (``cpu/audioslots_0.5s``) from its run's provenance."""
    folder, _, network = run.partition("/")
    trained = provenance.load(results / folder).get(f"train:{network}", {}) if (results / folder).is_dir() else {}
    return trained.get("steps")


def most_compute_sentence(points: pd.DataFrame, paper_flop: float | None, results: str | Path | None = None) -> str:
    """A sentence on the final AudioSlots network trained with the most compute (IBM / Wiener-like), and, when
    another was trained for more steps, that one; empty without both masks or the paper's compute.

    Args:
        points: :func:`~audioslots.evaluation.learning_curve.compute_points` (the final networks are used).
        paper_flop: the paper's training FLOPs of AudioSlots as our ``paper`` preset counts them.
        results: the results folder, to read each network's steps from its run's provenance.
    """
    finals = points[points["final"] & (points["row"] == AUDIOSLOTS_ROW)] if not points.empty else points
    if finals.empty or not paper_flop:
        return ""
    most = finals[finals["train_flop"] == finals["train_flop"].max()]
    run = sorted(most["run"])[0]
    most = most[most["run"] == run].set_index("mask")
    if not {"ibm", "wiener"} <= set(most.index):
        return ""
    flop = float(most["train_flop"].iloc[0])
    text = (f" The AudioSlots network trained with the most compute here, `{run}`, used {flop_text(flop)} "
            f"(1/{_two_digits(paper_flop / flop)} of the paper's compute as our `paper` preset counts it) and scores "
            f"{most.loc['ibm', 'si_snri']:.2f} / {most.loc['wiener', 'si_snri']:.2f} dB (IBM / Wiener-like).")
    if results is None:
        return text
    steps = {r: _run_steps(Path(results), r) for r in sorted(set(finals["run"]))}
    steps = {r: n for r, n in steps.items() if n}
    if run in steps and steps:
        longest = max(steps, key=lambda r: (steps[r], r == run))
        if longest != run:
            text += (f" It took {steps[run]:,} steps; the one trained for the most steps, `{longest}`, took "
                     f"{steps[longest]:,}, each of less compute.")
    return text


def _on_synthetic(points: pd.DataFrame) -> pd.Series:
    """Which of :func:`~audioslots.evaluation.learning_curve.compute_points`' points are of runs on the synthetic set."""
    return points["data"] == DATA_LABELS["synthetic"]


def _audioslots_above_mixture(results: Path) -> str:
    """A sentence on whether any committed AudioSlots network on speech beats the mixture with the IBM, or empty."""
    points = compute_points(results)
    text = _above_mixture(points[~_on_synthetic(points)], AUDIOSLOTS_ROW)
    return f" Over every committed run on speech, {text}." if text else ""


def outcome_markdown(run_dir: str | Path, paper_csv: str | Path,
                     paper_compute_csv: str | Path = "results/paper_compute.csv") -> str:
    """The book's first screen: what reproduced and what did not on the run, with its numbers and why.

    Every number is read from the run (metrics, provenance), from the paper's Table 1 as our copy
    gives it (``paper_csv``) or from the count of the paper's training FLOPs (``paper_compute_csv``).
    """
    run_dir = Path(run_dir)
    try:
        metrics = load_metrics(run_dir)
    except (ValueError, FileNotFoundError):
        return "```{warning}\nThis run has no metrics yet: there is no outcome to report.\n```\n"
    means = row_means(metrics).set_index(["label", "mask", "metric"])
    paper = pd.read_csv(paper_csv)
    paper = paper[paper["metric"] == "si_snri"].set_index(["paper_row", "mask"])["paper_value"]
    labels = [r for r in OUTCOME_ROWS if (r, "ibm", "si_snri") in means.index]
    parts = [_outcome_table(means, paper, labels, metrics, run_dir.name), _peer_sentence(means, metrics),
             _reproduced(means, paper, labels, metrics, paper_csv),
             _not_reproduced(means, paper, labels, run_dir, paper_compute_csv)]
    return ("```{admonition} What reproduced and what did not\n:class: important outcome\n\n"
            + "\n\n".join(part for part in parts if part) + "\n```\n")


def _interval(means: pd.DataFrame, label: str, mask: str) -> str:
    """A row's SI-SNRi as ``mean ± half-width`` of its 95 % interval, ``—`` if the run lacks it."""
    key = (label, mask, "si_snri")
    return f"{means['mean'][key]:.2f} ± {means['ci95'][key]:.2f}" if key in means.index else "—"


def _mean(means: pd.DataFrame, label: str, mask: str) -> str:
    return f"{means['mean'][(label, mask, 'si_snri')]:.2f}"


def _outcome_table(means: pd.DataFrame, paper: pd.Series, labels: list[str], metrics: pd.DataFrame,
                   run_name: str) -> str:
    """The rows of :data:`OUTCOME_ROWS`, this run's beside the paper's, and what the numbers are."""
    table = pd.DataFrame([{"SI-SNRi (dB)": label + (" (no network)" if label in ORACLE.rows.values() else ""),
                           "this run: IBM / Wiener-like": f"{_interval(means, label, 'ibm')} / "
                                                          f"{_interval(means, label, 'wiener')}",
                           "paper": f"{paper.get((label, 'ibm'), '—')} / {paper.get((label, 'wiener'), '—')}"}
                          for label in labels])
    n_mixtures = int(metrics["mixture_id"].nunique())
    n_utterances = len({u for mixture_id in metrics["mixture_id"].unique() for u in utterances_of(mixture_id)})
    data = str(metrics["data"].iloc[0]) if "data" in metrics else "the test set"
    return (markdown_table(table) + f"\nOn the run `{run_name}`: mean ± 95 % interval over {n_mixtures} test "
            f"mixtures ({data}), oracle chunk order; the interval resamples the {n_utterances} utterances the "
            "mixtures are made of, since mixtures that share one are not independent. The paper's values keep "
            "only their integer dB part in our copy of it.")


def _peer_sentence(means: pd.DataFrame, metrics: pd.DataFrame) -> str:
    """Conv-TasNet's score on whole mixtures, when the run has the peer; else empty."""
    peers = sorted(set(metrics.loc[metrics["system"] == CONVTASNET.system, "label"]))
    if not peers:
        return ""
    whole = CONVTASNET.row(WHOLE) if CONVTASNET.row(WHOLE) in peers else peers[0]
    pick = means.xs(whole, level="label")  # scored without a mask: one row per metric
    score = f"{pick['mean'].iloc[0]:.2f} ± {pick['ci95'].iloc[0]:.2f}" if len(pick) else "—"
    return (f"Conv-TasNet, a peer that is not in the paper, separates waveforms (no mask on an STFT); "
            f"trained by the same pipeline on the same data with the same steps and audio per step, it "
            f"scores {score} dB on whole test mixtures: at this budget a network built for "
            "separation is far from separating real speech too.")


#: How a verdict of :func:`~audioslots.reporting.claims.claims` reads in a sentence.
VERDICT_WORDS = {"yes": "consistent with the paper", "no": "outside the paper's range",
                 "undecided": "undecided (the 95 % interval straddles a bound of the paper's range)",
                 }
#: The same, for a sentence on several claims.
VERDICT_WORDS_MANY = {**VERDICT_WORDS, "undecided": "undecided (each 95 % interval straddles a bound)",
                 "not in this run": "not measured in this run"}


def verdict_lead(verdicts) -> str:
    """The word that sums up a group of claims' verdicts: ``Reproduced`` only when every one is ``yes``.

    ``Not reproduced`` when none is ``yes`` and one is ``no``; ``Undecided`` when none is ``yes`` or
    ``no``; ``Reproduced in part`` when some are ``yes`` and some ``no``; ``Reproduced in part, the
    rest undecided`` when the others are undecided (or not measured).
    """
    verdicts = set(verdicts)
    if not verdicts:
        return "Not checked"
    if verdicts == {"yes"}:
        return "Reproduced"
    if "yes" not in verdicts:
        return "Not reproduced" if "no" in verdicts else "Undecided"
    return "Reproduced in part" if "no" in verdicts else "Reproduced in part, the rest undecided"


def verdict_words(verdicts: pd.Series) -> str:
    """A claim's verdicts per mask (index: mask names) in words: one phrase when the masks agree."""
    if verdicts.nunique() == 1:
        return VERDICT_WORDS.get(verdicts.iloc[0], verdicts.iloc[0])
    return ", ".join(f"{VERDICT_WORDS.get(v, v)} with the {mask}" for mask, v in verdicts.items())


#: The claims about the Oracle, which trains no network, as its two rows and the effect of the chunk length on them.
ORACLE_CLAIMS = (row_claim(ORACLE_ROW), row_claim(ORACLE_1S_ROW), CHUNK_LENGTH_CLAIM)


def oracle_sentence(status: pd.DataFrame) -> str:
    """What the claims about the Oracle say (:data:`ORACLE_CLAIMS`), led by :func:`verdict_lead` of their verdicts.

    The IBM's numbers are quoted; each verdict phrase covers both masks (:func:`verdict_words`), and the
    two rows share one phrase when their verdicts agree.

    Args:
        status: :func:`~audioslots.reporting.claims.claims` of the run.
    """
    oracle = status[status["claim of the paper"].isin(ORACLE_CLAIMS)]
    if oracle.empty:
        return ""
    verdicts = {claim: group.set_index("mask")["verdict"] for claim, group in oracle.groupby("claim of the paper")}
    value = oracle.set_index(["claim of the paper", "mask"])["this run"]
    paper = oracle.set_index(["claim of the paper", "mask"])["paper"]
    parts = []
    if CHUNK_LENGTH_CLAIM in verdicts:
        parts.append(f"1 s chunks raise it by {value[(CHUNK_LENGTH_CLAIM, 'IBM')]} (IBM), "
                     f"{verdict_words(verdicts[CHUNK_LENGTH_CLAIM])}")
    rows = [(claim, name) for claim, name in ((ORACLE_CLAIMS[0], "0.5 s"), (ORACLE_CLAIMS[1], "1 s")) if claim in verdicts]
    together = pd.concat([verdicts[claim] for claim, _ in rows]) if rows else pd.Series(dtype=str)
    if len(rows) == 2 and together.nunique() == 1:
        parts.append(f"its {value[(rows[0][0], 'IBM')].removesuffix(' dB')} and {value[(rows[1][0], 'IBM')]} "
                     f"(0.5 s and 1 s, IBM; the paper: {paper[(rows[0][0], 'IBM')].removesuffix(' dB')} and "
                     f"{paper[(rows[1][0], 'IBM')].removesuffix(' dB')}) are "
                     f"{VERDICT_WORDS_MANY.get(together.iloc[0], together.iloc[0])}")
    else:
        parts += [f"at {name} it scores {value[(claim, 'IBM')]} (IBM) against the paper's {paper[(claim, 'IBM')]}: "
                  f"{verdict_words(verdicts[claim])}" for claim, name in rows]
    return f"**{verdict_lead(oracle['verdict'])}: the Oracle** (no network). " + "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."


def _reproduced(means: pd.DataFrame, paper: pd.Series, labels: list[str], metrics: pd.DataFrame,
                paper_csv: str | Path) -> str:
    """The Oracle rows and the effect of the chunk length on them, led by their verdicts; empty without them."""
    if not {ORACLE_ROW, ORACLE_1S_ROW} <= set(labels):
        return ""
    text = oracle_sentence(claims(metrics, paper_csv)).removesuffix(".")
    if {(row, "ibm", "si_snri") for row in CENTRED_ORACLE_ROWS} <= set(means.index):
        text += (". The effect comes from how the STFT frames a chunk's edges: with a centred STFT "
                 f"the 0.5 s and 1 s Oracle score {_mean(means, CENTRED_ORACLE_ROWS[0], 'ibm')} and "
                 f"{_mean(means, CENTRED_ORACLE_ROWS[1], 'ibm')} dB (IBM), see "
                 "{doc}`run/notebooks/06_chunk_boundaries`")
    return text + "."


def _not_reproduced(means: pd.DataFrame, paper: pd.Series, labels: list[str], run_dir: Path,
                    paper_compute_csv: str | Path) -> str:
    """What did not reproduce: the trained networks, and how far this run's training is from the paper's."""
    if not {AUDIOSLOTS_ROW, AUTOENCODER_ROW} <= set(labels):
        return ""
    paper_flop = paper_training_flop(paper_compute_csv)
    status = claims(load_metrics(run_dir), Path(paper_compute_csv).parent / "paper_table1.csv")
    rows = status[status["claim of the paper"].isin([row_claim(row) for row, _ in NETWORK_ROWS])]
    slots, autoencoder = AUDIOSLOTS_ROW, AUTOENCODER_ROW
    return (f"**{verdict_lead(rows['verdict'])}:** the trained networks. AudioSlots scores {_mean(means, slots, 'ibm')} / "
            f"{_mean(means, slots, 'wiener')} dB and its autoencoder {_mean(means, autoencoder, 'ibm')} / "
            f"{_mean(means, autoencoder, 'wiener')} dB, against the paper's {paper.get((slots, 'ibm'), '—')} "
            f"and {paper.get((autoencoder, 'ibm'), '—')}." + _training_scale(run_dir, paper_flop)
            + " On the reference `cpu` run the diagnostics found that neither network had got past trivial "
            "predictors of its training target ({ref}`measured <why-gap>`). A run like this cannot test the "
            "paper's claims about the trained networks."
            + most_compute_sentence(compute_points(run_dir.parent), paper_flop, run_dir.parent)
            + _audioslots_above_mixture(run_dir.parent)
            + " {doc}`results` places every committed run on the compute axis.")


def _training_scale(run_dir: Path, paper_flop: float | None) -> str:
    """A sentence on the run's AudioSlots network against the paper's: parameters, steps, compute, data."""
    networks = trained_networks(run_dir)
    audioslots_run = AUDIOSLOTS.run_name(0.5)
    if audioslots_run not in set(networks["run"]):
        return ""
    slots = networks[networks["run"] == audioslots_run].iloc[0]
    paper_preset = get_preset("paper")
    with torch.device("meta"):
        paper_parameters = count_parameters(AUDIOSLOTS.build(paper_preset, 2))
    text = (f" This run's networks are far smaller and far less trained than the paper's: AudioSlots has "
            f"{slots['parameters'] / 1e6:.2g} M parameters (our `paper` preset's {paper_parameters / 1e6:.3g} M) and was "
            f"trained for {slots['steps']:,} steps of {slots['batch']} crops (the paper: "
            f"{paper_preset.train.steps:,} of {paper_preset.train.batch_size})")
    if not np.isnan(slots["train_flop"]) and paper_flop:
        text += (f", {flop_text(slots['train_flop'])} in all against our `paper` preset's {flop_text(paper_flop)} "
                 "for the paper's steps: "
                 f"about {_two_digits(paper_flop / slots['train_flop'])} times less compute")
    if slots["training mixtures"]:
        text += f", on {slots['training mixtures']:,} training mixtures (the paper: {PAPER_TRAINING_DATA})"
    return text + "."


def gpu_hours_markdown(benchmarks: str | Path = "results/benchmarks",
                       paper_compute_csv: str | Path = "results/paper_compute.csv") -> str:
    """What the GPU recipe costs per network of our `paper` preset: FLOPs per step (counted), hours
    and peak memory (measured where a throughput measurement of that network is committed,
    projected by FLOPs otherwise, and said so), and the total in GPU-hours."""
    measured = {}
    for path in sorted(Path(benchmarks).glob("train_throughput_paper_*.json")):
        run = json.loads(path.read_text())
        if run.get("device") == "cuda" and run.get("decoded_cells", 1.0) == 1.0:
            measured["compiled" if run.get("compile") else "eager"] = run
    if not measured or not Path(paper_compute_csv).exists():
        return "No GPU throughput of the `paper` preset is committed yet, so no training time can be given.\n"
    compute = pd.read_csv(paper_compute_csv)
    # The throughput benchmark trains the 0.5 s AudioSlots network; the others are projected from it.
    base = compute.loc[compute["paper_row"] == AUDIOSLOTS_ROW].iloc[0]
    rows, totals = [], dict.fromkeys(measured, 0.0)
    for _, network in compute.iterrows():
        ratio = network["flop_per_step"] / base["flop_per_step"]
        row = {"network": network["paper_row"], "TFLOP per step (counted)": f"{network['flop_per_step'] / 1e12:.1f}",
               "steps": f"{network['steps']:,}"}
        for mode, run in measured.items():
            hours = network["steps"] * ratio / run["steps_per_second"] / 3600
            totals[mode] += hours
            row[f"hours, {mode}"] = f"{hours:.1f}" + ("" if ratio == 1 else " (projected)")
        peaks = ", ".join(f"{run['peak_memory_bytes'] / 2**30:.1f} GiB {mode}" for mode, run in measured.items()
                          if run.get("peak_memory_bytes"))
        row["peak memory"] = f"{peaks} (measured)" if ratio == 1 and peaks else "not measured"
        rows.append(row)
    device = next(iter(measured.values()))["device_name"]
    table = markdown_table(pd.DataFrame(rows))
    total = " or ".join(f"{hours:.0f} GPU-hours {mode}" for mode, hours in totals.items())
    return (f"What the GPU recipe costs on one {device}, network by network: FLOPs per step counted by "
            "`torch.utils.flop_counter` (`results/paper_compute.csv`), hours from the throughput that "
            "`benchmarks/train_throughput.py` measured for the 0.5 s AudioSlots network (commit "
            f"`{next(iter(measured.values()))['commit'][:7]}`). The other networks were not timed: their hours are "
            "*projected* at the same FLOPs per second, and their peak memory is not measured. The Conv-TasNet "
            "peer's FLOPs were not counted at the `paper` preset and it is left out of the total.\n\n"
            + table + f"\nTogether: {total}, one network after another on one GPU. The {{doc}}`performance` page "
            "has the measurements.\n")


def all_runs_markdown(results: str | Path = "results", paper_csv: str | Path = "results/paper_table1.csv") -> str:
    """Table 1 of every run in ``results/*/table1.csv`` beside the paper's, as MyST sections: one table
    per data set and mask, one row per run (runs as :func:`runs_by_compute`, :func:`~audioslots.reporting.tables.runs_by_row`)."""
    runs = runs_by_compute(results)
    if not runs:
        return "No run in `results/` has a `table1.csv` yet.\n"
    waveform = TABLE_MASK_NAMES[NO_MASK]
    parts = [f"## SI-SNRi (dB) on {source}, {'no mask (a waveform network)' if mask == waveform else mask + ' masks'}\n\n"
             + markdown_table(table) for (source, mask), table in runs_by_row(runs, paper_csv).items()]
    parts.append("## The runs\n\nWhat made each row above, from its `provenance.json`.\n\n"
                 + markdown_table(run_summaries(runs)))
    return "\n".join(parts)


def runs_by_compute(results: str | Path) -> list[Path]:
    """The run folders of ``results`` (those with a ``table1.csv``): runs on the synthetic set after
    the others, and within each, fewest training FLOPs first (the most that any of a run's networks used)."""
    def key(run: Path) -> tuple:
        table = pd.read_csv(run / "table1.csv")
        synthetic = "data" in table and bool((table["data"] == DATA_LABELS["synthetic"]).any())
        most = float(table["train_flop"].max()) if "train_flop" in table and len(table) else 0.0
        return synthetic, most, run.name
    return sorted((p.parent for p in Path(results).glob("*/table1.csv")), key=key)


def run_summaries(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per run from its ``provenance.json`` and ``table1.csv``: commit, device, preset, steps
    of each network, the most training compute of any of them and what the run was made for."""
    rows = []
    for run_dir in run_dirs:
        info = provenance.load(run_dir)
        table_path = Path(run_dir) / "table1.csv"
        table = pd.read_csv(table_path) if table_path.exists() else pd.DataFrame()
        trained = {k.removeprefix("train:"): v for k, v in info.items() if k.startswith("train:")}
        presets = sorted({v.get("preset", {}).get("name", "?") for v in trained.values()})
        devices = sorted({v.get("device", "?") for v in trained.values()})
        rows.append({
            "run": Path(run_dir).name,
            "commit": f"`{info.get('commit', 'unrecorded')[:7]}`",
            "device": ", ".join(re.sub(r"\b1 threads\b", "1 thread", d) for d in devices) or "—",
            "preset": ", ".join(presets) or "—",
            "training steps": ", ".join(f"{name} {v.get('steps', '?'):,}" for name, v in sorted(trained.items())) or "—",
            "most training compute": (flop_text(table["train_flop"].max())
                                      if "train_flop" in table and table["train_flop"].max() > 0 else "—"),
            "note": info.get("time_boxed", info.get("compute_series", {})).get("what", ""),
        })
    return pd.DataFrame(rows)


def write_compute_figure(results: str | Path, path: str | Path, synthetic: bool = False) -> Path | None:
    """The compute figure (:func:`audioslots.reporting.plots.compute_figure`) of every committed run on speech, with
    the paper's values, or (``synthetic``) of every run on the synthetic set, without them, as a PNG.

    Returns:
        ``path``, or ``None`` (and no file) when no such run records its training FLOPs yet.
    """
    results = Path(results)
    points = compute_points(results)
    points = points[_on_synthetic(points) == synthetic]
    if points.empty:
        return None
    oracle = oracle_scores(results)
    oracle = oracle[oracle["data"].isin(set(points["data"]))].groupby("mask")["si_snri"].max().to_dict()
    scores = reference_scores(results)
    references = _references_by(scores[scores["data"].isin(set(points["data"]))], "mask")
    if synthetic:  # titled: the page's caption is far, and these points must not be read as the paper's setting
        figure = plots.compute_figure(points, title="synthetic set (not the paper's data: no paper values)",
                                      oracle=oracle, references=references)
    else:
        figure = plots.compute_figure(points, results / "paper_table1.csv", results / "paper_compute.csv",
                                      oracle=oracle, references=references)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return Path(path)


def oracle_scores(results: str | Path) -> pd.DataFrame:
    """The Oracle's mean SI-SNRi (its plain row: 0.5 s, the paper's framing, no overlap) per data set and mask,
    from every ``results/*/table1.csv`` (runs on the same data score the same Oracle; the highest is kept).

    Returns:
        Columns ``data``, ``mask``, ``si_snri``.
    """
    frames = []
    for path in sorted(Path(results).glob("*/table1.csv")):
        table = pd.read_csv(path)
        if "data" in table:
            frames.append(table.loc[table["label"] == ORACLE_ROW, ["data", "mask", "si_snri"]])
    if not frames:
        return pd.DataFrame(columns=["data", "mask", "si_snri"])
    return pd.concat(frames).groupby(["data", "mask"], as_index=False)["si_snri"].max()


def reference_scores(results: str | Path) -> pd.DataFrame:
    """The reference predictors' mean SI-SNRi on the test mixtures per data set and mask, from
    ``results/plateau/reference_scores.csv`` (written by ``experiments/plateau.py --summarise``, see
    :func:`audioslots.evaluation.plateau.identical_slots_si_snri`); empty when it does not exist.

    Returns:
        Columns ``data``, ``mask``, ``predictor``, ``si_snri``.
    """
    path = Path(results) / "plateau" / plateau.REFERENCE_SCORES_CSV
    columns = ["data", "mask", "predictor", "si_snri"]
    return pd.read_csv(path)[columns] if path.exists() else pd.DataFrame(columns=columns)


def _references_by(scores: pd.DataFrame, key: str) -> dict[str, list[tuple[str, float]]]:
    """``{value of key: [(predictor, si_snri), ...]}``, the ``references`` of the compute figures."""
    return {value: list(zip(group["predictor"], group["si_snri"].astype(float)))
            for value, group in scores.groupby(key, sort=False)}


def write_headline_figure(results: str | Path, path: str | Path, mask: str = "ibm") -> Path | None:
    """The book's first figure (:func:`audioslots.reporting.plots.headline_figure`) from every committed run, as a
    PNG 6.9 in wide at 200 dpi (shown at the 688 px text column, i.e. 100 dpi); ``None`` without points."""
    results = Path(results)
    points = distinct_networks(compute_points(results))
    if points.empty or not points["row"].isin(plots.HEADLINE_ROWS).any():
        return None
    oracle = oracle_scores(results)
    oracle = oracle[oracle["mask"] == mask].set_index("data")["si_snri"].to_dict()
    scores = reference_scores(results)
    figure = plots.headline_figure(points, oracle, results / "paper_table1.csv", results / "paper_compute.csv",
                                   mask=mask, references=_references_by(scores[scores["mask"] == mask], "data"))
    figure.savefig(path, dpi=200)
    return Path(path)


def headline_markdown(run_dir: str | Path, figure: Path | None = None,
                      paper_compute_csv: str | Path | None = None) -> str:
    """The book's first screen: three sentences with numbers and the headline figure.

    (a) what reproduced: the Oracle claims of the shown run, led by their verdicts (:func:`oracle_sentence`);
    (b) what did not: the trained networks on real speech over every committed run (:func:`networks_sentence`);
    (c) how far each network is in compute from the paper's training (:func:`compute_gap_sentence`).
    """
    run_dir = Path(run_dir)
    results = run_dir.parent
    paper_compute_csv = paper_compute_csv or results / "paper_compute.csv"
    try:
        status = claims(load_metrics(run_dir), results / "paper_table1.csv")
    except (ValueError, FileNotFoundError):
        status = pd.DataFrame(columns=["claim of the paper", "mask", "paper", "this run", "verdict"])
    points = compute_points(results)
    speech = points[~_on_synthetic(points)] if not points.empty else points
    paper = pd.read_csv(results / "paper_table1.csv")
    paper = paper[(paper["metric"] == "si_snri") & (paper["mask"] == "ibm")].set_index("paper_row")["paper_value"]
    sentences = [oracle_sentence(status), networks_sentence(speech, status, paper),
                 compute_gap_sentence(speech, paper_compute_csv)]
    text = "\n\n".join(s for s in sentences if s) + "\n"
    if figure is not None:
        # First, without a caption (its legend says what the markers are): it and the three sentences fit 800 px.
        text = (f"```{{image}} /run/{figure.name}\n:alt: SI-SNRi with the IBM against training FLOPs of AudioSlots "
                "and its autoencoder (final networks and kept checkpoints), on real speech and on the synthetic set, "
                "with the Oracle as a dashed ceiling, the mixture at 0 dB, what the same prediction in every slot "
                "scores and the paper's values\n:width: 100%\n"
                ":class: headline-figure\n```\n\n" + text)
    return text


#: The trained rows the first screen speaks of, as (row of Table 1, how the sentence names it).
NETWORK_ROWS = ((AUDIOSLOTS_ROW, "AudioSlots"), (AUTOENCODER_ROW, "its autoencoder"))


def networks_sentence(points: pd.DataFrame, status: pd.DataFrame, paper: pd.Series, mask: str = "ibm") -> str:
    """What the trained networks reach on real speech with the IBM over every committed run, led by the verdicts
    of the shown run's rows of the two networks.

    Args:
        points: :func:`~audioslots.evaluation.learning_curve.compute_points` of the runs on speech.
        status: :func:`~audioslots.reporting.claims.claims` of the shown run.
        paper: the paper's value per row with the IBM (``9.x``).
    """
    points = distinct_networks(points)
    parts = []
    for row, name in NETWORK_ROWS:
        here = points[(points["row"] == row) & (points["mask"] == mask)].sort_values(["train_flop", "run"], kind="stable")
        if here.empty:
            continue
        above = here[here["si_snri"] > 0]
        best = here.loc[here["si_snri"].idxmax()]
        against = f"; the paper: {paper[row]}" if row in paper.index else ""
        if above.empty:
            by = f"`{str(best['run']).split('/')[0]}`" + ("" if best["final"] else f" step {int(best['step']):,}")
            parts.append(f"{name} never beats the mixture with the IBM up to {flop_text(here['train_flop'].max())}, "
                         f"the most tried (best of its {len(here)} distinct networks: {best['si_snri']:.2f} dB, by {by} "
                         f"at {flop_text(best['train_flop'])}{against})")
        else:
            first = above.iloc[0]
            parts.append(f"{name} first beats the mixture at {flop_text(first['train_flop'])} ({first['si_snri']:+.2f} dB) "
                         f"and reaches {best['si_snri']:.2f} dB" + (f" ({against.removeprefix('; ')})" if against else ""))
    if not parts:
        return ""
    rows = status[status["claim of the paper"].isin([row_claim(row) for row, _ in NETWORK_ROWS])]
    lead = verdict_lead(rows["verdict"]) if len(rows) else "Not checked"
    text = "; ".join(parts)
    return f"**{lead}: the trained networks.** On real speech, {text}."


def compute_gap_sentence(points: pd.DataFrame, paper_compute_csv: str | Path) -> str:
    """How far the most compute tried on speech is from the paper's training, network by network (as our
    ``paper`` preset counts the paper's 300 000 steps: ``results/paper_compute.csv``)."""
    parts, runs = [], []
    for row, name in NETWORK_ROWS:
        paper_flop = paper_training_flop(paper_compute_csv, row=row)
        here = points[points["row"] == row] if not points.empty else points
        if here.empty or not paper_flop:
            continue
        most = here.sort_values(["train_flop", "run"], ascending=[False, True], kind="stable").iloc[0]
        runs.append(f"`{str(most['run']).split('/')[0]}`")
        parts.append((_two_digits(paper_flop / most["train_flop"]),
                      f"{name} ({flop_text(most['train_flop'])} against {flop_text(paper_flop)})"))
    if not parts:
        return ""
    where = runs[0] if len(set(runs)) == 1 else " and ".join(runs)
    if len({ratio for ratio, _ in parts}) == 1:
        said = f"1/{parts[0][0]} of the paper's training for " + ("both " if len(parts) == 2 else "") \
            + " and ".join(text for _, text in parts)
    else:
        said = " and ".join(f"1/{ratio}{' of the paper' + chr(39) + 's training' if i == 0 else ''} for {text}"
                            for i, (ratio, text) in enumerate(parts))
    return f"**How far in compute:** the most tried ({where}) is about {said}, as our `paper` preset counts it."


def synthetic_figure_markdown(figure: Path | None) -> str:
    """The synthetic set's compute figure as a MyST figure (its path from the book's root), or why there is none."""
    if figure is None:
        return "No run on the synthetic set records its training compute yet.\n"
    return (f"```{{figure}} /run/{figure.name}\n:alt: SI-SNRi against training FLOPs on the synthetic set\n"
            ":width: 100%\n\nSI-SNRi (dB) against training FLOPs on the synthetic set, IBM and Wiener-like masks.\n```\n")


def compute_findings_markdown(results: str | Path, paper_csv: str | Path,
                              paper_compute_csv: str | Path) -> str:
    """What the compute axis shows, from every committed run: for each data set, the least compute at
    which AudioSlots and its autoencoder beat the mixture with the IBM (or the best they reach), and a
    table of the gap between them run by run, beside the paper's."""
    points = compute_points(results)
    if points.empty:
        return "No committed run records its training compute yet.\n"
    sentences = []
    for synthetic in (False, True):
        here = points[_on_synthetic(points) == synthetic]
        if here.empty:
            continue
        said = "; ".join(text for row, _ in NETWORK_ROWS if (text := _above_mixture(here, row)))
        sentences.append(f"- **{', '.join(sorted(set(here['data'])))}.** {said[:1].upper()}{said[1:]}.")
    return "\n".join(sentences) + "\n\n" + markdown_table(gap_table(points, paper_csv, paper_compute_csv))


def distinct_networks(points: pd.DataFrame) -> pd.DataFrame:
    """The points of :func:`~audioslots.evaluation.learning_curve.compute_points` with each network once.

    A run's final network is also its last kept checkpoint (same run, same training FLOPs): that
    checkpoint is dropped. Runs of a compute series share their first steps, so their early
    checkpoints are the same network: points with the same row, mask, data, step and SI-SNRi are one,
    kept under the first run name in sorted order.
    """
    if points.empty:
        return points
    finals = set(zip(points.loc[points["final"], "run"], points.loc[points["final"], "row"],
                     points.loc[points["final"], "mask"], points.loc[points["final"], "train_flop"]))
    again = [not final and (run, row, mask, flop) in finals for run, row, mask, flop, final in
             zip(points["run"], points["row"], points["mask"], points["train_flop"], points["final"])]
    kept = points[~pd.Series(again, index=points.index)].sort_values("run", kind="stable")
    curve = kept[~kept["final"]]
    data = curve["data"] if "data" in curve else pd.Series("—", index=curve.index)
    same = pd.DataFrame({"row": curve["row"], "mask": curve["mask"], "data": data, "step": curve["step"],
                         "si_snri": curve["si_snri"]}).duplicated()
    return kept.drop(index=same[same].index).sort_index()


def _above_mixture(points: pd.DataFrame, row: str, mask: str = "ibm") -> str:
    """Where the row's distinct scored networks (:func:`distinct_networks`) first beat the mixture with ``mask``
    (mean SI-SNRi above 0 dB), or the best they reach."""
    points = distinct_networks(points)
    here = points[(points["row"] == row) & (points["mask"] == mask)].sort_values(["train_flop", "run"], kind="stable")
    if here.empty:
        return ""
    above = here[here["si_snri"] > 0]
    scored = (f"{len(here)} distinct scored {row} networks (final networks and kept checkpoints, "
              f"{flop_text(here['train_flop'].min())} to {flop_text(here['train_flop'].max())})")
    if above.empty:
        best = here.loc[here["si_snri"].idxmax()]
        return (f"none of the {scored} beats the mixture with the IBM; the best, {_point_name(best)}, "
                f"scores {best['si_snri']:.2f} dB")
    first = above.iloc[0]
    return (f"of the {scored}, the one with the least compute that beats the mixture with the IBM is "
            f"{_point_name(first)}: {first['si_snri']:+.2f} dB at {flop_text(first['train_flop'])}")


def _point_name(point: pd.Series) -> str:
    """``cpu/audioslots_0.5s`` (final) or ``real_cpu_x4/audioslots_0.5s`` at step 550."""
    return f"`{point['run']}`" + (" (final)" if point["final"] else f" at step {int(point['step']):,}")


def gap_table(points: pd.DataFrame, paper_csv: str | Path, paper_compute_csv: str | Path) -> pd.DataFrame:
    """Run by run, both networks' final SI-SNRi (IBM / Wiener-like) and the gap autoencoder − AudioSlots,
    by AudioSlots' training compute, with the paper's row (its Table 1 and its stated gap) last."""
    slots, autoencoder = AUDIOSLOTS_ROW, AUTOENCODER_ROW
    finals = points[points["final"] & points["row"].isin([slots, autoencoder])
                    & points["mask"].isin(["ibm", "wiener"])].copy()
    finals["folder"] = [run.split("/")[0] for run in finals["run"]]
    rows = []
    for folder, run in finals.groupby("folder"):
        value = run.set_index(["row", "mask"])["si_snri"]
        if not {(slots, "wiener"), (autoencoder, "wiener")} <= set(value.index):
            continue
        flop = float(run.loc[run["row"] == slots, "train_flop"].iloc[0])
        rows.append({"run": folder, "data": run["data"].iloc[0], "AudioSlots training": flop_text(flop), "flop": flop,
                     slots: f"{value.get((slots, 'ibm'), float('nan')):.2f} / {value[(slots, 'wiener')]:.2f}",
                     autoencoder: f"{value.get((autoencoder, 'ibm'), float('nan')):.2f} / "
                                  f"{value[(autoencoder, 'wiener')]:.2f}",
                     "gap (Wiener-like)": f"{value[(autoencoder, 'wiener')] - value[(slots, 'wiener')]:.2f}"})
    table = pd.DataFrame(rows, columns=["run", "data", "AudioSlots training", "flop", slots, autoencoder,
                                        "gap (Wiener-like)"])
    table = table.sort_values(["data", "flop"], key=lambda c: c == DATA_LABELS["synthetic"] if c.name == "data" else c,
                              kind="stable")
    paper = pd.read_csv(paper_csv).set_index(["paper_row", "metric", "mask"])["paper_value"]
    paper_flop = paper_training_flop(paper_compute_csv)
    table.loc[len(table)] = {
        "run": "paper (Table 1)", "data": "Libri2Mix", "flop": paper_flop or float("nan"),
        "AudioSlots training": flop_text(paper_flop) if paper_flop else "—",
        slots: f"{paper.get((slots, 'si_snri', 'ibm'), '—')} / {paper.get((slots, 'si_snri', 'wiener'), '—')}",
        autoencoder: f"{paper.get((autoencoder, 'si_snri', 'ibm'), '—')} / "
                     f"{paper.get((autoencoder, 'si_snri', 'wiener'), '—')}",
        "gap (Wiener-like)": f"{paper.get((GAP_ROW, 'gap', 'unspecified'), '—')} (mask not stated)"}
    return table.drop(columns="flop").rename(columns={slots: f"{slots}: IBM / Wiener-like",
                                                      autoencoder: f"{autoencoder}: IBM / Wiener-like"})


def plateau_markdown(folder: str | Path) -> str:
    """The plateau study's findings (``results/plateau``), or a line saying that none are committed."""
    folder = Path(folder)
    if not (folder / "plateau.csv").exists():
        return "The plateau study (`experiments/plateau.py`) has no committed results yet.\n"
    return plateau_sentence(folder)


def runs_in_progress_markdown(results: str | Path) -> str:
    """Where each unfinished network of a compute series stands (``results/*/provenance.json`` with a
    ``compute_series`` entry whose ``steps`` its ``log.csv`` has not reached): steps and compute so far, its last
    logged loss (for AudioSlots on real speech, beside the plateau's and the floor's on fresh training crops, from
    the plateau study's stream runs when committed), and the best IBM and Wiener-like SI-SNRi of its kept
    checkpoints scored so far.

    Returns:
        A lead and one bullet per such network, or ``""`` when every series has finished.
    """
    results = Path(results)
    levels, lines = _levels_clause(results), []
    for path in sorted(results.glob("*/provenance.json")):
        series = json.loads(path.read_text()).get("compute_series")
        if not series:
            continue
        on_real_speech = run_data_label(path.parent) == DATA_LABELS["real"]
        curve_path = path.parent / "learning_curve.csv"
        curve = pd.read_csv(curve_path) if curve_path.exists() else pd.DataFrame(columns=["run", "mask", "step"])
        for log_path in sorted(path.parent.glob("*/log.csv")):
            log, network = pd.read_csv(log_path), log_path.parent.name
            step, total = int(log["step"].iloc[-1]), int(series["steps"])
            if step >= total:
                continue
            per_step = read_flops(log_path.parent / "flops.json")["flop_per_step"]
            text = (f"- `{path.parent.name}/{network}` is still training: {step:,} of its {total:,} steps "
                    f"({flop_text(step * per_step)} of {flop_text(total * per_step)}), training loss "
                    f"{log['loss'].iloc[-1]:.4f} in its last logged window"
                    f"{levels if on_real_speech and _trains_audioslots(network) else ''}.")
            scored = curve[curve["run"] == network]
            if len(scored):
                best = {mask: scored[scored["mask"] == mask].sort_values("si_snri").iloc[-1]
                        for mask in ("ibm", "wiener")}
                verdict = ("none beats the mixture with the IBM" if best["ibm"]["si_snri"] <= 0
                           else "the best beats the mixture with the IBM")
                text += (f" Its kept checkpoints scored so far (steps {int(scored['step'].min()):,} to "
                         f"{int(scored['step'].max()):,}) reach at best {best['ibm']['si_snri']:+.2f} dB with the IBM "
                         f"(step {int(best['ibm']['step']):,}) and {best['wiener']['si_snri']:+.2f} dB with the "
                         f"Wiener-like mask (step {int(best['wiener']['step']):,}): {verdict}.")
            lines.append(text)
    if not lines:
        return ""
    return ("Runs of the compute series still under way (each run's README gives the command that resumes it from "
            "its committed resume point):\n\n" + "\n".join(lines) + "\n")


def _trains_audioslots(network: str) -> bool:
    """Whether a run folder's network (``audioslots_0.5s``) is AudioSlots: the plateau study's losses are of
    predicting a mixture's sources; the autoencoder, which is given each source, has other trivial levels."""
    run = RUNS.get(network)
    return run is not None and run.kind is AUDIOSLOTS


def _levels_clause(results: Path) -> str:
    """``(the plateau … the floor …)``: the coarse copy's and the mean of sources' losses on fresh training crops
    of the embedded real speech, as the plateau study's stream runs measured them, or ``""`` before they are
    committed (said only of runs on that data)."""
    path = results / "plateau" / "plateau.csv"
    runs = pd.read_csv(path) if path.exists() else pd.DataFrame()
    stream = runs[(runs["pool"] == 0) & (runs["speakers"] == 0)] if len(runs) else runs
    if stream.empty:
        return ""
    return (f" (on fresh training crops the plateau's coarse copy scores {stream['loss_coarse copy'].mean():.4f} "
            f"and the floor, the mean of the sources in both slots, {stream['loss_mean of sources'].mean():.4f})")
