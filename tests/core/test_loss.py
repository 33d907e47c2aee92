"""Specification of the permutation-invariant loss (audioslots/loss.py)."""

import itertools

import pytest
import torch

from audioslots.errors import ConfigError
from audioslots.loss import matched_mse, pairwise_mse


def brute_force_best(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, list[tuple]]:
    """Minimum over permutations of the mean MSE of one item, and the permutations reaching it."""
    n = pred.shape[0]
    errors = {
        perm: torch.stack([((pred[perm[j]] - target[j]) ** 2).mean() for j in range(n)]).mean()
        for perm in itertools.permutations(range(n))
    }
    best = min(errors.values())
    return best.item(), [perm for perm, error in errors.items() if torch.isclose(error, best)]


def test_pairwise_mse_matches_a_loop_over_pairs():
    torch.manual_seed(0)
    pred, target = torch.rand(3, 2, 7, 5), torch.rand(3, 4, 7, 5)
    cost = pairwise_mse(pred, target)
    assert cost.shape == (3, 2, 4)
    for b, i, j in itertools.product(range(3), range(2), range(4)):
        torch.testing.assert_close(cost[b, i, j], ((pred[b, i] - target[b, j]) ** 2).mean())


@pytest.mark.parametrize("n", [2, 3, 4])
def test_matched_mse_equals_the_brute_force_minimum_over_permutations(n):
    torch.manual_seed(n)
    pred, target = torch.rand(5, n, 6, 4), torch.rand(5, n, 6, 4)
    loss, _ = matched_mse(pred, target)
    best = [brute_force_best(pred[b], target[b])[0] for b in range(5)]
    assert loss.item() == pytest.approx(sum(best) / 5, rel=1e-5)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_returned_perm_is_an_argmin_over_permutations(n):
    torch.manual_seed(10 + n)
    pred, target = torch.rand(5, n, 6, 4), torch.rand(5, n, 6, 4)
    _, perm = matched_mse(pred, target)
    assert perm.dtype == torch.long and perm.shape == (5, n)
    for b in range(5):
        assert tuple(perm[b].tolist()) in brute_force_best(pred[b], target[b])[1]


def test_matching_recovers_a_shuffled_copy_of_the_targets():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 6, 4)
    order = torch.tensor([2, 0, 1])
    loss, perm = matched_mse(target[:, order], target)
    assert loss.item() == 0.0
    # target j sits at prediction index inverse(order)[j]
    assert perm.tolist() == [torch.argsort(order).tolist()] * 2


def test_single_source_is_plain_mse():
    torch.manual_seed(0)
    pred, target = torch.rand(3, 1, 6, 4), torch.rand(3, 1, 6, 4)
    loss, perm = matched_mse(pred, target)
    torch.testing.assert_close(loss, ((pred - target) ** 2).mean())
    assert perm.tolist() == [[0], [0], [0]]


def test_gradient_flows_through_the_matched_pairs_only():
    target = torch.zeros(1, 2, 3, 3)
    target[0, 1] = 1.0
    pred = torch.stack([torch.ones(3, 3), torch.zeros(3, 3)])[None].requires_grad_()
    loss, perm = matched_mse(pred, target)  # pred 0 ↔ target 1, pred 1 ↔ target 0: loss 0
    loss.backward()
    assert perm.tolist() == [[1, 0]]
    assert loss.item() == 0.0
    assert pred.grad is not None and not pred.grad.any()
    pred_off = (pred.detach() + 0.5).requires_grad_()
    matched_mse(pred_off, target)[0].backward()
    torch.testing.assert_close(pred_off.grad, torch.full_like(pred_off, 2 * 0.5 / pred.numel()))


def test_mismatched_source_counts_raise_config_error():
    with pytest.raises(ConfigError, match="n_slots"):
        matched_mse(torch.rand(2, 3, 6, 4), torch.rand(2, 2, 6, 4))
