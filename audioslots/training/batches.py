"""The training batches: random crops of random training mixtures, a pure function of ``(seed, step)``.

The batch of step ``k`` is drawn from a generator seeded with ``(seed, k)``: it does not depend
on what ran before, so a resumed run sees exactly the batches an uninterrupted run would, and
every process of a torchrun job draws the same batch and reads its own share of it.
"""

from __future__ import annotations

import numpy as np
import torch

from audioslots.data.dataset import LibriMix

#: Training splits up to this size are read into memory once instead of per crop (the synthetic set
#: is about 350 MB; a Libri2Mix training split is far larger and stays on disk).
PRELOAD_BYTES = 1 << 30


class CropBatches(torch.utils.data.Dataset):
    """Item ``k`` is the whole training batch of step ``k``: random crops of random mixtures.

    Returns ``(mixtures (batch, samples), sources (batch, n_src, samples))``. The autoencoder
    variant returns every source of those crops, each as its own input and target:
    ``(sources (batch * n_src, samples), sources (batch * n_src, 1, samples))``, so that it
    learns from exactly the sources the separation model sees.

    With ``part`` (one process's share under torchrun, :func:`audioslots.training.distributed.batch_part`)
    the whole batch's mixtures and offsets are still drawn, so that every share of step ``k`` is
    the same whatever the number of processes, but only the crops in ``part`` are read.
    """

    def __init__(self, dataset: LibriMix, batch_size: int, crop_samples: int, seed: int, kind: str,
                 part: slice = slice(None)):
        self.dataset, self.batch_size, self.crop_samples = dataset, batch_size, crop_samples
        self.seed, self.kind, self.part = seed, kind, part
        self.lengths = np.asarray(dataset.lengths)

    def __len__(self) -> int:
        return 2**62  # indexed by step; the sampler says which steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        indices = rng.integers(len(self.dataset), size=self.batch_size)
        spare = np.maximum(self.lengths[indices] - self.crop_samples, 0)
        offsets = (rng.random(self.batch_size) * (spare + 1)).astype(np.int64)
        indices, offsets = indices[self.part], offsets[self.part]
        examples = [self._crop(int(i), int(o)) for i, o in zip(indices, offsets)]
        mixtures = torch.stack([mixture for mixture, _ in examples])  # (batch, samples)
        sources = torch.stack([example_sources for _, example_sources in examples])  # (batch, n_src, samples)
        return network_batch(mixtures, sources, self.kind)

    def _crop(self, index: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        example = self.dataset.crop(index, offset, self.crop_samples)
        return example.mixture, example.sources


def network_batch(mixtures: torch.Tensor, sources: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """What a network of ``kind`` trains on, from ``(batch, samples)`` mixtures and ``(batch, n_src, samples)`` sources.

    AudioSlots: the mixtures and their sources. The autoencoder: every source as its own input and
    target, ``(batch * n_src, samples)`` and ``(batch * n_src, 1, samples)``.
    """
    if kind == "autoencoder":
        single = sources.flatten(0, 1)  # (batch * n_src, samples)
        return single, single[:, None]
    return mixtures, sources
