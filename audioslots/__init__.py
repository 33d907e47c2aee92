"""AudioSlots: a slot-centric generative model for audio separation (arXiv 2305.05591), reproduced.

The package is laid out by the data flow (ARCHITECTURE.md draws it); each layer imports only
from the layers above it::

    core         config, kinds, runs, audio, features, model, convtasnet, loss, masks, metrics, separate,
                 flops, provenance: frozen configs, pure tensor math, one object per kind of system
    data/        LibriMix folders: read where they lie, or built from LibriSpeech or synthetic voices
    training/    train(), one loop over train_step(); batches, checkpoints, precision, torchrun
    evaluation/  the rows of Table 1, learning curves, the chunk-boundary analysis
    reporting/   tables, the paper's claims with verdicts, figures, the book's view of a run
    pipeline     the reproduction's steps, in the order the notebooks call them; cli: the command
"""

from audioslots.config import PRESETS, FeatureConfig, ModelConfig, Preset, TrainConfig, get_preset
from audioslots.errors import AudioSlotsError

__version__ = "0.1.0"
__all__ = ["PRESETS", "FeatureConfig", "ModelConfig", "Preset", "TrainConfig", "get_preset", "AudioSlotsError"]
