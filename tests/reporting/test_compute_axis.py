"""The book's reading of the compute axis (audioslots.reporting.book): runs ordered by compute, the
least compute that beats the mixture, the gap table, and one figure per kind of data."""

import json

import pandas as pd
import pytest

from audioslots.reporting import book

PAPER_TABLE1 = "results/paper_table1.csv"


def _run(results, name, data, audioslots, autoencoder, flop, curve=None):
    """A run folder: final IBM / Wiener-like SI-SNRi of both networks at ``flop`` (the autoencoder at twice it)."""
    run = results / name
    run.mkdir(parents=True)
    rows = [{"label": label, "data": data, "system": label, "chunk_seconds": 0.5, "mask": mask, "si_snri": value,
             "train_flop": train_flop}
            for label, values, train_flop in (("AudioSlots", audioslots, flop), ("Autoencoder", autoencoder, 2 * flop))
            for mask, value in zip(("ibm", "wiener"), values)]
    rows += [{"label": "Oracle", "data": data, "system": "Oracle", "chunk_seconds": 0.5, "mask": "ibm", "si_snri": 12.0,
              "train_flop": 0}]
    pd.DataFrame(rows).to_csv(run / "table1.csv", index=False)
    if curve:
        pd.DataFrame([{"run": "audioslots_0.5s", "system": "AudioSlots", "chunk_seconds": 0.5, "step": step,
                       "train_flop": step * flop / 1000, "mask": "ibm", "si_snri": value, "si_snri_ci": 0.2}
                      for step, value in curve]).to_csv(run / "learning_curve.csv", index=False)
    (run / "provenance.json").write_text(json.dumps({"commit": "c" * 40, "compute_series": {"what": f"{name} made so"}}))
    return run


@pytest.fixture
def results(tmp_path):
    speech = "real speech (LibriSpeech mini)"
    _run(tmp_path, "long", speech, (-1.0, 1.0), (5.0, 6.0), 4e13, curve=[(100, -1.5), (500, 0.5), (1000, -1.0)])
    _run(tmp_path, "short", speech, (-2.0, 0.5), (0.3, 2.0), 5e12)
    _run(tmp_path, "synthetic_short", "synthetic", (1.0, 3.0), (4.0, 5.0), 5e12)
    return tmp_path


def test_runs_are_ordered_by_compute_with_the_synthetic_set_last(results):
    assert [run.name for run in book.runs_by_compute(results)] == ["short", "long", "synthetic_short"]


def test_the_least_compute_above_the_mixture_comes_from_any_scored_network_and_none_is_said_when_none(results):
    points = book.compute_points(results)
    speech = points[points["data"] != "synthetic"]
    text = book._above_mixture(speech, "AudioSlots")
    # the curve's step 500 (+0.50 dB at 2e13 FLOP) is the only AudioSlots point above 0 dB
    assert "`long/audioslots_0.5s` at step 500: +0.50 dB at 20 TFLOP" in text and "4 distinct scored AudioSlots networks" in text
    below = speech[~((speech["run"] == "long/audioslots_0.5s") & (speech["step"] == 500))]
    text = book._above_mixture(below, "AudioSlots")
    assert text.startswith("none of the 3 distinct scored AudioSlots networks") and "`long/audioslots_0.5s` (final), scores -1.00 dB" in text


def test_the_gap_table_has_each_run_by_compute_and_the_papers_row_last(results):
    table = book.gap_table(book.compute_points(results), PAPER_TABLE1, "results/paper_compute.csv")
    assert table["run"].tolist() == ["short", "long", "synthetic_short", "paper (Table 1)"]
    long = table.set_index("run").loc["long"]
    assert long["gap (Wiener-like)"] == "5.00" and long["AudioSlots: IBM / Wiener-like"] == "-1.00 / 1.00"
    assert table["gap (Wiener-like)"].iloc[-1].startswith("0.18 ± 0.01")


def test_speech_and_the_synthetic_set_get_a_figure_each_and_the_findings_a_section_each(results, tmp_path):
    (results / "paper_table1.csv").write_text(open(PAPER_TABLE1).read())
    (results / "paper_compute.csv").write_text(open("results/paper_compute.csv").read())
    speech = book.write_compute_figure(results, tmp_path / "speech.png")
    synthetic = book.write_compute_figure(results, tmp_path / "synthetic.png", synthetic=True)
    assert speech.exists() and synthetic.exists()
    assert "/run/synthetic.png" in book.synthetic_figure_markdown(synthetic)
    assert "No run on the synthetic set" in book.synthetic_figure_markdown(None)
    findings = book.compute_findings_markdown(results, PAPER_TABLE1, "results/paper_compute.csv")
    assert "- **real speech (LibriSpeech mini).**" in findings and "- **synthetic.**" in findings


def test_a_run_summary_names_its_most_compute_and_what_it_was_made_for(results):
    summary = book.run_summaries(book.runs_by_compute(results)).set_index("run")
    assert summary.loc["long", "most training compute"] == "80 TFLOP"
    assert summary.loc["long", "note"] == "long made so"
