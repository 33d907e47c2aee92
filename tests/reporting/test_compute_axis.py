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


def _with_reference_scores(results, scores):
    (results / "paper_table1.csv").write_text(open(PAPER_TABLE1).read())
    (results / "paper_compute.csv").write_text(open("results/paper_compute.csv").read())
    (results / "plateau").mkdir()
    pd.DataFrame([{"data": "real speech (LibriSpeech mini)", "mask": mask, "predictor": "identical slots",
                   "si_snri": value, "n_mixtures": 100, "commit": "c" * 40}
                  for mask, value in scores.items()]).to_csv(results / "plateau" / "reference_scores.csv", index=False)


def _figures_drawn(monkeypatch, name):
    """The figures ``plots.<name>`` returns while the test runs, in order."""
    drawn, draw = [], getattr(book.plots, name)
    monkeypatch.setattr(book.plots, name, lambda *args, **kwargs: drawn.append(draw(*args, **kwargs)) or drawn[-1])
    return drawn


def _reference_gids(*axes) -> set[str]:
    return {str(a.get_gid()) for ax in axes for a in [*ax.lines, *ax.texts] if str(a.get_gid()).startswith("reference")}


def test_the_speech_compute_figure_draws_the_reference_scores_of_its_data_and_the_synthetic_one_none(
        results, tmp_path, monkeypatch):
    _with_reference_scores(results, {"ibm": -40.0, "wiener": -0.5})
    drawn = _figures_drawn(monkeypatch, "compute_figure")
    book.write_compute_figure(results, tmp_path / "speech.png")
    book.write_compute_figure(results, tmp_path / "synthetic.png", synthetic=True)
    speech, synthetic = drawn
    ibm, wiener = speech.axes
    (line,) = [line for line in wiener.lines if line.get_gid() == "reference:identical slots"]
    assert set(line.get_ydata()) == {-0.5}
    assert [t for t in ibm.texts if t.get_gid() == "reference-below:identical slots"]
    assert not _reference_gids(*synthetic.axes)


def test_the_headline_figure_draws_the_reference_score_of_its_mask_on_the_speech_panel(results, tmp_path, monkeypatch):
    _with_reference_scores(results, {"ibm": -0.5, "wiener": -40.0})
    drawn = _figures_drawn(monkeypatch, "headline_figure")
    book.write_headline_figure(results, tmp_path / "headline.png")
    (figure,) = drawn
    speech, synthetic = figure.axes
    (line,) = [line for line in speech.lines if line.get_gid() == "reference:identical slots"]
    assert set(line.get_ydata()) == {-0.5}
    assert not _reference_gids(synthetic)


def test_the_compute_figures_draw_no_reference_without_the_plateau_studys_scores(results, tmp_path, monkeypatch):
    (results / "paper_table1.csv").write_text(open(PAPER_TABLE1).read())
    (results / "paper_compute.csv").write_text(open("results/paper_compute.csv").read())
    drawn = _figures_drawn(monkeypatch, "compute_figure")
    book.write_compute_figure(results, tmp_path / "speech.png")
    assert not _reference_gids(*drawn[0].axes)


def test_a_run_summary_names_its_most_compute_and_what_it_was_made_for(results):
    summary = book.run_summaries(book.runs_by_compute(results)).set_index("run")
    assert summary.loc["long", "most training compute"] == "80 TFLOP"
    assert summary.loc["long", "note"] == "long made so"
