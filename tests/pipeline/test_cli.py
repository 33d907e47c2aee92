"""The ``audioslots`` command end to end at the tiny preset, and its answers to bad input."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audioslots.cli import build_parser, main, train_settings
from audioslots.config import apply_settings, get_preset


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


@pytest.mark.parametrize("problem", ["empty", "truncated"])
def test_unusable_wav_is_named(trained, tmp_path, capsys, problem):
    # Other rates and stereo are not problems for `separate`: see the 44.1 kHz stereo FLAC test.
    path = tmp_path / f"{problem}.wav"
    audio = np.zeros(16000, dtype=np.float32)
    if problem == "empty":
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


@pytest.mark.parametrize("chunk_seconds", ["0.5", "1.0"])
@pytest.mark.parametrize("framing", ["pad-end", "centred"])
def test_oracle_evaluation_takes_the_framing_and_chunk_length(tiny_data, tmp_path, capsys, framing, chunk_seconds):
    out_csv = tmp_path / "oracle.csv"
    code, out, err = run(capsys, "evaluate", "--oracle", "--framing", framing, "--data", tiny_data, "--split", "test",
                         "--chunk-seconds", chunk_seconds, "--out", out_csv, "--no-progress")
    assert code == 0, err
    metrics = pd.read_csv(out_csv)
    assert set(metrics["framing"]) == {framing} and set(metrics["chunk_seconds"]) == {float(chunk_seconds)}
    assert (metrics["si_snri"] > 0).all()


def test_separate_reads_a_44k_stereo_flac_and_writes_sources_at_its_rate(tiny_data, trained, tmp_path, capsys):
    mixture = next((tiny_data / "wav16k" / "min" / "test" / "mix_clean").glob("*.wav"))
    mono, rate = sf.read(mixture, dtype="float32")
    import torch
    import torchaudio.functional as AF

    at_44k = AF.resample(torch.from_numpy(mono)[None], rate, 44100)[0].numpy()
    stereo = np.stack([at_44k, 0.5 * at_44k], axis=1)
    flac = tmp_path / "song.flac"
    sf.write(flac, stereo, 44100, format="FLAC")
    code, out, err = run(capsys, "separate", flac, "--checkpoint", trained / "audioslots" / "checkpoint.pt",
                         "--out-dir", tmp_path / "sep", "--chunk-overlap", "0.5")
    assert code == 0, err
    assert "mixed down" in out and "44100 Hz" in out
    written = sorted((tmp_path / "sep").glob("song_s*.wav"))
    assert len(written) == 2
    for path in written:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (44100, 1, len(stereo))


def test_separate_names_an_unreadable_file(trained, tmp_path, capsys):
    bad = tmp_path / "notes.flac"
    bad.write_text("not audio")
    code, _, err = run(capsys, "separate", bad, "--checkpoint", trained / "audioslots" / "checkpoint.pt",
                       "--out-dir", tmp_path / "sep")
    _assert_clear_error(code, err, bad)


def _train_preset(*options):
    args = build_parser().parse_args(["train", "--data", "DATA", "--out", "RUN", *options])
    return apply_settings(get_preset(args.preset), train_settings(args))


def test_train_sets_any_field_with_set_after_its_named_options():
    preset = _train_preset("--preset", "tiny", "--steps", "5", "--set", "model.slot_dim=8", "--set", "steps=7",
                           "--set", "clip_grad_norm=1")
    assert (preset.model.slot_dim, preset.train.steps, preset.train.clip_grad_norm) == (8, 7, 1.0)


@pytest.mark.parametrize("options", [["--batch-size", "4"], ["--set", "batch_size=4"], ["--set", "train.batch_size=4"]])
def test_a_batch_size_given_either_way_wins_over_the_presets_batch_seconds(options):
    train = _train_preset("--preset", "cpu", *options).train
    assert (train.batch_size, train.batch_seconds) == (4, None)


def test_a_batch_size_keeps_batch_seconds_set_beside_it():
    train = _train_preset("--preset", "cpu", "--set", "batch_size=4", "--set", "batch_seconds=2").train
    assert (train.batch_size, train.batch_seconds) == (4, 2.0)


def test_an_unknown_setting_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--set", "slot_dims=8"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err
    assert "Unknown setting 'slot_dims'" in err and "did you mean slot_dim" in err
    assert not (tmp_path / "run").exists()
