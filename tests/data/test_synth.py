"""Synthetic LibriMix: speech-like voices, LibriMix-style mixing, layout, determinism, reuse."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from audioslots.data import synthetic as synth
from audioslots.data import voices
from audioslots.data.dataset import LibriMix, metadata_path
from audioslots.data.synthetic import SynthConfig, synthesize_librimix
from audioslots.errors import ConfigError, DataError

RATE = 16000
TINY = SynthConfig(
    mixtures={"dev": 2, "test": 3},
    seconds={"dev": 1.0, "test": 1.0},
    speakers_per_split={"dev": 2, "test": 4},
)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "Libri2Mix"
    return synthesize_librimix(root, seed=5, config=TINY, progress=False)


@pytest.fixture(scope="module")
def speakers():
    return synth.speaker_pool(0, "train-360", 6)


def frames_of(x, size, hop):
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop]


def high_band_fractions(x):
    """Fraction of each 32 ms frame's energy above 3 kHz, for frames within 30 dB of the loudest."""
    spectra = np.abs(np.fft.rfft(frames_of(x, 512, 256) * np.hanning(512), axis=1)) ** 2
    freqs_hz = np.fft.rfftfreq(512, 1 / RATE)
    total = spectra.sum(axis=1)
    loud = total > total.max() * 1e-3
    return (spectra[:, freqs_hz > 3000].sum(axis=1) / total)[loud]


def median_f0_hz(x):
    """Median autocorrelation pitch of the loud 40 ms frames."""
    frames = frames_of(x, 640, 320)
    energy = (frames**2).mean(axis=1)
    lags = np.arange(RATE // 400, RATE // 60)
    estimates = []
    for frame in frames[energy > 0.1 * energy.max()]:
        frame = frame - frame.mean()
        autocorrelation = np.correlate(frame, frame, "full")[len(frame) - 1 :]
        estimates.append(RATE / lags[np.argmax(autocorrelation[lags])])
    return float(np.median(estimates))


# --- signal processing building blocks ---------------------------------------------------------


def test_harmonic_excitation_equals_the_brute_force_sum_of_cosines():
    f0_hz = np.linspace(100.0, 180.0, 4000)
    excitation = voices._harmonic_excitation(f0_hz, RATE)
    phase = np.cumsum(2 * np.pi * f0_hz / RATE)
    n_harmonics = int(0.95 * (RATE / 2) / 180.0)
    brute = np.cos(np.arange(1, n_harmonics + 1)[:, None] * phase).sum(axis=0)
    np.testing.assert_allclose(excitation, brute, atol=2e-3 * n_harmonics)


def test_stft_then_istft_gives_back_the_signal():
    x = np.random.default_rng(0).standard_normal(4000)
    n_fft, hop = voices._stft_sizes(RATE)
    n_frames = len(x) // hop + 1
    spec = voices._stft(x, n_fft, hop, n_frames)
    np.testing.assert_allclose(voices._istft(spec, n_fft, hop, len(x)), x, atol=1e-10)


def test_loudness_of_a_sine_is_its_mean_square_in_db_and_ignores_silence():
    t = np.arange(RATE) / RATE
    sine = 0.1 * np.sin(2 * np.pi * 440 * t)
    expected = 20 * np.log10(0.1 / np.sqrt(2))
    assert voices.loudness_db(sine, RATE) == pytest.approx(expected, abs=0.01)
    # Half silence would lower a plain mean square by 3 dB; only the blocks that straddle the
    # edge of the silence (and pass the gates) still count.
    padded = np.concatenate([sine, np.zeros(RATE)])
    assert voices.loudness_db(padded, RATE) == pytest.approx(expected, abs=1.0)


# --- speech-like sources -----------------------------------------------------------------------


def test_voiced_sound_has_harmonic_peaks_at_multiples_of_f0(speakers):
    monotone = dataclasses.replace(
        speakers[0], f0_hz=120.0, f0_range_semitones=0.0, fricative_rate=0.0
    )
    x = voices.synthesize_source(np.random.default_rng(0), monotone, 2.0, RATE)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs_hz = np.fft.rfftfreq(len(x), 1 / RATE)
    at = lambda hz: spectrum[np.argmin(np.abs(freqs_hz - hz))]  # noqa: E731
    for k in range(1, 20):  # up to 2.4 kHz: each harmonic stands 20 dB above the gap after it
        assert at(120.0 * k) > 10 * at(120.0 * (k + 0.5))
    strongest_hz = freqs_hz[np.argmax(np.where(freqs_hz < 1000, spectrum, 0))]
    assert strongest_hz / 120.0 == pytest.approx(round(strongest_hz / 120.0), abs=0.02)


def test_pitch_lies_in_the_male_and_female_ranges(speakers):
    for speaker in speakers[:4]:
        quiet = dataclasses.replace(speaker, fricative_rate=0.0)
        f0_hz = median_f0_hz(voices.synthesize_source(np.random.default_rng(1), quiet, 3.0, RATE))
        low, high = (85, 155) if speaker.sex == "male" else (165, 255)
        assert low <= f0_hz <= high, (speaker, f0_hz)


def test_fricatives_are_bursts_of_energy_above_3_khz(speakers):
    hissy = dataclasses.replace(speakers[1], fricative_rate=1.0)
    x = voices.synthesize_source(np.random.default_rng(2), hissy, 3.0, RATE)
    fractions = high_band_fractions(x)
    assert fractions.max() > 0.9  # frames dominated by the band above 3 kHz exist...
    assert 0.05 < (fractions > 0.5).mean() < 0.5  # ...but they are short, between vowels


def test_without_fricatives_little_energy_is_above_3_khz(speakers):
    voiced = dataclasses.replace(speakers[1], fricative_rate=0.0)
    x = voices.synthesize_source(np.random.default_rng(2), voiced, 3.0, RATE)
    fractions = high_band_fractions(x)
    assert fractions.max() < 0.1


def test_utterances_contain_pauses(speakers):
    for seed, speaker in enumerate(speakers):
        x = voices.synthesize_source(np.random.default_rng(seed), speaker, 4.0, RATE)
        level_db = 10 * np.log10((frames_of(x, 160, 160) ** 2).mean(axis=1) + 1e-20)
        silent = level_db < level_db.max() - 40
        longest, run = 0, 0
        for is_silent in silent:
            run = run + 1 if is_silent else 0
            longest = max(longest, run)
        assert longest * 0.01 >= 0.07, speaker  # a 0.1 s pause, less the smearing of windows


def test_speaker_pools_are_disjoint_between_splits_and_half_female():
    pools = {split: synth.speaker_pool(0, split, 10) for split in ("train-360", "dev", "test")}
    ids = [s.speaker_id for pool in pools.values() for s in pool]
    assert len(set(ids)) == len(ids)
    assert all(sum(s.sex == "female" for s in pool) == 5 for pool in pools.values())


# --- mixing -----------------------------------------------------------------------------------


def test_each_mixture_has_one_male_and_one_female_in_random_order():
    pool = synth.speaker_pool(0, "dev", 6)
    sex = {s.speaker_id: s.sex for s in pool}
    orders = set()
    for index in range(12):
        mixture_id, sources = synth.synthesize_mixture(0, "dev", index, pool, 0.3, RATE)
        speaker_ids = [int(part.split("-")[0]) for part in mixture_id.split("_")]
        orders.add(tuple(sex[i] for i in speaker_ids))
        assert sources.dtype == np.int16 and sources.shape == (2, int(0.3 * RATE))
    assert orders == {("male", "female"), ("female", "male")}


def test_sources_get_levels_in_the_librimix_range(speakers):
    rng = np.random.default_rng(0)
    for index in range(5):
        sources = np.stack([voices.synthesize_source(rng, s, 2.0, RATE) for s in speakers[:2]])
        mixed = synth.mix_sources(rng, sources, RATE) / 32768.0
        for source in mixed:
            assert -33.05 <= voices.loudness_db(source, RATE) <= -24.95


def test_mixing_scales_everything_to_a_0_9_peak_when_it_would_clip():
    rng = np.random.default_rng(0)
    sources = 1e-3 * rng.standard_normal((2, RATE))
    sources[0, 100] = 1.0  # a click 60 dB above the rest: at -25 dB loudness it would clip
    mixed = synth.mix_sources(rng, sources, RATE).astype(np.int64)
    peak = max(np.abs(mixed).max(), np.abs(mixed.sum(axis=0)).max())
    assert peak == pytest.approx(0.9 * 32768, abs=1)
    levels = [voices.loudness_db(s / 32768.0, RATE) for s in mixed]
    assert levels[0] < -33  # scaled down below the drawn level, together with source 2


def test_same_seed_same_audio_and_another_seed_other_audio():
    pool = synth.speaker_pool(0, "test", 4)
    first = synth.synthesize_mixture(7, "test", 3, pool, 0.5, RATE)
    again = synth.synthesize_mixture(7, "test", 3, pool, 0.5, RATE)
    other = synth.synthesize_mixture(8, "test", 3, pool, 0.5, RATE)
    assert first[0] == again[0] and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


# --- the data set on disk -----------------------------------------------------------------------


def test_generated_set_is_read_by_the_librimix_reader(tiny_set):
    for split, count in TINY.mixtures.items():
        dataset = LibriMix(tiny_set, split)
        assert len(dataset) == count and dataset.lengths == [RATE] * count
        for example in dataset:
            assert (example.mixture == example.sources.sum(dim=0)).all()


def test_metadata_lists_absolute_paths_in_the_librimix_layout(tiny_set):
    with open(metadata_path(tiny_set, "test"), newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        columns = {"mixture_path": "mix_clean", "source_1_path": "s1", "source_2_path": "s2"}
        for column, folder in columns.items():
            expected = tiny_set / "wav16k" / "min" / "test" / folder / f"{row['mixture_ID']}.wav"
            assert row[column] == str(expected)


def test_same_seed_and_config_write_identical_files(tiny_set, tmp_path):
    again = synthesize_librimix(tmp_path / "again", seed=5, config=TINY, progress=False)
    files = sorted(p.relative_to(tiny_set) for p in tiny_set.rglob("*.wav"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.wav"))
    assert all((tiny_set / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_generating_again_into_the_same_folder_does_nothing(tiny_set):
    before = {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*")}
    assert synthesize_librimix(tiny_set, seed=5, config=TINY, progress=False) == tiny_set
    assert {p: p.stat().st_mtime_ns for p in tiny_set.rglob("*")} == before
    assert json.loads((tiny_set / "synthetic.json").read_text())["seed"] == 5


def test_the_manifest_names_the_generator_as_sets_written_before_the_modules_moved_do(tiny_set):
    # Folders made by earlier versions say "audioslots.synth"; another name would refuse them.
    assert json.loads((tiny_set / "synthetic.json").read_text())["generator"] == "audioslots.synth"


def test_another_seed_into_an_existing_set_is_a_data_error(tiny_set):
    with pytest.raises(DataError, match="other settings"):
        synthesize_librimix(tiny_set, seed=6, config=TINY, progress=False)


def test_a_folder_with_other_files_is_never_overwritten(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="already holds other files"):
        synthesize_librimix(tmp_path, config=TINY, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_an_empty_existing_folder_is_filled(tmp_path):
    (tmp_path / "data").mkdir()
    root = synthesize_librimix(tmp_path / "data", config=TINY, progress=False)
    assert len(LibriMix(root, "dev")) == 2


def test_an_interrupted_run_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []

    def failing_write(*args):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return write_wav(*args)

    write_wav = synth.write_wav
    monkeypatch.setattr(synth, "write_wav", failing_write)
    with pytest.raises(KeyboardInterrupt):
        synthesize_librimix(tmp_path / "data", config=TINY, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_config_rejects_unknown_splits_and_missing_lengths():
    with pytest.raises(ConfigError, match="Unknown split 'training'"):
        SynthConfig(mixtures={"training": 3})
    with pytest.raises(ConfigError, match="seconds needs a length"):
        SynthConfig(mixtures={"train-100": 3})
