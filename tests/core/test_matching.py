"""The one Hungarian matcher and the permutation-invariant wrapper, against brute force."""

import itertools

import pytest
import torch

from audioslots.errors import ConfigError
from audioslots.loss import pairwise_mse
from audioslots.matching import hungarian, in_target_order, pit
from audioslots.metrics import pairwise_si_snr


def brute_force(cost, maximize):
    """The assignment (perm[j] = prediction of target j) with the best total, over every injection."""
    n_pred, n_target = cost.shape
    totals = {perm: sum(cost[perm[j], j] for j in range(n_target))
              for perm in itertools.permutations(range(n_pred), n_target)}
    return (max if maximize else min)(totals, key=totals.get)


@pytest.mark.parametrize("n_pred, n_target", [(2, 2), (3, 3), (4, 4), (4, 2), (3, 1)])
@pytest.mark.parametrize("maximize", [False, True])
def test_hungarian_equals_brute_force(n_pred, n_target, maximize):
    cost = torch.randn(12, n_pred, n_target, generator=torch.Generator().manual_seed(n_pred * 10 + n_target),
                       dtype=torch.float64)
    perm = hungarian(cost, maximize=maximize)
    assert perm.shape == (12, n_target) and perm.dtype == torch.long
    for item_cost, item_perm in zip(cost.numpy(), perm.tolist()):
        assert tuple(item_perm) == brute_force(item_cost, maximize)


def test_hungarian_keeps_leading_dimensions_and_the_device():
    cost = torch.rand(2, 3, 2, 2)
    perm = hungarian(cost)
    assert perm.shape == (2, 3, 2) and perm.device == cost.device


def test_a_nan_pair_is_the_worst_whether_minimising_or_maximising():
    nan = float("nan")
    assert hungarian(torch.tensor([[nan, 1.0], [2.0, 5.0]])).tolist() == [1, 0]
    assert hungarian(torch.tensor([[nan, 0.0], [1.0, nan]]), maximize=True).tolist() == [1, 0]
    assert sorted(hungarian(torch.tensor([[nan, nan], [nan, float("inf")]])).tolist()) == [0, 1]


def test_fewer_predictions_than_targets_is_refused_with_a_sentence():
    with pytest.raises(ConfigError, match="n_slots"):
        hungarian(torch.zeros(2, 3))


def test_in_target_order_gathers_along_the_slot_axis():
    pred = torch.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    perm = torch.tensor([[2, 0, 1], [1, 2, 0]])
    out = in_target_order(pred, perm)
    for b in range(2):
        for j in range(3):
            assert torch.equal(out[b, j], pred[b, perm[b, j]])


def test_pit_with_mse_undoes_a_shuffle_and_keeps_the_gradient():
    target = torch.rand(3, 3, 5, 4)
    shuffle = torch.tensor([2, 0, 1])
    pred = target[:, shuffle].clone().requires_grad_()
    matched, perm = pit(pairwise_mse, pred, target)
    assert torch.equal(matched, target) and perm.tolist() == [torch.argsort(shuffle).tolist()] * 3
    matched.sum().backward()
    assert torch.equal(pred.grad, torch.ones_like(pred))


def test_pit_with_si_snr_maximises_the_total_score():
    references = torch.randn(4, 3, 800, generator=torch.Generator().manual_seed(1))
    estimates = references[:, [1, 2, 0]] + 0.3 * torch.randn(4, 3, 800, generator=torch.Generator().manual_seed(2))
    matched, perm = pit(pairwise_si_snr, estimates, references, maximize=True)
    scores = pairwise_si_snr(estimates, references)
    for b in range(4):
        assert tuple(perm[b].tolist()) == brute_force(scores[b].numpy(), maximize=True)
    assert torch.equal(matched[:, 0], estimates[:, 2])
