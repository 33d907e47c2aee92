"""LibriMix, read where it lies: the official folder layout and metadata CSVs, no conversion.

The layout (:mod:`~audioslots.data.layout`) is the one the LibriMix generator (Cosentino et al.
2020) writes: ``<root>/wav16k/min/<split>/{mix_clean,s1,s2[,s3]}/<mixture_ID>.wav`` and a
metadata CSV per split listing absolute paths. Data sets get moved, so a recorded path that no
longer exists falls back to its place in the layout. The synthetic default data
(:mod:`audioslots.data.synthetic`) and the mini Libri2Mix built from LibriSpeech
(:mod:`audioslots.data.mix_librispeech`) are written in the same layout, so this one reader serves
all three. Reading is lazy: only the CSV is loaded up front.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from audioslots.audio import pcm16_data_chunk, read_pcm16, read_wav
from audioslots.data.layout import MODES, SPLITS, metadata_path, read_metadata, source_columns, wav_folder
from audioslots.errors import DataError

@dataclass(frozen=True)
class Example:
    """One mixture and its reference sources."""

    #: The ``mixture_ID`` of the metadata CSV.
    mixture_id: str
    #: Waveform, shape ``(samples,)``.
    mixture: torch.Tensor
    #: Waveforms, shape ``(n_src, samples)``; the mixture is their sum.
    sources: torch.Tensor


class LibriMix(torch.utils.data.Dataset):
    """The clean mixtures of one LibriMix split, read lazily from the official layout.

    Args:
        root: The folder that holds ``wav16k/`` (e.g. ``.../Libri2Mix``).
        split: One of :data:`audioslots.data.layout.SPLITS`.
        n_src: Sources per mixture: 2 for Libri2Mix, 3 for Libri3Mix.
        sample_rate: In Hz; every WAV read must have this rate.
        mode: ``"min"`` (utterances cut to the shorter source; our default) or ``"max"``.
            [choice] The paper names the clean 16 kHz Libri2Mix but not the mode.
        max_mixtures: Keep only the first this many mixtures of the CSV (``None``: all).

    Raises:
        DataError: ``root``, its ``wavXk/<mode>`` folder or the metadata CSV is missing, the
            split or mode is unknown, or the CSV lacks the expected columns.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        *,
        n_src: int = 2,
        sample_rate: int = 16000,
        mode: str = "min",
        max_mixtures: int | None = None,
    ):
        self.root = Path(root)
        self.split = split
        self.n_src = n_src
        self.sample_rate = sample_rate
        self.mode = mode
        self.max_mixtures = max_mixtures
        if not self.root.is_dir():
            raise DataError(
                f"The data folder {self.root} does not exist; give the LibriMix folder that "
                f"holds wav16k/ (e.g. .../Libri2Mix)."
            )
        if mode not in MODES:
            raise DataError(f"Unknown LibriMix mode {mode!r}: choose one of {', '.join(MODES)}.")
        rate_folder = self.root / wav_folder(sample_rate) / mode
        if not rate_folder.is_dir():
            found = sorted(p.name for p in self.root.glob("wav*k") if p.is_dir())
            raise DataError(
                f"The data folder {self.root} has no {rate_folder.relative_to(self.root)} folder "
                f"(found: {', '.join(found) or 'nothing LibriMix-like'}); give the folder that "
                f"holds wav16k/, or the --sample-rate and mode the data was generated with."
            )
        if split not in SPLITS:
            raise DataError(f"Unknown LibriMix split {split!r}: choose one of {', '.join(SPLITS)}.")
        if n_src < 1:
            raise DataError(f"n_src must be at least 1, not {n_src}.")
        self.metadata_path = metadata_path(root, split, sample_rate=sample_rate, mode=mode)
        if not self.metadata_path.is_file():
            raise DataError(
                f"The metadata CSV {self.metadata_path} does not exist; generate the {split!r} "
                f"split with the LibriMix scripts (or audioslots' synthetic data) first."
            )
        rows = read_metadata(self.metadata_path, n_src)
        if max_mixtures is not None:
            if max_mixtures < 1:
                raise DataError(f"max_mixtures must be at least 1, not {max_mixtures}.")
            rows = rows[:max_mixtures]
        ids = [row["mixture_ID"] for row in rows]
        if len(set(ids)) != len(ids):
            seen, repeated = set(), []
            for mixture_id in ids:
                if mixture_id in seen:
                    repeated.append(mixture_id)
                seen.add(mixture_id)
            raise DataError(
                f"The metadata CSV {self.metadata_path} lists the mixture ID(s) {', '.join(repeated[:3])} more "
                "than once; each mixture would be counted twice in every mean. Re-create the CSV."
            )
        # Plain lists of str/int: cheap to pickle into DataLoader workers.
        self._ids = ids
        self._lengths = [int(row["length"]) for row in rows]
        self._paths = [
            [row["mixture_path"], *(row[c] for c in source_columns(n_src))] for row in rows
        ]
        self._folders = [rate_folder / split / "mix_clean"] + [
            rate_folder / split / f"s{k}" for k in range(1, n_src + 1)
        ]
        self._memory: list[torch.Tensor] | None = None  # (1 + n_src, samples) per mixture, once preloaded
        # Filled as files are first read (each process, e.g. each DataLoader worker, has its own):
        # a random crop then costs one pread per file instead of libsndfile opening, parsing and
        # checking the file again (about 8x faster per file; benchmarks/data_pipeline.py).
        self._resolved_paths: dict[int, list[Path]] = {}
        self._pcm16_chunks: dict[Path, tuple[int, int] | None] = {}

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def lengths(self) -> list[int]:
        """Samples of each mixture, from the CSV's ``length`` column (no file is opened)."""
        return list(self._lengths)

    @property
    def nbytes(self) -> int:
        """Bytes the split's waveforms take in memory as float32 (from the CSV's lengths)."""
        return sum(self._lengths) * (1 + self.n_src) * 4

    def preload(self, progress: bool = False) -> LibriMix:
        """Read every WAV of the split into memory once; later reads and crops come from there.

        Worth it for small splits read many times (the synthetic set: a few hundred MB); a full
        Libri2Mix training split does not fit. Returns ``self``.
        """
        memory = []
        for index in tqdm(range(len(self)), desc=f"preload {self.split}", disable=not progress):
            example = self[index]
            memory.append(torch.cat([example.mixture[None], example.sources]))  # (1 + n_src, samples)
        self._memory = memory
        return self

    @property
    def mixture_ids(self) -> list[str]:
        """The ``mixture_ID`` of each mixture, in CSV order."""
        return list(self._ids)

    def _wav_paths(self, index: int) -> list[Path]:
        """Mixture and source files of one row: the recorded path, or its place in the layout."""
        if index in self._resolved_paths:
            return self._resolved_paths[index]
        mixture_id = self._ids[index]
        paths = []
        for recorded, folder in zip(self._paths[index], self._folders):
            recorded_path = Path(recorded)
            if not recorded_path.is_absolute():
                recorded_path = self.root / recorded_path
            if recorded_path.is_file():
                paths.append(recorded_path)
                continue
            layout_path = folder / f"{mixture_id}.wav"
            if not layout_path.is_file():
                raise DataError(
                    f"Neither {recorded} (listed in {self.metadata_path}) nor {layout_path} "
                    f"exists; the data set is incomplete: re-generate or re-download it."
                )
            paths.append(layout_path)
        self._resolved_paths[index] = paths
        return paths

    def _read_range(self, path: Path, start: int, stop: int) -> torch.Tensor:
        """``read_wav(path, sample_rate, start, stop)``, reading 16-bit PCM WAV directly.

        A mono 16-bit PCM WAV at the expected rate (LibriMix's format, checked once per file from
        its header by :func:`~audioslots.audio.pcm16_data_chunk`) is read with one ``pread``
        (:func:`~audioslots.audio.read_pcm16`); anything else goes through
        :func:`~audioslots.audio.read_wav` and its checks. Both give the same float32 values.
        """
        if path not in self._pcm16_chunks:
            self._pcm16_chunks[path] = pcm16_data_chunk(path, self.sample_rate)
        chunk = self._pcm16_chunks[path]
        if chunk is None:
            return read_wav(path, self.sample_rate, start, stop)
        return read_pcm16(path, chunk, start, stop)

    def _check_index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"Mixture index {index} out of range for {len(self)} mixtures.")
        return index % len(self)

    def __getitem__(self, index: int) -> Example:
        """The whole utterance ``index``: mixture ``(samples,)``, sources ``(n_src, samples)``."""
        index = self._check_index(index)
        if self._memory is not None:
            waveforms = self._memory[index].clone()  # callers may modify what they get
            return Example(self._ids[index], waveforms[0], waveforms[1:])
        paths = self._wav_paths(index)
        waveforms = [read_wav(p, self.sample_rate) for p in paths]
        for k, (path, waveform) in enumerate(zip(paths, waveforms)):
            if len(waveform) != self._lengths[index]:
                raise DataError(
                    f"{path} has {len(waveform)} samples but {self.metadata_path} says "
                    f"{self._lengths[index]}; the data set is inconsistent: re-generate it."
                )
            if k > 0 and not waveform.any():
                # SI-SNR of an all-zero reference is undefined: it would become NaN or a huge number.
                raise DataError(f"{path} is silent (all samples are zero), so no separation score exists for "
                                "it; remove the mixture from the CSV or re-create the file.")
        return Example(self._ids[index], waveforms[0], torch.stack(waveforms[1:]))

    def crop(self, index: int, offset: int, n_samples: int) -> Example:
        """Samples ``[offset, offset + n_samples)`` of mixture ``index`` and its sources.

        Only that range is read from disk; what lies past the end of the utterance is zeros.

        Args:
            index: Mixture index.
            offset: First sample, ``>= 0``.
            n_samples: Length of the crop, ``> 0``.

        Returns:
            Mixture ``(n_samples,)`` and sources ``(n_src, n_samples)``.
        """
        index = self._check_index(index)
        if offset < 0 or n_samples <= 0:
            raise ValueError(f"Invalid crop: offset {offset}, n_samples {n_samples}.")
        stop = offset + n_samples
        if self._memory is not None:
            stored = self._memory[index][:, offset:stop]  # (1 + n_src, <= n_samples)
            waveforms = torch.nn.functional.pad(stored, (0, n_samples - stored.shape[1]))
            return Example(self._ids[index], waveforms[0], waveforms[1:])
        waveforms = [self._read_range(p, offset, stop) for p in self._wav_paths(index)]
        return Example(self._ids[index], waveforms[0], torch.stack(waveforms[1:]))

    def __repr__(self) -> str:
        return (
            f"LibriMix(root={str(self.root)!r}, split={self.split!r}, n_src={self.n_src}, "
            f"sample_rate={self.sample_rate}, mode={self.mode!r}, mixtures={len(self)})"
        )
