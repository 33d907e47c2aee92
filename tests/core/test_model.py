"""Specification of the AudioSlots network (audioslots/model.py)."""

import dataclasses
import math

import pytest
import torch

from audioslots.config import ModelConfig, get_preset
from audioslots.errors import ConfigError
from audioslots.loss import matched_mse
from audioslots.model import (
    FOURIER_SEED,
    Attention,
    AudioSlots,
    GridLinear,
    ResNetEncoder,
    SpatialBroadcastDecoder,
    count_parameters,
    crop_to_stride,
    encoder_grid,
    fourier_features,
    fourier_matrix,
    sinusoidal_grid_embedding,
)

TINY = ModelConfig(
    n_slots=2,
    resnet_blocks=(1, 1, 1, 1),
    resnet_width=4,
    slot_dim=16,
    attn_dim=16,
    attn_heads=2,
    mlp_dim=32,
    fourier_features=8,
    decoder_hidden=16,
)


def tiny_decoder() -> SpatialBroadcastDecoder:
    torch.manual_seed(0)
    return SpatialBroadcastDecoder(
        slot_dim=16, fourier_features=8, fourier_scale=10.0, hidden=16, layers=4
    )


def tiny_model(**overrides) -> AudioSlots:
    torch.manual_seed(0)
    return AudioSlots(dataclasses.replace(TINY, **overrides))


@pytest.mark.parametrize("n_slots", [1, 2, 3])
def test_output_shape_for_half_second_chunk_is_257_by_65(n_slots):
    model = tiny_model(n_slots=n_slots)
    assert model(torch.rand(2, 257, 65)).shape == (2, n_slots, 257, 65)


@pytest.mark.parametrize("n_slots", [1, 2, 3])
def test_output_shape_for_one_second_chunk_is_257_by_129(n_slots):
    model = tiny_model(n_slots=n_slots)
    assert model(torch.rand(2, 257, 129)).shape == (2, n_slots, 257, 129)


@pytest.mark.parametrize("root_stride", [1, 2])
def test_encoder_grid_is_32_by_8_for_256_by_64_input(root_stride):
    encoder = ResNetEncoder(blocks=(1, 1, 1, 1), width=4, root_stride=root_stride)
    assert encoder(torch.rand(2, 1, 256, 64)).shape == (2, 4 * 8, 32, 8)


def test_root_stride_2_moves_the_downsampling_from_stage_4_to_the_root():
    encoder = ResNetEncoder(blocks=(1, 1, 1, 1), width=4, root_stride=2)
    after_root = encoder.root(torch.rand(1, 1, 256, 64))
    assert after_root.shape[-2:] == (128, 32)
    stage_inputs = [after_root]
    for stage in encoder.stages:
        stage_inputs.append(stage(stage_inputs[-1]))
    assert [x.shape[-2:] for x in stage_inputs[1:]] == [(128, 32), (64, 16), (32, 8), (32, 8)]


def test_model_crops_257_by_65_to_the_32_by_8_grid():
    model = tiny_model()
    assert model.encoder_features(torch.rand(2, 257, 65)).shape[-2:] == (32, 8)
    assert model.encoder_features(torch.rand(2, 257, 129)).shape[-2:] == (32, 16)


def test_crop_and_grid_helpers_give_the_encoders_input_and_output_sizes():
    spectrogram = torch.rand(2, 257, 65)
    assert torch.equal(crop_to_stride(spectrogram), spectrogram[:, :256, :64])
    assert encoder_grid(257, 65) == (32, 8) and encoder_grid(257, 128) == (32, 16)
    assert tiny_model().encoder_features(spectrogram).shape[-2:] == encoder_grid(257, 65)


def test_encode_and_decode_compose_to_forward():
    model = tiny_model().eval()
    spectrogram = torch.rand(2, 257, 65)
    slots = model.encode(spectrogram)
    assert slots.shape == (2, 2, TINY.slot_dim)
    torch.testing.assert_close(model.decode(slots, 257, 65), model(spectrogram))


def test_attention_weights_reproduce_the_attention_output():
    torch.manual_seed(0)
    module = Attention(dim=8, heads=2)
    queries, context = torch.randn(3, 2, 8), torch.randn(3, 5, 8)
    weights = module.weights(queries, context)  # (3, 2 heads, 2, 5)
    values = module.to_v(context).unflatten(-1, (2, 4)).transpose(1, 2)  # (3, 2 heads, 5, 4)
    by_hand = module.proj((weights @ values).transpose(1, 2).flatten(2))
    torch.testing.assert_close(by_hand, module(queries, context))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 2))


def test_learned_queries_differ_between_slots():
    queries = tiny_model(n_slots=3).transformer.queries
    assert not torch.allclose(queries[0], queries[1])
    assert not torch.allclose(queries[1], queries[2])


def test_permuting_the_queries_permutes_slots_and_outputs():
    model = tiny_model(n_slots=3).eval()
    spectrogram = torch.rand(2, 257, 65)
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        slots, outputs = model.encode(spectrogram), model(spectrogram)
        model.transformer.queries.copy_(model.transformer.queries[perm].clone())
        slots_permuted, outputs_permuted = model.encode(spectrogram), model(spectrogram)
    torch.testing.assert_close(slots_permuted, slots[:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs_permuted, outputs[:, perm], atol=1e-5, rtol=1e-5)


def test_factorised_first_layer_equals_plain_concatenation():
    decoder = tiny_decoder()
    torch.manual_seed(1)
    slots = torch.randn(2, 3, 16)
    positions = fourier_features(9, 5, decoder.fourier_matrix)
    factorised = decoder.first_layer_factorised(slots, positions)
    torch.testing.assert_close(factorised, decoder.first_layer_plain(slots, positions))


def test_factorised_decoder_equals_plain_decoder():
    decoder = tiny_decoder()
    torch.manual_seed(1)
    slots = torch.randn(2, 3, 16)
    decoder.factorised = True
    factorised = decoder(slots, 257, 65)
    decoder.factorised = False
    plain = decoder(slots, 257, 65)
    assert factorised.shape == (2, 3, 257, 65)
    torch.testing.assert_close(factorised, plain)


def test_inference_in_tiles_on_the_cpu_equals_the_batched_training_form(monkeypatch):
    decoder = tiny_decoder()
    monkeypatch.setattr(decoder, "CPU_TILE_CELLS", 1000)  # 257 × 65 = 16 705 cells: 16 full tiles and a rest
    torch.manual_seed(2)
    slots = torch.randn(2, 3, 16)
    batched = decoder(slots, 257, 65)  # gradients on: the batched form
    with torch.no_grad():
        tiled = decoder(slots, 257, 65)
        assert tiled.shape == (2, 3, 257, 65)
        torch.testing.assert_close(tiled, batched.detach(), rtol=1e-6, atol=1e-6)
        rows = decoder._decode_in_tiles(slots, fourier_features(257, 65, decoder.fourier_matrix))
    assert torch.equal(rows.view(2, 3, 257, 65), tiled)


def test_fourier_features_shape_range_and_formula():
    matrix = torch.randn(8, 2) * 10.0
    features = fourier_features(257, 65, matrix)
    assert features.shape == (257 * 65, 16)
    assert features.abs().max() <= 1.0
    # cos² + sin² = 1 for every frequency and cell
    torch.testing.assert_close(features[:, :8] ** 2 + features[:, 8:] ** 2, torch.ones(257 * 65, 8))
    # cell (f, t) = (100, 40) is row f * T + t, with v = (100 / 256, 40 / 64)
    v = torch.tensor([100 / 256, 40 / 64])
    expected = torch.cat([torch.cos(2 * math.pi * matrix @ v), torch.sin(2 * math.pi * matrix @ v)])
    torch.testing.assert_close(features[100 * 65 + 40], expected, atol=1e-4, rtol=1e-4)


def test_fourier_features_keep_float32_precision_under_autocast():
    matrix = torch.randn(64, 2) * 10.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = fourier_features(257, 65, matrix)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, fourier_features(257, 65, matrix))


def test_fourier_matrix_is_the_same_in_every_model():
    first, second = tiny_model(), tiny_model(n_slots=3)
    torch.manual_seed(123)  # the global seed must not matter
    third = AudioSlots(TINY)
    torch.testing.assert_close(first.decoder.fourier_matrix, second.decoder.fourier_matrix)
    torch.testing.assert_close(first.decoder.fourier_matrix, third.decoder.fourier_matrix)
    assert first.decoder.fourier_matrix.std() > 5.0  # scaled by fourier_scale = 10



def test_fourier_time_scale_scales_only_the_time_column():
    both = SpatialBroadcastDecoder(slot_dim=4, fourier_features=256, fourier_scale=12.0, hidden=8, layers=2)
    split = SpatialBroadcastDecoder(
        slot_dim=4, fourier_features=256, fourier_scale=12.0, hidden=8, layers=2, fourier_time_scale=3.0
    )
    torch.testing.assert_close(split.fourier_matrix[:, 0], both.fourier_matrix[:, 0])
    torch.testing.assert_close(split.fourier_matrix[:, 1], both.fourier_matrix[:, 1] / 4.0)


def test_grid_embedding_gives_distinct_bounded_vectors_per_cell():
    embedding = sinusoidal_grid_embedding(32, 8, 16)
    assert embedding.shape == (32 * 8, 16)
    assert embedding.abs().max() <= 1.0
    distances = torch.cdist(embedding, embedding) + torch.eye(32 * 8)
    assert distances.min() > 1e-3


def test_gradient_reaches_every_parameter():
    model = tiny_model()
    spectrogram = torch.rand(2, 257, 65)
    loss, _ = matched_mse(model(spectrogram), torch.rand(2, 2, 257, 65))
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


@pytest.mark.parametrize("shape", [(257, 65), (1, 2, 257, 65)])
def test_input_without_batch_and_freq_and_frames_dims_raises_config_error(shape):
    with pytest.raises(ConfigError, match="batch, freq, frames"):
        tiny_model()(torch.rand(*shape))


def test_input_smaller_than_the_stride_raises_config_error():
    with pytest.raises(ConfigError, match="at least 8"):
        tiny_model()(torch.rand(2, 257, 5))


def test_config_that_cannot_build_the_network_raises_config_error():
    with pytest.raises(ConfigError, match="attn_dim"):
        tiny_model(attn_dim=18)
    with pytest.raises(ConfigError, match="resnet_blocks"):
        tiny_model(resnet_blocks=(1, 1, 1))
    with pytest.raises(ConfigError, match="root_stride"):
        tiny_model(root_stride=4)


def test_count_parameters_counts_weights_and_biases():
    assert count_parameters(torch.nn.Linear(3, 5)) == 3 * 5 + 5


def test_model_runs_under_bfloat16_autocast():
    model = tiny_model()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(torch.rand(2, 257, 65))
    assert output.shape == (2, 2, 257, 65)
    assert torch.isfinite(output.float()).all()


def test_adam_steps_on_one_batch_beat_the_best_input_blind_prediction():
    """The model learns to use its input: a constant per-cell guess cannot reach this loss."""
    model = tiny_model()
    generator = torch.Generator().manual_seed(1)
    # Each source is a horizontal band (a steady tone) at a random frequency and level.
    freq = torch.arange(16.0)[None, None, :, None]
    centres = torch.rand(4, 2, 1, 1, generator=generator) * 15
    levels = 0.5 + torch.rand(4, 2, 1, 1, generator=generator)
    sources = (levels * torch.exp(-0.5 * ((freq - centres) / 2.0) ** 2)).expand(4, 2, 16, 8)
    mixture = sources.sum(dim=1)  # (4, 16, 8): any grid of at least 8 × 8 works
    input_blind = (sources - sources.mean(dim=(0, 1), keepdim=True)).square().mean()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss, _ = matched_mse(model(mixture), sources)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * input_blind.item()


def test_decoding_a_subset_of_cells_equals_those_cells_of_the_full_grid():
    torch.manual_seed(0)
    model = AudioSlots(TINY).eval()
    spec = torch.rand(2, 257, 65)
    cells = torch.randperm(257 * 65)[:300]
    with torch.no_grad():
        full = model(spec)  # (2, 2, 257, 65)
        subset = model(spec, cells)  # (2, 2, 300, 1)
    torch.testing.assert_close(subset[..., 0], full.flatten(-2)[..., cells])


def test_model_can_be_built_on_the_meta_device_for_counting():
    with torch.device("meta"):
        model = AudioSlots(dataclasses.replace(TINY, fourier_time_scale=2.0))
    assert model.decoder.fourier_matrix.device.type == "cpu"  # fixed at construction, on the CPU
    assert count_parameters(model) > 0


# --- Variants of the network (ModelConfig.feature_projection, fourier_axes) and their defaults ---------

#: z's channels and the attention width of TINY: what one linear map of z costs, weights and biases.
TINY_PROJECTION = 8 * TINY.resnet_width * TINY.attn_dim + TINY.attn_dim


def test_default_network_is_the_paper_reading_with_the_committed_sizes():
    assert (ModelConfig().feature_projection, ModelConfig().fourier_axes) == ("shared", "mixed")
    with torch.device("meta"):
        sizes = {name: count_parameters(AudioSlots(get_preset(name).model)) for name in ("paper", "cpu")}
    # The paper preset's count is the book's; the cpu preset's the one results/benchmarks records.
    assert sizes == {"paper": 45_255_361, "cpu": 804_749}
    model = tiny_model()
    assert type(model.transformer.feature_proj) is torch.nn.Linear  # checkpoints keep their keys
    assert model.state_dict()["transformer.feature_proj.weight"].shape == (TINY.attn_dim, 8 * TINY.resnet_width)


def test_per_row_projection_has_one_map_per_frequency_row_and_any_number_of_frames():
    shared, per_row = tiny_model(), tiny_model(feature_projection="per_row")
    assert count_parameters(per_row) - count_parameters(shared) == (32 - 1) * TINY_PROJECTION
    assert per_row(torch.rand(2, 257, 65)).shape == (2, 2, 257, 65)
    assert per_row(torch.rand(2, 257, 129)).shape == (2, 2, 257, 129)  # 1 s chunks: 32 × 16, the same rows


def test_per_cell_projection_has_one_map_per_cell_of_the_grid_it_was_made_for():
    shared, per_cell = tiny_model(), tiny_model(feature_projection="per_cell")
    assert count_parameters(per_cell) - count_parameters(shared) == (32 * 8 - 1) * TINY_PROJECTION
    assert per_cell(torch.rand(2, 257, 65)).shape == (2, 2, 257, 65)
    with pytest.raises(ConfigError, match="feature_grid"):
        per_cell(torch.rand(2, 257, 129))
    one_second = tiny_model(feature_projection="per_cell", feature_grid=(32, 16))
    assert one_second(torch.rand(2, 257, 129)).shape == (2, 2, 257, 129)


@pytest.mark.parametrize("cols", [None, 3])
def test_grid_linear_maps_each_row_or_cell_with_its_own_weights(cols):
    torch.manual_seed(0)
    layer = GridLinear(5, 4, rows=2, cols=cols)
    grid = torch.randn(3, 2, 3, 5)  # (batch, rows, cols, in)
    by_hand = torch.stack([
        torch.stack([grid[:, r, c] @ layer.weight[r if cols is None else (r, c)]
                     + layer.bias[r if cols is None else (r, c)] for c in range(3)], dim=1)
        for r in range(2)], dim=1)  # (batch, rows, cols, out)
    torch.testing.assert_close(layer(grid), by_hand)


def test_separate_fourier_axes_give_features_of_frequency_only_or_of_time_only():
    matrix = fourier_matrix(8, scale=10.0, time_scale=3.0, axes="separate")
    generator = torch.Generator().manual_seed(FOURIER_SEED)  # the draws of the tuning sweep's variant
    torch.testing.assert_close(matrix[:4, 0], torch.randn(4, generator=generator) * 10.0)
    torch.testing.assert_close(matrix[4:, 1], torch.randn(4, generator=generator) * 3.0)
    assert not matrix[:4, 1].any() and not matrix[4:, 0].any()
    features = fourier_features(9, 5, matrix).view(9, 5, 16)  # (freq, frames, [cos, sin] × 8)
    by_frequency, by_time = features[..., [0, 1, 2, 3, 8, 9, 10, 11]], features[..., [4, 5, 6, 7, 12, 13, 14, 15]]
    assert torch.equal(by_frequency, by_frequency[:, :1].expand_as(by_frequency))  # constant along time
    assert torch.equal(by_time, by_time[:1].expand_as(by_time))  # constant along frequency


def test_separate_fourier_axes_change_only_the_decoders_fixed_matrix():
    mixed, separate = tiny_model(), tiny_model(fourier_axes="separate")
    assert count_parameters(mixed) == count_parameters(separate)
    for name, value in mixed.state_dict().items():
        assert torch.equal(value, separate.state_dict()[name]) == (name != "decoder.fourier_matrix"), name
    assert separate(torch.rand(2, 257, 65)).shape == (2, 2, 257, 65)


def test_unknown_variant_names_raise_config_error():
    with pytest.raises(ConfigError, match="feature_projection"):
        tiny_model(feature_projection="per_column")
    with pytest.raises(ConfigError, match="fourier_axes"):
        tiny_model(fourier_axes="diagonal")


def test_a_config_read_back_from_json_lists_equals_the_one_with_tuples():
    from_json = dataclasses.replace(TINY, resnet_blocks=[1, 1, 1, 1], feature_grid=[32, 8])
    assert from_json == TINY and isinstance(from_json.feature_grid, tuple)


def test_wide_slot_path_keeps_slots_slot_dim_wide_through_the_transformer():
    model = tiny_model(slot_path="wide", slot_dim=32, attn_dim=16)
    layer = model.transformer.layers[0]
    assert layer.norm_self.normalized_shape == (32,) and layer.mlp[0].in_features == 32
    assert layer.cross_attn.to_k.in_features == 16 and layer.cross_attn.to_q.out_features == 16
    assert isinstance(model.transformer.query_proj, torch.nn.Identity)
    out = model(torch.rand(2, 257, 65))
    assert out.shape == (2, TINY.n_slots, 257, 65) and torch.isfinite(out).all()


def test_wide_slot_path_is_permutation_equivariant_in_its_queries():
    model = tiny_model(n_slots=3, slot_path="wide").eval()
    spectrogram = torch.rand(2, 257, 65)
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        outputs = model(spectrogram)
        model.transformer.queries.copy_(model.transformer.queries[perm].clone())
        permuted = model(spectrogram)
    torch.testing.assert_close(permuted, outputs[:, perm], atol=1e-5, rtol=1e-5)


def test_narrow_slot_path_builds_the_same_parameters_as_before_the_option():
    names = {name: tuple(p.shape) for name, p in tiny_model().named_parameters()}
    assert names["transformer.query_proj.weight"] == (TINY.attn_dim, TINY.slot_dim)
    assert names["transformer.layers.0.cross_attn.to_k.weight"] == (TINY.attn_dim, TINY.attn_dim)
    assert names["transformer.slot_proj.weight"] == (TINY.slot_dim, TINY.attn_dim)


def test_unknown_slot_path_raises_config_error():
    with pytest.raises(ConfigError, match="slot_path='broad'"):
        tiny_model(slot_path="broad")


def test_a_wide_slot_path_can_be_counted_without_gradients():
    from torch.utils.flop_counter import FlopCounterMode

    model = tiny_model(slot_path="wide")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(2, 257, 65))
    assert counter.get_total_flops() > 0
