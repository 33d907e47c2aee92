"""Training: the loop and its step, checkpoints, precision on CUDA, and several processes under torchrun.

Import from here (``from audioslots.training import train, load_model``); the modules behind
these names are this package's own business.
"""

from audioslots.training.loop import (
    CropBatches,
    NonFiniteLoss,
    RunFiles,
    TrainingStopped,
    TrainResult,
    adam_step,
    build_model,
    count_run_flops,
    count_step_flops,
    decoded_cells,
    learning_rate,
    load_checkpoint,
    load_model,
    model_config_for,
    preset_from_dict,
    resolve_device,
    run_config,
    save_checkpoint,
    train,
    training_crops,
    training_loss,
)

__all__ = [
    "CropBatches", "NonFiniteLoss", "RunFiles", "TrainingStopped", "TrainResult", "adam_step", "build_model",
    "count_run_flops", "count_step_flops", "decoded_cells", "learning_rate", "load_checkpoint", "load_model",
    "model_config_for", "preset_from_dict", "resolve_device", "run_config", "save_checkpoint", "train",
    "training_crops", "training_loss",
]
