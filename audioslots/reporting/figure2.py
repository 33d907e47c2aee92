"""What a run's networks make of test mixtures: the spectrograms of the paper's Figure 2, the
reconstruction error per frequency band, and the separated sources to listen to.

Each function runs the networks of a run (:func:`audioslots.pipeline.load_models`, by run name) on
one test mixture; the figures themselves are drawn by :mod:`audioslots.reporting.plots`.
:func:`distinct_utterance_mixtures` picks the mixtures to show so that no two share an utterance
(the test mixtures reuse utterances: two columns could otherwise show the same speech).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from audioslots.config import FeatureConfig
from audioslots.data.dataset import Example
from audioslots.evaluation.intervals import utterances_of
from audioslots.features import chunk, spectrogram
from audioslots.loss import pairwise_mse
from audioslots.matching import hungarian
from audioslots.kinds import AUDIOSLOTS, AUTOENCODER, ORACLE
from audioslots.separate import audioslots_estimates, autoencoder_estimates, masked_sources, oracle_estimates

#: The runs whose networks Figure 2 and the listening examples show (the paper's, on 0.5 s chunks).
AUTOENCODER_RUN, AUDIOSLOTS_RUN = AUTOENCODER.run_name(0.5), AUDIOSLOTS.run_name(0.5)


def distinct_utterance_mixtures(mixture_ids: Sequence[str], n: int) -> list[int]:
    """Positions of ``n`` mixtures of ``mixture_ids`` no two of which share an utterance.

    Greedy, in the given order: the first mixture, then each next one whose utterances
    (``audioslots.evaluation.intervals.utterances_of``) none of the chosen ones contains.

    Returns:
        Up to ``n`` positions into ``mixture_ids``, ascending; fewer when the list has no ``n``
        mixtures without an utterance in common.
    """
    chosen, used = [], set()
    for position, mixture_id in enumerate(mixture_ids):
        if len(chosen) == n:
            break
        utterances = set(utterances_of(mixture_id))
        if not utterances & used:
            chosen.append(position)
            used |= utterances
    return chosen


def figure2_column(example: Example, models: dict, features: FeatureConfig, chunk_index: int = 0) -> dict:
    """One column of Figure 2: compressed spectrograms of one chunk of ``example``.

    AudioSlots' slots are put in the ground truth's order (oracle order, as the paper does).
    """
    mixture = chunk(example.mixture, features.chunk_samples)[chunk_index]  # (samples,)
    sources = chunk(example.sources, features.chunk_samples)[:, chunk_index]  # (n_src, samples)
    truth = spectrogram(sources, features)  # (n_src, F, T)
    with torch.no_grad():
        autoencoder = models[AUTOENCODER_RUN](truth)[:, 0]  # each source through the n = 1 network
        slots = models[AUDIOSLOTS_RUN](spectrogram(mixture, features)[None])  # (1, n, F, T)
    perm = hungarian(pairwise_mse(slots, truth[None]))[0]
    return {"title": example.mixture_id, "mixture": spectrogram(mixture, features).numpy(),
            "ground_truth": truth.numpy(), AUTOENCODER.name: autoencoder.clamp(min=0).numpy(),
            AUDIOSLOTS.name: slots[0, perm].clamp(min=0).numpy()}


def reconstruction_by_band(columns: list[dict], sample_rate: int,
                           bands_khz: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)) -> pd.DataFrame:
    """Reconstruction error of the autoencoder and AudioSlots per frequency band (compressed magnitudes).

    Args:
        columns: Figure 2 columns (:func:`figure2_column`), one per chunk; estimates in the
            ground truth's order.
        sample_rate: In Hz (bin ``k`` of ``F`` is at ``k / (F - 1) * sample_rate / 2``).
        bands_khz: Band edges in kHz; the last band includes the Nyquist bin.

    Returns:
        A table with one row per band and system and the columns ``band``, ``system``, ``mse``
        (mean squared error per cell), ``relative error`` (that MSE over the ground truth's mean
        square in the band, comparable across loud and quiet bands) and ``chunks``.
    """
    rows = []
    n_freq = columns[0]["ground_truth"].shape[-2]
    freqs_khz = np.linspace(0.0, sample_rate / 2000, n_freq)
    for low, high in zip(bands_khz[:-1], bands_khz[1:]):
        pick = (freqs_khz >= low) & ((freqs_khz < high) | (high == bands_khz[-1]))
        truth = np.concatenate([np.asarray(c["ground_truth"])[:, pick].ravel() for c in columns])
        for kind in (AUTOENCODER, AUDIOSLOTS):
            estimate = np.concatenate([np.asarray(c[kind.name])[:, pick].ravel() for c in columns])
            mse = float(np.mean((estimate - truth) ** 2))
            rows.append({"band": f"{low:g}–{high:g} kHz", "system": kind.system, "mse": mse,
                         "relative error": mse / max(float(np.mean(truth ** 2)), 1e-12), "chunks": len(columns)})
    return pd.DataFrame(rows)


def band_error_trend(bands: pd.DataFrame) -> str:
    """One sentence on how each system's relative error changes from the lowest to the highest band.

    Args:
        bands: :func:`reconstruction_by_band`'s table.
    """
    parts, rises = [], {}
    for system, group in bands.groupby("system", sort=False):
        low, high = group.iloc[0], group.iloc[-1]
        rises[system] = high["relative error"] > low["relative error"]
        parts.append(f"{system}'s relative error {'rises' if rises[system] else 'falls'} from "
                     f"{low['relative error']:.2f} ({low['band']}) to {high['relative error']:.2f} ({high['band']})")
    text = "; ".join(parts) + "."
    if AUDIOSLOTS.system in rises:
        text += (" The paper sees high frequencies blurred, an error that grows with frequency: "
                 + ("this run agrees." if rises[AUDIOSLOTS.system] else "this run's AudioSlots shows the opposite."))
    return text


def listening_examples(example: Example, models: dict, features: FeatureConfig,
                       mask: str = "wiener") -> dict[str, list[np.ndarray]]:
    """What each system of Table 1 makes of one test mixture, as waveforms to listen to.

    Args:
        example: a test mixture and its references.
        models: the run's networks by run name (:func:`audioslots.pipeline.load_models`); the
            autoencoder and AudioSlots rows are left out when their network is missing.
        mask: the mask that turns each system's magnitudes into sources (``wiener`` or ``ibm``).

    Returns:
        ``{row: [waveform, ...]}``: ``mixture`` (one waveform), ``references`` (one per source),
        then ``Oracle``, ``Autoencoder`` and ``AudioSlots`` (one per source, in the references'
        order; AudioSlots' chunks in oracle order, as the paper scores them).
    """
    clips = {"mixture": [example.mixture.numpy()], "references": [s.numpy() for s in example.sources]}
    estimates = {ORACLE.system: oracle_estimates(example.sources, features)}
    if AUTOENCODER_RUN in models:
        estimates[AUTOENCODER.system] = autoencoder_estimates(models[AUTOENCODER_RUN], example.sources, features)
    if AUDIOSLOTS_RUN in models:
        estimates[AUDIOSLOTS.system] = audioslots_estimates(models[AUDIOSLOTS_RUN], example.mixture, features,
                                                            order="oracle", sources=example.sources)
    for system, magnitudes in estimates.items():
        clips[system] = [s.numpy() for s in masked_sources(magnitudes, example.mixture, features, mask=mask)]
    return clips


def audio_table(clips: dict[str, list[np.ndarray]], sample_rate: int) -> str:
    """HTML table of audio players: one row per entry of ``clips``, one column per waveform (source)."""
    # IPython comes with the notebooks, not with the library (pyproject.toml does not require it).
    from IPython.display import Audio

    width = max(len(waves) for waves in clips.values())
    head = "<tr><th></th>" + "".join(f"<th>source {i}</th>" for i in range(1, width + 1)) + "</tr>"
    rows = []
    for name, waves in clips.items():
        cells = "".join(f"<td>{Audio(w, rate=sample_rate)._repr_html_()}</td>" for w in waves)
        span = f' colspan="{width}"' if len(waves) == 1 and width > 1 else ""
        if span:
            cells = f"<td{span}>{Audio(waves[0], rate=sample_rate)._repr_html_()}</td>"
        rows.append(f"<tr><th>{name}</th>{cells}</tr>")
    return f'<table class="listening">{head}{"".join(rows)}</table>'
