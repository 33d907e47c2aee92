"""Training: the loop and its step, batches, networks, checkpoints, precision, several processes under torchrun.

Import from here (``from audioslots.training import train, load_model``); the modules behind
these names are this package's own business:

- :mod:`~audioslots.training.loop`: :func:`train`, one plain loop over :func:`train_step`;
- :mod:`~audioslots.training.batches`: the batch of each step, from ``(seed, step)``;
- :mod:`~audioslots.training.networks`: the networks, their crops and the loss of a step;
- :mod:`~audioslots.training.checkpoints`: the run folder, checkpoints, resuming;
- :mod:`~audioslots.training.log`, :mod:`~audioslots.training.nonfinite`: the log and skipped steps;
- :mod:`~audioslots.training.step_flops`: FLOPs of a training step;
- :mod:`~audioslots.training.precision`: device, bf16, fused Adam;
- :mod:`~audioslots.training.distributed`: torchrun and preemption signals.
"""

from audioslots.training.batches import CropBatches, network_batch
from audioslots.training.checkpoints import (RunFiles, load_checkpoint, preset_from_dict, run_config,
                                             save_checkpoint, ship_checkpoint)
from audioslots.training.loop import TrainingStopped, TrainResult, learning_rate, train, train_step
from audioslots.training.networks import (build_model, decoded_cells, load_model, model_config_for, training_crops,
                                          training_loss)
from audioslots.training.nonfinite import NonFiniteLoss
from audioslots.training.precision import adam_step, build_optimizer, resolve_device
from audioslots.training.step_flops import count_run_flops, count_step_flops

__all__ = [
    "CropBatches", "NonFiniteLoss", "RunFiles", "TrainingStopped", "TrainResult", "adam_step", "build_model",
    "build_optimizer",
    "count_run_flops", "count_step_flops", "decoded_cells", "learning_rate", "load_checkpoint", "load_model",
    "model_config_for", "network_batch", "preset_from_dict", "resolve_device", "run_config", "save_checkpoint",
    "ship_checkpoint", "train", "train_step", "training_crops", "training_loss",
]
