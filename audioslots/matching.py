"""One Hungarian matcher and one permutation-invariant wrapper, for the losses and the metrics.

Slots (and separated estimates) come out in no fixed order. Everything that pairs them with the
reference sources goes through :func:`hungarian`: the training loss (MSE of matched spectrograms),
the peer's loss (negative SI-SNR), the evaluation's best permutation (largest total SI-SNR) and
the oracle ordering of chunks. :func:`pit` wraps any pairwise score, as Asteroid's
``PITLossWrapper(pairwise_fn)`` does: the pairwise matrix for the whole batch in one tensor
expression, the assignment per item on the CPU (the only Python loop, as DETR's matcher).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from audioslots.errors import ConfigError

#: The cost of a non-finite pair in the assignment, worse than any finite one (a diverged
#: network's NaN score is chosen last and never stops training or scoring).
WORST = 1e30


@torch.no_grad()
def hungarian(cost: torch.Tensor, maximize: bool = False) -> torch.Tensor:
    """The assignment of predictions to targets with the smallest (or largest) total, per item.

    Args:
        cost: ``(..., n_pred, n_target)``; ``cost[..., i, j]`` is what giving prediction ``i`` to
            target ``j`` costs (or scores, with ``maximize``). NaN counts as the worst value;
            ``±inf`` as a very large or very small one.
        maximize: find the largest total instead of the smallest.

    Returns:
        Long ``(..., n_target)`` on the device of ``cost``: ``perm[..., j]`` is the prediction
        matched to target ``j`` (distinct within an item), so ``pred.gather`` in target order is
        :func:`in_target_order`. With more predictions than targets, the spare ones are left out.

    Raises:
        ~audioslots.errors.ConfigError: if there are fewer predictions than targets.
    """
    n_pred, n_target = cost.shape[-2:]
    if n_pred < n_target:
        raise ConfigError(f"Cannot match {n_pred} predictions to {n_target} targets: the model needs at least "
                          "as many slots (n_slots) as there are sources.")
    flat = cost.detach().reshape(-1, n_pred, n_target).to("cpu", torch.float64).numpy()  # moved once
    worst = -WORST if maximize else WORST
    flat = np.nan_to_num(flat, nan=worst, posinf=WORST, neginf=-WORST)
    perm = np.empty((flat.shape[0], n_target), dtype=np.int64)
    for item, item_cost in enumerate(flat):
        pred_index, target_index = linear_sum_assignment(item_cost, maximize=maximize)
        perm[item, target_index] = pred_index
    return torch.from_numpy(perm).reshape(*cost.shape[:-2], n_target).to(cost.device)


def in_target_order(pred: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``pred (..., n_pred, *rest)`` reordered by ``perm (..., n_target)``: ``(..., n_target, *rest)``."""
    lead = perm.ndim
    index = perm.reshape(*perm.shape, *([1] * (pred.ndim - lead))).expand(*perm.shape, *pred.shape[lead:])
    return pred.gather(lead - 1, index)


def pit(pairwise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], pred: torch.Tensor, target: torch.Tensor,
        maximize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Permutation-invariant pairing of ``pred`` with ``target`` under any pairwise score.

    Args:
        pairwise: ``(pred (..., n_pred, *rest), target (..., n_target, *rest))`` → ``(..., n_pred, n_target)``,
            e.g. :func:`audioslots.loss.pairwise_mse` or :func:`audioslots.metrics.pairwise_si_snr`.
        pred, target: the predictions in any order and the targets.
        maximize: the score is better when larger (SI-SNR) rather than smaller (MSE).

    Returns:
        ``(matched, perm)``: ``pred`` in target order, ``(..., n_target, *rest)``, through which the
        gradient flows, and the ``(..., n_target)`` assignment of :func:`hungarian` (found without gradients).
    """
    with torch.no_grad():
        perm = hungarian(pairwise(pred, target), maximize=maximize)
    return in_target_order(pred, perm), perm
