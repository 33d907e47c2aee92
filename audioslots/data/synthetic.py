"""The synthetic data set: speech-like two-speaker mixtures, written in the LibriMix layout.

Libri2Mix is 30+ GB and needs LibriSpeech; this module makes a small stand-in in seconds so that
everything runs out of the box. Its sources are the speech-like voices of
:mod:`audioslots.data.voices`: one male and one female voice per mixture, from disjoint pools of
speakers per split, mixed by LibriMix's recipe (:mod:`audioslots.data.mixing`: each source at a
random loudness in -33...-25 dB, everything scaled down together if anything would clip). The set
is written exactly like LibriMix (``wav16k/min/<split>/{mix_clean,s1,s2}`` plus metadata CSVs
with absolute paths), so :class:`audioslots.data.dataset.LibriMix` reads both.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioslots.audio import PCM16_SCALE, to_pcm16, write_wav
from audioslots.data.layout import SPLITS, metadata_columns, metadata_path, wav_folder, write_csv
from audioslots.data.mixing import draw_loudness_targets, gain_to_loudness, mix_without_clipping
from audioslots.data.voices import Speaker, loudness_db, make_speakers, synthesize_source
from audioslots.errors import ConfigError, DataError

GENERATOR_VERSION = 1  # bump when the audio changes, so old folders are not taken as current
MANIFEST_NAME = "synthetic.json"
# The generator's name in every manifest written since version 1: a name, not a module path, so
# that sets made before a module moved are still recognised as current.
GENERATOR_NAME = "audioslots.synth"


def mix_sources(rng: np.random.Generator, sources: np.ndarray, sample_rate: int) -> np.ndarray:
    """Bring each source to a random level and quantise to 16-bit, by LibriMix's recipe.

    The levels are measured with :func:`~audioslots.data.voices.loudness_db` (no K-weighting).
    [choice] One clipping check stands for LibriMix's two (a source at a peak of 1, the mixture
    above 0.9): everything is scaled to a 0.9 peak once a source or the mixture reaches a peak of
    1, less a few 16-bit steps so that rounding each source cannot push the integer sum past the
    int16 range.

    Args:
        rng: Source of randomness for the levels.
        sources: Shape ``(n_src, samples)``.
        sample_rate: In Hz.

    Returns:
        int16 PCM sources, shape ``(n_src, samples)``; their sum (the mixture) does not clip.
    """
    targets_db = draw_loudness_targets(rng, len(sources))
    levels_db = np.array([loudness_db(s, sample_rate) for s in sources])
    scaled = sources * gain_to_loudness(levels_db, targets_db)[:, None]
    clip_at = 1.0 - (len(sources) + 1) / PCM16_SCALE
    mixed, _ = mix_without_clipping(scaled, clip_at=clip_at, count_source_peaks=True)
    return to_pcm16(mixed)


# --- The data set -------------------------------------------------------------------------------


def _default_mixtures() -> dict[str, int]:
    return {"train-360": 600, "dev": 20, "test": 40}


def _default_seconds() -> dict[str, float]:
    return {"train-360": 3.0, "dev": 4.0, "test": 4.0}


def _default_speakers() -> dict[str, int]:
    return {"train-360": 40, "dev": 10, "test": 10}


@dataclass(frozen=True)
class SynthConfig:
    """Size and shape of a synthetic LibriMix-style data set (the defaults: ~190 MB)."""

    #: In Hz (written under ``wav<kHz>k/min``).
    sample_rate: int = 16000
    #: Speakers per mixture (one male and one female, then random ones).
    n_src: int = 2
    #: Mixtures per split; the splits written are its keys.
    mixtures: Mapping[str, int] = field(default_factory=_default_mixtures)
    #: Length of every utterance of a split, in seconds ("min" mode, so sources are equally long).
    seconds: Mapping[str, float] = field(default_factory=_default_seconds)
    #: Size of each split's speaker pool (half male, half female).
    speakers_per_split: Mapping[str, int] = field(default_factory=_default_speakers)

    def __post_init__(self):
        # Private copies, so that changing the caller's dict cannot change a frozen config.
        for name in ("mixtures", "seconds", "speakers_per_split"):
            object.__setattr__(self, name, dict(getattr(self, name)))
        if self.sample_rate % 1000 or self.sample_rate < 8000:
            raise ConfigError(
                f"Synthetic sample_rate must be a whole number of kHz >= 8000, "
                f"not {self.sample_rate}."
            )
        if self.n_src < 2:
            raise ConfigError(
                f"Synthetic mixtures need n_src >= 2 (one male, one female), not {self.n_src}."
            )
        if not self.mixtures:
            raise ConfigError("SynthConfig.mixtures is empty: give at least one split and count.")
        for split, count in self.mixtures.items():
            if split not in SPLITS:
                raise ConfigError(
                    f"Unknown split {split!r} in SynthConfig.mixtures: choose from "
                    f"{', '.join(SPLITS)}."
                )
            if count < 1:
                raise ConfigError(
                    f"SynthConfig.mixtures[{split!r}] must be at least 1, not {count}."
                )
            if self.seconds.get(split, 0) <= 0.1:
                raise ConfigError(
                    f"SynthConfig.seconds needs a length above 0.1 s for split {split!r}."
                )
            speakers = self.speakers_per_split.get(split, 0)
            if speakers < max(2, self.n_src):
                raise ConfigError(
                    f"SynthConfig.speakers_per_split[{split!r}] must be at least "
                    f"{max(2, self.n_src)} (n_src speakers, one male and one female), "
                    f"not {speakers}."
                )

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the fields."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _split_code(split: str) -> int:
    return SPLITS.index(split)


def speaker_pool(seed: int, split: str, n_speakers: int) -> list[Speaker]:
    """The speakers of ``split``, made for it; ids ``1000 * (split index + 1) + k`` keep pools disjoint.

    Args:
        seed: Main seed of the data set.
        split: One of :data:`audioslots.data.layout.SPLITS`.
        n_speakers: Pool size.

    Returns:
        The speakers.
    """
    code = _split_code(split)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(code, 0)))
    return make_speakers(rng, n_speakers, first_id=1000 * (code + 1))


def synthesize_mixture(
    seed: int,
    split: str,
    index: int,
    speakers: list[Speaker],
    seconds: float,
    sample_rate: int,
    n_src: int = 2,
) -> tuple[str, np.ndarray]:
    """Mixture ``index`` of ``split``: a deterministic function of ``(seed, split, index)``.

    Args:
        seed: Main seed of the data set.
        split: Split name (selects the seed stream).
        index: Mixture number within the split.
        speakers: The split's pool (see :func:`speaker_pool`).
        seconds: Utterance length.
        sample_rate: In Hz.
        n_src: Speakers in the mixture: one male, one female, then any, in random order.

    Returns:
        ``(mixture_id, sources)``: a LibriMix-style id ``"<spk>-<utt>_<spk>-<utt>"`` and int16
        PCM sources of shape ``(n_src, samples)`` whose sum is the mixture.
    """
    # One seed stream per mixture: a mixture does not change when others are added or skipped.
    seeds = np.random.SeedSequence(seed, spawn_key=(_split_code(split), 1, index))
    rng = np.random.default_rng(seeds)
    males = [s for s in speakers if s.sex == "male"]
    females = [s for s in speakers if s.sex == "female"]
    chosen = [males[rng.integers(len(males))], females[rng.integers(len(females))]]
    others = [s for s in speakers if s not in chosen]
    chosen += [others[k] for k in rng.choice(len(others), size=n_src - 2, replace=False)]
    chosen = [chosen[k] for k in rng.permutation(n_src)]
    sources = np.stack([synthesize_source(rng, s, seconds, sample_rate) for s in chosen])
    mixture_id = "_".join(f"{s.speaker_id}-{index:05d}" for s in chosen)
    return mixture_id, mix_sources(rng, sources, sample_rate)


def _manifest(seed: int, config: SynthConfig) -> dict:
    return {
        "generator": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "seed": seed,
        "config": config.to_dict(),
    }


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _holds_this_set(out_root: Path, manifest: dict) -> bool:
    """True if ``out_root`` already holds the set of ``manifest``, False if it is missing or empty.

    Raises:
        DataError: ``out_root`` is a file, or holds another synthetic set or other files.
    """
    if not out_root.exists():
        return False
    if not out_root.is_dir():
        raise DataError(f"{out_root} is a file; choose a folder path for the synthetic data.")
    existing = _read_manifest(out_root)
    if existing == manifest:
        return True
    if existing is not None:
        raise DataError(
            f"{out_root} holds a synthetic data set made with other settings (seed "
            f"{existing.get('seed')!r}, see its {MANIFEST_NAME}); delete it or choose "
            f"another folder."
        )
    if any(out_root.iterdir()):
        raise DataError(
            f"{out_root} already holds other files; choose a new or empty folder for the "
            f"synthetic data."
        )
    return False


def _write_split(
    staging: Path, final: Path, split: str, seed: int, config: SynthConfig, progress_bar
) -> None:
    """Write the WAVs and metadata CSV of one split under ``staging``, recording ``final`` paths."""
    rate_dir = wav_folder(config.sample_rate)
    split_dir = Path(rate_dir) / "min" / split
    folders = ["mix_clean"] + [f"s{k}" for k in range(1, config.n_src + 1)]
    speakers = speaker_pool(seed, split, config.speakers_per_split[split])
    rows = []
    for index in range(config.mixtures[split]):
        mixture_id, sources = synthesize_mixture(
            seed, split, index, speakers, config.seconds[split], config.sample_rate, config.n_src
        )
        # Sum in integers: the mixture read back is exactly the sum of the sources read back.
        mixture = sources.astype(np.int32).sum(axis=0)
        assert np.abs(mixture).max() < PCM16_SCALE, "mix_sources must prevent clipping"
        paths = []
        for folder, waveform in zip(folders, [mixture.astype(np.int16), *sources]):
            relative = split_dir / folder / f"{mixture_id}.wav"
            write_wav(staging / relative, waveform, config.sample_rate)
            paths.append(str(final / relative))
        rows.append([mixture_id, *paths, sources.shape[1]])
        progress_bar.update(1)
    csv_path = metadata_path(staging, split, sample_rate=config.sample_rate, mode="min")
    write_csv(csv_path, metadata_columns(config.n_src), rows)


def synthesize_librimix(
    out_root: str | os.PathLike,
    *,
    seed: int = 0,
    config: SynthConfig = SynthConfig(),
    progress: bool = True,
) -> Path:
    """Write a synthetic data set in the LibriMix layout, or reuse the one already there.

    Writes ``out_root/wav16k/min/<split>/{mix_clean,s1,s2}/<mixture_ID>.wav`` and
    ``out_root/wav16k/min/metadata/mixture_<split>_mix_clean.csv`` (absolute paths) for every
    split of ``config.mixtures``, plus ``synthetic.json`` recording the seed and config. The set
    is built in a hidden sibling folder and renamed into place at the end, so an interrupted run
    leaves no half-written ``out_root``.

    Args:
        out_root: Folder to create (it plays the role of ``.../Libri2Mix``).
        seed: Main seed; every mixture is a deterministic function of it, its split and index.
        config: Sizes.
        progress: Show a tqdm progress bar.

    Returns:
        ``out_root`` (absolute), ready for :class:`audioslots.data.dataset.LibriMix`.

    Raises:
        DataError: ``out_root`` exists and holds something else (another seed or config, or
            other files); it is never overwritten.
    """
    out_root = Path(out_root).absolute()
    manifest = _manifest(seed, config)
    if _holds_this_set(out_root, manifest):
        return out_root
    out_root.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its folders are private (0700), while the umask should decide.
    staging = out_root.with_name(f".{out_root.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    staging.mkdir()
    try:
        total = sum(config.mixtures.values())
        bar = tqdm(total=total, desc="Synthesising mixtures", unit="mix", disable=not progress)
        with bar:
            for split in config.mixtures:
                _write_split(staging, out_root, split, seed, config, bar)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            os.replace(staging, out_root)  # replaces out_root only if it is an empty folder
        except OSError:
            if not _holds_this_set(out_root, manifest):  # unless another process just wrote the same set
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_root
