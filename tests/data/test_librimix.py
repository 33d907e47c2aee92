"""The LibriMix builder: speaker-disjoint splits, LibriMix's loudness and clipping rules, determinism."""

import hashlib

import numpy as np
import pandas as pd
import pyloudnorm
import pytest
import soundfile as sf

from audioslots.data.dataset import LibriMix, metadata_path
from audioslots.data.mix_librispeech import build_librimix, mix_sources
from audioslots.data.mixing import LOUDNESS_RANGE_LUFS, MAX_AMPLITUDE
from audioslots.errors import ConfigError, DataError

RATE = 16000


def _speech_like(rng, seconds):
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = rng.uniform(90, 250)
    voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) ** 2
    return 0.1 * voiced * envelope + 0.005 * rng.standard_normal(len(t))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Twelve speakers, two LibriSpeech-named FLAC utterances each, plus a too-short one and a stray file."""
    folder = tmp_path_factory.mktemp("speech")
    rng = np.random.default_rng(0)
    for speaker in range(100, 112):
        for utterance in range(2):
            sub = folder / str(speaker) / "7"
            sub.mkdir(parents=True, exist_ok=True)
            sf.write(sub / f"{speaker}-7-{utterance:04d}.flac", _speech_like(rng, rng.uniform(3.2, 4.0)), RATE)
    sf.write(folder / "999-1-0000.flac", _speech_like(rng, 2.0), RATE)  # shorter than 3 s: left out
    (folder / "notes.txt").write_text("not audio")
    return folder


@pytest.fixture(scope="module")
def built(speech, tmp_path_factory):
    out = tmp_path_factory.mktemp("mix") / "Libri2Mix"
    return build_librimix(speech, out, mixtures={"train-360": 8, "dev": 2, "test": 3}, dev_fraction=0.2,
                          test_fraction=0.25, seed=1, progress=False)


def _speakers(mixture_id):
    return [part.split("-")[0] for part in mixture_id.split("_")]


def test_the_reader_reads_every_split_and_mixtures_are_sums_of_their_sources(built):
    for split, count in (("train-360", 8), ("dev", 2), ("test", 3)):
        dataset = LibriMix(built, split)
        assert len(dataset) == count
        example = dataset[0]
        np.testing.assert_allclose(example.mixture.numpy(), example.sources.sum(0).numpy(), atol=2 / 32768)


def test_splits_share_no_speaker_and_mixtures_have_different_speakers(built):
    speakers = {}
    for split in ("train-360", "dev", "test"):
        ids = LibriMix(built, split).mixture_ids
        assert all(len(set(_speakers(i))) == 2 for i in ids)
        speakers[split] = {s for i in ids for s in _speakers(i)}
    assert not speakers["train-360"] & speakers["test"]
    assert not speakers["train-360"] & speakers["dev"]
    assert not speakers["dev"] & speakers["test"]
    assert "999" not in set().union(*speakers.values())


def test_min_mode_cuts_every_source_to_the_shortest_utterance(built, speech):
    dataset = LibriMix(built, "test")
    for mixture_id, length in zip(dataset.mixture_ids, dataset.lengths):
        utterances = [next(speech.rglob(f"{u}.flac")) for u in mixture_id.split("_")]
        assert length == min(sf.info(u).frames for u in utterances)


def test_sources_are_at_their_drawn_loudness_unless_rescaled_against_clipping(built):
    meter = pyloudnorm.Meter(RATE)
    gains = pd.read_csv(metadata_path(built, "train-360").with_name("mixture_train-360_gains.csv"))
    targets = gains[["source_1_target_lufs", "source_2_target_lufs"]].to_numpy()
    assert (targets >= LOUDNESS_RANGE_LUFS[0]).all() and (targets <= LOUDNESS_RANGE_LUFS[1]).all()
    dataset = LibriMix(built, "train-360")
    checked = 0
    for index in range(len(dataset)):
        example = dataset[index]
        if example.mixture.abs().max() < MAX_AMPLITUDE - 1e-3:  # no clipping rescale: loudness as drawn
            # min mode cuts the normalised utterance, so the loudness of the kept part is close, not equal
            measured = [meter.integrated_loudness(s.double().numpy()) for s in example.sources]
            np.testing.assert_allclose(measured, targets[index], atol=1.5)
            checked += 1
    assert checked > 0


def test_a_clipping_mixture_is_scaled_to_a_peak_of_0_9():
    meter = pyloudnorm.Meter(RATE)
    rng = np.random.default_rng(3)
    loud = [_speech_like(rng, 3.5) * 8, _speech_like(rng, 3.5) * 8]
    sources, _ = mix_sources(loud, [-25.0, -25.0], meter)
    longest = max(map(len, loud))
    assert np.abs(sources.sum(0)).max() <= MAX_AMPLITUDE + 1e-9
    assert sources.shape == (2, min(map(len, loud))) and longest >= sources.shape[1]


def test_the_same_seed_gives_the_same_files(speech, built, tmp_path):
    again = build_librimix(speech, tmp_path / "again", mixtures={"train-360": 8, "dev": 2, "test": 3},
                           dev_fraction=0.2, test_fraction=0.25, seed=1, progress=False)

    def digest(root):
        files = sorted(p for p in root.rglob("*.wav"))
        return [(p.relative_to(root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]

    assert digest(again) == digest(built)


def test_another_seed_gives_other_mixtures(speech, built, tmp_path):
    other = build_librimix(speech, tmp_path / "other", mixtures={"train-360": 8, "dev": 2, "test": 3},
                           dev_fraction=0.2, test_fraction=0.25, seed=2, progress=False)
    assert LibriMix(other, "train-360").mixture_ids != LibriMix(built, "train-360").mixture_ids


def test_speaker_fractions_that_leave_no_training_speaker_are_refused(speech, tmp_path):
    with pytest.raises(ConfigError, match="fractions"):
        build_librimix(speech, tmp_path / "none", dev_fraction=0.5, test_fraction=0.6, progress=False)


def test_a_file_with_a_librispeech_name_that_is_not_audio_is_a_data_error_naming_it(tmp_path):
    bad = tmp_path / "100-7-0000.flac"
    bad.write_text("not audio")
    with pytest.raises(DataError, match=str(bad) + " is not a readable audio file"):
        build_librimix(tmp_path, tmp_path / "out", progress=False)


def test_a_folder_without_librispeech_names_is_a_data_error_naming_it(tmp_path):
    sf.write(tmp_path / "hello.flac", np.zeros(RATE * 4), RATE)
    with pytest.raises(DataError, match=str(tmp_path)):
        build_librimix(tmp_path, tmp_path / "out", progress=False)


def test_the_cli_builds_the_layout(speech, tmp_path, capsys):
    from audioslots.cli import main

    code = main(["mix-librispeech", str(speech), str(tmp_path / "cli"), "--train-mixtures", "4",
                 "--dev-mixtures", "1", "--test-mixtures", "2", "--dev-speakers", "0.2", "--test-speakers", "0.25",
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert len(LibriMix(tmp_path / "cli", "test")) == 2
