"""The tuning experiments run as scripts, their variants as config fields, and append their records.

Each script runs for two steps on the tiny data set: enough to show that a variant reaches the
network it names and that the record is written where ``--out`` says, not what the variant learns.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
STALL = ROOT / "experiments" / "real_speech_stall"
TWO_STEPS = {"steps": 2, "log_every": 1, "warmup_steps": 1}

pytestmark = pytest.mark.slow


def _run(script: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_tuning_run_trains_the_variant_it_names_and_appends_one_record(tiny_data, tmp_path):
    overrides = {**TWO_STEPS, "feature_projection": "per_row", "dynamic_mixing": 1.0}
    for _ in range(2):  # the second call finds the finished run and appends a second record
        _run(ROOT / "experiments" / "cpu_preset_tuning.py", "row_remix", "--overrides", json.dumps(overrides),
             "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--data-root", str(tiny_data),
             "--eval-mixtures", "1")
    records = [json.loads(line) for line in (tmp_path / "out" / "cpu_preset_real_speech.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == ["row_remix", "row_remix"]
    assert {"ibm", "wiener"} <= set(records[0])
    config = json.loads((tmp_path / "runs" / "row_remix" / "config.json").read_text())["preset"]
    assert config["model"]["feature_projection"] == "per_row" and config["train"]["dynamic_mixing"] == 1.0
    weights = torch.load(tmp_path / "runs" / "row_remix" / "checkpoint.pt", weights_only=True)["model"]
    assert weights["transformer.feature_proj.weight"].shape[0] == 32  # one map per frequency row of the 32 × 8 grid


def test_a_stall_variant_records_its_curve_in_runs_jsonl(tiny_data, tmp_path):
    settings = [f"--set={key}={value}" for key, value in TWO_STEPS.items()]
    _run(STALL / "train_variant.py", "cell_axis", *settings, "--set", "model.feature_projection=per_cell",
         "--set", "fourier_axes=separate", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
         "--data-root", str(tiny_data), "--eval-mixtures", "1")
    (record,) = [json.loads(line) for line in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert record["name"] == "cell_axis" and len(record["curve"].split()) == 2  # "step:loss" per logged step
    assert json.loads(record["over"]) == {**TWO_STEPS, "model.feature_projection": "per_cell", "fourier_axes": "separate"}
    config = json.loads((tmp_path / "runs" / "cell_axis" / "config.json").read_text())["preset"]
    assert config["model"]["feature_projection"] == "per_cell" and config["model"]["feature_grid"] == [32, 8]


@pytest.mark.parametrize("script, table", [("information_path.py", "information_path.csv"),
                                           ("decoder_capacity.py", "decoder_capacity.csv")])
def test_a_probe_appends_its_rows_to_its_csv(tiny_data, tmp_path, script, table):
    _run(STALL / script, "probe", "--steps", "2", "--log-every", "1", "--out", str(tmp_path),
         "--data-root", str(tiny_data))
    rows = list(csv.DictReader((tmp_path / table).open()))
    assert rows and all("probe" in row.values() for row in rows)


def test_a_compute_series_variant_trains_for_the_compute_of_the_scaled_preset(tiny_data, tmp_path):
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import compute_series
    finally:
        sys.path.remove(str(ROOT / "experiments"))
    from audioslots.config import get_preset

    wider = {"attn_dim": 32, "mlp_dim": 64, "slot_dim": 32, "feature_projection": "per_cell"}
    base = get_preset("tiny")
    variant = compute_series.variant_preset(base, "wide", wider)
    assert variant.name == "tiny-wide" and variant.model.attn_dim == 32 and base.model.attn_dim == 16
    ratio = compute_series.audioslots_step_flop(base) / compute_series.audioslots_step_flop(variant)
    assert ratio < 1  # a wider network costs more per step, so it gets fewer steps than the preset
    steps = compute_series.scaled_steps(base, variant, 3)
    assert steps == max(1, round(base.train.steps * 3 * ratio))
    assert compute_series.scaled_steps(base, base, 3) == base.train.steps * 3

    run_dir = tmp_path / "run"
    _run(ROOT / "experiments" / "compute_series.py", "--run-dir", str(run_dir), "--preset", "tiny", "--scale", "3",
         "--variant", "wide", "--overrides", json.dumps(wider), "--networks", "audioslots_0.5s",
         "--curve-points", "2", "--data-root", str(tiny_data))
    record = json.loads((run_dir / "provenance.json").read_text())
    assert record["compute_series"]["steps"] == steps and record["compute_series"]["overrides"] == wider
    config = json.loads((run_dir / "audioslots_0.5s" / "config.json").read_text())["preset"]
    assert config["name"] == "tiny-wide" and config["model"]["attn_dim"] == 32 and config["train"]["steps"] == steps
    assert (run_dir / "table1.csv").exists()


def test_compute_series_refuses_overrides_without_a_variant_name():
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "compute_series.py"), "--run-dir", "x",
                           "--scale", "2", "--overrides", '{"attn_dim": 128}'], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "--variant and its settings (--set or --overrides) go together" in done.stderr


def test_an_open_choice_trains_on_a_pool_and_on_the_stream_and_is_summarised(tiny_data, tmp_path):
    out = tmp_path / "out"
    for name, overrides in (("base", {}), ("wide", {"slot_path": "wide"})):
        _run(ROOT / "experiments" / "open_choices.py", name, "--overrides", json.dumps(overrides), "--preset", "tiny",
             "--data-root", str(tiny_data), "--runs", str(tmp_path / "runs"), "--out", str(out), "--pool", "2",
             "--pool-steps", "3", "--eval-mixtures", "1")
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == ["base", "wide"] and records[0]["pool"] == 2
    assert records[0]["plateau_loss"] > records[0]["floor_loss"] and {"stream_ibm", "pool_ibm"} <= set(records[0])
    config = json.loads((tmp_path / "runs" / "wide_s0" / "pool" / "config.json").read_text())["preset"]
    assert config["model"]["slot_path"] == "wide" and config["train"]["crop_pool"] == 2
    _run(ROOT / "experiments" / "open_choices.py", "--summarise", "--out", str(out))
    assert {"choices.csv", "choices.md", "choices.png"} <= {p.name for p in out.iterdir()}
    assert "| `wide` |" in (out / "choices.md").read_text()


def test_the_plateau_study_records_each_pool_and_the_stream(tiny_data, tmp_path):
    out = tmp_path / "out"
    _run(ROOT / "experiments" / "plateau.py", "--pools", "2", "0", "--speakers", "4", "--seeds", "0", "--steps", "3",
         "--preset", "tiny", "--data-root", str(tiny_data), "--fresh", "1", "--runs", str(tmp_path / "runs"), "--out", str(out))
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [(r["pool"], r["speakers"]) for r in records] == [(2, 0), (0, 0), (0, 4)]
    assert records[2]["loss_mean of sources"] > 0  # the tiny mixtures are too short for a held-out crop
    assert {"pool_ibm", "pool_oracle_ibm", "test_wiener", "loss_coarse copy"} <= set(records[0])
    _run(ROOT / "experiments" / "plateau.py", "--summarise", "--out", str(out), "--data-root", str(tiny_data))
    assert {"plateau.csv", "extrapolation.csv", "extrapolation_speakers.csv", "plateau.png"} <= {p.name for p in out.iterdir()}


def test_the_plateau_fit_recovers_a_power_law_and_its_band_holds_the_centre():
    import importlib.util

    import numpy as np
    import pandas as pd

    spec = importlib.util.spec_from_file_location("plateau_study", ROOT / "experiments" / "plateau.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    sizes = pd.Series([8, 8, 64, 64, 512, 512])
    noise = np.array([1.1, 0.9, 1.1, 0.9, 1.1, 0.9])
    fits = study.extrapolate(sizes, 30 * sizes ** 0.5 * noise, {"far": 32768}, "distinct_crops")
    row = fits.iloc[0]
    assert row["exponent"] == pytest.approx(0.5, abs=1e-9)
    assert row["escape_step"] == pytest.approx(30 * 32768 ** 0.5, rel=0.01)
    assert row["low"] < row["escape_step"] < row["high"]
    assert row["fitted_on"] == "8, 64, 512"
    assert study.extrapolate(sizes[:2], sizes[:2] * 10, {"far": 1000}, "speakers").empty


def test_the_plateau_summary_writes_what_identical_slots_score_on_the_test_mixtures(tiny_data, tmp_path):
    from audioslots.config import get_preset
    from audioslots.data.dataset import LibriMix
    from audioslots.evaluation import plateau
    from audioslots.pipeline import data_label, prepare_data

    out = tmp_path / "out"
    out.mkdir()
    (out / "logs").mkdir()
    (out / "runs.jsonl").write_text(json.dumps({"pool": 8, "speakers": 0, "seed": 0, "steps": 20, **{
        f"loss_{name}": 0.05 - 0.01 * i for i, name in enumerate(plateau.TRIVIAL_PREDICTORS)}}) + "\n")
    pd.DataFrame({"step": [10, 20], "loss": [0.06, 0.05]}).to_csv(out / "logs" / "pool8_s0.csv", index=False)
    _run(ROOT / "experiments" / "plateau.py", "--summarise", "--out", str(out), "--data-root", str(tiny_data))
    scores = pd.read_csv(out / "reference_scores.csv")
    assert list(scores.columns) == ["data", "mask", "predictor", "si_snri", "n_mixtures", "commit"]
    _, info = prepare_data(tiny_data, progress=False)
    assert set(scores["data"]) == {data_label(info)} and set(scores["predictor"]) == {plateau.IDENTICAL_SLOTS}
    expected = plateau.identical_slots_si_snri(LibriMix(tiny_data, "test"), get_preset("cpu").features)
    merged = scores.merge(expected, on="mask", suffixes=("", "_expected"))
    assert sorted(merged["mask"]) == ["ibm", "wiener"]
    np.testing.assert_allclose(merged["si_snri"], merged["si_snri_expected"], rtol=1e-3)
    assert (merged["n_mixtures"] == len(LibriMix(tiny_data, "test"))).all()
