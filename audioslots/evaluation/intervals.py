"""Confidence intervals of a mean over test mixtures that resample *utterances*, not mixtures.

The test mixtures are not independent: LibriMix builds each one from a few utterances (one per
source), and the same utterance recurs in several mixtures (in our 100-mixture test set, 39
utterances, each in 2 to 9 mixtures). A mixture's score depends on its utterances (a clean,
loud, easy utterance helps every mixture it is in), so scores of mixtures that share an utterance
are correlated, and an interval that treats the mixtures as independent
(:func:`audioslots.evaluation.scores.confidence_interval`, a Student-t interval) is too narrow.

:func:`utterance_interval` gives the half-width of a 95 % interval of the mean in which every
mixture is correlated with every other mixture that shares an utterance with it: multi-way
clustering (Cameron, Gelbach & Miller 2011) where a mixture belongs to one cluster per source.

**How, and why not a plain utterance-resampling percentile interval.** Two obvious bootstraps
resample utterances with replacement and weight each mixture by its utterances' draw counts:

* the *product* of the counts (the pigeonhole bootstrap of Owen 2007 for crossed designs) counts
  a mixture's own variance three times (the variance of a product of two independent Poisson(1)
  counts is 3): where no utterance is shared at all, its interval is √3 ≈ 1.7 times the
  independent one (too wide);
* the *mean* of the counts halves it (the variance of a mean of two independent counts is 1/2):
  there, the interval is 0.7 times the independent one (too narrow).

Neither reduces to the ordinary interval when there is nothing to cluster. The variance that does
is the multi-way cluster-robust one: the sum of ``(x_m − x̄)(x_k − x̄) / n²`` over all pairs of
mixtures ``m, k`` that share at least one utterance (each mixture with itself included once;
Cameron, Gelbach & Miller 2011; for pairs of units, "dyadic" clustering, Aronow, Samii & Assenova
2015). It is what Cameron, Gelbach & Miller's bootstrap computes by inclusion–exclusion,
``V = V_1 + V_2 − V_12``, and so does :func:`utterance_interval`:

1. ``V_utterances``: resample the utterances with replacement (``n_boot`` draws of as many
   utterances as there are); each mixture's weight moves by the *sum* over its utterances of
   (draw count − 1), so that it is counted once in the cluster of each of its utterances; the
   variance of the resampled means (linearised: the mean is linear in the weights).
2. ``V_mixtures``: resample the mixtures with replacement, each mixture's weight change scaled by
   ``√(k_m − 1)`` for a mixture of ``k_m`` utterances: the variance that step 1 counts
   ``k_m − 1`` times too often on each mixture's own term.
3. ``V = V_utterances − V_mixtures``, floored at the variance of the mean of independent mixtures
   ([choice]: clustering by utterance never narrows an interval, and the difference, an
   inclusion–exclusion, can come out small or negative by chance, a case Cameron, Gelbach &
   Miller 2011 discuss).
4. Half-width ``t · √V`` with ``t`` the Student-t quantile on ``G − 1`` degrees of freedom, ``G``
   the number of distinct utterances (the few-clusters correction of Cameron & Miller 2015).

The interval is symmetric (``mean ± half-width``) so that every caller that prints ``mean ± half``
keeps working; :func:`utterance_bounds` gives its ends. Deterministic given ``seed``; 2000
resamples of 100 mixtures take milliseconds. With ``n_boot=None`` the exact (infinite-resample)
variance is used instead.

References:
    A. C. Cameron, J. B. Gelbach, D. L. Miller (2011). Robust inference with multiway clustering.
    Journal of Business & Economic Statistics 29(2), 238–249.
    A. C. Cameron, D. L. Miller (2015). A practitioner's guide to cluster-robust inference.
    Journal of Human Resources 50(2), 317–372.
    P. M. Aronow, C. Samii, V. A. Assenova (2015). Cluster-robust variance estimation for dyadic
    data. Political Analysis 23(4), 564–577.
    A. B. Owen (2007). The pigeonhole bootstrap. Annals of Applied Statistics 1(2), 386–411.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

#: What separates the utterances of a LibriMix mixture id (``<spk>-<chapter>-<utt>_<spk>-<chapter>-<utt>``).
UTTERANCE_SEPARATOR = "_"


def utterances_of(mixture_id: object) -> tuple[str, ...]:
    """The utterance ids a LibriMix mixture is made of, one per source, in the id's order.

    ``"8238-274553-0000_4267-287369-0000"`` gives ``("8238-274553-0000", "4267-287369-0000")``.
    An id without the separator (a number, say) is one utterance of its own: that mixture then
    shares nothing with the others.
    """
    return tuple(part for part in str(mixture_id).split(UTTERANCE_SEPARATOR) if part) or (str(mixture_id),)


def membership(mixture_ids: Sequence[object]) -> tuple[np.ndarray, list[str]]:
    """Which utterances each mixture is made of.

    Returns:
        ``(M, utterances)``: ``M[m, u]`` is 1 when mixture ``m`` contains utterance ``u`` (0
        otherwise; an utterance repeated within one id counts once), ``utterances`` the sorted
        utterance ids naming the columns.
    """
    parts = [set(utterances_of(i)) for i in mixture_ids]
    utterances = sorted(set().union(*parts)) if parts else []
    column = {u: k for k, u in enumerate(utterances)}
    matrix = np.zeros((len(parts), len(utterances)))
    for row, part in enumerate(parts):
        matrix[row, [column[u] for u in part]] = 1.0
    return matrix, utterances


def utterance_variance(values: np.ndarray, mixture_ids: Sequence[object], n_boot: int | None = 2000,
                       seed: int = 0) -> float:
    """Variance of the mean of ``values`` with mixtures that share an utterance correlated (steps 1–3 of
    the module's description); ``n_boot=None``: the exact variance the bootstrap estimates."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) != len(mixture_ids):
        raise ValueError(f"{len(x)} values for {len(mixture_ids)} mixture ids: one value per mixture")
    n = len(x)
    matrix, _ = membership(mixture_ids)
    resid = (x - x.mean()) / n  # each mixture's contribution to the mean, centred
    k = matrix.sum(axis=1)  # utterances per mixture
    n_utt = matrix.shape[1]
    per_utterance = matrix.T @ resid  # (U,) the cluster sums
    if n_boot is None:
        # Multinomial draws: Var c_u = 1 − 1/N, Cov(c_u, c_v) = −1/N for N draws of N items.
        v_utt = (per_utterance @ per_utterance) - per_utterance.sum() ** 2 / n_utt
        v_own = ((k - 1) * resid ** 2).sum() - (np.sqrt(k - 1) @ resid) ** 2 / n
        v_iid = (resid @ resid) - resid.sum() ** 2 / n
    else:
        rng = np.random.default_rng(seed)
        utt_counts = _draw_counts(rng, n_boot, n_utt) - 1.0  # (B, U)
        mix_counts = _draw_counts(rng, n_boot, n) - 1.0  # (B, n)
        v_utt = float(np.var(utt_counts @ per_utterance, ddof=1))
        v_own = float(np.var(mix_counts @ (np.sqrt(k - 1) * resid), ddof=1))
        v_iid = float(np.var(mix_counts @ resid, ddof=1))
    return float(max(v_utt - v_own, v_iid))


def _draw_counts(rng: np.random.Generator, n_boot: int, n_items: int) -> np.ndarray:
    """``(n_boot, n_items)`` draw counts: how often each item is drawn in each of ``n_boot`` draws of
    ``n_items`` items with replacement."""
    draws = rng.integers(0, n_items, size=(n_boot, n_items)) + n_items * np.arange(n_boot)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n_items).reshape(n_boot, n_items).astype(float)


def utterance_interval(values: np.ndarray, mixture_ids: Sequence[object], level: float = 0.95,
                       n_boot: int | None = 2000, seed: int = 0) -> float:
    """Half-width of the confidence interval of the mean of per-mixture ``values``, resampling utterances.

    See the module's description for the method (multi-way cluster bootstrap over the utterances
    of each mixture, Cameron, Gelbach & Miller 2011) and why it is not a product- or mean-weighted
    percentile bootstrap.

    Args:
        values: one value per mixture (a score, or a per-mixture difference of two systems' scores).
        mixture_ids: the mixture of each value (LibriMix ids, :func:`utterances_of`); for paired
            differences, the ids of the paired mixtures.
        level: coverage of the interval.
        n_boot: resamples; ``None``: the exact variance the resampling estimates.
        seed: seed of the resampling; the same seed gives the same half-width.

    Returns:
        The half-width ``h`` of the symmetric interval ``mean ± h``; nan for fewer than two values.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float("nan")
    n_utterances = membership(mixture_ids)[0].shape[1]
    t = stats.t.ppf(0.5 + level / 2, max(n_utterances - 1, 1))
    return float(t * np.sqrt(utterance_variance(x, mixture_ids, n_boot=n_boot, seed=seed)))


def utterance_bounds(values: np.ndarray, mixture_ids: Sequence[object], level: float = 0.95,
                     n_boot: int | None = 2000, seed: int = 0) -> tuple[float, float]:
    """The ends ``(low, high)`` of :func:`utterance_interval`'s interval around the mean of ``values``."""
    mean = float(np.mean(np.asarray(values, dtype=float))) if len(values) else float("nan")
    half = utterance_interval(values, mixture_ids, level=level, n_boot=n_boot, seed=seed)
    return mean - half, mean + half
