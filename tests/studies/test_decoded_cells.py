"""The decoded-cells experiment records one row per run and skips finished runs on a re-run; the
decoder-share benchmark's parts of a training step add up to the step, and its batch extrapolation
and hours projection do what they say."""

import csv
import importlib.util
import json
import math
import shutil
from pathlib import Path

import torch

from audioslots.cli import main as cli_main
from audioslots.config import get_preset, replace
from benchmarks import decoder_share

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "decoded_cells.py"
_spec = importlib.util.spec_from_file_location("decoded_cells", SCRIPT)
decoded_cells = importlib.util.module_from_spec(_spec)  # experiments/ holds scripts, not a package
_spec.loader.exec_module(decoded_cells)


def run_experiment(tiny_data, tmp_path, fractions) -> list[dict]:
    decoded_cells.main([
        "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--preset", "tiny",
        "--data-root", str(tiny_data), "--fractions", *map(str, fractions), "--seeds", "0", "--steps", "2",
        "--log-every", "1", "--eval-mixtures", "2", "--threads", str(torch.get_num_threads()), "--no-plot",
    ])
    with (tmp_path / "out" / "summary.csv").open() as f:
        return list(csv.DictReader(f))


def test_the_summary_has_one_row_per_run_with_its_losses_and_scores(tiny_data, tmp_path):
    rows = run_experiment(tiny_data, tmp_path, [1.0, 0.25])
    assert list(rows[0]) == decoded_cells.SUMMARY_COLUMNS
    assert [(float(r["decoded_cells"]), int(r["seed"]), int(r["steps"])) for r in rows] == [(1.0, 0, 2), (0.25, 0, 2)]
    for row in rows:
        for column in ("final_loss", "test_loss_full_grid", "si_snri_ibm", "si_snri_wiener", "train_seconds"):
            assert math.isfinite(float(row[column])), column
        assert int(row["eval_mixtures"]) == 2 and row["commit"]
    with (tmp_path / "out" / "curves.csv").open() as f:
        curves = list(csv.DictReader(f))
    assert [(float(p["decoded_cells"]), int(p["step"])) for p in curves] == [(1.0, 1), (1.0, 2), (0.25, 1), (0.25, 2)]
    assert (tmp_path / "out" / "comparison.md").read_text().count("mean of 0") == 2


def test_a_rerun_skips_the_runs_already_in_the_summary(tiny_data, tmp_path):
    first = run_experiment(tiny_data, tmp_path, [1.0])
    shutil.rmtree(tmp_path / "runs")  # a run trained again would write its folder again
    rows = run_experiment(tiny_data, tmp_path, [1.0, 0.25])
    assert rows[0] == first[0] and len(rows) == 2
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [rows[1]["run"]]


def test_merging_folders_of_seeds_run_apart_appends_their_runs_once_and_trains_nothing(tiny_data, tmp_path):
    apart = tmp_path / "apart"
    run_experiment(tiny_data, apart, [1.0])
    here = run_experiment(tiny_data, tmp_path, [0.25])
    for _ in range(2):  # merging again appends nothing more
        decoded_cells.main(["--out", str(tmp_path / "out"), "--merge", str(apart / "out"), "--no-plot"])
    with (tmp_path / "out" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (apart / "out" / "summary.csv").open() as f:
        assert rows == here + list(csv.DictReader(f))
    with (tmp_path / "out" / "curves.csv").open() as f:
        assert [float(p["decoded_cells"]) for p in csv.DictReader(f)] == [0.25, 0.25, 1.0, 1.0]
    assert "| 1 |" in (tmp_path / "out" / "comparison.md").read_text().replace("**", "")


def test_the_parts_of_a_training_step_add_up_to_the_step():
    for fraction in (1.0, 0.25):
        counts = decoder_share.step_flops(replace(get_preset("tiny"), decoded_cells=fraction), batch=2)
        assert sum(counts[part] for part in decoder_share.PARTS) == counts["total"]
        assert all(counts[module] > 0 for module in decoder_share.MODULES)
        assert counts["model_other"] == 0  # AudioSlots.forward does no arithmetic outside its three modules
        assert counts["outside_model"] >= 0


def test_decoding_a_fraction_of_the_grid_costs_fewer_decoder_flops_only():
    tiny = get_preset("tiny")
    full = decoder_share.step_flops(tiny, batch=2)
    part = decoder_share.step_flops(replace(tiny, decoded_cells=0.25), batch=2)
    assert part["decoder"] < full["decoder"]
    assert (part["encoder"], part["transformer"]) == (full["encoder"], full["transformer"])


def test_a_step_at_a_larger_batch_lies_on_the_line_through_two_smaller_ones():
    tiny = get_preset("tiny")
    counts = {b: decoder_share.step_flops(tiny, b) for b in (1, 2)}
    predicted, exact = decoder_share.extrapolate(counts, 3)
    assert exact
    assert predicted == decoder_share.step_flops(tiny, 3)


def test_the_projection_keeps_the_measured_full_grid_time_and_scales_the_decoders_share():
    def fraction(value, decoder, total):
        return {"decoded_cells": value, "at_batch": {"decoder": decoder, "total": total},
                "shares": {"decoder": decoder / total}}

    result = {"commit": "0" * 40, "fractions": [fraction(1.0, 60, 100), fraction(0.25, 15, 55)]}
    throughput = {"eager": {"steps_per_second": 4.0, "file": "t.json", "commit": "1" * 40, "device_name": "GPU"}}
    rows = decoder_share.project_hours(result, throughput, steps=3600)
    seconds = [float(r["seconds per step"]) for r in rows]
    assert seconds[0] == 1 / 4.0
    assert math.isclose(seconds[1], 0.25 * (1 - 0.6 + 0.6 * 15 / 60), rel_tol=1e-3)
    assert [float(r["hours for 3,600 steps"]) for r in rows] == [round(s, 2) for s in seconds]


def test_the_train_command_takes_the_decoded_fraction_into_the_runs_config(tiny_data, tmp_path):
    assert cli_main(["train", "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--preset", "tiny",
                     "--steps", "1", "--decoded-cells", "0.25", "--no-progress"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["preset"]["train"]["decoded_cells"] == 0.25
