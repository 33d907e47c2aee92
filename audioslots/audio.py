"""WAV files in and out: the only place that touches audio on disk.

Reading goes through ``soundfile`` (libsndfile), not ``torchaudio.load``, which needs FFmpeg.
Every problem a user can cause (a missing, unreadable, truncated, empty, stereo or
wrong-rate file) becomes one :class:`~audioslots.errors.DataError` sentence that names the file.
Files are written as 16-bit PCM like LibriMix, atomically.
"""

from __future__ import annotations

import os
import secrets
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audioslots.errors import DataError

PCM16_SCALE = 32768.0  # libsndfile reads 16-bit PCM as int / 2**15

# libsndfile formats that are RIFF-style WAV containers.
_WAV_FORMATS = ("WAV", "WAVEX", "RF64", "W64")


def _find_data_chunk(f) -> tuple[bytes | None, int, int] | None:
    """Walk the chunks of an open RIFF/WAVE file up to its ``data`` chunk.

    Returns:
        ``(first 16 bytes of the fmt chunk or None, byte offset of the first sample, data bytes
        the header promises)``; ``None`` if the file is not RIFF/WAVE (RF64, W64, not audio) or
        ends before a ``data`` chunk.
    """
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            return None
        chunk_id, chunk_bytes = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"data":
            return fmt, f.tell(), chunk_bytes
        skip = chunk_bytes + (chunk_bytes & 1)  # chunks are word-aligned
        if chunk_id == b"fmt ":
            fmt = f.read(min(chunk_bytes, 16))  # format, channels, rate, byte rate, block size, bits
            skip -= len(fmt)
        f.seek(skip, os.SEEK_CUR)


def _check_riff_not_truncated(path: Path) -> None:
    """Raise if a RIFF/WAVE header promises more audio bytes than the file holds.

    libsndfile silently shortens such files (it only notes the mismatch in its log), so a
    half-copied download would otherwise load as a shorter, valid-looking signal.
    """
    file_bytes = path.stat().st_size
    with open(path, "rb") as f:
        found = _find_data_chunk(f)
    if found is None:
        return  # RF64/W64 and friends: leave them to libsndfile
    _, data_offset, chunk_bytes = found
    # 0 and 0xFFFFFFFF mean "unknown length" (streamed writers): nothing to check.
    available = file_bytes - data_offset
    if 0 < chunk_bytes < 0xFFFFFFFF and chunk_bytes > available:
        raise DataError(
            f"{path} is truncated: its header promises {chunk_bytes} bytes of audio "
            f"but only {available} are there; re-create or re-download it."
        )


def wav_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Sample rate, length and channel count of a WAV file, after checking the file is usable.

    Args:
        path: A WAV file.

    Returns:
        ``(sample_rate, frames, channels)``.

    Raises:
        DataError: The file is missing, is not a readable WAV file, is truncated or holds no
            samples. Sample rate and channel count are returned, not checked (see
            :func:`read_wav`).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"WAV file {path} does not exist; check the path.")
    if not path.is_file():
        raise DataError(f"{path} is a directory, not a WAV file; give the path of a .wav file.")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as error:
        reason = str(error).split(": ", 1)[-1].rstrip(".")
        raise DataError(
            f"{path} is not a readable WAV file ({reason}); re-create or re-download it."
        ) from None
    if info.format not in _WAV_FORMATS:
        raise DataError(
            f"{path} is a {info.format} file, not a WAV file; convert it to WAV "
            f"(e.g. ``sox in.{info.format.lower()} out.wav``)."
        )
    _check_riff_not_truncated(path)
    if info.frames == 0:
        raise DataError(f"{path} is empty (0 samples); re-create or re-download it.")
    return info.samplerate, info.frames, info.channels


def read_wav(
    path: str | os.PathLike, sample_rate: int, start: int = 0, stop: int | None = None
) -> torch.Tensor:
    """Read a mono WAV file, or only the frame range ``[start, stop)`` of it.

    Only the requested range is read from disk, so random crops of long files are cheap. A
    range that runs past the end of the file is zero-padded to ``stop - start`` samples.

    Args:
        path: A mono WAV file.
        sample_rate: The rate the caller expects, in Hz; the file must have exactly this rate.
        start: First frame to read.
        stop: One past the last frame to read; ``None`` reads to the end of the file.

    Returns:
        float32 waveform, shape ``(samples,)``.

    Raises:
        DataError: The file is missing, unreadable, truncated, empty, not mono, or at another
            sample rate.
        ValueError: ``start`` is negative or ``stop`` is before ``start`` (a programming error).
    """
    path = Path(path)
    file_rate, frames, channels = wav_info(path)
    if file_rate != sample_rate:
        raise DataError(
            f"{path} is {file_rate} Hz but {sample_rate} Hz was asked for; use --sample-rate "
            f"{file_rate} or resample the file to {sample_rate} Hz."
        )
    if channels != 1:
        raise DataError(
            f"{path} has {channels} channels but a mono file was expected; mix it down to one "
            f"channel (e.g. ``sox in.wav -c 1 out.wav``)."
        )
    stop = frames if stop is None else stop
    if start < 0 or stop < start:
        raise ValueError(f"Invalid frame range [{start}, {stop}) for {path}.")
    waveform = np.zeros(stop - start, dtype=np.float32)
    read_stop = min(stop, frames)
    if start < read_stop:
        data, _ = sf.read(str(path), start=start, stop=read_stop, dtype="float32")
        _check_finite(data, path)
        waveform[: len(data)] = data
    return torch.from_numpy(waveform)


def pcm16_data_chunk(path: str | os.PathLike, sample_rate: int) -> tuple[int, int] | None:
    """Where the samples of a mono 16-bit PCM WAV file at ``sample_rate`` start, and how many.

    Reads the RIFF header only (no libsndfile): the cheap check that lets :func:`read_pcm16`
    read samples with one ``pread``.

    Args:
        path: A file.
        sample_rate: The rate the file must have, in Hz.

    Returns:
        ``(byte offset of the first sample, frames)``; ``None`` if the file is missing, is not a
        complete mono 16-bit PCM WAV at ``sample_rate`` (another format, rate or channel count,
        RF64, truncated, empty) or its header is unusual: :func:`read_wav` then reads it, or
        says what is wrong with it.
    """
    try:
        with open(path, "rb") as f:
            file_bytes = os.fstat(f.fileno()).st_size
            found = _find_data_chunk(f)
    except OSError:
        return None
    if found is None:
        return None
    fmt, data_offset, chunk_bytes = found
    if fmt is None or len(fmt) < 16:
        return None
    audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if (audio_format, channels, rate, bits) != (1, 1, sample_rate, 16):  # 1: plain PCM
        return None
    if chunk_bytes == 0 or chunk_bytes % 2 or chunk_bytes > file_bytes - data_offset:
        return None  # empty, odd or truncated: read_wav explains
    return data_offset, chunk_bytes // 2


def read_pcm16(path: str | os.PathLike, data_chunk: tuple[int, int], start: int, stop: int) -> torch.Tensor:
    """Frames ``[start, stop)`` of a mono 16-bit PCM WAV file, with one ``pread`` and no checks.

    The fast path of :func:`read_wav` for a file already checked once: ``data_chunk`` is what
    :func:`pcm16_data_chunk` found in its header. Gives the same float32 values as
    :func:`read_wav` (``int16 / 32768``), zero-padded past the end likewise.

    Args:
        path: The file.
        data_chunk: ``(byte offset of the first sample, frames)``.
        start: First frame, ``>= 0``.
        stop: One past the last frame, ``>= start``.

    Returns:
        float32 waveform, shape ``(stop - start,)``.

    Raises:
        DataError: The file can no longer be read, or has become shorter since it was checked.
    """
    data_offset, frames = data_chunk
    waveform = np.zeros(stop - start, dtype=np.float32)
    read_stop = min(stop, frames)
    if start < read_stop:
        n_bytes = 2 * (read_stop - start)
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                raw = os.pread(fd, n_bytes, data_offset + 2 * start)
            finally:
                os.close(fd)
        except OSError as error:
            raise DataError(f"{path} cannot be read any more ({error.strerror}); was the data set moved?") from None
        if len(raw) != n_bytes:
            raise DataError(f"{path} became shorter while it was being read; re-create or re-download it.")
        waveform[: read_stop - start] = np.frombuffer(raw, dtype="<i2") / np.float32(PCM16_SCALE)
    return torch.from_numpy(waveform)


def _check_finite(data: np.ndarray, path: Path) -> None:
    # Float WAVs can hold NaN/Inf; one such sample would turn every metric of the file into NaN.
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise DataError(f"{path} holds {bad} NaN or infinite sample(s); re-create the file.")


def audio_info(path: str | os.PathLike) -> tuple[int, int]:
    """Sample rate and length of any file libsndfile reads (WAV, FLAC, …), from its header.

    Returns:
        ``(sample_rate, frames)``.

    Raises:
        DataError: libsndfile cannot read the file.
    """
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as error:
        raise DataError(f"{path} is not a readable audio file ({error}); remove or re-download it.") from None
    return info.samplerate, info.frames


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Any file libsndfile reads (WAV, FLAC, OGG, …), every channel, at its own rate.

    For the user's own recordings (``audioslots separate``) and for LibriSpeech FLAC; data sets
    read by :class:`~audioslots.data.dataset.LibriMix` go through the stricter :func:`read_wav`.

    Returns:
        ``(channels, samples)`` float32 array and the sample rate in Hz.

    Raises:
        DataError: The file is missing, unreadable, empty, or holds NaN/infinite samples.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; check the path.")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (samples, channels)
    except (sf.SoundFileError, RuntimeError) as error:
        reason = str(error).split(": ", 1)[-1].rstrip(".")
        raise DataError(f"{path} is not an audio file libsndfile can read ({reason}); convert it to WAV or FLAC.") from None
    if path.suffix.lower() == ".wav":
        _check_riff_not_truncated(path)
    if data.shape[0] == 0:
        raise DataError(f"{path} is empty (0 samples).")
    _check_finite(data, path)
    return np.ascontiguousarray(data.T), rate


def to_pcm16(waveform: np.ndarray) -> np.ndarray:
    """Quantise a float waveform in ``[-1, 1)`` to 16-bit integers, clipping outside it.

    Args:
        waveform: Float samples, any shape.

    Returns:
        int16 array of the same shape; ``to_pcm16(x) / 32768`` is what reading the file back
        gives.
    """
    scaled = np.rint(np.asarray(waveform, dtype=np.float64) * PCM16_SCALE)
    return np.clip(scaled, -PCM16_SCALE, PCM16_SCALE - 1).astype(np.int16)


def write_wav(path: str | os.PathLike, waveform, sample_rate: int) -> Path:
    """Write a mono waveform as a 16-bit PCM WAV file (the LibriMix format), atomically.

    The file is written next to its destination under a temporary name and then renamed, so a
    reader never sees a half-written file. Samples outside ``[-1, 1)`` are clipped (an int16
    array is written as is).

    Args:
        path: Destination; missing parent folders are created.
        waveform: Mono samples, shape ``(samples,)``: a float tensor or array in ``[-1, 1)``, or
            an int16 array of PCM values.
        sample_rate: In Hz.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu().numpy()
    waveform = np.asarray(waveform)
    if waveform.ndim != 1:
        raise ValueError(f"write_wav expects a mono waveform (samples,), not {waveform.shape}.")
    pcm = waveform if waveform.dtype == np.int16 else to_pcm16(waveform)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600), while the umask should decide.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "xb") as f:
            sf.write(f, pcm, sample_rate, subtype="PCM_16", format="WAV")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def load_for_model(path: str | os.PathLike, sample_rate: int, notice=None):
    """A user's recording as the model needs it: mono, at ``sample_rate``.

    Several channels are averaged and another rate is resampled (``torchaudio.functional.resample``,
    windowed sinc), each with a one-line ``notice``.

    Returns:
        ``(waveform (samples,) float32 tensor, restore)``; ``restore(signal)`` gives
        ``(input_rate, signal resampled back to the input's rate)`` for writing results.
    """
    import torchaudio.functional as AF  # torchaudio takes most of a second to import; only this function needs it

    data, rate = read_audio(path)
    waveform = torch.from_numpy(data)  # (channels, samples)
    if waveform.shape[0] > 1:
        if notice:
            notice(f"{path}: {waveform.shape[0]} channels mixed down to mono.")
        waveform = waveform.mean(0, keepdim=True)
    if rate != sample_rate:
        if notice:
            notice(f"{path}: resampled from {rate} Hz to the model's {sample_rate} Hz; sources are written at {rate} Hz.")
        waveform = AF.resample(waveform, rate, sample_rate)
    length = data.shape[1]

    def restore(signal: torch.Tensor):
        if rate == sample_rate:
            return rate, signal
        back = AF.resample(signal[None].float(), sample_rate, rate)[0]
        return rate, torch.nn.functional.pad(back, (0, max(0, length - back.shape[-1])))[:length]

    return waveform[0], restore
