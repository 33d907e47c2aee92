"""Build a LibriMix-layout data set from LibriSpeech utterances, by the published LibriMix recipe.

``build_librimix(speech_dir, out)`` writes what :class:`audioslots.data.dataset.LibriMix` reads (and what
the official scripts of Cosentino et al. 2020, *LibriMix*, write)::

    <out>/wav16k/min/<split>/{mix_clean,s1,s2[,s3]}/<mixture_ID>.wav
    <out>/wav16k/min/metadata/mixture_<split>_mix_clean.csv
    <out>/wav16k/min/metadata/mixture_<split>_gains.csv      (speakers, utterances, loudness, gains)

from any folder of LibriSpeech-named audio (``SPEAKER-CHAPTER-UTTERANCE.flac``, searched
recursively). The LibriMix recipe, step by step:

1. utterances shorter than 3 s are left out (LibriMix's ``NUMBER_OF_SECONDS``);
2. each mixture takes ``n_src`` utterances of different speakers of one split;
3. each utterance is loudness-normalised (ITU-R BS.1770 with ``pyloudnorm``, as LibriMix) to a
   loudness drawn uniformly from −33…−25 LUFS; a source that would then clip (peak ≥ 1) is
   scaled to a peak of 0.9 instead;
4. if the sum of the sources (padded to the longest: LibriMix checks the ``max`` mixture) peaks
   above 0.9, every source is scaled by the same factor so that it peaks at 0.9;
5. ``min`` mode: every source is cut to the shortest, the mixture is their sum.

Steps 3–5 are the recipe of :mod:`audioslots.data.mixing`, which the synthetic set shares; what
is LibriSpeech's own here is the BS.1770 meter and step 3's rule for a clipping source.

[choice] LibriMix uses LibriSpeech's own speaker-disjoint subsets as splits; a single folder has
no such subsets, so its speakers are shared out at random (``dev_speakers``/``test_speakers``
fractions, :func:`~audioslots.data.mixing.split_speakers`) and no speaker appears in two splits.
The training split is written as ``train-360``, the split the paper (and
:func:`audioslots.training.loop.train`) trains on. Only 16 kHz is written.
Deterministic for a given seed and folder.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioslots.audio import audio_info, read_audio, write_wav
from audioslots.data.layout import BUILT_SPLITS, metadata_columns, metadata_path, write_csv
from audioslots.data.mixing import (
    MAX_AMPLITUDE,
    draw_loudness_targets,
    gain_to_loudness,
    mix_without_clipping,
    split_speakers,
)
from audioslots.errors import ConfigError, DataError

SAMPLE_RATE = 16_000
MIN_SECONDS = 3.0  # LibriMix leaves out shorter utterances
AUDIO_SUFFIXES = (".flac", ".wav")
_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)$")  # LibriSpeech SPEAKER-CHAPTER-UTTERANCE
SETTINGS_NAME = "build.json"  # beside the metadata CSVs: the settings of the build there


@dataclass(frozen=True)
class Utterance:
    speaker: str
    utterance_id: str  # SPEAKER-CHAPTER-UTTERANCE
    path: Path
    samples: int


def find_utterances(speech_dir: str | os.PathLike) -> list[Utterance]:
    """Every LibriSpeech-named 16 kHz utterance of at least 3 s under ``speech_dir``, sorted by name."""
    root = Path(speech_dir)
    if not root.is_dir():
        raise DataError(f"The speech folder {root} does not exist; give a folder of LibriSpeech "
                        "SPEAKER-CHAPTER-UTTERANCE.flac files.")
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        if not _NAME.match(path.stem):
            continue
        rate, frames = audio_info(path)
        if rate != SAMPLE_RATE:
            raise DataError(f"{path} is {rate} Hz; LibriSpeech is {SAMPLE_RATE} Hz and "
                            "mix-librispeech writes 16 kHz mixtures only.")
        if frames >= MIN_SECONDS * SAMPLE_RATE:
            found.append(Utterance(path.stem.split("-")[0], path.stem, path, frames))
    if not found:
        raise DataError(f"{root} holds no LibriSpeech-named utterance (SPEAKER-CHAPTER-UTTERANCE.flac "
                        f"or .wav) of at least {MIN_SECONDS:g} s.")
    return found


def _loudness_normalise(audio: np.ndarray, meter, target: float, loudness: float | None = None) -> np.ndarray:
    """LibriMix step 3: to ``target`` LUFS, or to a 0.9 peak if that would clip (``loudness``: measured already)."""
    loudness = meter.integrated_loudness(audio) if loudness is None else loudness
    if not np.isfinite(loudness):
        raise DataError("silent utterance")  # caught and named by the caller
    out = gain_to_loudness(loudness, target) * audio
    if np.abs(out).max() >= 1:
        out = audio * MAX_AMPLITUDE / np.abs(audio).max()
    return out


def mix_sources(utterances: list[np.ndarray], targets_lufs: list[float], meter,
                loudness: list[float] | None = None) -> tuple[np.ndarray, list[float]]:
    """LibriMix steps 3–5 for one mixture: ``(n_src, samples)`` sources (``min`` mode) and their gains.

    ``meter``: a ``pyloudnorm.Meter``; ``loudness``: the utterances' measured loudness (LUFS), if
    known; measured otherwise.
    """
    normalised, gains = [], []
    for k, (audio, target) in enumerate(zip(utterances, targets_lufs)):
        out = _loudness_normalise(audio, meter, target, None if loudness is None else loudness[k])
        normalised.append(out)
        gains.append(float(np.linalg.norm(out) / np.linalg.norm(audio)))  # both steps are plain scalings
    sources, weight = mix_without_clipping(normalised)
    return sources, [g * weight for g in gains]


def _draw_mixtures(utterances: list[Utterance], n_mixtures: int, n_src: int, rng) -> list[tuple[int, ...]]:
    by_speaker: dict[str, list[int]] = {}
    for i, u in enumerate(utterances):
        by_speaker.setdefault(u.speaker, []).append(i)
    speakers = sorted(by_speaker)
    if len(speakers) < n_src:
        raise DataError(f"A split has {len(speakers)} speaker(s) but mixtures of {n_src} need as many "
                        "different speakers; use more speech or smaller dev/test fractions.")
    chosen, seen = [], set()
    for _ in range(50 * n_mixtures):
        if len(chosen) == n_mixtures:
            break
        picked = rng.choice(len(speakers), size=n_src, replace=False)
        combo = tuple(int(rng.choice(by_speaker[speakers[s]])) for s in picked)
        if frozenset(combo) not in seen:
            seen.add(frozenset(combo))
            chosen.append(combo)
    return chosen  # fewer than asked when the split has fewer distinct combinations


class _MeasuredSpeech:
    """Utterances decoded and measured once each (an utterance is in many mixtures)."""

    def __init__(self, meter):
        self.meter = meter  # ITU-R BS.1770-4, as LibriMix
        self._cache: dict[Path, tuple[np.ndarray, float]] = {}

    def __call__(self, utterance: Utterance) -> tuple[np.ndarray, float]:
        """The utterance as float64 mono ``(samples,)`` and its loudness in LUFS."""
        if utterance.path not in self._cache:
            audio = read_audio(utterance.path)[0].mean(0).astype(np.float64)
            self._cache[utterance.path] = audio, self.meter.integrated_loudness(audio)
        return self._cache[utterance.path]


def _write_split(out: Path, split: str, combos: list[tuple[int, ...]], members: list[Utterance],
                 speech: _MeasuredSpeech, rng: np.random.Generator, n_src: int, progress: bool) -> None:
    """Mix, write and list the mixtures ``combos`` (indices into ``members``) of one split."""
    folder = out / "wav16k" / "min" / split
    rows, gain_rows = [], []
    for combo in tqdm(combos, desc=f"mix {split}", disable=not progress):
        chosen = [members[i] for i in combo]
        targets = draw_loudness_targets(rng, n_src).tolist()
        audio, loudness = zip(*(speech(u) for u in chosen))
        try:
            sources, gains = mix_sources(list(audio), targets, speech.meter, list(loudness))
        except DataError:
            raise DataError(f"One of {', '.join(str(u.path) for u in chosen)} is silent; remove it.") from None
        mixture_id = "_".join(u.utterance_id for u in chosen)
        paths = [write_wav(folder / "mix_clean" / f"{mixture_id}.wav", sources.sum(0).astype(np.float32), SAMPLE_RATE)]
        for k, source in enumerate(sources, start=1):
            paths.append(write_wav(folder / f"s{k}" / f"{mixture_id}.wav", source.astype(np.float32), SAMPLE_RATE))
        rows.append([mixture_id, *(str(p.resolve()) for p in paths), sources.shape[1]])
        gain_rows.append([mixture_id, *(u.speaker for u in chosen), *(f"{t:.3f}" for t in targets),
                          *(f"{g:.6g}" for g in gains)])
    csv_path = metadata_path(out, split)
    write_csv(csv_path, metadata_columns(n_src), rows)
    write_csv(csv_path.with_name(f"mixture_{split}_gains.csv"),
              ["mixture_ID", *(f"speaker_{k}" for k in range(1, n_src + 1)),
               *(f"source_{k}_target_lufs" for k in range(1, n_src + 1)),
               *(f"source_{k}_gain" for k in range(1, n_src + 1))], gain_rows)


def build_librimix(
    speech_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_src: int = 2,
    mixtures: dict[str, int] | None = None,
    dev_fraction: float = 0.08,
    test_fraction: float = 0.16,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a ``min``-mode, 16 kHz Libri{n_src}Mix from LibriSpeech utterances; returns ``out``.

    Args:
        speech_dir: folder searched recursively for ``SPEAKER-CHAPTER-UTTERANCE.flac``/``.wav``.
        out: the ``Libri2Mix``-like folder to write (it will hold ``wav16k/min/...``).
        n_src: speakers per mixture, 2 or 3.
        mixtures: mixtures per split, default ``{"train-360": 1000, "dev": 50, "test": 100}``.
        dev_fraction, test_fraction: shares of the speakers held out for dev and test.
        seed: the same seed and folder give the same files, bit for bit.

    A folder already holding a complete build with the same settings is left as it is.
    """
    # pyloudnorm imports scipy.signal (about a second); only this builder needs it.
    import pyloudnorm

    if n_src not in (2, 3):
        raise ConfigError(f"--n-src must be 2 or 3, not {n_src}.")
    counts = {"train-360": 1000, "dev": 50, "test": 100, **(mixtures or {})}
    if set(counts) - set(BUILT_SPLITS) or min(counts.values()) < 1:
        raise ConfigError(f"Mixture counts must be positive and for the splits {', '.join(BUILT_SPLITS)}: {counts}.")
    out = Path(out)
    settings = {"n_src": n_src, "mixtures": counts, "dev_fraction": dev_fraction, "test_fraction": test_fraction,
                "seed": seed, "speech_dir": Path(speech_dir).name}
    stamp = out / "wav16k" / "min" / "metadata" / SETTINGS_NAME
    if stamp.is_file() and json.loads(stamp.read_text()) == settings:
        return out

    utterances = find_utterances(speech_dir)
    splits = split_speakers([u.speaker for u in utterances], dev_fraction, test_fraction, seed)
    speech = _MeasuredSpeech(pyloudnorm.Meter(SAMPLE_RATE))
    for split_index, split in enumerate(BUILT_SPLITS):
        members = [u for u in utterances if u.speaker in set(splits[split])]
        rng = np.random.default_rng([seed, 1, split_index])
        combos = _draw_mixtures(members, counts[split], n_src, rng)
        _write_split(out, split, combos, members, speech, rng, n_src, progress)
    stamp.write_text(json.dumps(settings, indent=2) + "\n")
    return out
