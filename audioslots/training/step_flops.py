"""FLOPs of one training step: of a network on a batch, of a stored run, and the run folder's ``flops.json``.

The count is that of :func:`audioslots.flops.count_flops` (model FLOPs: matrix products,
convolutions and attention, forward and backward) over :meth:`~audioslots.kinds.Kind.training_loss`
and its backward pass. It depends on the shapes only, so one step's count holds for the run.
"""

from __future__ import annotations

import copy

import torch

from audioslots.config import Preset
from audioslots.flops import COUNTED_BY, count_flops, read_flops, write_flops
from audioslots.kinds import Kind, kind_of
from audioslots.training import distributed
from audioslots.training.batches import CropBatches
from audioslots.training.checkpoints import RunFiles, preset_from_dict


def count_step_flops(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                     step: int = 0, bf16: bool = False, kind: str | Kind = "audioslots") -> int:
    """FLOPs of one training step of ``model`` on this batch: the loss of ``kind``'s step
    (:meth:`~audioslots.kinds.Kind.training_loss`) and its backward pass.

    Counted (:func:`audioslots.flops.count_flops`) on a copy of the network, with the random state
    restored afterwards: the run it is counted for trains exactly as it would uncounted. Adam's
    update is element-wise and counts zero. With ``decoded_cells < 1`` every step decodes the same
    number of cells, so one step's count holds for every step.
    """
    network = copy.deepcopy(model).train()
    device, kind = inputs.device, kind_of(kind)

    def step_pass() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = kind.training_loss(network, inputs, targets, preset, step)
        loss.backward()

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return count_flops(step_pass)


def count_run_flops(config: dict, batch_size: int | None = None, device: str | torch.device = "cpu") -> int:
    """FLOPs of one training step of the run a stored ``config`` describes (its ``config.json``).

    Counted (:func:`count_step_flops`) on a freshly built network and noise of the step's shapes:
    the count depends on shapes only. For runs trained before training counted its steps.

    Args:
        config: ``{"preset", "model_kind", "data": {"n_src", ...}}`` as
            :func:`~audioslots.training.checkpoints.run_config` writes it.
        batch_size: crops per step instead of the run's (to extrapolate from small batches, see
            :func:`audioslots.flops.affine_in_batch`).
    """
    preset = preset_from_dict(config["preset"])
    kind, n_src = kind_of(config["model_kind"]), config["data"]["n_src"]
    run_batch, crop_samples = kind.training_crops(preset)
    batch = batch_size or run_batch
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = kind.build(preset, n_src).to(device)
        sources = 0.1 * torch.randn(batch, n_src, crop_samples, device=device)
    return count_step_flops(model, *kind.training_batch(sources.sum(1), sources), preset, kind=kind)


def recorded_step_flops(files: RunFiles, model: torch.nn.Module, batches: CropBatches, preset: Preset, step: int,
                        device: torch.device, bf16: bool, ranks: distributed.Ranks, agreement=None) -> dict:
    """The run's ``flops.json``: read when it was counted for this batch size and number of
    processes (in the same way), counted on the batch of ``step`` and written otherwise.

    Each process counts its share of the batch; ``flop_per_step`` is the sum over processes.
    ``agreement`` is the process group of :func:`audioslots.training.distributed.process_group`: all processes count,
    or none.
    """
    flops = read_flops(files.flops)
    fits = flops is not None and (flops.get("batch_size"), flops.get("processes"), flops.get("counted_by")) == (
        batches.batch_size, ranks.world_size, COUNTED_BY)
    if not distributed.any_rank(not fits, ranks, agreement):
        return flops
    inputs, targets = (t.to(device) for t in batches[step])
    share = count_step_flops(model, inputs, targets, preset, step, bf16, batches.kind)
    total = distributed.mean_over_ranks(torch.tensor(float(share), dtype=torch.float64, device=device), ranks)
    flops = {"flop_per_step": round(total.item() * ranks.world_size), "batch_size": batches.batch_size,
             "processes": ranks.world_size, "torch": torch.__version__, "counted_by": COUNTED_BY}
    if ranks.is_main:
        write_flops(files.flops, flops)
    return flops
