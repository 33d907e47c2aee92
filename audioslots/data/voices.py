"""Synthetic speech-like voices: the sound of the synthetic data set (:mod:`audioslots.data.synthetic`).

It is not speech, but it has the structure the paper's model has to separate:

- voiced sounds: harmonics of a moving pitch (smooth random intonation, declination, pitch
  accents), male (85-155 Hz) and female (165-255 Hz) voices;
- vowels: 4 formants that glide from vowel to vowel, scaled per speaker (vocal-tract length),
  over a glottal spectral tilt, with harmonics up to Nyquist;
- syllables at 3-6 per second, phrases separated by 0.1-0.6 s pauses, so that two speakers
  overlap only part of the time;
- fricative-like noise bursts with their energy above ~3 kHz, so that the paper's "blurry
  high-frequency detail" problem exists here too.

The waveform is built in the STFT domain: a flat harmonic excitation (closed-form Dirichlet
kernel, so its cost does not grow with the number of harmonics) and white noise are each
multiplied frame by frame by their spectral envelope, then overlap-added. :func:`loudness_db` is
the level meter the voices are mixed by (BS.1770's gating without its K-weighting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Formants F1-F4 (Hz) of ten English vowels, adult male averages (Peterson and Barney 1952,
# Hillenbrand et al. 1995); speakers scale them by their vocal-tract factor.
VOWEL_FORMANTS_HZ = np.array(
    [
        [270, 2290, 3010, 3500],  # i
        [390, 1990, 2550, 3600],  # I
        [530, 1840, 2480, 3500],  # E
        [660, 1720, 2410, 3500],  # ae
        [730, 1090, 2440, 3400],  # a
        [570, 840, 2410, 3300],  # o (open)
        [440, 1020, 2240, 3300],  # U
        [300, 870, 2240, 3300],  # u
        [640, 1190, 2390, 3400],  # V
        [490, 1350, 1690, 3300],  # er
    ],
    dtype=np.float64,
)
FORMANT_BANDWIDTHS_HZ = np.array([80.0, 100.0, 150.0, 250.0])
FORMANT_GAINS = 10.0 ** (np.array([0.0, -2.0, -6.0, -10.0]) / 20.0)
FORMANT_FLOOR = 10.0 ** (-30.0 / 20.0)  # depth of the valleys between formants

MALE_F0_HZ = (85.0, 155.0)
FEMALE_F0_HZ = (165.0, 255.0)
PAUSE_SECONDS = (0.1, 0.6)
PHRASE_SECONDS = (0.6, 2.2)
FRICATIVE_SECONDS = (0.04, 0.13)
FRICATIVE_CENTRE_HZ = (3500.0, 6500.0)
NOISE_FLOOR_DB = -60.0  # faint recording noise, relative to the utterance's loudness


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: everything that stays fixed across their utterances."""

    #: Unique across all splits (pools are disjoint, as in LibriMix).
    speaker_id: int
    #: ``"male"`` or ``"female"``; bounds the pitch.
    sex: str
    #: Mean pitch.
    f0_hz: float
    #: Size of the intonation movements; 0 gives a monotone voice.
    f0_range_semitones: float
    #: Vocal-tract factor applied to all formants (1 = average adult male).
    formant_scale: float
    #: Speaking rate.
    syllables_per_second: float
    #: Spectral slope of the voiced source (negative).
    tilt_db_per_octave: float
    #: Probability that a syllable starts with a fricative.
    fricative_rate: float

    @property
    def f0_bounds_hz(self) -> tuple[float, float]:
        """The pitch range of the speaker's sex, ``(low, high)``."""
        return MALE_F0_HZ if self.sex == "male" else FEMALE_F0_HZ


def make_speakers(rng: np.random.Generator, n_speakers: int, first_id: int) -> list[Speaker]:
    """A pool of speakers, alternating male and female, with ids ``first_id, first_id + 1, ...``.

    Args:
        rng: Source of randomness.
        n_speakers: Pool size.
        first_id: Id of the first speaker.

    Returns:
        The speakers.
    """
    speakers = []
    for k in range(n_speakers):
        male = k % 2 == 0
        speakers.append(
            Speaker(
                speaker_id=first_id + k,
                sex="male" if male else "female",
                f0_hz=rng.uniform(100.0, 135.0) if male else rng.uniform(185.0, 230.0),
                f0_range_semitones=rng.uniform(1.0, 2.5),
                formant_scale=rng.uniform(0.95, 1.06) if male else rng.uniform(1.12, 1.24),
                syllables_per_second=rng.uniform(3.5, 5.5),
                tilt_db_per_octave=rng.uniform(-9.0, -5.0),
                fricative_rate=rng.uniform(0.25, 0.5),
            )
        )
    return speakers


# --- STFT-domain synthesis ---------------------------------------------------------------------


def _stft_sizes(sample_rate: int) -> tuple[int, int]:
    """FFT size and hop: 32 ms windows, 8 ms hop (512 and 128 at 16 kHz)."""
    hop = sample_rate // 125
    return 4 * hop, hop


def _stft(x: np.ndarray, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """Centred STFT with a square-root Hann window; ``(samples,) -> (frames, n_fft // 2 + 1)``."""
    window = np.sqrt(np.hanning(n_fft + 1)[:-1])
    padded_length = (n_frames - 1) * hop + n_fft
    padded = np.zeros(padded_length)
    padded[n_fft // 2 : n_fft // 2 + len(x)] = x[: padded_length - n_fft // 2]
    frames = sliding_window_view(padded, n_fft)[::hop][:n_frames]  # (frames, n_fft)
    return np.fft.rfft(frames * window, axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, n_samples: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`; ``(frames, bins) -> (samples,)``."""
    window = np.sqrt(np.hanning(n_fft + 1)[:-1])
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window  # (frames, n_fft)
    n_frames = len(frames)
    out = np.zeros((n_frames + 3) * hop)
    norm = np.zeros_like(out)
    # n_fft = 4 * hop: each frame is 4 hop-long pieces, overlap-added with 4 shifted slices.
    pieces = frames.reshape(n_frames, 4, hop)
    window_pieces = (window**2).reshape(4, hop)
    for j in range(4):
        out[j * hop : (j + n_frames) * hop] += pieces[:, j].reshape(-1)
        norm[j * hop : (j + n_frames) * hop] += np.tile(window_pieces[j], n_frames)
    out = out / np.maximum(norm, 1e-8)
    return out[n_fft // 2 : n_fft // 2 + n_samples]


def _rise_and_fall(n_frames: int, power: float) -> np.ndarray:
    """A rise-and-fall envelope over ``n_frames`` frames, peak 1."""
    u = (np.arange(n_frames) + 0.5) / n_frames
    return np.sin(np.pi * u) ** power


def _smooth(tracks: np.ndarray, n_frames: int) -> np.ndarray:
    """Moving Hann average of ``(frames, ...)`` tracks over ``n_frames`` frames (edges held)."""
    kernel = np.hanning(n_frames + 2)[1:-1]
    kernel /= kernel.sum()
    half = n_frames // 2
    pad_widths = [(half, n_frames - 1 - half)] + [(0, 0)] * (tracks.ndim - 1)
    padded = np.pad(tracks, pad_widths, mode="edge")
    windows = sliding_window_view(padded, n_frames, axis=0)  # (frames, ..., n_frames)
    return windows @ kernel


@dataclass
class _ControlTracks:
    """Frame-rate control tracks of one utterance (one value per STFT frame)."""

    voiced: np.ndarray  # (frames,) voiced amplitude
    fricative: np.ndarray  # (frames,) fricative amplitude
    fricative_centre_hz: np.ndarray  # (frames,) centre of the fricative noise band
    vowel: np.ndarray  # (frames,) index into VOWEL_FORMANTS_HZ
    formant_jitter: np.ndarray  # (frames,) per-syllable formant factor around 1
    pitch_semitones: np.ndarray  # (frames,) declination and accents, before the slow drift


def _control_tracks(
    rng: np.random.Generator, speaker: Speaker, n_frames: int, frame_seconds: float
) -> _ControlTracks:
    """Lay out phrases, pauses, syllables, vowels, fricatives and pitch accents on the frames."""
    tracks = _ControlTracks(
        voiced=np.zeros(n_frames),
        fricative=np.zeros(n_frames),
        fricative_centre_hz=np.full(n_frames, FRICATIVE_CENTRE_HZ[0]),
        vowel=np.zeros(n_frames, dtype=np.int64),
        formant_jitter=np.ones(n_frames),
        pitch_semitones=np.zeros(n_frames),
    )

    def frames(seconds: float) -> int:
        return max(1, round(seconds / frame_seconds))

    pitch_range = speaker.f0_range_semitones
    t = frames(rng.uniform(0.0, 0.3))  # leading silence
    while t < n_frames:
        phrase_end = min(n_frames, t + frames(rng.uniform(*PHRASE_SECONDS)))
        phrase_start = t
        while t < phrase_end:
            if rng.random() < speaker.fricative_rate:
                length = frames(rng.uniform(*FRICATIVE_SECONDS))
                level = 10.0 ** (rng.uniform(-12.0, -4.0) / 20.0)
                span = slice(t, min(t + length, phrase_end))  # never into the pause
                burst = level * _rise_and_fall(length, 0.5)[: span.stop - t]
                tracks.fricative[span] = np.maximum(tracks.fricative[span], burst)
                tracks.fricative_centre_hz[span] = rng.uniform(*FRICATIVE_CENTRE_HZ)
                t += max(1, length - 1)  # the vowel starts as the fricative fades
            syllable = frames(rng.uniform(0.7, 1.3) / speaker.syllables_per_second)
            span = slice(t, min(t + syllable, phrase_end))
            if span.stop <= span.start:
                break
            # Hold the previous vowel across pauses so that formants glide into the next one.
            vowel = int(rng.integers(len(VOWEL_FORMANTS_HZ)))
            tracks.vowel[span.start :] = vowel
            tracks.formant_jitter[span.start :] = rng.uniform(0.95, 1.05)
            n_voiced = span.stop - span.start
            tracks.voiced[span] = rng.uniform(0.5, 1.0) * _rise_and_fall(syllable, 0.6)[:n_voiced]
            if rng.random() < 0.3:  # pitch accent on this syllable
                accent = pitch_range * rng.uniform(0.5, 1.5)
                tracks.pitch_semitones[span] += accent * _rise_and_fall(syllable, 1.0)[:n_voiced]
            t = span.stop
        # Declination: pitch drifts down over each phrase.
        drop = pitch_range * rng.uniform(0.3, 0.8)
        phrase = slice(phrase_start, phrase_end)
        tracks.pitch_semitones[phrase] += np.linspace(drop / 2, -drop / 2, phrase_end - phrase_start)
        t = phrase_end + frames(rng.uniform(*PAUSE_SECONDS))
    return tracks


def _pitch_hz(
    rng: np.random.Generator, speaker: Speaker, tracks: _ControlTracks, frame_seconds: float
) -> np.ndarray:
    """f0 contour on the frame grid: the control tracks + slow random drift, softly kept in the sex's range."""
    n_frames = len(tracks.pitch_semitones)
    times = np.arange(n_frames) * frame_seconds
    rates_hz = rng.uniform(0.2, 1.5, size=3)
    phases = rng.uniform(0.0, 2 * np.pi, size=3)
    waves = np.sin(2 * np.pi * rates_hz * times[:, None] + phases)  # (frames, 3)
    drift = 0.4 * speaker.f0_range_semitones * waves.sum(axis=1)
    semitones = tracks.pitch_semitones + drift
    low, high = speaker.f0_bounds_hz
    # Soft limit (tanh) rather than clipping, so that contours stay smooth near the bounds.
    up = 12.0 * np.log2(high / speaker.f0_hz)
    down = 12.0 * np.log2(speaker.f0_hz / low)
    semitones = np.where(
        semitones > 0, up * np.tanh(semitones / up), down * np.tanh(semitones / down)
    )
    return speaker.f0_hz * 2.0 ** (semitones / 12.0)


def _harmonic_excitation(f0_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sum of equal-amplitude cosine harmonics of a moving f0, up to Nyquist; ``(samples,)``.

    Closed form of ``sum(cos(k * phi) for k in 1..K)`` (Dirichlet kernel): the cost does not
    depend on K.
    K is fixed for the utterance (highest f0) so that no harmonic switches on or off abruptly.
    """
    n_harmonics = max(1, int(0.95 * (sample_rate / 2) / f0_hz.max()))
    # Phase accumulated in float64 (it grows to thousands of radians), the rest in float32.
    phase = np.mod(np.cumsum(f0_hz * (2 * np.pi / sample_rate)), 2 * np.pi).astype(np.float32)
    half_sin = np.sin(phase / 2)
    safe = np.abs(half_sin) > 1e-4
    kernel = np.sin((n_harmonics + 0.5) * phase) / (2 * np.where(safe, half_sin, 1.0)) - 0.5
    return np.where(safe, kernel, np.float32(n_harmonics))


def synthesize_source(
    rng: np.random.Generator, speaker: Speaker, seconds: float, sample_rate: int
) -> np.ndarray:
    """One speech-like utterance of ``speaker``.

    Args:
        rng: Source of randomness (the utterance is a deterministic function of its state).
        speaker: Voice parameters.
        seconds: Length.
        sample_rate: In Hz.

    Returns:
        float64 waveform, shape ``(samples,)``, vowels peaking near amplitude 1 (before the
        loudness normalisation of the mixing step).
    """
    n_samples = round(seconds * sample_rate)
    n_fft, hop = _stft_sizes(sample_rate)
    n_frames = n_samples // hop + 1
    frame_seconds = hop / sample_rate
    tracks = _control_tracks(rng, speaker, n_frames, frame_seconds)
    freqs_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate).astype(np.float32)  # (bins,)
    spec = np.zeros((n_frames, len(freqs_hz)), dtype=np.complex64)  # (frames, bins)

    # Voiced part: flat harmonics x glottal tilt x formant envelope, on the voiced frames only.
    f0_frames = _pitch_hz(rng, speaker, tracks, frame_seconds)
    f0_samples = np.interp(np.arange(n_samples), np.arange(n_frames) * hop, f0_frames)
    excitation = _stft(_harmonic_excitation(f0_samples, sample_rate), n_fft, hop, n_frames)
    formants = VOWEL_FORMANTS_HZ[tracks.vowel] * tracks.formant_jitter[:, None]  # (frames, 4)
    formants = _smooth(formants, max(3, round(0.06 / frame_seconds))) * speaker.formant_scale
    half_widths = FORMANT_BANDWIDTHS_HZ * speaker.formant_scale / 2
    # |H| ~ f ** (tilt / 6.02 dB) above 150 Hz, flat below.
    tilt_exponent = speaker.tilt_db_per_octave / (2 * 20 * np.log10(2))
    tilt = (1.0 + (freqs_hz / 150.0) ** 2) ** tilt_exponent
    voiced = tracks.voiced > 0
    envelope = np.full((voiced.sum(), len(freqs_hz)), FORMANT_FLOOR, dtype=np.float32)
    for k in range(4):  # a sum of Lorentzian resonances, one per formant
        centres = formants[voiced, k, None].astype(np.float32)  # (voiced frames, 1)
        detuning = (freqs_hz - centres) / np.float32(half_widths[k])
        envelope += np.float32(FORMANT_GAINS[k]) / (1.0 + detuning * detuning)
    # Above ~5 kHz real voiced speech fades into breath noise; fricatives own that region.
    tilt /= 1.0 + (freqs_hz / 5000.0) ** 4
    envelope *= tilt.astype(np.float32)
    harmonics = excitation[voiced].astype(np.complex64) * envelope  # (voiced frames, bins)
    # Unit mean power per frame, so that the control tracks' amplitudes are the frame levels.
    power = (harmonics.real**2 + harmonics.imag**2).mean(axis=1, keepdims=True)
    gains = tracks.voiced[voiced, None] / np.sqrt(power + 1e-20)
    spec[voiced] += harmonics * gains.astype(np.float32)

    # Fricatives: random-phase noise in a band above ~3 kHz (log-Gaussian around a centre,
    # high-passed), drawn directly in the STFT domain for the frames that need it.
    active = tracks.fricative > 0
    nyquist = sample_rate / 2
    centre = np.minimum(tracks.fricative_centre_hz[active], 0.8 * nyquist)[:, None]
    octaves = np.log2(np.maximum(freqs_hz, 1.0)[None, :] / centre)
    high_pass = 1.0 / (1.0 + (min(2500.0, 0.6 * nyquist) / np.maximum(freqs_hz, 1.0)) ** 8)
    band = np.exp(-0.5 * (octaves / 0.6) ** 2) * high_pass  # (active frames, bins)
    band *= tracks.fricative[active, None] / np.sqrt((band**2).mean(axis=1, keepdims=True))
    noise = rng.standard_normal((2, *band.shape)) / np.sqrt(2)
    spec[active] += (band * (noise[0] + 1j * noise[1])).astype(np.complex64)

    waveform = _istft(spec, n_fft, hop, n_samples)
    floor_std = 10.0 ** ((loudness_db(waveform, sample_rate) + NOISE_FLOOR_DB) / 20.0)
    return waveform + floor_std * rng.standard_normal(n_samples)


# --- Level ---------------------------------------------------------------------------------------


def loudness_db(waveform: np.ndarray, sample_rate: int) -> float:
    """Gated mean-square level in dB full scale: ITU-R BS.1770 loudness without K-weighting.

    Mean squares of 400 ms blocks (75 % overlap); blocks below -70 dB, then those more than
    10 dB below the mean of the rest, are ignored, so pauses do not lower the level.

    Args:
        waveform: Shape ``(samples,)``.
        sample_rate: In Hz.

    Returns:
        The level in dB (``-inf`` for silence).
    """
    block = int(0.4 * sample_rate)
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(waveform, dtype=np.float64) ** 2)])
    if len(waveform) <= block:
        mean_squares = np.array([energy[-1] / max(1, len(waveform))])
    else:
        starts = np.arange(0, len(waveform) - block + 1, block // 4)
        mean_squares = (energy[starts + block] - energy[starts]) / block
    kept = mean_squares[mean_squares > 10.0 ** (-70.0 / 10)]
    if kept.size == 0:
        return -math.inf
    kept = kept[kept > kept.mean() * 10.0 ** (-10.0 / 10)]
    return float(10.0 * np.log10(kept.mean()))
