"""The reference run's diagnostics script (experiments/diagnostics.py) on a tiny trained run."""

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

from audioslots.config import get_preset
from audioslots.training import train

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "diagnostics.py"


@pytest.fixture(scope="module")
def diagnostics():
    spec = importlib.util.spec_from_file_location("diagnostics_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_writes_every_table_for_a_run(diagnostics, tiny_data, tiny_train, tmp_path):
    run = tmp_path / "run"
    for kind in ("audioslots", "autoencoder"):
        train(get_preset("tiny"), tiny_train, run / f"{kind}_0.5s", kind=kind, progress=False)
    out = tmp_path / "out"
    diagnostics.main([str(run), "--data", str(tiny_data), "--mixtures", "2", "--out", str(out)])

    floors = pd.read_csv(out / "loss_floors.csv").set_index(["network", "prediction"])["mse"]
    trained = pd.read_csv(run / "audioslots_0.5s" / "log.csv")["loss"].iloc[-1]
    assert floors["AudioSlots", "the network after training (last logged window)"] == pytest.approx(trained, abs=1e-4)
    # Both slots alike: the per-cell mean of the sources is the best such prediction, a constant is one.
    assert (floors["AudioSlots", "the mean of the two sources in both slots (no separation)"]
            <= floors["AudioSlots", "one constant for every cell"])

    attention = pd.read_csv(out / "attention_time.csv")
    entropy = attention[attention["quantity"].str.startswith("cross-attention entropy")]
    assert len(entropy) == get_preset("tiny").model.transformer_layers
    assert ((entropy["network"] >= 0) & (entropy["network"] <= entropy["reference"] + 1e-6)).all()
    assert entropy["reference"].iloc[0] == pytest.approx(math.log(32 * 8), abs=1e-4)  # the 0.5 s grid's cells
    for name in ("train_vs_test.csv", "slot_similarity.csv", "slot_similarity_summary.csv"):
        assert not pd.read_csv(out / name).empty
