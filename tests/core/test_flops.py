"""Training compute: FLOP counts match hand formulas, and every training run records its own."""

import json

import pytest
import torch
import torch.nn.functional as F

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError
from audioslots.flops import affine_in_batch, count_flops
from audioslots.model import AudioSlots, SpatialBroadcastDecoder, fourier_features
from audioslots.training import (CropBatches, count_run_flops, count_step_flops, load_checkpoint, model_config_for,
                              run_config, train)

TINY = replace(get_preset("tiny"), steps=3)


# --- torch.utils.flop_counter against hand formulas ------------------------------------------------


def test_flop_count_of_a_training_step_matches_the_hand_formula():
    n, i, h, o = 5, 7, 11, 3
    mlp = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.ReLU(), torch.nn.Linear(h, o))
    x = torch.randn(n, i)  # no gradient: the first layer's input gradient is never computed

    def step():
        mlp(x).square().sum().backward()

    # forward 2·N·in·out per layer; backward 2·N·in·out for the weight gradient of each layer,
    # and again for the input gradient of the second layer only.
    assert count_flops(step) == 2 * n * i * h * 2 + 2 * n * h * o * 3


def test_flop_count_of_a_convolution_matches_the_hand_formula():
    conv = torch.nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
    x = torch.randn(2, 3, 32, 16)
    out_h, out_w = (32 + 2 * 3 - 7) // 2 + 1, (16 + 2 * 3 - 7) // 2 + 1
    assert count_flops(lambda: conv(x)) == 2 * 2 * 8 * out_h * out_w * 3 * 7 * 7


def test_flop_count_of_the_factorised_decoder_matches_the_hand_formula():
    batch, n, d, e, hidden, layers, n_freq, n_frames = 2, 3, 16, 2 * 4, 12, 4, 9, 5
    decoder = SpatialBroadcastDecoder(d, e // 2, 10.0, hidden, layers)
    slots = torch.randn(batch, n, d)
    cells = n_freq * n_frames
    expected = (
        2 * batch * n * d * hidden  # W_s s, once per slot
        + 2 * cells * e * hidden  # W_p pe(f, t), once per cell
        + (layers - 2) * 2 * batch * n * cells * hidden * hidden  # hidden layers, every cell
        + 2 * batch * n * cells * hidden  # output layer
    )
    assert fourier_features(n_freq, n_frames, decoder.fourier_matrix).shape == (cells, e)
    assert count_flops(lambda: decoder(slots, n_freq, n_frames)) == expected


def test_attention_is_counted_on_the_cpu_forward_and_backward():
    b, h, n, m, d = 2, 4, 3, 10, 8
    q = torch.randn(b, h, n, d, requires_grad=True)
    k = torch.randn(b, h, m, d, requires_grad=True)
    v = torch.randn(b, h, m, d, requires_grad=True)
    products = 2 * (2 * b * h * n * m * d)  # scores q·kᵀ and weights·v
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == products
    # backward: two products per forward product (a gradient for each operand)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward()) == 3 * products


def test_affine_extrapolation_in_the_batch_is_exact_and_refuses_a_count_off_the_line():
    assert affine_in_batch(lambda batch: 7 * batch + 5, 64) == 7 * 64 + 5
    with pytest.raises(ConfigError, match="not affine"):
        affine_in_batch(lambda batch: batch**2, 64)


# --- What training records ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["audioslots", "autoencoder"])
def test_a_run_records_the_flops_of_one_step_as_a_direct_count_of_that_step(tiny_data, tiny_train, tmp_path, kind):
    result = train(TINY, tiny_train, tmp_path / "run", kind=kind, progress=False)
    recorded = json.loads((tmp_path / "run" / "flops.json").read_text())

    dataset = LibriMix(tiny_data, "train-360")
    batch = CropBatches(dataset, TINY.train.batch_size, TINY.features.chunk_samples, TINY.train.seed, kind)[0]
    model = AudioSlots(model_config_for(TINY, kind, dataset.n_src))
    direct = count_step_flops(model, *batch, TINY)
    assert direct > 0
    assert recorded["flop_per_step"] == result.flop_per_step == direct
    assert recorded["batch_size"] == TINY.train.batch_size and recorded["processes"] == 1
    assert count_run_flops(load_checkpoint(tmp_path / "run" / "checkpoint.pt")["config"]) == direct


def test_counting_the_flops_leaves_the_run_bit_for_bit_unchanged(tiny_train, tmp_path, monkeypatch):
    counted = train(TINY, tiny_train, tmp_path / "counted", progress=False)
    import audioslots.training.step_flops as step_flops

    monkeypatch.setattr(step_flops, "count_step_flops", lambda *args, **kwargs: 0)
    uncounted = train(TINY, tiny_train, tmp_path / "uncounted", progress=False)
    assert uncounted.final_loss == counted.final_loss
    a = load_checkpoint(tmp_path / "counted" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "uncounted" / "checkpoint.pt")
    assert all(torch.equal(a["model"][key], b["model"][key]) for key in a["model"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_a_finished_run_reads_its_count_instead_of_counting_again(tiny_train, tmp_path, monkeypatch):
    first = train(TINY, tiny_train, tmp_path / "run", progress=False)
    import audioslots.training.step_flops as step_flops

    monkeypatch.setattr(step_flops, "count_step_flops", lambda *args, **kwargs: pytest.fail("counted a finished run again"))
    assert train(TINY, tiny_train, tmp_path / "run", progress=False).flop_per_step == first.flop_per_step


@pytest.mark.parametrize("preset_name", ["tiny", "cpu"])
def test_step_flops_are_affine_in_the_batch_so_small_batches_predict_a_large_one(preset_name):
    """What licenses counting the paper preset's batch-64 step from batches of 1, 2 and 3."""
    for kind in ("audioslots", "autoencoder"):
        config = run_config(get_preset(preset_name), kind, {"n_src": 2})
        assert affine_in_batch(lambda b: count_run_flops(config, b), 5) == count_run_flops(config, 5)


def test_a_resumed_run_reuses_the_count_made_for_its_batch_and_processes(tiny_train, tmp_path, monkeypatch):
    first = train(TINY, tiny_train, tmp_path / "run", progress=False, stop_after=1)
    import audioslots.training.step_flops as step_flops

    monkeypatch.setattr(step_flops, "count_step_flops", lambda *args, **kwargs: pytest.fail("counted a resumed run again"))
    resumed = train(TINY, tiny_train, tmp_path / "run", progress=False)
    assert resumed.step == TINY.train.steps and resumed.flop_per_step == first.flop_per_step


def test_a_count_made_for_another_number_of_processes_is_made_again(tiny_train, tmp_path):
    first = train(TINY, tiny_train, tmp_path / "run", progress=False, stop_after=1)
    path = tmp_path / "run" / "flops.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "processes": 2, "flop_per_step": 1}))
    assert train(TINY, tiny_train, tmp_path / "run", progress=False).flop_per_step == first.flop_per_step
    assert json.loads(path.read_text())["processes"] == 1
