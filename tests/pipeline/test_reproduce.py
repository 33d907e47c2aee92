"""The reproduction's steps (audioslots.pipeline): training several runs side by side."""

import json

import torch

from audioslots.config import get_preset, replace
from audioslots.pipeline import train_runs

TINY = replace(get_preset("tiny"), steps=4)


def test_runs_trained_in_worker_processes_end_like_runs_trained_here_and_are_recorded(tiny_data, tmp_path, monkeypatch):
    names = ["audioslots_0.5s", "autoencoder_0.5s"]
    monkeypatch.setattr("os.cpu_count", lambda: 2)  # two workers of one thread each
    apart = train_runs(names, TINY, tiny_data, tmp_path / "apart", device="cpu", progress=False, jobs=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = train_runs(names, TINY, tiny_data, tmp_path / "here", device="cpu", progress=False, jobs=1)
    finally:
        torch.set_num_threads(threads)
    assert list(apart) == names
    assert [r.step for r in apart.values()] == [4, 4]
    assert [r.final_loss for r in apart.values()] == [r.final_loss for r in here.values()]
    recorded = json.loads((tmp_path / "apart" / "provenance.json").read_text())
    assert {recorded[f"train:{n}"]["steps"] for n in names} == {4}
    assert all("1 threads" in recorded[f"train:{n}"]["device"] for n in names)


def test_a_failing_run_in_a_worker_raises_its_error_here(tiny_data, tmp_path):
    import pytest

    from audioslots.errors import ConfigError

    with pytest.raises(ConfigError, match="autocast"):
        train_runs(["audioslots_0.5s", "audioslots_1s"], replace(TINY, autocast="fp8"), tiny_data, tmp_path / "run",
                   device="cpu", progress=False, jobs=2)


# --- Training compute on record -------------------------------------------------------------------


def test_training_records_the_flops_of_a_step_and_of_the_whole_training(tiny_data, tmp_path):
    train_runs(["autoencoder_0.5s"], TINY, tiny_data, tmp_path, device="cpu", progress=False, jobs=1)
    section = json.loads((tmp_path / "provenance.json").read_text())["train:autoencoder_0.5s"]
    counted = json.loads((tmp_path / "autoencoder_0.5s" / "flops.json").read_text())["flop_per_step"]
    assert section["flop_per_step"] == counted > 0
    assert section["train_flop"] == counted * section["steps"] == counted * TINY.train.steps


def _metrics_run(run_dir, provenance: dict):
    """A run folder with per-mixture metrics of the oracle, AudioSlots (both orders) and the autoencoder."""
    import pandas as pd

    from audioslots.evaluation.scores import METRIC_COLUMNS

    rows = [{"mixture_id": f"m{j}", "system": system, "order": order, "chunk_seconds": 0.5, "framing": "pad-end",
             "chunk_overlap": 0.0, "mask": mask, "si_snr": 1.0 + j, "si_snri": 2.0 + j, "n_src": 2}
            for system, order in (("Oracle", "given"), ("AudioSlots", "oracle"), ("AudioSlots", "continuity"),
                                  ("Autoencoder", "given"))
            for mask in ("ibm", "wiener") for j in range(3)]
    (run_dir / "metrics").mkdir(parents=True)
    pd.DataFrame(rows, columns=METRIC_COLUMNS).to_csv(run_dir / "metrics" / "all.csv", index=False)
    (run_dir / "provenance.json").write_text(json.dumps(provenance))


def test_table1_gives_each_row_the_training_flops_of_its_network_and_the_oracle_none(tmp_path):
    import pandas as pd

    from audioslots.pipeline import write_table1

    _metrics_run(tmp_path, {"train:audioslots_0.5s": {"train_flop": 7 * 10**15},
                            "train:autoencoder_0.5s": {"train_flop": 3 * 10**15}})
    write_table1(tmp_path)
    table = pd.read_csv(tmp_path / "table1.csv")
    flop = dict(zip(table["system"], table["train_flop"]))
    assert flop == {"Oracle": 0, "AudioSlots": 7 * 10**15, "AudioSlots (no oracle order)": 7 * 10**15,
                    "Autoencoder": 3 * 10**15}
    assert "7000000000000000" in (tmp_path / "table1.csv").read_text()  # an integer, not a float


def test_table1_leaves_the_training_flops_empty_where_the_provenance_lacks_them(tmp_path):
    import pandas as pd

    from audioslots.pipeline import write_table1

    _metrics_run(tmp_path, {"train:audioslots_0.5s": {"steps": 10}})
    write_table1(tmp_path)
    table = pd.read_csv(tmp_path / "table1.csv").set_index("system")
    assert table.loc["Oracle", "train_flop"].tolist() == [0, 0]
    assert table.loc["AudioSlots", "train_flop"].isna().all() and table.loc["Autoencoder", "train_flop"].isna().all()


def test_flops_derived_afterwards_equal_those_training_counted_and_say_so(tiny_data, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from audioslots import provenance

    names = ["audioslots_0.5s", "autoencoder_0.5s"]
    train_runs(names, TINY, tiny_data, tmp_path, device="cpu", progress=False, jobs=1)
    counted = {n: provenance.load(tmp_path)[f"train:{n}"]["flop_per_step"] for n in names}
    record = provenance.load(tmp_path)
    for name in names:  # as a run from before training counted its steps
        del record[f"train:{name}"]["flop_per_step"], record[f"train:{name}"]["train_flop"]
    (tmp_path / "provenance.json").write_text(json.dumps(record))
    _metrics_run(tmp_path / "scored", {})
    (tmp_path / "metrics").symlink_to(tmp_path / "scored" / "metrics")

    script = Path(__file__).resolve().parents[2] / "scripts" / "add_train_flop.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    derived = provenance.load(tmp_path)
    assert derived["commit"] == record["commit"] and derived["updated"] == record["updated"]  # the run's own
    for name in names:
        section = derived[f"train:{name}"]
        assert section["flop_per_step"] == counted[name]
        assert section["train_flop"] == counted[name] * TINY.train.steps
        assert "afterwards" in section["train_flop_derived"]["how"]
    assert "train_flop" in (tmp_path / "table1.csv").read_text()


def test_reproduced_runs_keep_log_spaced_checkpoints_for_a_learning_curve(tiny_data, tmp_path):
    from audioslots.pipeline import curve_steps

    assert curve_steps(750) == (100, 250, 750)  # the cpu preset: three points, the last the final network
    assert curve_steps(7500, 7) == (100, 200, 400, 850, 1800, 3650, 7500)
    assert all(curve_steps(n)[-1] == n and len(set(curve_steps(n))) == len(curve_steps(n)) for n in (1, 6, 40, 300000))
    preset = replace(TINY, steps=12)
    train_runs(["autoencoder_0.5s"], preset, tiny_data, tmp_path, device="cpu", progress=False, jobs=1)
    kept = sorted(p.name for p in (tmp_path / "autoencoder_0.5s").glob("checkpoint_step*.pt"))
    assert kept == [f"checkpoint_step{step:07d}.pt" for step in curve_steps(12)]
