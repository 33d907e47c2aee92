"""The training batches: random crops of random training mixtures, a pure function of ``(seed, step)``.

The batch of step ``k`` is drawn from a generator seeded with ``(seed, k)``: it does not depend
on what ran before, so a resumed run sees exactly the batches an uninterrupted run would, and
every process of a torchrun job draws the same batch and reads its own share of it.

With ``TrainConfig.dynamic_mixing`` a fraction of the examples are mixed on the fly instead:
each source a crop of a source of another training mixture, all of different speakers, each
scaled by a random gain within ±3 dB. Those draws come from a second generator, seeded with
``(seed, k, 1)``, so the draws of ``(seed, k)`` are the same with and without dynamic mixing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError
from audioslots.kinds import Kind, kind_of

#: Training splits up to this size are read into memory once instead of per crop (the synthetic set
#: is about 350 MB; a Libri2Mix training split is far larger and stays on disk).
PRELOAD_BYTES = 1 << 30
#: [choice] The gains of dynamically mixed sources are drawn uniformly within ± this many dB.
REMIX_GAIN_DB = 3.0
#: The third word of the seed of the generator that draws dynamic mixtures.
REMIX_STREAM = 1
#: The second word of the seed of the generator that draws a fixed pool of crops (``TrainConfig.crop_pool``):
#: one past the last step (``len(CropBatches)``), so it never meets a step's.
POOL_STREAM = 2**62


@dataclass(frozen=True)
class Remix:
    """One dynamically mixed example; per source: the training mixture it is cut from, which of
    that mixture's sources it is, the first sample of its crop, and its gain in dB."""

    mixtures: tuple[int, ...]
    sources: tuple[int, ...]
    offsets: tuple[int, ...]
    gains_db: tuple[float, ...]


def speaker_of(mixture_id: str, source: int) -> str:
    """The speaker of source ``source`` in a LibriMix-style id ``"<speaker>-<chapter>-<utterance>_<speaker>-..."``."""
    return mixture_id.split("_")[source].split("-")[0]


class CropBatches(torch.utils.data.Dataset):
    """Item ``k`` is the whole training batch of step ``k``: random crops of random mixtures.

    Returns ``(mixtures (batch, samples), sources (batch, n_src, samples))``. The autoencoder
    variant returns every source of those crops, each as its own input and target:
    ``(sources (batch * n_src, samples), sources (batch * n_src, 1, samples))``, so that it
    learns from exactly the sources the separation model sees.

    With ``part`` (one process's share under torchrun, :func:`audioslots.training.distributed.batch_part`)
    the whole batch's mixtures and offsets are still drawn, so that every share of step ``k`` is
    the same whatever the number of processes, but only the crops in ``part`` are read.

    With ``dynamic_mixing`` > 0 each example is, with that probability, a :class:`Remix` of
    sources of different speakers from different training mixtures (:meth:`remixes`).
    """

    def __init__(self, dataset: LibriMix, batch_size: int, crop_samples: int, seed: int, kind: str | Kind,
                 part: slice = slice(None), dynamic_mixing: float = 0.0, crop_pool: int = 0, crop_speakers: int = 0,
                 crop_span: float = 1.0):
        self.dataset, self.batch_size, self.crop_samples = dataset, batch_size, crop_samples
        self.seed, self.kind, self.part = seed, kind_of(kind), part
        self.lengths = np.asarray(dataset.lengths)
        if (crop_pool or crop_speakers or crop_span < 1) and dynamic_mixing:
            raise ConfigError("crop_pool, crop_speakers and crop_span keep to crops of the training mixtures as they "
                              "are, which dynamic mixing does not: set dynamic_mixing to 0.")
        # The mixtures crops come from (None: all), and how much of each (the rest is held out).
        self.mixtures = speaker_subset(dataset, crop_speakers, seed) if crop_speakers else None
        if crop_span < 1:
            self.lengths = (self.lengths * crop_span).astype(np.int64)
        self.pool = self._draw(np.random.default_rng([seed, POOL_STREAM]), crop_pool) if crop_pool else None
        if not 0.0 <= dynamic_mixing <= 1.0:
            raise ConfigError(f"dynamic_mixing is {dynamic_mixing}, a fraction of the training examples: "
                              "choose a value from 0 to 1.")
        self.dynamic_mixing = dynamic_mixing
        self.speakers = _speakers_for_remixing(dataset) if dynamic_mixing else []

    def __len__(self) -> int:
        return POOL_STREAM  # indexed by step; the sampler says which steps

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random crops: the indices of their mixtures and their first samples."""
        if self.mixtures is None:
            indices = rng.integers(len(self.dataset), size=n)
        else:
            indices = self.mixtures[rng.integers(len(self.mixtures), size=n)]
        spare = np.maximum(self.lengths[indices] - self.crop_samples, 0)
        return indices, (rng.random(n) * (spare + 1)).astype(np.int64)

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        if self.pool is None:
            indices, offsets = self._draw(rng, self.batch_size)
        else:
            chosen = rng.integers(len(self.pool[0]), size=self.batch_size)
            indices, offsets = self.pool[0][chosen], self.pool[1][chosen]
        indices, offsets, remixes = indices[self.part], offsets[self.part], self.remixes(step)[self.part]
        examples = [self._remixed(remix) if remix else self._crop(int(i), int(o))
                    for i, o, remix in zip(indices, offsets, remixes)]
        mixtures = torch.stack([mixture for mixture, _ in examples])  # (batch, samples)
        sources = torch.stack([example_sources for _, example_sources in examples])  # (batch, n_src, samples)
        return self.kind.training_batch(mixtures, sources)

    def _crop(self, index: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        example = self.dataset.crop(index, offset, self.crop_samples)
        return example.mixture, example.sources

    def remixes(self, step: int) -> list[Remix | None]:
        """Which examples of step ``step``'s whole batch are mixed on the fly, and from what.

        ``None`` for an example that is a crop of a training mixture as it is (all of them when
        ``dynamic_mixing`` is 0, without drawing a number).
        """
        if not self.dynamic_mixing:
            return [None] * self.batch_size
        rng = np.random.default_rng([self.seed, step, REMIX_STREAM])
        chosen = rng.random(self.batch_size) < self.dynamic_mixing
        return [self._draw_remix(rng) if remix else None for remix in chosen]

    def _draw_remix(self, rng: np.random.Generator) -> Remix:
        n_src = self.dataset.n_src
        mixtures, sources, speakers = [], [], set()
        while len(mixtures) < n_src:  # ends: every mixture has n_src speakers and there are n_src mixtures
            mixture, source = int(rng.integers(len(self.dataset))), int(rng.integers(n_src))
            speaker = self.speakers[mixture][source]
            if mixture in mixtures or speaker in speakers:
                continue
            mixtures.append(mixture)
            sources.append(source)
            speakers.add(speaker)
        spare = np.maximum(self.lengths[mixtures] - self.crop_samples, 0)
        offsets = (rng.random(n_src) * (spare + 1)).astype(np.int64)
        gains_db = rng.uniform(-REMIX_GAIN_DB, REMIX_GAIN_DB, size=n_src)
        return Remix(tuple(mixtures), tuple(sources), tuple(int(o) for o in offsets), tuple(float(g) for g in gains_db))

    def _remixed(self, remix: Remix) -> tuple[torch.Tensor, torch.Tensor]:
        """The mixture ``(samples,)`` and sources ``(n_src, samples)`` of a dynamically mixed example."""
        sources = torch.stack([
            self.dataset.crop(mixture, offset, self.crop_samples).sources[source] * 10 ** (gain_db / 20)
            for mixture, source, offset, gain_db in zip(remix.mixtures, remix.sources, remix.offsets, remix.gains_db)
        ])
        return sources.sum(0), sources


def speaker_subset(dataset: LibriMix, n_speakers: int, seed: int) -> np.ndarray:
    """The indices of the mixtures whose speakers all belong to a set of ``n_speakers`` speakers.

    The set is grown from the speakers of mixtures taken in a random order drawn from ``seed``,
    skipping a mixture that would take it past ``n_speakers``; every mixture whose speakers lie in
    the final set is kept.

    Raises:
        ConfigError: if the split has fewer speakers than asked for.
    """
    speakers = [{speaker_of(mixture_id, k) for k in range(dataset.n_src)} for mixture_id in dataset.mixture_ids]
    every = set().union(*speakers)
    if n_speakers > len(every):
        raise ConfigError(f"crop_speakers={n_speakers} but {dataset.metadata_path} has {len(every)} speakers: "
                          "ask for fewer.")
    chosen: set[str] = set()
    for index in np.random.default_rng([seed, POOL_STREAM, 1]).permutation(len(speakers)):
        if len(chosen | speakers[index]) <= n_speakers:
            chosen |= speakers[index]
        if len(chosen) == n_speakers:
            break
    return np.array([i for i, mixture in enumerate(speakers) if mixture <= chosen], dtype=np.int64)


def _speakers_for_remixing(dataset: LibriMix) -> list[list[str]]:
    """The speaker of every source of every mixture; an error if no remix of different speakers exists."""
    n_src = dataset.n_src
    speakers = []
    for mixture_id in dataset.mixture_ids:
        if len(mixture_id.split("_")) != n_src:
            raise ConfigError(f"Mixture {mixture_id!r} of {dataset.metadata_path} does not name its {n_src} speakers "
                              "as LibriMix does (<speaker>-<chapter>-<utterance>_...); dynamic mixing needs them to "
                              "mix different speakers: set dynamic_mixing to 0.")
        speakers.append([speaker_of(mixture_id, k) for k in range(n_src)])
    if len(speakers) < n_src:
        raise ConfigError(f"Dynamic mixing takes its {n_src} sources from {n_src} different training mixtures, "
                          f"but {dataset.metadata_path} has {len(speakers)}; set dynamic_mixing to 0.")
    return speakers


def network_batch(mixtures: torch.Tensor, sources: torch.Tensor, kind: str | Kind) -> tuple[torch.Tensor, torch.Tensor]:
    """What a network of ``kind`` trains on, from ``(batch, samples)`` mixtures and ``(batch, n_src, samples)`` sources
    (:meth:`audioslots.kinds.Kind.training_batch`).

    AudioSlots: the mixtures and their sources. The autoencoder: every source as its own input and
    target, ``(batch * n_src, samples)`` and ``(batch * n_src, 1, samples)``.
    """
    return kind_of(kind).training_batch(mixtures, sources)
