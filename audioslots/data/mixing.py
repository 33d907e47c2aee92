"""The LibriMix mixing recipe, shared by both builders of this package.

LibriMix (Cosentino et al. 2020, ``scripts/create_librimix_from_metadata.py``) makes a mixture
in three steps:

1. each source is brought to a loudness drawn uniformly from −33…−25 LUFS
   (:data:`LOUDNESS_RANGE_LUFS`, :func:`draw_loudness_targets`, :func:`gain_to_loudness`);
2. if the sum of the sources would clip, every source is scaled by the same weight so that the
   sum peaks at 0.9 (:data:`MAX_AMPLITUDE`, :func:`mix_without_clipping`);
3. ``min`` mode: every source is cut to the shortest, the mixture is their sum.

What the two builders do differently is a parameter here, not a copy there: how loudness is
measured (ITU-R BS.1770 with ``pyloudnorm`` for LibriSpeech in
:mod:`~audioslots.data.mix_librispeech`; a gated mean square for the synthetic voices in
:mod:`~audioslots.data.synthetic`), and from which peak the weight of step 2 applies. The
speaker-disjoint split (:func:`split_speakers`) is how a builder shares out the speakers of one
folder of speech.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audioslots.errors import ConfigError

#: LibriMix's ``MIN_LOUDNESS``, ``MAX_LOUDNESS``: the range each source's loudness is drawn from.
LOUDNESS_RANGE_LUFS = (-33.0, -25.0)
#: LibriMix's ``MAX_AMP``: the peak a clipping source or mixture is scaled to.
MAX_AMPLITUDE = 0.9


def draw_loudness_targets(rng: np.random.Generator, n_src: int) -> np.ndarray:
    """One target loudness per source, uniform in :data:`LOUDNESS_RANGE_LUFS`; shape ``(n_src,)``."""
    return rng.uniform(*LOUDNESS_RANGE_LUFS, size=n_src)


def gain_to_loudness(measured, target):
    """The amplitude gain that moves a signal from loudness ``measured`` to ``target``.

    ``10 ** ((target - measured) / 20)``, written as ``pyloudnorm.normalize.loudness`` writes it,
    so that the LibriSpeech builder gives LibriMix's samples bit for bit. Scalars or arrays (one
    gain per source).
    """
    return np.power(10.0, (target - measured) / 20.0)


def mix_without_clipping(
    sources: Sequence[np.ndarray], *, clip_at: float = MAX_AMPLITUDE, count_source_peaks: bool = False
) -> tuple[np.ndarray, float]:
    """LibriMix steps 2–3: scale all sources by one weight if their mixture would clip, then cut.

    Like LibriMix, the clipping check looks at the ``max``-mode mixture (the sources zero-padded
    to the longest, summed); if it peaks at ``clip_at`` or above, every source is scaled by
    ``MAX_AMPLITUDE / peak``. Then every source is cut to the shortest (``min`` mode).

    Args:
        sources: ``n_src`` waveforms at their target loudness, each ``(samples_k,)``.
        clip_at: The peak from which the weight applies: LibriMix's 0.9 by default.
        count_source_peaks: Let each source's own peak count as well, for sources that no earlier
            step has kept below 1 (each is written as a file of its own).

    Returns:
        ``(sources (n_src, shortest samples), weight)``; the mixture is ``sources.sum(0)``, and
        ``weight`` is 1.0 when nothing would clip.
    """
    longest = max(len(s) for s in sources)
    mixture_max = sum(np.pad(s, (0, longest - len(s))) for s in sources)  # (longest,)
    peak = np.abs(mixture_max).max()
    if count_source_peaks:
        peak = max(max(np.abs(s).max() for s in sources), peak)
    # LibriMix writes min(1, 0.9 / peak) for clip_at = 0.9: the same number, as x / x == 1 exactly.
    weight = MAX_AMPLITUDE / peak if peak >= clip_at else 1.0
    shortest = min(len(s) for s in sources)
    return np.stack([s[:shortest] * weight for s in sources]), weight


def split_speakers(speakers: list[str], dev_fraction: float, test_fraction: float, seed: int) -> dict[str, list[str]]:
    """Speaker-disjoint ``train-360``, ``dev`` and ``test`` splits of one folder's speakers.

    [choice] LibriMix uses LibriSpeech's own speaker-disjoint subsets as splits; a single folder
    has no such subsets, so its speakers are shared out at random: a seeded shuffle of the sorted
    speakers, cut by the fractions (at least one speaker each for dev and test).

    Args:
        speakers: Speaker names (repeats are fine).
        dev_fraction, test_fraction: Shares of the speakers held out, each in (0, 1), summing to
            less than 1.
        seed: The same seed and speakers give the same split.

    Returns:
        The speakers of each split.
    """
    if not (0 < dev_fraction < 1 and 0 < test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ConfigError(f"The dev and test speaker fractions ({dev_fraction}, {test_fraction}) must be "
                          "positive and sum to less than 1.")
    order = np.random.default_rng([seed, 0]).permutation(sorted(set(speakers))).tolist()
    n_test = max(1, round(test_fraction * len(order)))
    n_dev = max(1, round(dev_fraction * len(order)))
    return {"test": order[:n_test], "dev": order[n_test:n_test + n_dev], "train-360": order[n_test + n_dev:]}
