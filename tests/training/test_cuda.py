"""The CUDA code paths, run whenever a GPU is present (skipped on CI, which has none).

Each test compares the GPU path with the CPU one it must agree with: the model's forward pass
(float32 with TF32 off, and bf16 autocast, against a float64 reference), fused Adam's on-device
skip of a non-finite step, a short training run whose checkpoint loads on the CPU, and evaluation
on the GPU (bf16 autocast) against evaluation on the CPU. ``scripts/gpu_check.sh`` runs them on a GPU machine.
"""

import math

import pytest
import torch

from audioslots.config import features_from_dict, get_preset, replace
from audioslots.features import spectrogram
from audioslots.model import AudioSlots
from audioslots.training import adam_step, load_checkpoint, load_model, model_config_for, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = get_preset("tiny")
CPU_PRESET = get_preset("cpu")


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 off (it rounds float32 matrix products to 10 mantissa bits), restored afterwards."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def _relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out.double() - ref).norm() / ref.norm())


def _model_and_input(seed: int):
    torch.manual_seed(seed)
    model = AudioSlots(model_config_for(CPU_PRESET, "audioslots", 2)).eval()
    waveform = torch.randn(3, CPU_PRESET.features.chunk_samples)  # fresh random input per seed
    return model, spectrogram(waveform, CPU_PRESET.features)


@pytest.mark.parametrize("seed", [0, 1])
def test_float32_forward_on_cuda_matches_a_float64_reference(seed):
    model, spec = _model_and_input(seed)
    with torch.no_grad():
        reference = model.double()(spec.double())
        out = model.float().cuda()(spec.cuda())
    assert torch.isfinite(out).all()
    assert _relative_error(out.cpu(), reference) < 1e-3


def test_bf16_autocast_forward_on_cuda_is_within_bf16_rounding_of_float64():
    model, spec = _model_and_input(2)
    with torch.no_grad():
        reference = model.double()(spec.double())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model.float().cuda()(spec.cuda())
    assert torch.isfinite(out).all()
    assert _relative_error(out.float().cpu(), reference) < 3e-2


def test_fused_adam_skips_a_non_finite_step_on_the_device_and_matches_cpu_adam_otherwise():
    torch.manual_seed(3)
    weights = torch.randn(64, 32)
    cpu = torch.nn.Parameter(weights.clone())
    gpu = torch.nn.Parameter(weights.clone().cuda())
    cpu_opt = torch.optim.Adam([cpu], lr=1e-2)
    gpu_opt = torch.optim.Adam([gpu], lr=1e-2, fused=True)
    for step in range(4):
        grad = torch.randn(64, 32)
        finite = step != 2
        if not finite:
            grad[0, 0] = float("nan")
        cpu.grad, gpu.grad = grad.clone(), grad.clone().cuda()
        before = gpu.detach().clone()
        adam_step(cpu_opt, torch.tensor(finite))
        adam_step(gpu_opt, torch.isfinite(gpu.grad).all())
        if not finite:
            assert torch.equal(gpu.detach(), before)
    assert int(gpu_opt.state[gpu]["step"]) == int(cpu_opt.state[cpu]["step"]) == 3
    assert torch.allclose(gpu.detach().cpu(), cpu.detach(), rtol=1e-5, atol=1e-6)


def test_training_on_cuda_checkpoints_weights_that_load_and_agree_on_the_cpu(tiny_train, tmp_path):
    preset = replace(TINY, steps=6)
    result = train(preset, tiny_train, tmp_path / "run", device="cuda", progress=False, stop_after=4)
    assert result.step == 4 and math.isfinite(result.final_loss)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert all(t.device.type == "cpu" and torch.isfinite(t).all() for t in state["model"].values())

    gpu_model, config = load_model(tmp_path / "run" / "checkpoint.pt", device="cuda")
    cpu_model, _ = load_model(tmp_path / "run" / "checkpoint.pt", device="cpu")
    features = features_from_dict(config["preset"]["features"])
    spec = spectrogram(torch.randn(2, features.chunk_samples), features)
    with torch.no_grad():
        assert _relative_error(gpu_model(spec.cuda()).cpu(), cpu_model(spec).double()) < 1e-3
    # a CUDA (fused Adam) run resumes on the CPU
    assert train(preset, tiny_train, tmp_path / "run", device="cpu", progress=False).step == 6


def test_evaluation_on_cuda_gives_the_cpu_numbers(tiny_data, tiny_train, tmp_path):
    from audioslots.data.dataset import LibriMix
    from audioslots.evaluation.scores import evaluate_checkpoint

    train(replace(TINY, steps=2), tiny_train, tmp_path / "run", device="cpu", progress=False)
    checkpoint, dataset = tmp_path / "run" / "checkpoint.pt", LibriMix(tiny_data, "test")
    on_cpu = evaluate_checkpoint(checkpoint, dataset, device="cpu", progress=False)
    on_gpu = evaluate_checkpoint(checkpoint, dataset, device="cuda", progress=False)
    assert len(on_gpu) == len(on_cpu) > 0
    # predict() runs the network under bf16 autocast on CUDA: the scores move by bf16 rounding only
    assert (on_gpu["si_snri"] - on_cpu["si_snri"]).abs().max() < 0.3  # dB
