"""Configuration: one frozen dataclass per concern, presets as named instances.

Every value the paper fixes is written once, here, with the step of the paper's pipeline it comes
from (the book's page *The paper, in brief*), written "(paper, pipeline N)". Values the paper
leaves open are marked ``[choice]`` and listed in the book's "Deviations and interpretations" page.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import numbers
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field

from audioslots.errors import ConfigError


@dataclass(frozen=True)
class FeatureConfig:
    """Waveform → compressed magnitude spectrogram (paper, pipeline 1 and 6)."""

    #: Samples per second of the audio (Libri2Mix 16 kHz).
    sample_rate: int = 16_000
    #: Seconds of one chunk, the training crop and test chunk length.
    chunk_seconds: float = 0.5
    #: FFT length in samples, the STFT window 512 (Hann).
    n_fft: int = 512
    #: Samples between the starts of consecutive frames, the STFT hop 125.
    hop_samples: int = 125
    #: Power that compresses the STFT magnitude, ``|X| ** 0.3``.
    compress_power: float = 0.3
    #: [choice] How the STFT frames a chunk (see ``audioslots.features.FRAMINGS``). "pad-end" is what
    #: tf.signal.stft / inverse_stft do (the authors' toolkit): frames start at sample 0 and the
    #: inverse under-weights the first n_fft - hop samples of every chunk; it gives ceil(8000 / 125)
    #: = 64 frames, the paper's 256 × 64 grid without dropping a frame. "centred" is torch.stft's
    #: centre=True framing, an exact round trip with 65 frames.
    framing: str = "pad-end"

    @property
    def chunk_samples(self) -> int:
        """Samples of one chunk (8000 for 0.5 s at 16 kHz)."""
        return round(self.chunk_seconds * self.sample_rate)

    @property
    def n_freq(self) -> int:
        """Frequency bins of the one-sided STFT (257 for a 512-point FFT)."""
        return self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        """STFT frames of one chunk (64 for 0.5 s at hop 125 with ``pad-end``, 65 with ``centred``)."""
        if self.framing == "pad-end":
            return -(-self.chunk_samples // self.hop_samples)
        return 1 + self.chunk_samples // self.hop_samples


@dataclass(frozen=True)
class ModelConfig:
    """AudioSlots network (paper, pipeline 2 and 3)."""

    #: Slots the network outputs (= number of sources; 1 for the autoencoder).
    n_slots: int = 2
    #: Residual blocks in each of the encoder's four stages; (3, 4, 6, 3) is ResNet-34.
    resnet_blocks: tuple[int, ...] = (3, 4, 6, 3)
    #: Channels of the first ResNet stage (doubles per stage).
    resnet_width: int = 64
    #: [choice] Stride of the encoder's root, 1 (root at full resolution) or 2 (root strides, stage 4 does not).
    root_stride: int = 1
    #: Slot width d; learned queries and slots live in R^4096.
    slot_dim: int = 4096
    #: [choice] Width of attention/MLP blocks; z and queries projected to it.
    attn_dim: int = 512
    #: [choice] Heads of every attention block of the slot transformer.
    attn_heads: int = 8
    #: [choice] Transformer MLP hidden width.
    mlp_dim: int = 2048
    #: [choice] How wide the slots stay through the transformer.
    #: "narrow": queries projected to attn_dim, the residual stream at attn_dim (a slot's
    #: rank is at most attn_dim); "wide": queries and residual stream stay slot_dim wide, as
    #: "queries of dimension 4096" may mean, each attention projecting to attn_dim inside itself.
    slot_path: str = "narrow"
    #: Layers of the slot transformer (4 layers; each self-attention, then cross-attention to z).
    transformer_layers: int = 4
    #: [choice] How z is projected to attn_dim:
    #: "shared" (one linear map for every cell), or the tuning variants "per_row" (one map per
    #: frequency row) and "per_cell" (one per cell).
    feature_projection: str = "shared"
    #: z's rows × columns (0.5 s; 32 × 16 for 1 s), for per_row/per_cell.
    feature_grid: tuple[int, int] = (32, 8)
    #: [choice] e/2, the number of random Fourier frequencies (Tancik et al.).
    fourier_features: int = 64
    #: [choice] Std of the Fourier frequency matrix.
    fourier_scale: float = 10.0
    #: [choice] Of the Fourier frequency matrix, its std along time; None = fourier_scale.
    fourier_time_scale: float | None = None
    #: [choice] Which axes the random Fourier frequencies act on.
    #: "mixed": each random frequency acts on both axes (Tancik et al.); the tuning variant
    #: "separate": half act on frequency only, half on time only.
    fourier_axes: str = "mixed"
    #: [choice] Width of the shared decoder MLP.
    decoder_hidden: int = 512
    #: [choice] Linear layers in the decoder MLP (incl. output layer).
    decoder_layers: int = 4
    #: The decoder's first layer computed as W_s·s + W_p·pe instead of W·[s; pe] (exact).
    factorised_decoder: bool = True

    def __post_init__(self):
        # A run's config.json stores tuples as lists; the network is the same either way.
        object.__setattr__(self, "resnet_blocks", tuple(self.resnet_blocks))
        object.__setattr__(self, "feature_grid", tuple(self.feature_grid))


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (paper, pipeline 5)."""

    #: Crops per batch (the paper's 64); ``batch_seconds``, if set, takes its place.
    batch_size: int = 64
    #: Adam's peak learning rate, reached at the end of the warm-up (the paper's 2e-4).
    learning_rate: float = 2e-4
    #: Steps of linear warm-up, then cosine decay to 0.
    warmup_steps: int = 2_500
    #: Training steps (the paper's 300 000); the cosine decay reaches 0 at the last.
    steps: int = 300_000
    #: Seed of the network's initialisation and of the training batches (step k's batch is drawn from (seed, k)).
    seed: int = 0
    #: Steps per row of the training log (``RUN_DIR/log.csv``).
    log_every: int = 50
    #: Steps between two checkpoints of the run folder.
    checkpoint_every: int = 1_000
    #: Data-loading processes (0 = in the training process).
    num_workers: int = 4
    #: [choice] Fraction of the F × T grid decoded (and scored) per training step. 1.0 is the paper;
    #: below 1 the coordinate decoder is evaluated at a random subset of cells, an unbiased
    #: estimate of the same MSE at a fraction of the cost (the CPU preset's budget needs it).
    decoded_cells: float = 1.0
    #: [choice] If set, a batch holds this many seconds of audio (batch_seconds / chunk_seconds
    #: crops), so that 0.5 s and 1 s runs cost the same per step; None keeps ``batch_size``.
    batch_seconds: float | None = None
    #: Also checkpoint every this many minutes of wall-clock time
    #: (None: every checkpoint_every steps only): a preempted or crashed job loses at most this much work.
    checkpoint_minutes: float | None = None
    #: Keep a copy of the checkpoint at these steps (``checkpoint_step0001000.pt``):
    #: the points of a learning curve, scored afterwards by ``audioslots score-checkpoints``.
    keep_checkpoints: tuple[int, ...] = ()
    #: [choice] Clip the global gradient norm to this value; None (no clipping) is the paper, which
    #: names none.
    clip_grad_norm: float | None = None
    #: A step whose loss or gradient is not finite is skipped (no update); this many in a row stop
    #: the run with an error.
    max_nonfinite_steps: int = 5
    #: [choice] bf16 autocast of the forward pass:
    #: "auto" on CUDA only, "bf16" on the CPU too (how the paper preset is smoke-tested on CPU),
    #: "off" float32 everywhere. The paper does not say.
    autocast: str = "auto"
    #: [choice] Fraction of the training examples mixed on the fly:
    #: sources of different speakers from different training mixtures, each scaled by a gain drawn
    #: uniformly within ±3 dB (audioslots.training.batches). 0 trains on the training mixtures as they
    #: are, as the paper.
    dynamic_mixing: float = 0.0
    #: Train on a fixed pool of this many crops instead of a fresh crop per example
    #: (0: fresh crops, as the paper). A probe of how learning depends on the number of distinct examples
    #: (experiments/plateau.py); the pool is drawn once from the seed.
    crop_pool: int = 0
    #: Train only on the mixtures whose speakers all belong to a set of this many training speakers,
    #: drawn once from the seed (0: every mixture). With crop_span, a probe of how learning depends on
    #: the number of voices (experiments/plateau.py).
    crop_speakers: int = 0
    #: Crops are drawn from the first this fraction of each training mixture
    #: (1.0: anywhere); the rest is held out to score the same speakers on audio the network never saw.
    crop_span: float = 1.0

    def __post_init__(self):
        if self.crop_pool < 0:
            raise ConfigError(f"crop_pool={self.crop_pool} is not a number of crops: use 0 (fresh crops) or more.")
        if self.crop_speakers < 0 or self.crop_speakers == 1:
            raise ConfigError(f"crop_speakers={self.crop_speakers} cannot hold a mixture of different speakers: "
                              "use 0 (every speaker) or at least 2.")
        if not 0.0 < self.crop_span <= 1.0:
            raise ConfigError(f"crop_span={self.crop_span} is not a fraction of each mixture: use a value in (0, 1].")
        if not 0.0 < self.decoded_cells <= 1.0:
            raise ConfigError(f"decoded_cells={self.decoded_cells} is not a fraction of the grid: use a value in (0, 1].")
        if not 0.0 <= self.dynamic_mixing <= 1.0:
            raise ConfigError(f"dynamic_mixing={self.dynamic_mixing} is not a fraction of the training examples: "
                              "use a value in [0, 1].")

    def batch_for(self, chunk_seconds: float) -> int:
        """Crops per batch for crops of ``chunk_seconds``."""
        if self.batch_seconds is None:
            return self.batch_size
        return max(1, round(self.batch_seconds / chunk_seconds))


@dataclass(frozen=True)
class ConvTasNetConfig:
    """Conv-TasNet, a mask-based waveform peer trained beside AudioSlots (not in the paper).

    The defaults are the best non-causal configuration of Luo & Mesgarani (2019, "Conv-TasNet:
    surpassing ideal time-frequency magnitude masking for speech separation", IEEE/ACM TASLP 27(8)).
    The field names are the arguments of ``torchaudio.models.ConvTasNet``; the comments give that
    paper's letters.
    """

    #: Encoder/decoder filter length in samples, L (hop L / 2).
    enc_kernel_size: int = 16
    #: Encoder filters, N.
    enc_num_feats: int = 512
    #: Kernel of the separator's depthwise convolutions, P.
    msk_kernel_size: int = 3
    #: Bottleneck and skip-connection channels, B (= Sc).
    msk_num_feats: int = 128
    #: Channels inside a convolutional block, H.
    msk_num_hidden_feats: int = 512
    #: Blocks per repeat, X (dilations 1, 2, ..., 2^(X-1)).
    msk_num_layers: int = 8
    #: Repeats, R.
    msk_num_stacks: int = 3
    #: Mask non-linearity.
    msk_activate: str = "sigmoid"
    #: [choice] Training crops of 4 s, as Luo & Mesgarani; AudioSlots' 0.5 s crops would be shorter
    #: than this separator's receptive field ((1 + (P - 1) R (2^X - 1)) L / 2 = 12248 samples, 0.77 s
    #: at 16 kHz). A batch holds as many seconds of audio as an AudioSlots batch of the same preset.
    crop_seconds: float = 4.0


@dataclass(frozen=True)
class Preset:
    """A named configuration of a whole run: features, network, training and the Conv-TasNet peer."""

    #: The preset's name, its key in ``PRESETS``.
    name: str
    #: Waveform → compressed magnitude spectrogram.
    features: FeatureConfig = field(default_factory=FeatureConfig)
    #: The AudioSlots network.
    model: ModelConfig = field(default_factory=ModelConfig)
    #: Optimisation, batches and checkpoints of training.
    train: TrainConfig = field(default_factory=TrainConfig)
    #: The Conv-TasNet waveform peer (not in the paper).
    convtasnet: ConvTasNetConfig = field(default_factory=ConvTasNetConfig)


PRESETS: dict[str, Preset] = {
    # The paper's configuration, for a GPU server and real Libri2Mix.
    "paper": Preset("paper"),
    # [choice] A scaled-down network and schedule that trains in minutes on 2 CPU cores on the
    # embedded synthetic data: same pipeline and block structure, narrower and shallower.
    "cpu": Preset(
        "cpu",
        model=ModelConfig(
            resnet_blocks=(1, 1, 1, 1),
            resnet_width=4,
            root_stride=2,  # stage 1 at 128 × 32: its backward pass at 256 × 64 dominated a step
            slot_dim=256,
            attn_dim=64,
            attn_heads=4,
            mlp_dim=128,
            fourier_features=64,
            fourier_scale=16.0,  # fine harmonic structure along the 257 frequency bins
            fourier_time_scale=3.0,  # slow change along the frames of a chunk
            slot_path="wide",  # left the plateau first on both seeds (results/open_choices, Deviations)
            decoder_hidden=128,
            decoder_layers=4,
        ),
        train=TrainConfig(
            batch_size=16,
            batch_seconds=8.0,  # 16 crops of 0.5 s, 8 crops of 1 s: the same cost per step
            learning_rate=5e-3,
            warmup_steps=100,
            steps=750,  # [choice] what fits the 20-minute budget on 2 cores with real speech (see Deviations)
            log_every=50,
            checkpoint_every=100,
            num_workers=0,
            decoded_cells=0.05,
        ),
        # [choice] Conv-TasNet scaled down so that a step (the same 8 s of audio) costs about what an
        # AudioSlots step of this preset costs on one CPU thread: L = 32 is Luo & Mesgarani's 2 ms
        # filter at 16 kHz (their L = 16 was at 8 kHz) and halves the frames; a narrower (N, B, H) and
        # shallower (X, R: a receptive field of 0.25 s) separator, on 2 s crops.
        convtasnet=ConvTasNetConfig(
            enc_kernel_size=32,
            enc_num_feats=64,
            msk_num_feats=32,
            msk_num_hidden_feats=64,
            msk_num_layers=6,
            msk_num_stacks=2,
            crop_seconds=2.0,
        ),
    ),
    # Seconds-long smoke test of the whole pipeline (used by the tests); learns nothing useful.
    "tiny": Preset(
        "tiny",
        model=ModelConfig(
            resnet_blocks=(1, 1, 1, 1),
            resnet_width=4,
            slot_dim=16,
            attn_dim=16,
            attn_heads=2,
            mlp_dim=32,
            transformer_layers=2,
            fourier_features=8,
            decoder_hidden=16,
            decoder_layers=2,
        ),
        train=TrainConfig(
            batch_size=2,
            learning_rate=1e-3,
            warmup_steps=2,
            steps=6,
            log_every=1,
            checkpoint_every=2,
            num_workers=0,
        ),
        convtasnet=ConvTasNetConfig(
            enc_kernel_size=16,
            enc_num_feats=16,
            msk_num_feats=8,
            msk_num_hidden_feats=16,
            msk_num_layers=2,
            msk_num_stacks=1,
            crop_seconds=0.5,
        ),
    ),
}


def features_from_dict(values: dict) -> FeatureConfig:
    """A ``FeatureConfig`` from a run's stored config (``dataclasses.asdict`` of one)."""
    return FeatureConfig(**values)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ``ConfigError`` naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"Unknown preset {name!r}: choose one of {known}.") from None


def replace(preset: Preset, **overrides) -> Preset:
    """``preset`` with fields overridden by name, e.g. ``steps=10, n_slots=1, chunk_seconds=1.0``.

    Names and values are those of :func:`apply_settings`; ``None`` values are ignored so that CLI
    options left unset keep the preset's value (:func:`apply_settings` sets a field to ``None``).
    """
    return apply_settings(preset, {key: value for key, value in overrides.items() if value is not None})


#: The configs of a :class:`Preset`, by the name of its field that holds each.
PARTS = {"features": FeatureConfig, "model": ModelConfig, "train": TrainConfig, "convtasnet": ConvTasNetConfig}


def apply_settings(preset: Preset, settings: Mapping[str, object]) -> Preset:
    """``preset`` with every setting applied, ``None`` included (it sets an optional field to ``None``).

    A key is a field of one of the preset's configs, by its bare name (``slot_dim``: every name is
    in one config only) or dotted (``model.slot_dim``), or the preset's ``name``. A value is the
    field's type or text that parses to it (:func:`parse_setting`): ``"128"`` for an int, ``"3,4,6,3"``
    or a list for a tuple, ``"none"`` for an optional field. Raises ``ConfigError`` for an unknown
    key or a value of the wrong type.
    """
    parts = {part: getattr(preset, part) for part in PARTS}
    name = preset.name
    for key, value in typed_settings(settings).items():
        part, field_name, _ = _field(key)
        if part is None:
            name = value
        else:
            parts[part] = dataclasses.replace(parts[part], **{field_name: value})
    return dataclasses.replace(preset, name=name, **parts)


def parse_setting(text: str) -> tuple[str, object]:
    """``"key=value"`` → ``(key, value)``, the value parsed to the field's type.

    ``steps=10`` → ``("steps", 10)``; ``model.slot_dim=128``; ``clip_grad_norm=none`` → ``None``;
    ``resnet_blocks=3,4,6,3`` → ``(3, 4, 6, 3)``; ``factorised_decoder=false``; ``framing=centred``.
    """
    key, equals, value = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ConfigError(f"{text!r} is not a setting: write KEY=VALUE, e.g. steps=10 or model.slot_dim=128.")
    return key, _typed(key, value.strip(), _field(key)[2])


def typed_settings(settings: Mapping[str, object]) -> dict[str, object]:
    """Each setting's value as its field's type (as :func:`apply_settings` takes them): ``{"steps": "10"}`` →
    ``{"steps": 10}``, ``{"fourier_scale": 48}`` → ``{"fourier_scale": 48.0}``; ``ConfigError`` as there."""
    return {key: _typed(key, value, _field(key)[2]) for key, value in settings.items()}


def _field(key: str) -> tuple[str | None, str, object]:
    """``(part, field, type)`` of a setting's key (part ``None`` for the preset's ``name``)."""
    if key == "name":
        return None, "name", str
    part, dot, name = key.rpartition(".")
    owners = [p for p, cfg in PARTS.items() if name in _field_types(cfg)]  # one at most: no name is in two configs
    if owners and (not dot or part == owners[0]):
        return owners[0], name, _field_types(PARTS[owners[0]])[name]
    if owners:
        raise ConfigError(f"Unknown setting {key!r}: {name} is a field of the {owners[0]} config; "
                          f"write {owners[0]}.{name} or {name}.")
    known = ["name"] + [f"{p}.{f}" if dot else f for p, cfg in PARTS.items() for f in _field_types(cfg)]
    close = difflib.get_close_matches(key, known, n=3)
    hint = (f"did you mean {' or '.join(close)}?" if close else
            "the fields are those of audioslots.config, e.g. steps, learning_rate or model.slot_dim.")
    raise ConfigError(f"Unknown setting {key!r}: no field of the feature, model, training or Conv-TasNet configs "
                      f"has that name; {hint}")


@functools.cache
def _field_types(config: type) -> dict[str, object]:
    """A config dataclass's field names → their types (resolved from the annotations)."""
    return typing.get_type_hints(config)


def _typed(key: str, value: object, kind: object) -> object:
    """``value`` as the type ``kind`` of field ``key``: text is parsed, an int widened to float, a list made a tuple."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):  # an optional field, X | None
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _typed(key, value, kind)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"Cannot set {key} to {value!r}: choose one of {', '.join(map(str, args))}.")
        return value
    if origin is tuple:
        return _typed_tuple(key, value, args)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"Cannot set {key} to {value!r}: it takes text.")
        return value
    if isinstance(value, str):
        return _parsed(key, value, kind)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(f"Cannot set {key} to {value!r}: it takes {_KIND_WORDS.get(kind, kind)}.")


def _typed_tuple(key: str, value: object, args: tuple) -> tuple:
    """``value`` (``"3,4,6,3"``, ``"(32, 8)"``, a list or a tuple) as a tuple of the item types ``args``."""
    items = value
    if isinstance(value, str):
        text = value.strip().removeprefix("(").removesuffix(")").removeprefix("[").removesuffix("]")
        items = [item for item in (part.strip() for part in text.split(",")) if item]
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"Cannot set {key} to {value!r}: it takes a list of values, e.g. {key}=3,4,6,3.")
    kinds = [args[0]] * len(items) if len(args) == 2 and args[1] is Ellipsis else list(args)
    if len(kinds) != len(items):
        raise ConfigError(f"Cannot set {key} to {value!r}: it takes {len(kinds)} values, e.g. {key}=32,8.")
    return tuple(_typed(key, item, item_kind) for item, item_kind in zip(items, kinds))


_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _parsed(key: str, text: str, kind: type) -> object:
    """Text of a setting parsed to ``kind`` (int, float or bool)."""
    try:
        if kind is bool:
            return _BOOLEANS[text.lower()]
        return kind(text)
    except (KeyError, ValueError):
        raise ConfigError(f"Cannot set {key} to {text!r}: it takes {_KIND_WORDS.get(kind, kind)}.") from None
