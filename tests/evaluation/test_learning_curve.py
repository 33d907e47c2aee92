"""Learning curves: every kept checkpoint scored once, resumable, with the compute up to its step."""

import json

import pandas as pd
import pytest

from audioslots.cli import main
from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.errors import CheckpointError, DataError
from audioslots.evaluation.intervals import utterance_interval
from audioslots.evaluation.scores import evaluate_checkpoint
from audioslots.evaluation.learning_curve import COLUMNS, score_checkpoints
from audioslots.training import count_run_flops, train

TINY = replace(get_preset("tiny"), steps=4, keep_checkpoints=(1, 2))


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    """Two tiny runs that kept the checkpoints of steps 1 and 2 and ended at step 4."""
    root = tmp_path_factory.mktemp("curve")
    for kind in ("audioslots", "autoencoder"):
        train(TINY, LibriMix(tiny_data, "train-360"), root / f"{kind}_0.5s", kind=kind, progress=False)
    return root


def test_every_kept_checkpoint_and_the_final_one_get_a_row_per_mask_with_the_compute_up_to_it(tiny_data, runs):
    out = runs / "learning_curve.csv"
    curve = score_checkpoints([runs / "audioslots_0.5s"], LibriMix(tiny_data, "test"), out, progress=False)
    assert list(curve.columns) == COLUMNS
    assert sorted(zip(curve["step"], curve["mask"])) == [(s, m) for s in (1, 2, 4) for m in ("ibm", "wiener")]
    assert set(curve["run"]) == {"audioslots_0.5s"} and set(curve["system"]) == {"AudioSlots"}
    counted = json.loads((runs / "audioslots_0.5s" / "flops.json").read_text())["flop_per_step"]
    assert (curve["flop_per_step"] == counted).all() and (curve["train_flop"] == counted * curve["step"]).all()

    metrics = evaluate_checkpoint(runs / "audioslots_0.5s" / "checkpoint_step0000002.pt", LibriMix(tiny_data, "test"),
                                  progress=False)
    ibm = metrics[metrics["mask"] == "ibm"]
    row = curve[(curve["step"] == 2) & (curve["mask"] == "ibm")].iloc[0]
    assert row["si_snri"] == pytest.approx(ibm["si_snri"].mean(), abs=1e-4)
    # the interval resamples the utterances the mixtures are made of, not the mixtures
    assert row["ci_resamples"] == "utterances"
    assert row["si_snri_ci"] == pytest.approx(utterance_interval(ibm["si_snri"].to_numpy(), ibm["mixture_id"].tolist()),
                                              abs=1e-4)
    assert row["n_mixtures"] == len(LibriMix(tiny_data, "test"))


def test_rows_already_in_the_file_are_kept_and_not_scored_again(tiny_data, runs, monkeypatch):
    out = runs / "resumed.csv"
    data = LibriMix(tiny_data, "test")
    score_checkpoints([runs / "audioslots_0.5s"], data, out, progress=False)
    first = out.read_text()
    scored = []
    import audioslots.evaluation.learning_curve as learning_curve

    real = learning_curve.evaluate_checkpoint
    monkeypatch.setattr(learning_curve, "evaluate_checkpoint",
                        lambda path, *args, **kwargs: (scored.append(path.name), real(path, *args, **kwargs))[1])
    score_checkpoints([runs / "audioslots_0.5s"], data, out, progress=False)
    assert scored == [] and out.read_text() == first
    curve = score_checkpoints([runs / "audioslots_0.5s", runs / "autoencoder_0.5s"], data, out, progress=False)
    assert sorted(scored) == ["checkpoint.pt", "checkpoint_step0000001.pt", "checkpoint_step0000002.pt"]
    assert len(curve) == 2 * 3 * 2 and out.read_text().startswith(first.splitlines()[0])


def test_an_interrupted_scoring_keeps_the_checkpoints_it_finished(tiny_data, runs, monkeypatch):
    import audioslots.evaluation.learning_curve as learning_curve

    out = runs / "interrupted.csv"
    real, calls = learning_curve.evaluate_checkpoint, []

    def stop_at_the_second(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(learning_curve, "evaluate_checkpoint", stop_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        score_checkpoints([runs / "autoencoder_0.5s"], LibriMix(tiny_data, "test"), out, progress=False)
    assert pd.read_csv(out)["step"].tolist() == [1, 1]  # one row per mask of the finished checkpoint


def test_other_mixture_counts_in_the_same_file_are_refused(tiny_data, runs):
    out = runs / "two_sizes.csv"
    score_checkpoints([runs / "autoencoder_0.5s"], LibriMix(tiny_data, "test", max_mixtures=2), out, progress=False)
    with pytest.raises(DataError, match="2 mixtures of test but 3 were asked for"):
        score_checkpoints([runs / "autoencoder_0.5s"], LibriMix(tiny_data, "test"), out, progress=False)


def test_a_folder_without_checkpoints_is_a_clear_error_before_anything_is_scored(tiny_data, runs, tmp_path):
    (tmp_path / "untrained").mkdir()
    out = tmp_path / "curve.csv"
    with pytest.raises(CheckpointError, match="holds no checkpoint.*keep_checkpoints"):
        score_checkpoints([runs / "autoencoder_0.5s", tmp_path / "untrained"], LibriMix(tiny_data, "test"), out,
                          progress=False)
    assert not out.exists()
    with pytest.raises(CheckpointError, match="is not a folder"):
        score_checkpoints([tmp_path / "missing"], LibriMix(tiny_data, "test"), out, progress=False)


def test_the_command_writes_the_curve_and_says_what_is_wrong_with_a_folder(tiny_data, runs, tmp_path, capsys):
    out = tmp_path / "cli.csv"
    args = ["score-checkpoints", str(runs / "autoencoder_0.5s"), "--data", str(tiny_data), "--mixtures", "2",
            "--device", "cpu", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert pd.read_csv(out)["step"].tolist() == [1, 1, 2, 2, 4, 4]
    (tmp_path / "empty").mkdir()
    assert main([*args[:1], str(tmp_path / "empty"), *args[2:]]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err


# --- Points for the compute figure ----------------------------------------------------------------


def test_compute_points_take_the_paper_setting_rows_of_each_table_and_every_learning_curve(tmp_path):
    from audioslots.evaluation.learning_curve import POINT_COLUMNS, compute_points

    run = tmp_path / "cpu"
    run.mkdir()
    table = pd.DataFrame({
        "label": ["Oracle", "AudioSlots", "AudioSlots (no oracle order)", "AudioSlots (50 % overlap)", "Autoencoder"],
        "system": ["Oracle", "AudioSlots", "AudioSlots (no oracle order)", "AudioSlots", "Autoencoder"],
        "chunk_seconds": 0.5, "mask": "ibm", "si_snri": [12.0, 1.0, -5.0, 2.0, 3.0],
        "train_flop": [0, 10**12, 10**12, 10**12, 2 * 10**12], "data": "synthetic"})
    table.to_csv(run / "table1.csv", index=False)
    pd.DataFrame({"run": "audioslots_0.5s", "system": "AudioSlots", "chunk_seconds": 0.5, "step": [100, 200],
                  "train_flop": [10**11, 2 * 10**11], "mask": "ibm", "si_snri": [-1.0, 0.5], "si_snri_ci": 0.3,
                  "ci_resamples": "utterances"}
                 ).to_csv(run / "learning_curve.csv", index=False)
    (tmp_path / "old").mkdir()  # a run from before train_flop: nothing to place
    table.drop(columns="train_flop").to_csv(tmp_path / "old" / "table1.csv", index=False)

    points = compute_points(tmp_path)
    assert list(points.columns) == POINT_COLUMNS
    finals = points[points["final"]]
    assert sorted(zip(finals["row"], finals["si_snri"], finals["run"])) == [
        ("AudioSlots", 1.0, "cpu/audioslots_0.5s"), ("Autoencoder", 3.0, "cpu/autoencoder_0.5s")]
    curve = points[~points["final"]]
    assert curve["step"].tolist() == [100, 200] and set(curve["run"]) == {"cpu/audioslots_0.5s"}
    assert set(curve["row"]) == {"AudioSlots"} and curve["si_snri_ci"].tolist() == [0.3, 0.3]
    assert set(points["data"]) == {"synthetic"}  # the curve takes its data from its run's table


def test_the_papers_compute_is_its_steps_times_the_flops_of_a_step_of_each_trained_rows_network():
    from audioslots.evaluation.learning_curve import paper_compute
    from audioslots.training import run_config

    tiny = get_preset("tiny")
    compute = paper_compute("results/paper_table1.csv", preset_name="tiny").set_index("paper_row")
    assert set(compute.index) == {"AudioSlots", "Autoencoder", "AudioSlots (1 s)"}  # the oracle trains nothing
    for row, kind, chunk in (("Autoencoder", "autoencoder", 0.5), ("AudioSlots (1 s)", "audioslots", 1.0)):
        step = count_run_flops(run_config(replace(tiny, chunk_seconds=chunk), kind, {"n_src": 2}))
        assert compute.loc[row, "flop_per_step"] == step
        assert compute.loc[row, "train_flop"] == step * tiny.train.steps


def test_curve_intervals_that_resampled_mixtures_are_not_drawn(tmp_path):
    from audioslots.evaluation.learning_curve import compute_points

    run = tmp_path / "old"
    run.mkdir()
    pd.DataFrame([{"label": "AudioSlots", "system": "AudioSlots", "chunk_seconds": 0.5, "mask": "ibm", "si_snri": 1.0,
                   "train_flop": 10, "data": "real"}]).to_csv(run / "table1.csv", index=False)
    old = {"run": "audioslots_0.5s", "system": "AudioSlots", "chunk_seconds": 0.5, "step": 1, "flop_per_step": 5,
           "train_flop": 5, "split": "test", "mask": "ibm", "si_snr": 0.5, "si_snri": 0.5, "si_snri_ci": 0.3,
           "n_mixtures": 9}
    pd.DataFrame([old]).to_csv(run / "learning_curve.csv", index=False)
    assert compute_points(tmp_path).query("not final")["si_snri_ci"].isna().all()
    pd.DataFrame([{**old, "ci_resamples": "utterances"}]).to_csv(run / "learning_curve.csv", index=False)
    assert compute_points(tmp_path).query("not final")["si_snri_ci"].tolist() == [0.3]


@pytest.mark.parametrize(("root", "label"), [("/elsewhere/checkout/data/real/Libri2Mix", "real speech (LibriSpeech mini)"),
                                             ("data/synthetic/Libri2Mix", "synthetic"),
                                             ("/data/Libri2Mix", "LibriMix")])
def test_a_run_still_training_takes_its_data_from_its_networks_configs(tmp_path, root, label):
    import json

    from audioslots.evaluation.learning_curve import compute_points

    run = tmp_path / "long"
    (run / "audioslots_0.5s").mkdir(parents=True)
    pd.DataFrame({"run": "audioslots_0.5s", "system": "AudioSlots", "chunk_seconds": 0.5, "step": [100],
                  "train_flop": [10**11], "mask": "ibm", "si_snri": [-1.0], "si_snri_ci": 0.3}
                 ).to_csv(run / "learning_curve.csv", index=False)
    assert set(compute_points(tmp_path)["data"]) == {"—"}  # no table, no config: nothing says what it trained on
    config = {"preset": {}, "model_kind": "audioslots", "data": {"root": root, "split": "train-360"}}
    (run / "audioslots_0.5s" / "config.json").write_text(json.dumps(config))
    assert set(compute_points(tmp_path)["data"]) == {label}
