"""Evaluation: the oracle row on the synthetic set and the Table-1 summary format."""

import pandas as pd
import torch

from audioslots.config import FeatureConfig
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import METRIC_COLUMNS, TABLE1_COLUMNS, evaluate, table1


def test_oracle_scores_every_mixture_with_both_masks_and_improves_on_the_mixture(tiny_data):
    dataset = LibriMix(tiny_data, "test")
    metrics = evaluate("Oracle", dataset, FeatureConfig(), progress=False)
    assert list(metrics.columns) == METRIC_COLUMNS
    assert len(metrics) == 2 * len(dataset)
    assert set(metrics["mask"]) == {"ibm", "wiener"}
    assert (metrics["si_snri"] > 5).all()


def test_table1_has_the_promised_columns_and_means_over_mixtures():
    metrics = pd.DataFrame({
        "mixture_id": ["a", "b", "a", "b"], "system": ["Oracle"] * 4, "order": ["given"] * 4,
        "chunk_seconds": [0.5] * 4, "framing": "pad-end", "chunk_overlap": 0.0, "mask": ["ibm", "ibm", "wiener", "wiener"],
        "si_snr": [10.0, 12.0, 8.0, 9.0], "si_snri": [1.0, 3.0, 0.0, 1.0], "n_src": [2] * 4,
    })
    summary = table1(metrics)
    assert list(summary.columns) == TABLE1_COLUMNS
    ibm = summary[summary["mask"] == "ibm"].iloc[0]
    assert (ibm["si_snr"], ibm["si_snri"], ibm["n_mixtures"]) == (11.0, 2.0, 2)


class _SameInEverySlot(torch.nn.Module):
    """A 'network' that predicts the mixture's own spectrogram in both slots."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, spectrogram):
        return spectrogram[:, None].expand(-1, 2, -1, -1)


def test_identical_slots_leave_one_estimate_silent_under_the_ibm_and_it_is_counted(tiny_data):
    dataset = LibriMix(tiny_data, "test")
    metrics = evaluate("AudioSlots", dataset, FeatureConfig(), model=_SameInEverySlot(), progress=False)
    ibm, wiener = metrics[metrics["mask"] == "ibm"], metrics[metrics["mask"] == "wiener"]
    assert (ibm["n_silent"] == 1).all() and (wiener["n_silent"] == 0).all()
    assert (ibm["si_snri"] < -30).all()  # the silent estimate's -80 dB, not the 0 dB that 0 / 0 gave
    assert table1(metrics).set_index("mask").loc["ibm", "n_silent"] == len(dataset)


def test_the_oracle_leaves_no_estimate_silent(tiny_data):
    metrics = evaluate("Oracle", LibriMix(tiny_data, "test"), FeatureConfig(), progress=False)
    assert (metrics["n_silent"] == 0).all()


def test_table1_of_metrics_scored_before_silent_estimates_were_counted_says_unknown():
    metrics = pd.DataFrame({"mixture_id": ["a"], "system": ["Oracle"], "order": ["given"], "chunk_seconds": [0.5],
                            "framing": ["pad-end"], "chunk_overlap": [0.0], "mask": ["ibm"], "si_snr": [1.0],
                            "si_snri": [1.0], "n_src": [2]})
    assert pd.isna(table1(metrics).loc[0, "n_silent"])


def test_committed_metrics_without_a_silent_count_still_make_table1():
    """Runs scored before silent estimates were counted (no ``n_silent`` column) keep their Table 1, count unknown."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "results"
    old = [f for f in results.glob("*/metrics/*.csv") if "n_silent" not in pd.read_csv(f, nrows=0).columns]
    assert old, "every committed metrics file counts silent estimates: the n_silent fill-in in scores._keys can go"
    assert table1(pd.read_csv(old[0]))["n_silent"].isna().all()
