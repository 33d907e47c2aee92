"""AudioSlots: a slot-centric generative model for audio separation (arXiv 2305.05591), reproduced.

The data flow is the package layout::

    data / synth   LibriMix-layout mixtures (real Libri2Mix or the embedded synthetic set)
    features       chunks → STFT → |X| ** 0.3, and back
    model          ResNet-34 encoder → transformer slots → spatial broadcast decoder
    loss           Hungarian-matched MSE
    train          the training loop (resumable)
    masks          IBM and Wiener-like masks from magnitude estimates
    separate       chunk → predict → order → mask → inverse STFT → stitch
    metrics        SI-SNR, SI-SNRi with permutation matching
    evaluate       the rows of Table 1
"""

from audioslots.config import PRESETS, FeatureConfig, ModelConfig, Preset, TrainConfig, get_preset
from audioslots.errors import AudioSlotsError

__version__ = "0.1.0"
__all__ = ["PRESETS", "FeatureConfig", "ModelConfig", "Preset", "TrainConfig", "get_preset", "AudioSlotsError"]
