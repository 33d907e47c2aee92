"""The vocabulary of runs: which networks exist, which systems Table 1 scores, and the masks' names.

Every other module takes these names from here, so that a network kind, the system it is scored
as and its Table-1 row are spelled once.
"""

from __future__ import annotations

#: Networks that can be trained: AudioSlots, its one-slot autoencoder, and Conv-TasNet, a waveform
#: peer that is not in the paper.
MODEL_KINDS = ("audioslots", "autoencoder", "convtasnet")

#: The systems of Table 1, then the peer. The Oracle is not a network; every other system is
#: scored from the network of the same name (``system.lower()`` is its model kind).
SYSTEMS = ("Oracle", "Autoencoder", "AudioSlots", "ConvTasNet")

#: The paper's names for the masks of :data:`audioslots.masks.MASKS`.
MASK_NAMES = {"ibm": "IBM", "wiener": "Wiener-like"}


def system_of(kind: str) -> str:
    """The system a network of ``kind`` is scored as (``"autoencoder"`` → ``"Autoencoder"``)."""
    return next(system for system in SYSTEMS if system.lower() == kind)
