"""The ``audioslots`` command end to end at the tiny preset, and its answers to bad input."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audioslots.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    for kind in ("audioslots", "autoencoder"):
        assert main(["train", "--data", str(tiny_data), "--out", str(runs / kind), "--preset", "tiny",
                     "--model", kind, "--no-progress"]) == 0
    return runs


def test_tiny_pipeline_trains_evaluates_and_separates(tiny_data, trained, tmp_path, capsys):
    for args, system in ((["--oracle"], "Oracle"),
                         (["--checkpoint", trained / "autoencoder" / "checkpoint.pt"], "Autoencoder"),
                         (["--checkpoint", trained / "audioslots" / "checkpoint.pt"], "AudioSlots")):
        out_csv = tmp_path / f"{system}.csv"
        code, out, err = run(capsys, "evaluate", *args, "--data", tiny_data, "--split", "test",
                             "--out", out_csv, "--no-progress")
        assert code == 0, err
        metrics = pd.read_csv(out_csv)
        assert set(metrics["system"]) == {system} and set(metrics["mask"]) == {"ibm", "wiener"}
        assert system in out
    mixture = next((tiny_data / "wav16k" / "min" / "test" / "mix_clean").glob("*.wav"))
    code, out, err = run(capsys, "separate", mixture, "--checkpoint", trained / "audioslots" / "checkpoint.pt",
                         "--out-dir", tmp_path / "sep")
    assert code == 0, err
    written = sorted((tmp_path / "sep").glob("*.wav"))
    assert len(written) == 2 and sf.info(written[0]).frames == sf.info(mixture).frames


def _assert_clear_error(code, err, *fragments):
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1, err
    for fragment in fragments:
        assert str(fragment) in err


def test_missing_data_folder_is_named(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", tmp_path / "nowhere", "--out", tmp_path / "run", "--preset", "tiny")
    _assert_clear_error(code, err, tmp_path / "nowhere")
    assert not (tmp_path / "run").exists()


def test_unknown_preset_lists_the_known_ones(tiny_data, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", tiny_data, "--out", tmp_path / "run", "--preset", "huge")
    _assert_clear_error(code, err, "huge", "paper", "cpu", "tiny")


def test_metadata_without_expected_columns_is_named(tiny_data, tmp_path, capsys):
    import shutil

    root = tmp_path / "Libri2Mix"
    shutil.copytree(tiny_data, root)
    csv = root / "wav16k" / "min" / "metadata" / "mixture_test_mix_clean.csv"
    pd.read_csv(csv).drop(columns=["source_2_path"]).to_csv(csv, index=False)
    code, _, err = run(capsys, "evaluate", "--oracle", "--data", root, "--split", "test", "--out", tmp_path / "m.csv")
    _assert_clear_error(code, err, csv.name, "source_2_path")
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize("problem", ["sample_rate", "stereo", "empty", "truncated"])
def test_unusable_wav_is_named(trained, tmp_path, capsys, problem):
    path = tmp_path / f"{problem}.wav"
    audio = np.zeros(16000, dtype=np.float32)
    if problem == "sample_rate":
        sf.write(path, audio, 8000)
    elif problem == "stereo":
        sf.write(path, np.stack([audio, audio], 1), 16000)
    elif problem == "empty":
        sf.write(path, audio[:0], 16000)
    else:
        sf.write(path, audio, 16000)
        path.write_bytes(path.read_bytes()[:2000])
    code, _, err = run(capsys, "separate", path, "--checkpoint", trained / "audioslots" / "checkpoint.pt",
                       "--out-dir", tmp_path / "out")
    _assert_clear_error(code, err, path)
    assert not (tmp_path / "out").exists()


def test_checkpoint_of_another_configuration_is_refused_and_kept(tiny_data, trained, capsys):
    checkpoint = trained / "audioslots" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    code, _, err = run(capsys, "train", "--data", tiny_data, "--out", trained / "audioslots", "--preset", "tiny",
                       "--lr", "0.5")
    _assert_clear_error(code, err, checkpoint, "learning_rate")
    assert checkpoint.read_bytes() == before


def test_missing_checkpoint_is_named(tiny_data, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", "--checkpoint", tmp_path / "none.pt", "--data", tiny_data,
                       "--split", "test", "--out", tmp_path / "m.csv")
    _assert_clear_error(code, err, tmp_path / "none.pt")
