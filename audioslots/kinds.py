"""The kinds of system that Table 1 scores, one object each: AudioSlots, its autoencoder, the Conv-TasNet
peer (not in the paper) and the Oracle, which trains no network.

A kind holds in one place everything the rest of the library asks of it:

- its names: :attr:`Kind.name`, the model kind a run trains and the stem of its metric files
  (``audioslots``), :attr:`Kind.system`, its name in the metrics (``AudioSlots``), and its rows of
  Table 1 (:meth:`Kind.row`);
- its network, built from a preset and a number of sources (:meth:`Kind.build`);
- its training: the crops of a batch, what a batch feeds the network, the loss of a step;
- its evaluation: how a batch of test mixtures becomes separated sources, with which slot orders,
  masks and STFT framing (:meth:`Kind.separated`).

:class:`Kind` itself is the paper's pipeline for a network on the compressed magnitudes of a
mixture's chunks, one slot per source, scored through masks on the mixture's STFT; each kind
changes only what differs. :data:`KINDS` holds them by name: a new kind is one more object there
(:func:`register`), and no other module compares the name of one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from audioslots import convtasnet
from audioslots.config import FeatureConfig, ModelConfig, Preset, TrainConfig
from audioslots.convtasnet import NO_FRAMING, NO_MASK, WHOLE
from audioslots.errors import ConfigError
from audioslots.features import spectrogram
from audioslots.loss import matched_mse, matched_neg_si_snr
from audioslots.model import AudioSlots
from audioslots.separate import (autoencoder_estimates_each, masked_sources, oracle_estimates, order_slots,
                                 predict_each, separate)

#: The slot order of estimates that come in the order of the sources (the Oracle, the autoencoder).
GIVEN_ORDER = "given"
#: The preset's sections that size a network; a run's own kind names the one that counts (:attr:`Kind.config_section`).
NETWORK_SECTIONS = ("model", "convtasnet")


def decoded_cells(step: int, grid: tuple[int, int], config: TrainConfig, device) -> torch.Tensor | None:
    """The grid cells decoded at ``step`` (all of them, ``None``, unless ``decoded_cells < 1``)."""
    if config.decoded_cells >= 1.0:
        return None
    n_cells = grid[0] * grid[1]
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    keep = max(1, round(config.decoded_cells * n_cells))
    return torch.randperm(n_cells, generator=generator)[:keep].to(device, non_blocking=True)  # no host sync on CUDA


@dataclass(frozen=True)
class Kind:
    """A network on the compressed magnitudes of a mixture's chunks, scored through masks on the mixture's STFT.

    The paper's pipeline; subclasses give the network (:meth:`build`) and change what differs.

    Attributes:
        name: the model kind a run of it trains (``config.json``'s ``model_kind``) and the stem of
            its metric files and run folders (``audioslots_0.5s``).
        system: its name in the metrics and in Table 1 (``AudioSlots``).
        rows: its rows of Table 1 that have a name of their own, by chunk length (the paper's).
        single_sources: its network is fed single sources, one item per source of each crop, and
            reconstructs them (the autoencoder), instead of mixtures to separate.
    """

    name: str
    system: str
    rows: Mapping[float, str] = field(default_factory=dict, compare=False)
    single_sources: bool = False

    #: Whether it has a network to train (the Oracle has none).
    trains_network: ClassVar[bool] = True
    #: Whether its network separates mixtures of any length, so that the chunk length is chosen when it is
    #: scored (:data:`~audioslots.convtasnet.WHOLE`: whole mixtures), instead of fixed by the crops it trained on.
    any_chunk_length: ClassVar[bool] = False
    #: The preset's section that sizes its network (one of :data:`NETWORK_SECTIONS`).
    config_section: ClassVar[str] = "model"

    def row(self, chunk_seconds: float) -> str:
        """Its row of Table 1 at a chunk length: the paper's name (``AudioSlots (1 s)``), else ``system (2 s)``."""
        return self.rows.get(float(chunk_seconds), f"{self.system} ({float(chunk_seconds):g} s)")

    def stem(self, chunk_seconds: float) -> str:
        """Its name at a chunk length, the stem of run folders and metric files: ``audioslots_0.5s``, or
        ``convtasnet`` for whole mixtures."""
        return self.name if chunk_seconds == WHOLE else f"{self.name}_{chunk_seconds:g}s"

    def run_name(self, chunk_seconds: float) -> str | None:
        """The run folder of the network whose scores its rows at ``chunk_seconds`` are (``None``: it trains none)."""
        if not self.trains_network:
            return None
        return self.stem(WHOLE if self.any_chunk_length else chunk_seconds)

    @property
    def separates_mixtures(self) -> bool:
        """Whether its network separates a mixture on its own (the autoencoder needs the sources)."""
        return self.trains_network and not self.single_sources

    # The network and its training.

    def build(self, preset: Preset, n_src: int) -> torch.nn.Module:
        """A freshly initialised network of this kind for ``n_src`` sources, sized by ``preset``."""
        raise NotImplementedError(f"{type(self).__name__} does not say how its network is built.")

    def model_config(self, preset: Preset, n_src: int) -> ModelConfig:
        """Its network's :class:`~audioslots.config.ModelConfig`, if its network is an AudioSlots network."""
        raise ConfigError(f"{self.system} is not an AudioSlots network: build it with its kind's build().")

    def training_crops(self, preset: Preset) -> tuple[int, int]:
        """``(crops per batch, samples per crop)``: crops of the chunk length, ``TrainConfig.batch_for`` of them."""
        return preset.train.batch_for(preset.features.chunk_seconds), preset.features.chunk_samples

    def training_batch(self, mixtures: torch.Tensor, sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What its network trains on, from ``(batch, samples)`` mixtures and ``(batch, n_src, samples)`` sources.

        The mixtures and their sources; with :attr:`single_sources`, every source as its own input
        and target, ``(batch * n_src, samples)`` and ``(batch * n_src, 1, samples)``.
        """
        if self.single_sources:
            single = sources.flatten(0, 1)  # (batch * n_src, samples)
            return single, single[:, None]
        return mixtures, sources

    def training_loss(self, network: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                      step: int) -> torch.Tensor:
        """The forward pass of training step ``step``: the matched MSE of the compressed magnitudes of one batch
        (of the grid cells :func:`decoded_cells` picks), under the caller's autocast.

        Args:
            network: its network, on the device of ``inputs``.
            inputs: ``(batch, samples)`` of :meth:`training_batch`; targets: ``(batch, n, samples)``.
            preset: the run's features and training options (``decoded_cells``).

        Returns:
            The 0-d loss, float32.
        """
        features = spectrogram(inputs, preset.features)  # (batch, freq, frames)
        target_features = spectrogram(targets, preset.features)  # (batch, n, freq, frames)
        cells = decoded_cells(step, target_features.shape[-2:], preset.train, inputs.device)
        predictions = network(features, cells)  # (batch, n, freq, frames) or (batch, n, K, 1)
        if cells is not None:
            target_features = target_features.flatten(-2)[..., cells, None]  # (batch, n, K, 1)
        loss, _ = matched_mse(predictions.float(), target_features.float())
        return loss

    # Evaluation.

    def estimates(self, model: torch.nn.Module | None, examples: Sequence, features: FeatureConfig, *,
                  orders: tuple[str, ...], hop_samples: int | None) -> list[dict[str, torch.Tensor]]:
        """Per example, ``{order: (n_chunks, n_src, freq, frames) linear magnitudes}``; one network pass for all.

        A network of mixtures is scored with each slot order of ``orders`` (``oracle``,
        ``continuity``: :func:`~audioslots.separate.order_slots`); one of single sources with its
        sources' order, :data:`GIVEN_ORDER`.

        Args:
            examples: test mixtures, each with ``mixture`` ``(samples,)`` and ``sources`` ``(n_src, samples)``.
        """
        if self.single_sources:
            estimates = autoencoder_estimates_each(model, [e.sources for e in examples], features, hop_samples)
            return [{GIVEN_ORDER: e} for e in estimates]
        predicted = predict_each(model, [e.mixture for e in examples], features, hop_samples)  # (chunks, n, F, T) each
        return [{order: order_slots(p, features, order=order, sources=e.sources, hop_samples=hop_samples)
                 for order in orders} for p, e in zip(predicted, examples)]

    def separated(self, model: torch.nn.Module | None, examples: Sequence, features: FeatureConfig, *,
                  orders: tuple[str, ...], masks: tuple[str, ...], power: float,
                  hop_samples: int | None) -> list[dict[tuple[str, str], torch.Tensor]]:
        """Per example, ``{(slot order, mask): (n_src, samples) separated sources}``: the :meth:`estimates`
        through each mask of ``masks`` on the mixture's STFT (``wiener``: exponent ``power``)."""
        return [{(order, mask): masked_sources(estimates, e.mixture, features, mask=mask, power=power,
                                               hop_samples=hop_samples)
                 for order, estimates in by_order.items() for mask in masks}
                for e, by_order in zip(examples, self.estimates(model, examples, features, orders=orders,
                                                                hop_samples=hop_samples))]

    def scored_framing(self, features: FeatureConfig) -> str:
        """The STFT framing its metrics name: that of ``features``."""
        return features.framing

    def check_chunk_overlap(self, chunk_overlap: float) -> None:
        """A ``ConfigError`` unless it can be scored on chunks that overlap by ``chunk_overlap``."""

    def separate(self, model: torch.nn.Module, mixture: torch.Tensor, features: FeatureConfig, *, mask: str,
                 power: float, hop_samples: int | None) -> torch.Tensor:
        """Separate one recording without its sources: ``(samples,)`` → ``(n_src, samples)`` (slots in the
        continuity order, :func:`~audioslots.separate.separate`)."""
        return separate(model, mixture, features, mask=mask, power=power, order="continuity", hop_samples=hop_samples)


@dataclass(frozen=True)
class AudioSlotsNetwork(Kind):
    """An AudioSlots network (:class:`~audioslots.model.AudioSlots`): one slot per source, or one slot
    fed single sources (the paper's autoencoder)."""

    def model_config(self, preset: Preset, n_src: int) -> ModelConfig:
        """``preset.model`` with one slot per source, or one slot for a network of single sources."""
        return dataclasses.replace(preset.model, n_slots=1 if self.single_sources else n_src)

    def build(self, preset: Preset, n_src: int) -> torch.nn.Module:
        return AudioSlots(self.model_config(preset, n_src))


@dataclass(frozen=True)
class Oracle(Kind):
    """The Oracle: the preprocessed ground-truth sources as the estimates, no network (paper, Table 1)."""

    trains_network: ClassVar[bool] = False

    def build(self, preset: Preset, n_src: int) -> torch.nn.Module:
        raise ConfigError("The Oracle trains no network: it scores the preprocessed ground truth.")

    def estimates(self, model: None, examples: Sequence, features: FeatureConfig, *, orders: tuple[str, ...],
                  hop_samples: int | None) -> list[dict[str, torch.Tensor]]:
        return [{GIVEN_ORDER: oracle_estimates(e.sources, features, hop_samples)} for e in examples]


@dataclass(frozen=True)
class WaveformPeer(Kind):
    """Conv-TasNet (:mod:`audioslots.convtasnet`): waveforms in and out, trained with permutation-invariant
    negative SI-SNR on crops of its own, scored on whole mixtures (or chunks put in the ground truth's order)
    without an STFT or a mask."""

    any_chunk_length: ClassVar[bool] = True
    config_section: ClassVar[str] = "convtasnet"

    def build(self, preset: Preset, n_src: int) -> torch.nn.Module:
        return convtasnet.build(preset.convtasnet, n_src)

    def model_config(self, preset: Preset, n_src: int) -> ModelConfig:
        raise ConfigError("Conv-TasNet is not an AudioSlots network: its size is preset.convtasnet (see build_model).")

    def training_crops(self, preset: Preset) -> tuple[int, int]:
        """Its own crops (``ConvTasNetConfig.crop_seconds``), as many as hold the seconds of audio of an
        AudioSlots batch of the preset."""
        chunk_seconds = preset.features.chunk_seconds
        batch_size = preset.train.batch_for(chunk_seconds)
        crop_seconds = preset.convtasnet.crop_seconds
        return max(1, round(batch_size * chunk_seconds / crop_seconds)), round(crop_seconds * preset.features.sample_rate)

    def training_loss(self, network: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, preset: Preset,
                      step: int) -> torch.Tensor:
        """The matched negative SI-SNR of its waveforms (:func:`~audioslots.loss.matched_neg_si_snr`)."""
        estimates = network(inputs[:, None])  # (batch, n, samples)
        loss, _ = matched_neg_si_snr(estimates.float(), targets.float())
        return loss

    def separated(self, model: torch.nn.Module, examples: Sequence, features: FeatureConfig, *,
                  orders: tuple[str, ...], masks: tuple[str, ...], power: float,
                  hop_samples: int | None) -> list[dict[tuple[str, str], torch.Tensor]]:
        """Per example, ``{("oracle", NO_MASK): (n_src, samples)}``, whatever the orders and masks asked for.

        One output order per whole mixture, matched to the references by SI-SNRi as every row's; in
        chunks (``features.chunk_seconds`` not :data:`~audioslots.convtasnet.WHOLE`), each chunk's
        outputs are put in the ground truth's order first.
        """
        chunk_samples = features.chunk_samples if features.chunk_seconds != WHOLE else None
        return [{("oracle", NO_MASK): convtasnet.separate(model, e.mixture, chunk_samples=chunk_samples,
                                                          sources=e.sources)} for e in examples]

    def scored_framing(self, features: FeatureConfig) -> str:
        return NO_FRAMING

    def check_chunk_overlap(self, chunk_overlap: float) -> None:
        if chunk_overlap:
            raise ConfigError("Conv-TasNet is scored on whole mixtures or non-overlapping chunks; use chunk_overlap 0.")

    def separate(self, model: torch.nn.Module, mixture: torch.Tensor, features: FeatureConfig, *, mask: str,
                 power: float, hop_samples: int | None) -> torch.Tensor:
        """The whole recording at once, without chunks or masks."""
        return convtasnet.separate(model, mixture)


#: The Oracle of the paper's Table 1, the preprocessed ground truth through the masks.
ORACLE = Oracle("oracle", "Oracle", rows={0.5: "Oracle", 1.0: "Oracle (1 s)"})
#: The paper's autoencoder (its Table 1), an AudioSlots network of one slot fed single sources.
AUTOENCODER = AudioSlotsNetwork("autoencoder", "Autoencoder", rows={0.5: "Autoencoder"}, single_sources=True)
#: AudioSlots: one slot per source (paper, Table 1, at 0.5 s and 1 s chunks).
AUDIOSLOTS = AudioSlotsNetwork("audioslots", "AudioSlots", rows={0.5: "AudioSlots", 1.0: "AudioSlots (1 s)"})
#: Conv-TasNet, the waveform peer (not in the paper), scored on whole mixtures and on 0.5 s chunks.
CONVTASNET = WaveformPeer("convtasnet", "ConvTasNet", rows={
    WHOLE: "Conv-TasNet (not in the paper; same data, same training budget)",
    0.5: "Conv-TasNet (0.5 s chunks; not in the paper)",
})

#: Every kind by name, the systems of Table 1 then the peer; :func:`register` adds one.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (ORACLE, AUTOENCODER, AUDIOSLOTS, CONVTASNET)}
#: The networks the reproduction trains, AudioSlots, its one-slot autoencoder, and Conv-TasNet.
MODEL_KINDS = tuple(kind.name for kind in (AUDIOSLOTS, AUTOENCODER, CONVTASNET))
#: The systems of Table 1, then the peer.
SYSTEMS = tuple(kind.system for kind in KINDS.values())

#: The rows of the paper's Table 1, by label (the keys of its tables and figures), in the paper's order.
ORACLE_ROW, AUTOENCODER_ROW, AUDIOSLOTS_ROW = ORACLE.row(0.5), AUTOENCODER.row(0.5), AUDIOSLOTS.row(0.5)
ORACLE_1S_ROW, AUDIOSLOTS_1S_ROW = ORACLE.row(1.0), AUDIOSLOTS.row(1.0)
PAPER_ROWS = (ORACLE_ROW, AUTOENCODER_ROW, AUDIOSLOTS_ROW, ORACLE_1S_ROW, AUDIOSLOTS_1S_ROW)


def kind_of(name: str | Kind) -> Kind:
    """The kind named ``name`` (a run's ``model_kind``, e.g. ``audioslots``); a kind is returned as it is."""
    if isinstance(name, Kind):
        return name
    if name not in KINDS:
        raise ConfigError(f"Unknown model {name!r}: choose one of {', '.join(k for k in KINDS if KINDS[k].trains_network)}.")
    return KINDS[name]


def find_system(system: str) -> Kind | None:
    """The kind scored as ``system``, or ``None`` if no kind is (a label such as ``AudioSlots (no oracle order)``)."""
    return next((kind for kind in KINDS.values() if kind.system == system), None)


def system_kind(system: str) -> Kind:
    """The kind scored as ``system`` (the ``system`` column of metrics, e.g. ``AudioSlots``)."""
    kind = find_system(system)
    if kind is None:
        raise ConfigError(f"Unknown system {system!r}: choose one of {', '.join(k.system for k in KINDS.values())}.")
    return kind


def register(kind: Kind) -> Kind:
    """Add a kind to :data:`KINDS`, so that training, evaluation and Table 1 know it by its name and system."""
    taken = [k for k in KINDS.values() if kind.name == k.name or kind.system == k.system]
    if taken:
        raise ConfigError(f"A kind named {taken[0].name!r} (system {taken[0].system!r}) is already registered; "
                          "give the new kind a name and a system of its own.")
    KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove the kind ``name`` from :data:`KINDS` (of those :func:`register` added)."""
    KINDS.pop(name)
