"""WAV files in and out (audioslots/audio.py): exact samples, ranges, the pread fast path, one clear error per bad file."""

import re

import numpy as np
import pytest
import soundfile as sf
import torch

from audioslots.audio import audio_info, pcm16_data_chunk, read_pcm16, read_wav, to_pcm16, wav_info, write_wav
from audioslots.errors import DataError

RATE = 16000


@pytest.fixture
def wav(tmp_path):
    """A 1000-sample mono 16 kHz WAV file and its samples as read back."""
    path = tmp_path / "ok.wav"
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 1000)
    write_wav(path, samples, RATE)
    return path, to_pcm16(samples) / 32768.0


def naming(path, message):
    """A ``pytest.raises`` pattern: the file's path, then ``message`` (a regular expression)."""
    return re.escape(str(path)) + " " + message


# --- read_wav, wav_info, write_wav -------------------------------------------------------------


def test_write_then_read_gives_the_pcm16_quantised_samples(wav):
    path, expected = wav
    waveform = read_wav(path, RATE)
    assert waveform.dtype == torch.float32 and waveform.shape == (1000,)
    np.testing.assert_array_equal(waveform.numpy(), expected.astype(np.float32))
    assert sf.info(str(path)).subtype == "PCM_16"


def test_write_wav_accepts_a_tensor_creates_parents_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a" / "b" / "x.wav"
    write_wav(path, torch.full((10,), 0.25), RATE)
    assert read_wav(path, RATE).tolist() == [0.25] * 10
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.wav"]


def test_write_wav_clips_instead_of_wrapping_around(tmp_path):
    path = write_wav(tmp_path / "loud.wav", np.array([1.5, -2.0, 0.5]), RATE)
    assert read_wav(path, RATE).tolist() == [32767 / 32768, -1.0, 0.5]


def test_read_wav_range_reads_those_frames_and_zero_pads_past_the_end(wav):
    path, expected = wav
    middle = read_wav(path, RATE, 100, 300).numpy()
    np.testing.assert_array_equal(middle, expected[100:300].astype(np.float32))
    tail = read_wav(path, RATE, 990, 1010).numpy()
    np.testing.assert_array_equal(tail[:10], expected[990:].astype(np.float32))
    assert (tail[10:] == 0).all() and tail.shape == (20,)
    assert (read_wav(path, RATE, 2000, 2005).numpy() == 0).all()


def test_wav_info_reports_rate_frames_and_channels(wav):
    assert wav_info(wav[0]) == (RATE, 1000, 1)


def test_missing_wav_is_a_data_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match=naming(tmp_path / "nope.wav", "does not exist")):
        read_wav(tmp_path / "nope.wav", RATE)


def test_a_file_that_is_not_audio_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("this is not audio")
    with pytest.raises(DataError, match=naming(path, "is not a readable WAV file")):
        read_wav(path, RATE)


def test_truncated_wav_is_a_data_error_naming_it(wav):
    path, _ = wav
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header still promises 1000 frames
    with pytest.raises(DataError, match=naming(path, "is truncated")):
        read_wav(path, RATE)


def test_empty_wav_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.int16), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=naming(path, "is empty")):
        read_wav(path, RATE)


def test_wrong_sample_rate_is_a_data_error_that_names_the_rate_to_use(tmp_path):
    path = write_wav(tmp_path / "8k.wav", np.zeros(100), 8000)
    expected = "is 8000 Hz but 16000 Hz was asked for; use --sample-rate 8000"
    with pytest.raises(DataError, match=naming(path, expected)):
        read_wav(path, RATE)


def test_stereo_wav_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.zeros((100, 2), dtype=np.int16), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=naming(path, "has 2 channels")):
        read_wav(path, RATE)


# --- the pread fast path: pcm16_data_chunk, read_pcm16 -------------------------------------------


@pytest.fixture
def pcm(tmp_path):
    """A 1000-sample mono 16-bit PCM WAV at 16 kHz and its int16 samples."""
    samples = (np.arange(1000) % 200 - 100).astype(np.int16)
    return write_wav(tmp_path / "pcm.wav", samples, RATE), samples


def test_pcm16_data_chunk_points_at_the_samples_of_a_mono_16_bit_wav(pcm):
    path, samples = pcm
    offset, frames = pcm16_data_chunk(path, RATE)
    assert frames == len(samples)
    assert np.array_equal(np.fromfile(path, "<i2", offset=offset), samples)


def test_pcm16_data_chunk_walks_past_other_chunks_word_aligned(tmp_path):
    samples = np.array([1, -2, 3, -4], dtype="<i2")
    fmt = (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
    fmt += (2 * RATE).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    chunks = [b"fmt " + len(fmt).to_bytes(4, "little") + fmt,
              b"LIST" + (3).to_bytes(4, "little") + b"abc" + b"\0",  # odd size: one pad byte
              b"data" + samples.nbytes.to_bytes(4, "little") + samples.tobytes()]
    body = b"WAVE" + b"".join(chunks)
    path = tmp_path / "chunks.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    offset, frames = pcm16_data_chunk(path, RATE)
    assert (offset, frames) == (path.stat().st_size - samples.nbytes, 4)
    assert read_wav(path, RATE).tolist() == (samples / 32768).tolist()


@pytest.mark.parametrize("kind", ["other rate", "float", "stereo", "truncated", "missing", "not audio"])
def test_pcm16_data_chunk_leaves_every_other_file_to_read_wav(pcm, tmp_path, kind):
    path, samples = pcm
    other = tmp_path / f"{kind}.wav"
    if kind == "float":
        sf.write(other, samples / 32768.0, RATE, subtype="FLOAT")
    elif kind == "stereo":
        sf.write(other, np.stack([samples, samples], 1), RATE, subtype="PCM_16")
    elif kind == "truncated":
        other.write_bytes(path.read_bytes()[:-100])
    elif kind == "not audio":
        other.write_text("RIFF but not really")
    elif kind == "other rate":
        other = path
    rate = 8000 if kind == "other rate" else RATE
    assert pcm16_data_chunk(other, rate) is None


def test_read_pcm16_gives_what_read_wav_gives_for_any_range(pcm):
    path, _ = pcm
    chunk = pcm16_data_chunk(path, RATE)
    for start, stop in [(0, 1000), (100, 300), (990, 1010), (2000, 2005), (5, 5)]:
        assert torch.equal(read_pcm16(path, chunk, start, stop), read_wav(path, RATE, start, stop))


def test_read_pcm16_of_a_file_that_became_shorter_is_a_data_error_naming_it(pcm):
    path, _ = pcm
    chunk = pcm16_data_chunk(path, RATE)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=naming(path, "became shorter")):
        read_pcm16(path, chunk, 0, 1000)


def test_read_pcm16_of_a_removed_file_is_a_data_error_naming_it(pcm):
    path, _ = pcm
    chunk = pcm16_data_chunk(path, RATE)
    path.unlink()
    with pytest.raises(DataError, match=naming(path, "cannot be read any more")):
        read_pcm16(path, chunk, 0, 10)


# --- any format: audio_info ---------------------------------------------------------------------


def test_audio_info_reports_the_rate_and_length_of_a_flac(tmp_path):
    path = tmp_path / "speech.flac"
    sf.write(path, np.zeros(1234), RATE)
    assert audio_info(path) == (RATE, 1234)


def test_audio_info_of_a_file_that_is_not_audio_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "notes.flac"
    path.write_text("not audio")
    with pytest.raises(DataError, match=naming(path, "is not a readable audio file")):
        audio_info(path)
