"""The generated sentences of the book (audioslots.reporting.book): each one is checked on a small frame
built here, with its exact words, so that a number that moves without its sentence fails."""

import json

import numpy as np
import pandas as pd
import pytest

from audioslots.reporting import book, staging
from audioslots.reporting.claims import CHUNK_LENGTH_CLAIM
from audioslots.reporting.inspection import PAPER_TRAINING_DATA

SPEECH = "real speech (LibriSpeech mini)"
PAPER_COMPUTE = "results/paper_compute.csv"  # AudioSlots 4.2 EFLOP, Autoencoder 6.4 EFLOP


def point(row, run, flop, value, step=np.nan, final=False, mask="ibm", data=SPEECH):
    return {"row": row, "mask": mask, "train_flop": flop, "si_snri": value, "si_snri_ci": np.nan if final else 0.2,
            "run": run, "step": step, "final": final, "data": data}


@pytest.fixture
def series():
    """Two runs of a compute series that share their first 100 steps, each with its final network."""
    return pd.DataFrame([
        point("AudioSlots", "x1/audioslots_0.5s", 1e12, -1.5, step=100),
        point("AudioSlots", "x4/audioslots_0.5s", 1e12, -1.5, step=100),  # the same network as x1's step 100
        point("AudioSlots", "x1/audioslots_0.5s", 4e12, -1.2, step=400),
        point("AudioSlots", "x1/audioslots_0.5s", 4e12, -1.2, final=True),  # x1's final = its step 400
        point("AudioSlots", "x4/audioslots_0.5s", 4e12, -1.3, step=400),  # same step, another schedule: distinct
        point("AudioSlots", "x4/audioslots_0.5s", 1.6e13, -0.8, step=1600),
        point("AudioSlots", "x4/audioslots_0.5s", 1.6e13, -0.8, final=True),
        point("AudioSlots", "big/audioslots_0.5s", 1.6e16, -1.0, final=True),
        point("AudioSlots", "big/audioslots_0.5s", 1.6e16, 1.3, final=True, mask="wiener"),
        point("AudioSlots", "x4/audioslots_0.5s", 1.6e13, 1.4, final=True, mask="wiener"),
        point("Autoencoder", "x4/autoencoder_0.5s", 4e12, 0.25, step=400),
        point("Autoencoder", "x4/autoencoder_0.5s", 2e13, 6.5, final=True),
        point("Autoencoder", "big/autoencoder_0.5s", 2.5e16, 4.2, final=True),
    ])


def test_distinct_networks_drop_the_final_networks_checkpoint_and_shared_first_steps(series):
    distinct = book.distinct_networks(series)
    slots = distinct[(distinct["row"] == "AudioSlots") & (distinct["mask"] == "ibm")]
    assert len(slots) == 5  # x1@100 (= x4@100), x1 final (= x1@400), x4@400, x4 final (= x4@1600), big final
    assert sorted(slots.loc[~slots["final"], "run"] + "@" + slots.loc[~slots["final"], "step"].astype(int).astype(str)) \
        == ["x1/audioslots_0.5s@100", "x4/audioslots_0.5s@400"]


def test_the_count_of_networks_is_of_distinct_ones(series):
    assert book._above_mixture(series, "AudioSlots") == (
        "none of the 5 distinct scored AudioSlots networks (final networks and kept checkpoints, 1 TFLOP to 16 PFLOP) "
        "beats the mixture with the IBM; the best, `x4/audioslots_0.5s` (final), scores -0.80 dB")


def test_the_network_with_the_most_compute_is_called_so_and_the_most_steps_is_a_separate_fact(series, tmp_path):
    for folder, steps in (("x1", 400), ("x4", 1600), ("big", 1150)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "provenance.json").write_text(json.dumps({"train:audioslots_0.5s": {"steps": steps}}))
    text = book.most_compute_sentence(series, 4.2e18, tmp_path)
    assert text == (" The AudioSlots network trained with the most compute here, `big/audioslots_0.5s`, used 16 PFLOP "
                    "(1/260 of the paper's compute as our `paper` preset counts it) and scores -1.00 / 1.30 dB "
                    "(IBM / Wiener-like). It took 1,150 steps; the one trained for the most steps, "
                    "`x4/audioslots_0.5s`, took 1,600, each of less compute.")
    assert "longest" not in text


def status(verdicts: dict) -> pd.DataFrame:
    """A claims() frame of the Oracle claims with the given verdicts per (claim, mask)."""
    values = {"Oracle row as in the paper": ("12.26 ± 0.69 dB", "12.x dB"),
              "Oracle (1 s) row as in the paper": ("13.06 ± 0.75 dB", "13.x dB"),
              CHUNK_LENGTH_CLAIM: ("+0.79 ± 0.21 dB", "13.x − 12.x: +0 to +2 dB")}
    return pd.DataFrame([{"claim of the paper": claim, "mask": mask, "this run": values[claim][0],
                          "paper": values[claim][1], "verdict": verdict}
                         for (claim, mask), verdict in verdicts.items()])


def test_the_oracle_sentence_says_reproduced_only_where_the_verdicts_say_yes():
    mixed = {(claim, mask): ("yes" if claim == CHUNK_LENGTH_CLAIM else "undecided")
             for claim in book.ORACLE_CLAIMS for mask in ("IBM", "Wiener-like")}
    assert book.oracle_sentence(status(mixed)) == (
        "**Reproduced in part, the rest undecided: the Oracle** (no network). 1 s chunks raise it by +0.79 ± 0.21 dB "
        "(IBM), consistent with the paper; its 12.26 ± 0.69 and 13.06 ± 0.75 dB (0.5 s and 1 s, IBM; the paper: 12.x "
        "and 13.x) are undecided (each 95 % interval straddles a bound).")
    every = {key: "yes" for key in mixed}
    assert book.oracle_sentence(status(every)).startswith("**Reproduced: the Oracle**")
    split = {**every, ("Oracle row as in the paper", "IBM"): "undecided"}
    assert "(IBM) against the paper's 12.x dB: consistent with the paper with the Wiener-like, undecided" \
        not in book.oracle_sentence(status(split))  # words per mask follow the frame's order
    assert "undecided" in book.oracle_sentence(status(split)) and "consistent with the paper" in book.oracle_sentence(status(split))
    assert "are consistent with the paper" in book.oracle_sentence(status(every))
    assert book.oracle_sentence(status({key: "undecided" for key in mixed})).startswith("**Undecided: the Oracle**")


@pytest.mark.parametrize("verdicts, lead", [
    (["yes", "yes"], "Reproduced"), (["no", "no"], "Not reproduced"), (["undecided"], "Undecided"),
    (["yes", "no"], "Reproduced in part"), (["yes", "undecided"], "Reproduced in part, the rest undecided"),
    (["no", "undecided"], "Not reproduced"),
])
def test_the_lead_word_comes_from_the_verdicts(verdicts, lead):
    assert book.verdict_lead(verdicts) == lead


def test_the_networks_sentence_says_audioslots_never_beats_the_mixture_and_the_autoencoder_does(series):
    rows = pd.DataFrame([{"claim of the paper": f"{row} row as in the paper", "mask": "IBM", "verdict": "no"}
                         for row in ("AudioSlots", "Autoencoder")])
    paper = pd.Series({"AudioSlots": "9.x", "Autoencoder": "10.x"})
    assert book.networks_sentence(series, rows, paper) == (
        "**Not reproduced: the trained networks.** On real speech, AudioSlots never beats the mixture with the IBM up "
        "to 16 PFLOP, the most tried (best of its 5 distinct networks: -0.80 dB, by `x4` at 16 TFLOP; the paper: "
        "9.x); its "
        "autoencoder first beats the mixture at 4 TFLOP (+0.25 dB) and reaches 6.50 dB (the paper: 10.x).")
    early = series.assign(si_snri=series["si_snri"].where(series["step"] != 400, -0.1))  # a kept checkpoint's best
    assert "(best of its 5 distinct networks: -0.10 dB, by `x4` step 400 at 4 TFLOP;" in book.networks_sentence(early, rows, paper)
    better = series.assign(si_snri=series["si_snri"] + 1.0)
    assert "AudioSlots first beats the mixture at 1 TFLOP (-0.50 dB)" not in book.networks_sentence(better, rows, paper)
    assert "AudioSlots first beats the mixture at 16 TFLOP (+0.20 dB)" in book.networks_sentence(better, rows, paper)


def test_the_compute_gap_is_the_papers_training_over_the_most_tried_network_by_network(series):
    assert book.compute_gap_sentence(series, PAPER_COMPUTE) == (
        "**How far in compute:** the most tried (`big`) is about 1/260 of the paper's training for both "
        "AudioSlots (16 PFLOP against 4.2 EFLOP) and its autoencoder (25 PFLOP against 6.4 EFLOP), as our `paper` "
        "preset counts it.")
    less = series[~series["run"].str.startswith("big/autoencoder")]
    assert book.compute_gap_sentence(less, PAPER_COMPUTE) == (
        "**How far in compute:** the most tried (`big` and `x4`) is about 1/260 of the paper's training for "
        "AudioSlots (16 PFLOP against 4.2 EFLOP) and 1/320,000 for its autoencoder (20 TFLOP against 6.4 EFLOP), as "
        "our `paper` preset counts it.")


def test_the_papers_training_data_quotes_364_h_as_the_papers_and_212_h_for_min_mode():
    assert "364 h by the paper's own figure" in PAPER_TRAINING_DATA
    assert "min mode" in PAPER_TRAINING_DATA and "about 212 h by LibriMix's own table" in PAPER_TRAINING_DATA
    assert "364 h of mixtures" not in PAPER_TRAINING_DATA


def test_counts_of_our_paper_preset_are_never_called_the_papers():
    text = book.outcome_markdown("results/cpu", "results/paper_table1.csv", PAPER_COMPUTE)
    assert "our `paper` preset's 45.3 M" in text and "the paper's 45.3 M" not in text
    assert "our `paper` preset's 4.2 EFLOP" in text and "the paper's 4.2 EFLOP" not in text


def test_the_status_has_one_row_per_likely_reason_listing_its_claims():
    table = pd.DataFrame([
        {"claim of the paper": "A", "mask": "IBM", "paper": "9.x dB", "this run": "1.00 ± 0.10 dB", "verdict": "no",
         "likely reason": "too little training", "why": "why-gap"},
        {"claim of the paper": "B", "mask": "IBM", "paper": "10.x dB", "this run": "2.00 ± 0.10 dB", "verdict": "no",
         "likely reason": "too little training", "why": "why-gap"},
        {"claim of the paper": "C", "mask": "IBM", "paper": "12.x dB", "this run": "12.00 ± 0.50 dB",
         "verdict": "undecided", "likely reason": "straddles", "why": "why-undecided"},
        {"claim of the paper": "D", "mask": "IBM", "paper": "+0 to +2 dB", "this run": "+0.80 ± 0.20 dB",
         "verdict": "yes", "likely reason": "", "why": ""},
    ])
    grouped = book.status_by_reason(table)
    assert grouped["likely reason"].tolist() == [book.HOLDS, "{ref}`too little training <why-gap>`",
                                                 "{ref}`straddles <why-undecided>`"]
    assert grouped["verdict"].tolist() == ["**yes**", "**no**", "undecided"]
    assert grouped.iloc[1, 1] == "A (IBM: 1.00 ± 0.10 dB; paper 9.x dB); B (IBM: 2.00 ± 0.10 dB; paper 10.x dB)"


def test_generated_tables_show_no_pandas_index_and_no_padded_zeros():
    styler = ('<table id="T_1"><thead><tr><th class="blank level0" >&nbsp;</th><th class="col_heading level0 col0" >'
              'chunk (s)</th></tr></thead><tbody><tr><th id="T_1_level0_row0" class="row_heading level0 row0" >0</th>'
              '<td class="data row0 col0" >0.500000</td></tr><tr><th class="row_heading level0 row1" >1</th>'
              '<td class="data row1 col0" >1.000000</td></tr></tbody></table>')
    tidy = staging.tidy_table_html(styler)
    assert "<th" not in tidy.partition("<tbody>")[2] and "blank" not in tidy and "chunk (s)" in tidy
    assert ">0.5</td>" in tidy and ">1.0</td>" in tidy and "0.500000" not in tidy
    frame = pd.DataFrame({"loss": [0.036869, 0.25]}, index=[0, 1]).to_html()
    assert ">0.036869</td>" in staging.tidy_table_html(frame) and ">0.25</td>" in staging.tidy_table_html(frame)
    filtered = pd.DataFrame({"row": ["Oracle", "Oracle (1 s)"]}, index=[0, 12]).to_html()
    assert "<th>12</th>" not in staging.tidy_table_html(filtered) and "<th>row</th>" in staging.tidy_table_html(filtered)
    steps = pd.DataFrame({"loss": [0.5]}, index=pd.Index([100], name="step")).to_html()
    assert "<th>100</th>" in staging.tidy_table_html(steps)  # a named index is data
    named = pd.DataFrame({"v": [1.5]}, index=["Oracle"]).to_html()
    assert "<th>Oracle</th>" in staging.tidy_table_html(named)  # a meaningful index stays
    markdown = book.markdown_table(pd.DataFrame({"a": [1]}, index=[7]))
    assert markdown == "| a |\n| --- |\n| 1 |\n"


def test_a_single_thread_is_one_thread(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "provenance.json").write_text(json.dumps({"commit": "c" * 40, "train:audioslots_0.5s": {
        "device": "CPU (x86_64, 1 threads)", "steps": 10, "preset": {"name": "cpu"}}}))
    assert book.run_summaries([run]).loc[0, "device"] == "CPU (x86_64, 1 thread)"


def test_gpu_costs_are_measured_for_the_timed_network_and_projected_by_flops_for_the_others(tmp_path):
    import json

    from audioslots.reporting.book import gpu_hours_markdown

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "train_throughput_paper_x.json").write_text(json.dumps(
        {"device": "cuda", "device_name": "GPU-Z", "compile": False, "steps_per_second": 2.0, "commit": "f" * 40,
         "peak_memory_bytes": 3 * 2**30}))
    compute = tmp_path / "paper_compute.csv"
    compute.write_text("paper_row,flop_per_step,steps\nAudioSlots,1e12,7200\nAutoencoder,3e12,7200\n")
    text = gpu_hours_markdown(bench, compute)
    # 7 200 steps at 2 steps/s: 1 h measured; three times the FLOPs: 3 h, projected
    assert "| AudioSlots | 1.0 | 7,200 | 1.0 | 3.0 GiB eager (measured) |" in text
    assert "| Autoencoder | 3.0 | 7,200 | 3.0 (projected) | not measured |" in text
    assert "Together: 4 GPU-hours eager" in text


def test_a_notebook_table_name_may_break_after_its_underscores_and_nothing_else_changes():
    import pandas as pd

    from audioslots.reporting import staging

    html = pd.DataFrame({"paper_low_db": [12.0], "note": ["a_b"]}).to_html()
    tidy = staging.tidy_table_html(html)
    assert "<th>paper_<wbr>low_<wbr>db</th>" in tidy and ">a_<wbr>b</td>" in tidy
    assert ">12.0</td>" in tidy and "wbr" not in staging.tidy_table_html(html.replace("_", " "))


def test_seed_spread_lists_each_seeds_mean_of_the_trained_rows_beside_the_test_set_interval(tmp_path):
    import json

    import pandas as pd

    from audioslots.reporting.tables import seed_runs, seed_spread

    def run(name, seed, audioslots):
        folder = tmp_path / name
        folder.mkdir()
        pd.DataFrame([{"label": "AudioSlots", "mask": "ibm", "si_snri": audioslots, "train_flop": 5},
                      {"label": "Oracle", "mask": "ibm", "si_snri": 12.0, "train_flop": 0}]).to_csv(folder / "table1.csv")
        (folder / "provenance.json").write_text(json.dumps({"train:a": {"preset": {"train": {"seed": seed}}}}))
        return folder

    shown = run("cpu", 0, -1.5)
    run("cpu_seed1", 1, -2.25)
    run("cpu_seed2", 2, -1.0)
    run("cpu_x4", 0, 3.0)  # another run, not a seed of this one
    metrics = pd.DataFrame({"label": "AudioSlots", "mask": "ibm", "si_snr": [-1.0, -2.0], "si_snri": [-1.0, -2.0],
                            "mixture_id": ["1-1-1_2-2-2", "3-3-3_4-4-4"]})
    assert [p.name for p in seed_runs(shown)] == ["cpu", "cpu_seed1", "cpu_seed2"]
    spread = seed_spread(shown, metrics)
    assert spread[["system", "seed 0", "seed 1", "seed 2", "spread over seeds"]].values.tolist() == [
        ["AudioSlots", "-1.50", "-2.25", "-1.00", "1.25"]]  # the Oracle trains nothing: not a row
    assert spread["this run ± 95 % (test set)"].iloc[0].startswith("-1.50 ± ")
    assert seed_spread(tmp_path / "cpu_x4", metrics).empty


def test_a_run_still_training_says_where_it_stands_and_the_sentence_goes_once_it_finishes(tmp_path):
    run = tmp_path / "long"
    (run / "audioslots_0.5s").mkdir(parents=True)
    (run / "provenance.json").write_text(json.dumps({"compute_series": {"steps": 4000, "scale": 4}}))
    (run / "audioslots_0.5s" / "flops.json").write_text(json.dumps({"flop_per_step": 5e9}))
    pd.DataFrame({"step": [100, 1500], "loss": [0.05, 0.0312]}).to_csv(run / "audioslots_0.5s" / "log.csv", index=False)
    pd.DataFrame({"run": "audioslots_0.5s", "step": [100, 100, 1000, 1000], "mask": ["ibm", "wiener"] * 2,
                  "si_snri": [-1.8, 0.9, -1.2, 0.7]}).to_csv(run / "learning_curve.csv", index=False)
    text = book.runs_in_progress_markdown(tmp_path)
    assert ("- `long/audioslots_0.5s` is still training: 1,500 of its 4,000 steps (7.5 TFLOP of 20 TFLOP), "
            "training loss 0.0312 in its last logged window.") in text
    assert ("(steps 100 to 1,000) reach at best -1.20 dB with the IBM (step 1,000) and +0.90 dB with the "
            "Wiener-like mask (step 100): none beats the mixture with the IBM.") in text
    (tmp_path / "plateau").mkdir()
    pd.DataFrame([{"pool": 0, "speakers": 0, "loss_coarse copy": 0.0375, "loss_mean of sources": 0.0224},
                  {"pool": 8, "speakers": 0, "loss_coarse copy": 0.05, "loss_mean of sources": 0.03}]
                 ).to_csv(tmp_path / "plateau" / "plateau.csv", index=False)
    config = run / "audioslots_0.5s" / "config.json"
    for root, said in (("/a/checkout/data/synthetic/Libri2Mix", False), ("/a/checkout/data/real/Libri2Mix", True)):
        # the plateau study's levels are of the embedded real speech: said only of a run on it
        config.write_text(json.dumps({"data": {"root": root}}))
        levels = ("window (on fresh training crops the plateau's coarse copy scores 0.0375 and the floor, the mean "
                  "of the sources in both slots, 0.0224).")
        assert (levels in book.runs_in_progress_markdown(tmp_path)) is said
    (run / "autoencoder_0.5s").mkdir()  # given each source, the autoencoder has other trivial levels: none said
    (run / "autoencoder_0.5s" / "flops.json").write_text(json.dumps({"flop_per_step": 6e9}))
    pd.DataFrame({"step": [500], "loss": [0.01]}).to_csv(run / "autoencoder_0.5s" / "log.csv", index=False)
    (run / "autoencoder_0.5s" / "config.json").write_text(config.read_text())
    assert ("- `long/autoencoder_0.5s` is still training: 500 of its 4,000 steps (3 TFLOP of 24 TFLOP), training "
            "loss 0.0100 in its last logged window.\n") in book.runs_in_progress_markdown(tmp_path) + "\n"
    (run / "autoencoder_0.5s" / "log.csv").unlink()
    pd.DataFrame({"run": "audioslots_0.5s", "step": [2000, 2000], "mask": ["ibm", "wiener"], "si_snri": [0.4, 2.0]}
                 ).to_csv(run / "learning_curve.csv", mode="a", header=False, index=False)
    assert "reach at best +0.40 dB with the IBM (step 2,000)" in book.runs_in_progress_markdown(tmp_path)
    assert "the best beats the mixture with the IBM." in book.runs_in_progress_markdown(tmp_path)
    pd.DataFrame({"step": [100, 4000], "loss": [0.05, 0.02]}).to_csv(run / "audioslots_0.5s" / "log.csv", index=False)
    assert book.runs_in_progress_markdown(tmp_path) == ""
