"""The time-boxed GPU run (``scripts/time_boxed_run.py``), dry-run on the CPU with the tiny preset: a set
number of steps, each network scored as soon as it is trained, its kept checkpoints scored into a
learning curve, and the provenance saying how it was run."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "time_boxed_run.py"
_spec = importlib.util.spec_from_file_location("time_boxed_run", SCRIPT)
time_boxed_run = importlib.util.module_from_spec(_spec)  # scripts/ holds scripts, not a package
_spec.loader.exec_module(time_boxed_run)


def test_a_set_number_of_steps_gives_table1_a_learning_curve_and_its_provenance(tiny_data, tmp_path):
    run = tmp_path / "run"
    assert time_boxed_run.main(["--run-dir", str(run), "--preset", "tiny", "--device", "cpu", "--steps", "6",
                                "--curve-points", "3", "--runs", "audioslots_0.5s",
                                "--data-root", str(tiny_data)]) == 0
    table = pd.read_csv(run / "table1.csv")
    assert {"AudioSlots", "Oracle"} <= set(table["system"])
    assert (table.loc[table["system"] == "AudioSlots", "train_flop"] > 0).all()
    curve = pd.read_csv(run / "learning_curve.csv")
    assert set(curve["run"]) == {"audioslots_0.5s"}
    steps = sorted(set(curve["step"]))
    assert len(steps) == 3 and steps[-1] == 6
    assert sorted(curve.groupby("step")["mask"].apply(frozenset).unique()) == [frozenset({"ibm", "wiener"})]
    assert (curve["train_flop"] == curve["step"] * curve["flop_per_step"]).all()
    final = curve[curve["step"] == 6].set_index("mask")["si_snri"]
    plain = table[table["label"] == "AudioSlots"].set_index("mask")["si_snri"]
    assert final.to_dict() == pytest.approx(plain.to_dict(), abs=1e-3)  # the final checkpoint, scored twice
    record = json.loads((run / "provenance.json").read_text())
    assert record["time_boxed"]["steps"] == 6 and record["time_boxed"]["seconds_asked"] is None
    assert record["time_boxed"]["compile"] is False and record["train:audioslots_0.5s"]["compile"] is False


def test_without_steps_or_a_throughput_it_says_what_to_give(tmp_path):
    with pytest.raises(SystemExit, match="give --steps"):
        time_boxed_run.main(["--run-dir", str(tmp_path / "run"), "--preset", "tiny"])
