"""The vocabulary of runs: the networks the reproduction trains, the systems Table 1 scores, and the
names of their run folders, metric files and Table-1 rows.

Every other module takes these names from here, so that a network, the system it is scored as and
its Table-1 row are spelled once. A run folder (``results/cpu``) holds one folder per :class:`Run`
(``audioslots_0.5s/``, named :attr:`Run.name`), one metric file per scored system
(``metrics/<stem>.csv``, :func:`metrics_stem`) and ``table1.csv``, whose rows :func:`row_label` names.
"""

from __future__ import annotations

from dataclasses import dataclass

from audioslots.config import get_preset
from audioslots.convtasnet import NO_FRAMING, WHOLE

#: The networks that can be trained, AudioSlots, its one-slot autoencoder, and Conv-TasNet (a waveform
#: peer that is not in the paper).
MODEL_KINDS = ("audioslots", "autoencoder", "convtasnet")

#: The systems of Table 1, then the peer. The Oracle is not a network; every other system is
#: scored from the network of the same name (``system.lower()`` is its model kind).
SYSTEMS = ("Oracle", "Autoencoder", "AudioSlots", "ConvTasNet")

#: The paper's names for the masks of ``audioslots.masks.MASKS``.
MASK_NAMES = {"ibm": "IBM", "wiener": "Wiener-like"}

#: The STFT framing of the paper's rows (``FeatureConfig.framing`` of the presets).
PAPER_FRAMING = get_preset("paper").features.framing

#: What a row label says of a system scored without the ground truth's slot order.
NO_ORACLE_ORDER = " (no oracle order)"


def system_of(kind: str) -> str:
    """The system a network of ``kind`` is scored as (``"autoencoder"`` → ``"Autoencoder"``)."""
    return next(system for system in SYSTEMS if system.lower() == kind)


@dataclass(frozen=True)
class Run:
    """One network that Table 1 needs trained.

    Attributes:
        name: its run folder inside a run (``audioslots_0.5s``), also the stem of its metric file.
        network: the model kind it trains (one of :data:`MODEL_KINDS`).
        system: the system of Table 1 it is scored as (one of :data:`SYSTEMS`).
        chunk_seconds: the chunk length it separates; :data:`~audioslots.convtasnet.WHOLE` (0) for
            whole mixtures (Conv-TasNet, which trains on crops of its own).
    """

    name: str
    network: str
    system: str
    chunk_seconds: float

    @property
    def row(self) -> str:
        """Its row of Table 1 (``AudioSlots (1 s)``)."""
        return row_label(self.system, self.chunk_seconds)


#: The networks that Table 1 needs trained, by run name, in the order they are trained and listed.
RUNS = {run.name: run for run in (
    Run("audioslots_0.5s", "audioslots", "AudioSlots", 0.5),
    Run("autoencoder_0.5s", "autoencoder", "Autoencoder", 0.5),
    Run("audioslots_1s", "audioslots", "AudioSlots", 1.0),
    Run("convtasnet", "convtasnet", "ConvTasNet", WHOLE),
)}

#: The row label of Table 1 of each (system, chunk seconds), the paper's rows in the paper's order, then the peer's.
ROWS = {
    ("Oracle", 0.5): "Oracle",
    ("Autoencoder", 0.5): "Autoencoder",
    ("AudioSlots", 0.5): "AudioSlots",
    ("Oracle", 1.0): "Oracle (1 s)",
    ("AudioSlots", 1.0): "AudioSlots (1 s)",
    ("ConvTasNet", WHOLE): "Conv-TasNet (not in the paper; same data, same training budget)",
    ("ConvTasNet", 0.5): "Conv-TasNet (0.5 s chunks; not in the paper)",
}
#: The order of the rows in tables (the paper's, AudioSlots without the oracle order, then the peer's).
ROW_ORDER = ([label for (system, _), label in ROWS.items() if system != "ConvTasNet"]
             + [ROWS[("AudioSlots", chunk_seconds)] + NO_ORACLE_ORDER for chunk_seconds in (0.5, 1.0)]
             + [label for (system, _), label in ROWS.items() if system == "ConvTasNet"])


def system_row(system: str, chunk_seconds: float) -> str:
    """A system's row of Table 1 at a chunk length: the paper's name (``Oracle (1 s)``), else ``system (2 s)``."""
    return ROWS.get((system, float(chunk_seconds)), f"{system} ({float(chunk_seconds):g} s)")


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


def metrics_stem(system: str, chunk_seconds: float, framing: str | None = None, chunk_overlap: float = 0.0) -> str:
    """File stem of a system's metrics: ``oracle_0.5s``, ``oracle_0.5s_centred``, ``audioslots_0.5s_overlap50``,
    ``convtasnet`` (whole mixtures)."""
    stem = system.lower() if chunk_seconds == WHOLE else f"{system.lower()}_{chunk_seconds:g}s"
    if framing not in (None, PAPER_FRAMING):
        stem += f"_{framing}"
    if chunk_overlap:
        stem += f"_overlap{round(100 * chunk_overlap)}"
    return stem


def run_name_of(system: str, chunk_seconds: float) -> str | None:
    """The run folder of the network whose scores a system's rows are (``None`` for the oracle, which trains none).

    Conv-TasNet's rows at any chunk length score its one whole-mixture network.
    """
    if system == "Oracle":
        return None
    return metrics_stem(system, WHOLE if system == "ConvTasNet" else chunk_seconds)
