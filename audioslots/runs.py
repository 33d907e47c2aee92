"""The vocabulary of runs: the networks the reproduction trains, the systems Table 1 scores, and the
names of their run folders, metric files and Table-1 rows.

Every other module takes these names from here or from :mod:`audioslots.kinds`, whose objects
hold each kind of system (its network, training and scoring) and whose names this module re-exports.
A run folder (``results/cpu``) holds one folder per :class:`Run` (``audioslots_0.5s/``, named
:attr:`Run.name`), one metric file per scored system (``metrics/<stem>.csv``, :func:`metrics_stem`)
and ``table1.csv``, whose rows :func:`row_label` names.
"""

from __future__ import annotations

from dataclasses import dataclass

from audioslots.config import get_preset
from audioslots.convtasnet import NO_FRAMING, WHOLE
# The kinds' names are re-exported: the vocabulary of runs is read from here.
from audioslots.kinds import (AUDIOSLOTS, AUTOENCODER, CONVTASNET, KINDS, MODEL_KINDS, ORACLE, PAPER_ROWS,  # noqa: F401
                              SYSTEMS, Kind, find_system, kind_of, system_kind)

#: The paper's names for the masks of ``audioslots.masks.MASKS``.
MASK_NAMES = {"ibm": "IBM", "wiener": "Wiener-like"}

#: The STFT framing of the paper's rows (``FeatureConfig.framing`` of the presets).
PAPER_FRAMING = get_preset("paper").features.framing

#: What a row label says of a system scored without the ground truth's slot order.
NO_ORACLE_ORDER = " (no oracle order)"


def system_of(kind: str) -> str:
    """The system a network of ``kind`` is scored as (``"autoencoder"`` → ``"Autoencoder"``)."""
    return kind_of(kind).system


@dataclass(frozen=True)
class Run:
    """One network that Table 1 needs trained.

    Attributes:
        name: its run folder inside a run (``audioslots_0.5s``), also the stem of its metric file.
        kind: the kind of network it trains (:mod:`audioslots.kinds`).
        chunk_seconds: the chunk length it separates; :data:`~audioslots.convtasnet.WHOLE` (0) for
            whole mixtures (Conv-TasNet, which trains on crops of its own).
    """

    name: str
    kind: Kind
    chunk_seconds: float

    @property
    def network(self) -> str:
        """The model kind it trains (one of :data:`~audioslots.kinds.MODEL_KINDS`)."""
        return self.kind.name

    @property
    def system(self) -> str:
        """The system of Table 1 it is scored as (one of :data:`~audioslots.kinds.SYSTEMS`)."""
        return self.kind.system

    @property
    def row(self) -> str:
        """Its row of Table 1 (``AudioSlots (1 s)``)."""
        return row_label(self.system, self.chunk_seconds)


#: The networks that Table 1 needs trained, by run name, in the order they are trained and listed.
RUNS = {run.name: run for run in (
    Run(AUDIOSLOTS.stem(0.5), AUDIOSLOTS, 0.5),
    Run(AUTOENCODER.stem(0.5), AUTOENCODER, 0.5),
    Run(AUDIOSLOTS.stem(1.0), AUDIOSLOTS, 1.0),
    Run(CONVTASNET.stem(WHOLE), CONVTASNET, WHOLE),
)}


@dataclass(frozen=True)
class EvalSpec:
    """One system to score, and how: the rows of Table 1 of one metric file (:func:`metrics_stem`).

    Attributes:
        system: one of :data:`~audioslots.kinds.SYSTEMS`; a trained system is read from the checkpoint of its run
            (:func:`run_name_of`).
        chunk_seconds: the chunk length; :data:`~audioslots.convtasnet.WHOLE` (0) scores Conv-TasNet on
            whole mixtures.
        framing: the STFT framing; ``None`` is the preset's (the paper's, ``pad-end``).
        chunk_overlap: fraction of a chunk that consecutive chunks share (0: the paper's chunks).
    """

    system: str
    chunk_seconds: float
    framing: str | None = None
    chunk_overlap: float = 0.0

    @property
    def kind(self) -> Kind:
        return system_kind(self.system)

    @property
    def stem(self) -> str:
        """The stem of its metric file (``audioslots_0.5s_overlap50``)."""
        return metrics_stem(self.system, self.chunk_seconds, self.framing, self.chunk_overlap)


#: The row label of Table 1 of each (system, chunk seconds) the kinds name, the paper's and the peer's.
ROWS = {(kind.system, chunk_seconds): label for kind in KINDS.values() for chunk_seconds, label in kind.rows.items()}


def system_row(system: str, chunk_seconds: float) -> str:
    """A system's row of Table 1 at a chunk length: the paper's name (``Oracle (1 s)``), else ``system (2 s)``
    (also for a name no kind is scored as, such as ``table1.csv``'s ``AudioSlots (no oracle order)``)."""
    kind = find_system(system)
    return kind.row(chunk_seconds) if kind else f"{system} ({float(chunk_seconds):g} s)"


def row_label(system: str, chunk_seconds: float, framing: str = PAPER_FRAMING, chunk_overlap: float = 0.0,
              order: str = "oracle") -> str:
    """The row of Table 1: the paper's name (``Oracle (1 s)``), plus what differs from the paper's setting."""
    label = system_row(system, chunk_seconds)
    if framing not in (PAPER_FRAMING, NO_FRAMING):
        label += f" ({framing} STFT)"
    if chunk_overlap:
        label += f" ({round(100 * chunk_overlap)} % overlap)"
    if order == "continuity":
        label += NO_ORACLE_ORDER
    return label


#: The order of the rows in tables (the paper's, AudioSlots without the oracle order, then the peer's).
ROW_ORDER = ([*PAPER_ROWS] + [row_label(AUDIOSLOTS.system, c, order="continuity") for c in AUDIOSLOTS.rows]
             + [*CONVTASNET.rows.values()])


def metrics_stem(system: str, chunk_seconds: float, framing: str | None = None, chunk_overlap: float = 0.0) -> str:
    """File stem of a system's metrics: ``oracle_0.5s``, ``oracle_0.5s_centred``, ``audioslots_0.5s_overlap50``,
    ``convtasnet`` (whole mixtures)."""
    stem = system_kind(system).stem(chunk_seconds)
    if framing not in (None, PAPER_FRAMING):
        stem += f"_{framing}"
    if chunk_overlap:
        stem += f"_overlap{round(100 * chunk_overlap)}"
    return stem


def run_name_of(system: str, chunk_seconds: float) -> str | None:
    """The run folder of the network whose scores a system's rows are (``None`` for the oracle, which trains none).

    Conv-TasNet's rows at any chunk length score its one whole-mixture network.
    """
    return system_kind(system).run_name(chunk_seconds)
