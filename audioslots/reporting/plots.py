"""Figures for the book's notebooks: each function takes data and returns a ``Figure``.

Every notebook cell that draws something should be one call into this module, so that the
notebooks narrate and the plotting code lives (and is tested) here. The functions are pure: they
create a new ``matplotlib.figure.Figure`` (not through ``pyplot``, so no global figure list and
no double display in Jupyter), apply a seaborn style locally and never show or save anything.
Save a figure with ``fig.savefig(path)``.

Conventions: time in s, frequency in kHz, spectrograms drawn with frequency upwards and the
colour bar naming the quantity (``compressed magnitude |X|^0.3``).
"""

from __future__ import annotations

import itertools
import math
import textwrap
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib import MatplotlibDeprecationWarning, rc_context
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from audioslots.config import FeatureConfig
from audioslots.errors import ConfigError, DataError
from audioslots.evaluation.chunk_boundaries import PIPELINES
from audioslots.features import chunk, spectrogram, stft
from audioslots.masks import MASKS
from audioslots.model import ENCODER_STRIDE
from audioslots.kinds import AUDIOSLOTS, AUDIOSLOTS_1S_ROW, AUDIOSLOTS_ROW, AUTOENCODER, AUTOENCODER_ROW, SYSTEMS
from audioslots.runs import MASK_NAMES, ROW_ORDER

SPECTROGRAM_CMAP = "magma"  # perceptually uniform, dark background: quiet bins stay dark
HIGHLIGHT_COLOR = "white"  # readable on every colour of SPECTROGRAM_CMAP except its top
COMPRESS_POWER = FeatureConfig().compress_power  # for colour-bar labels of ready-made spectrograms
# (key of a figure2 column, row name), per source, top to bottom.
FIGURE2_ROWS = (
    ("ground_truth", "ground truth"),
    (AUTOENCODER.name, "autoencoder"),
    (AUDIOSLOTS.name, "AudioSlots"),
)


def _numpy(x) -> np.ndarray:
    """A float numpy copy of a tensor (any device, with or without grad) or array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _compression_label(power: float) -> str:
    return f"compressed magnitude |X|^{power:g}"


def _spectrogram_extent(
    n_freq: int, n_frames: int, sample_rate: int, hop_samples: int
) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) in s and kHz of a one-sided STFT.

    Bin centres sit at ``k * sample_rate / n_fft`` with ``n_fft = 2 * (n_freq - 1)`` and frame
    centres at ``t * hop_samples / sample_rate`` (a centred STFT), so each pixel spans half a
    bin or frame either side of its centre.
    """
    bin_khz = sample_rate / (2 * max(n_freq - 1, 1)) / 1000.0
    frame_s = hop_samples / sample_rate
    return (-0.5 * frame_s, (n_frames - 0.5) * frame_s, -0.5 * bin_khz, (n_freq - 0.5) * bin_khz)


def _show_spectrogram(ax, image: np.ndarray, extent, **kwargs):
    return ax.imshow(
        image, origin="lower", aspect="auto", extent=extent, cmap=SPECTROGRAM_CMAP,
        interpolation="nearest", **kwargs,
    )


def waveforms(mixture, sources, sample_rate: int, title: str | None = None) -> Figure:
    """The mixture and each source waveform, stacked on a shared time axis.

    Args:
        mixture: ``(samples,)`` waveform (tensor or array).
        sources: ``(n_src, samples)`` waveforms; the mixture is their sum.
        sample_rate: In Hz.
        title: Optional title above the stack.

    Returns:
        A figure with ``1 + n_src`` axes, top to bottom the mixture, source 1, source 2, ...

    Raises:
        ~audioslots.errors.DataError: if the waveforms are not 1-D and 2-D of equal length.
    """
    mixture, sources = _numpy(mixture), _numpy(sources)
    if mixture.ndim != 1 or sources.ndim != 2 or sources.shape[1] != mixture.shape[0]:
        raise DataError(
            f"waveforms needs a (samples,) mixture and (n_src, samples) sources of the same "
            f"length, got shapes {mixture.shape} and {sources.shape}."
        )
    seconds = np.arange(mixture.shape[0]) / sample_rate
    signals = [("mixture", mixture)] + [(f"source {i + 1}", s) for i, s in enumerate(sources)]
    limit = max(np.abs(mixture).max(), np.abs(sources).max(), 1e-12) * 1.05
    with sns.axes_style("ticks"):
        fig = Figure(figsize=(8, 1.4 * len(signals) + 0.6), layout="constrained")
        axes = fig.subplots(len(signals), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        palette = sns.color_palette("colorblind", len(signals))
        for ax, (name, signal), color in zip(axes, signals, palette):
            ax.plot(seconds, signal, color=color, linewidth=0.6)
            ax.set_ylabel(f"{name}\namplitude")
            ax.set_ylim(-limit, limit)
            sns.despine(ax=ax)
        axes[-1].set_xlabel("time (s)")
        axes[-1].set_xlim(0, seconds[-1] if len(seconds) > 1 else 1 / sample_rate)
    if title:
        fig.suptitle(title)
    return fig


def preprocessing_steps(crop, features: FeatureConfig) -> Figure:
    """The paper's preprocessing of one training crop, step by step (paper, pipeline 1).

    Panels: the waveform; the linear STFT magnitude ``|X|``; the compressed magnitude
    ``|X| ** 0.3``; and histograms of the bin values before and after compression, each divided
    by its maximum so that both live on [0, 1]. The histograms show why compression
    "emphasises low values": linear magnitudes pile up next to 0, compressed ones spread out.

    Args:
        crop: ``(samples,)`` waveform, normally ``features.chunk_samples`` long (0.5 s).
        features: STFT parameters and ``compress_power``.

    Returns:
        A figure with the axes ``"waveform"``, ``"linear"``, ``"compressed"``,
        ``"hist_linear"`` and ``"hist_compressed"`` (plus two colour bars), reachable by
        ``label`` (``ax.get_label()``).

    Raises:
        ~audioslots.errors.DataError: if ``crop`` is not a non-empty 1-D waveform.
    """
    waveform = torch.as_tensor(_numpy(crop), dtype=torch.float32)
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise DataError(
            f"preprocessing_steps needs one (samples,) waveform, got shape {tuple(waveform.shape)}."
        )
    magnitude = stft(waveform, features).abs().numpy()  # (n_freq, n_frames)
    compressed = spectrogram(waveform, features).numpy()
    extent = _spectrogram_extent(*magnitude.shape, features.sample_rate, features.hop_samples)
    image_size = f"{magnitude.shape[0]} × {magnitude.shape[1]}"
    seconds = np.arange(waveform.numel()) / features.sample_rate

    with sns.axes_style("ticks"):
        fig = Figure(figsize=(10, 8.5), layout="constrained")
        axes = fig.subplot_mosaic(
            [["waveform", "waveform"], ["linear", "compressed"], ["hist_linear", "hist_compressed"]],
            height_ratios=[0.7, 1.2, 1.0],
        )
        for label, ax in axes.items():
            ax.set_label(label)

        ax = axes["waveform"]
        ax.plot(seconds, waveform.numpy(), linewidth=0.6, color=sns.color_palette("colorblind")[0])
        ax.set(xlabel="time (s)", ylabel="amplitude", xlim=(0, seconds[-1] if len(seconds) > 1 else 1),
               title=f"1. waveform: {waveform.numel() / features.sample_rate:g} s crop")
        sns.despine(ax=ax)

        panels = [
            ("linear", magnitude, "magnitude |X|",
             f"2. STFT magnitude (window {features.n_fft}, hop {features.hop_samples})"),
            ("compressed", compressed, _compression_label(features.compress_power),
             f"3. compressed: |X|^{features.compress_power:g}  ({image_size})"),
        ]
        for name, image, bar_label, title in panels:
            ax = axes[name]
            im = _show_spectrogram(ax, image, extent)
            fig.colorbar(im, ax=ax, label=bar_label)
            ax.set(xlabel="time (s)", ylabel="frequency (kHz)", title=title)

        bins = np.linspace(0.0, 1.0, 41)
        hists = [
            ("hist_linear", magnitude, "|X| / max |X|", "4. bin values before compression"),
            ("hist_compressed", compressed, f"|X|^{features.compress_power:g} / max",
             "5. bin values after compression"),
        ]
        for (name, image, xlabel, title), color in zip(hists, sns.color_palette("colorblind")[1:]):
            ax = axes[name]
            values = image.ravel() / max(image.max(), 1e-12)
            ax.hist(values, bins=bins, color=color, weights=np.full(values.shape, 100.0 / values.size))
            ax.set(xlabel=xlabel, ylabel="share of bins (%)", title=title, xlim=(0, 1), yscale="log")
            sns.despine(ax=ax)
        axes["hist_compressed"].sharey(axes["hist_linear"])
    return fig


def encoder_grid(compressed, grid_shape: tuple[int, int] = (32, 8)) -> Figure:
    """The encoder's input with the grid of ResNet feature cells drawn over it.

    The spectrogram is cropped the way ``AudioSlots.encoder_features`` crops it (257 × 65 →
    256 × 64 for the paper's grid): each of the ``32 × 8`` cells of the feature grid z sees
    ``ENCODER_STRIDE × ENCODER_STRIDE`` (8 × 8) bins. One cell is outlined as an example.

    Args:
        compressed: ``(freq, frames)`` compressed magnitude spectrogram of one chunk.
        grid_shape: ``(frequency cells, time cells)`` of the feature grid.

    Returns:
        A figure with one image axis (frequency bin × frame) and a colour bar.

    Raises:
        ~audioslots.errors.DataError: if the spectrogram is not 2-D or is smaller than the grid
            needs (``grid_shape`` times 8 in each axis).
    """
    image = _numpy(compressed)
    cells_f, cells_t = grid_shape
    n_freq, n_frames = cells_f * ENCODER_STRIDE, cells_t * ENCODER_STRIDE
    if image.ndim != 2 or image.shape[0] < n_freq or image.shape[1] < n_frames:
        raise DataError(
            f"encoder_grid needs a (freq, frames) spectrogram of at least {n_freq} × {n_frames} "
            f"for a {cells_f} × {cells_t} grid, got shape {image.shape}."
        )
    image = image[:n_freq, :n_frames]  # drop the Nyquist bin and the last frame, as the model does
    with sns.axes_style("ticks"):
        fig = Figure(figsize=(5, 8), layout="constrained")
        ax = fig.add_subplot()
        # Pixel (k, t) spans [t, t + 1] × [k, k + 1], so cell borders fall on multiples of 8.
        im = ax.imshow(image, origin="lower", aspect="auto", extent=(0, n_frames, 0, n_freq),
                       cmap=SPECTROGRAM_CMAP, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=_compression_label(COMPRESS_POWER), shrink=0.8)
        style = dict(colors=HIGHLIGHT_COLOR, linewidths=0.5, alpha=0.8)
        borders_f = np.arange(cells_f + 1) * ENCODER_STRIDE
        borders_t = np.arange(cells_t + 1) * ENCODER_STRIDE
        ax.hlines(borders_f, 0, n_frames, label="cell borders (frequency)", **style)
        ax.vlines(borders_t, 0, n_freq, label="cell borders (time)", **style)
        example = Rectangle(
            (borders_t[cells_t // 2], borders_f[cells_f // 2]), ENCODER_STRIDE, ENCODER_STRIDE,
            fill=False, edgecolor="cyan", linewidth=2,
            label=f"one cell: {ENCODER_STRIDE} × {ENCODER_STRIDE} bins",
        )
        ax.add_patch(example)
        ax.legend(handles=[example], loc="upper right", fontsize="small", framealpha=0.9)
        ax.set_xticks(np.arange(0, n_frames + 1, 2 * ENCODER_STRIDE))
        ax.set_yticks(np.arange(0, n_freq + 1, 4 * ENCODER_STRIDE))
        ax.set(xlabel="frame", ylabel="frequency bin",
               title=f"encoder input {n_freq} × {n_frames} → feature grid {cells_f} × {cells_t}")
    return fig


def chunking(mixture, features: FeatureConfig) -> Figure:
    """A long mixture cut into non-overlapping chunks, with the zero-padded tail shaded.

    Uses ``chunk`` exactly as separation does (paper, pipeline 6): the plotted signal is the
    concatenation of the chunks, so the padding is visible as a flat line.

    Args:
        mixture: ``(samples,)`` waveform.
        features: ``chunk_seconds`` and ``sample_rate``.

    Returns:
        A figure with one axis that shows the waveform, ``n_chunks + 1`` dashed chunk
        boundaries (one ``LineCollection`` labelled ``"chunk boundary"``) and, when the length
        is not a whole number of chunks, a shaded span labelled ``"zero padding"``.

    Raises:
        ~audioslots.errors.DataError: if ``mixture`` is not a non-empty 1-D waveform.
    """
    waveform = torch.as_tensor(_numpy(mixture))
    if waveform.ndim != 1:
        raise DataError(f"chunking needs one (samples,) waveform, got shape {tuple(waveform.shape)}.")
    chunks = chunk(waveform, features.chunk_samples)  # (n_chunks, chunk_samples)
    n_chunks = chunks.shape[0]
    padded = chunks.reshape(-1).numpy()
    seconds = np.arange(padded.size) / features.sample_rate
    end_s = waveform.numel() / features.sample_rate
    total_s = padded.size / features.sample_rate
    with sns.axes_style("ticks"):
        fig = Figure(figsize=(10, 2.8), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(seconds, padded, linewidth=0.5, color=sns.color_palette("colorblind")[0])
        ax.vlines(np.arange(n_chunks + 1) * features.chunk_seconds, 0, 1, transform=ax.get_xaxis_transform(),
                  colors="black", linestyles="--", linewidths=0.8, label="chunk boundary")
        if padded.size > waveform.numel():
            ax.axvspan(end_s, total_s, color="tab:red", alpha=0.2, linewidth=0, label="zero padding")
        margin_s = 0.01 * total_s  # keeps the first and last boundary off the spines
        ax.set(xlabel="time (s)", ylabel="amplitude", xlim=(-margin_s, total_s + margin_s),
               title=f"{end_s:g} s mixture → {n_chunks} chunks of {features.chunk_seconds:g} s")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
        sns.despine(ax=ax)
    return fig


#: Line styles of the reference losses on a loss figure (:func:`loss_curves`), one per reference in turn.
REFERENCE_LOSS_STYLES = ("--", ":", "-.", (0, (5, 2, 1, 2, 1, 2)))


def loss_curves(logs: pd.DataFrame, ylabel: str = "loss (MSE of compressed magnitudes)",
                log_scale: bool = True, references: dict[str, float] | None = None) -> Figure:
    """Training loss against step, one line per run, on a log scale, with reference losses as horizontal lines.

    Args:
        logs: Columns ``step`` and ``loss`` (the ``log.csv`` of ``audioslots.training.loop``) and
            ``run``, the run's name, when several runs' logs are concatenated.
        ylabel: what the loss is.
        log_scale: a logarithmic loss axis (off for losses that go negative, as Conv-TasNet's
            negative SI-SNR in dB).
        references: ``{label: loss}``, e.g. the plateau's level and the floor of
            :func:`audioslots.evaluation.plateau.reference_losses`; each a dark horizontal line of its own
            style (:data:`REFERENCE_LOSS_STYLES`), named in the legend, ``gid`` ``reference:<label>``.

    Returns:
        A figure with one axis.

    Raises:
        ~audioslots.errors.DataError: if ``step`` or ``loss`` is missing or the frame is empty, or a
            reference is not finite (or not positive on a log axis).
    """
    missing = [c for c in ("step", "loss") if c not in logs.columns]
    if missing or logs.empty:
        raise DataError(
            f"loss_curves needs a non-empty frame with columns step and loss (plus run), got "
            f"{len(logs)} rows with columns {list(logs.columns)}; read the runs' log.csv files."
        )
    references = references or {}
    bad = {label: loss for label, loss in references.items() if not np.isfinite(loss) or (log_scale and loss <= 0)}
    if bad:
        raise DataError(f"loss_curves draws reference losses as lines; {bad} cannot be drawn on this "
                        f"{'logarithmic' if log_scale else 'linear'} axis: give finite (positive) losses.")
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
        hue = "run" if "run" in logs.columns else None
        sns.lineplot(data=logs, x="step", y="loss", hue=hue, palette="colorblind" if hue else None,
                     errorbar=None, ax=ax)
        for (label, loss), style in zip(references.items(), itertools.cycle(REFERENCE_LOSS_STYLES)):
            ax.axhline(loss, color="0.25", linestyle=style, linewidth=1.1, zorder=1, label=label,
                       gid=f"reference:{label}")
        if references:
            ax.legend(fontsize="small")
        if log_scale:
            ax.set_yscale("log")
        ax.set(xlabel="training step", ylabel=ylabel)
    return fig


def figure2(
    columns: Sequence[dict],
    sample_rate: int,
    hop_samples: int,
    highlight_hz: float | None = None,
    caption: str | None = None,
) -> Figure:
    """The paper's Figure 2: mixture, ground truth, autoencoder and AudioSlots spectrograms.

    One column per example; rows: the input mixture, then for each source i its ground truth,
    its autoencoder reconstruction and its AudioSlots estimate, all compressed magnitudes. All
    panels share one colour scale, from 0 to the largest value of the grid (negative
    predictions are drawn as 0, which is what ``decompress`` makes of them). With
    ``highlight_hz``, the band above it is outlined with a dashed box (none by default: where
    detail is lost is measured by :func:`audioslots.reporting.figure2.reconstruction_by_band`, not assumed).
    Panels are about 4 × 1.7 inches, readable on a laptop screen.

    Args:
        columns: One dict per example with ``title`` (str), ``mixture`` ``(freq, frames)`` and
            ``ground_truth``, ``autoencoder`` and ``audioslots``, each ``(n_src, freq,
            frames)``; tensors or arrays. The estimates should already be in the ground
            truth's source order (e.g. matched with the Hungarian loss).
        sample_rate: In Hz (sets the kHz axis).
        hop_samples: STFT hop (sets the time axis).
        highlight_hz: Lower edge of the outlined band, or ``None`` for no outline.
        caption: Text above the grid; by default a caption in the words of the paper's.

    Returns:
        A figure with ``(1 + 3 * n_src) × len(columns)`` image axes and one colour bar.

    Raises:
        ~audioslots.errors.DataError: if ``columns`` is empty, a key is missing or the shapes do
            not agree.
        ~audioslots.errors.ConfigError: if ``highlight_hz`` is not between 0 and the Nyquist
            frequency.
    """
    panels = _figure2_panels(columns)  # per column: list of (row name, (freq, frames) array)
    nyquist_hz = sample_rate / 2
    if highlight_hz is not None and not 0 < highlight_hz < nyquist_hz:
        raise ConfigError(
            f"highlight_hz must lie between 0 and the Nyquist frequency {nyquist_hz:g} Hz, "
            f"got {highlight_hz!r}."
        )
    vmax = max(image.max() for rows in panels for _, image in rows)
    vmax = vmax if vmax > 0 else 1.0

    n_rows, n_cols = len(panels[0]), len(panels)
    with sns.axes_style("ticks"):
        fig = Figure(figsize=(4.0 * n_cols + 2.0, 1.7 * n_rows + 1.2), layout="constrained")
        axes = fig.subplots(n_rows, n_cols, sharex="col", sharey=True, squeeze=False)
        for c, (column, rows) in enumerate(zip(columns, panels)):
            for r, (name, image) in enumerate(rows):
                ax = axes[r, c]
                extent = _spectrogram_extent(*image.shape, sample_rate, hop_samples)
                im = _show_spectrogram(ax, image, extent, vmin=0.0, vmax=vmax)
                if highlight_hz is not None:
                    _outline_band(ax, extent, highlight_hz)
                if c == 0:
                    ax.set_ylabel(f"{name}\nfreq. (kHz)", fontsize="small")
                if r == 0:
                    ax.set_title(column["title"])
                if r == n_rows - 1:
                    ax.set_xlabel("time (s)")
        fig.colorbar(im, ax=axes, label=_compression_label(COMPRESS_POWER), shrink=0.5, aspect=30)
    if caption is None:
        caption = _figure2_caption(highlight_hz)
    # About 11 characters of medium text per inch of figure width.
    fig.suptitle(textwrap.fill(caption, width=int(11 * fig.get_figwidth())), fontsize="medium")
    return fig


def _figure2_panels(columns: Sequence[dict]) -> list[list[tuple[str, np.ndarray]]]:
    """The panels of :func:`figure2`, per column: (row name, ``(freq, frames)`` image), top to bottom."""
    if not columns:
        raise DataError("figure2 needs at least one example (a dict per column), got none.")
    keys = ("title", "mixture") + tuple(key for key, _ in FIGURE2_ROWS)
    panels = []
    n_src = None
    for c, column in enumerate(columns):
        missing = [k for k in keys if k not in column]
        if missing:
            title = column.get("title", "untitled")
            raise DataError(f"figure2 column {c} ({title!r}) lacks {', '.join(missing)}; add them.")
        mixture = _numpy(column["mixture"])
        stacks = {key: _numpy(column[key]) for key, _ in FIGURE2_ROWS}
        shapes = {key: s.shape for key, s in stacks.items()}
        if n_src is None:
            n_src = stacks["ground_truth"].shape[0]
        if mixture.ndim != 2 or any(shape != (n_src, *mixture.shape) for shape in shapes.values()):
            raise DataError(
                f"figure2 column {c} ({column['title']!r}): the mixture must be (freq, frames) and "
                f"each estimate (n_src, freq, frames) with the same n_src in every column; got "
                f"mixture {mixture.shape} and {shapes}."
            )
        rows = [("input mixture", mixture)]
        for i in range(n_src):
            rows += [(f"source {i + 1}\n{name}", stacks[key][i]) for key, name in FIGURE2_ROWS]
        panels.append(rows)
    return panels


def _figure2_caption(highlight_hz: float | None) -> str:
    """The default caption of :func:`figure2`, in the words of the paper's."""
    return (
        "Compressed magnitude spectrograms of the input mixture and, per source, the ground "
        "truth, the autoencoder reconstruction and the AudioSlots estimate."
        + ("" if highlight_hz is None else f" Dashed boxes: frequencies above {highlight_hz / 1000:g} kHz.")
    )


def _outline_band(ax, extent, highlight_hz: float) -> None:
    """Dashed box over the band above ``highlight_hz`` (kHz axis), inset from the spines."""
    left, right, _, top = extent
    inset_s, inset_khz = 0.01 * (right - left), 0.01 * (top - highlight_hz / 1000)
    ax.add_patch(Rectangle(
        (left + inset_s, highlight_hz / 1000), right - left - 2 * inset_s,
        top - highlight_hz / 1000 - inset_khz,
        fill=False, edgecolor=HIGHLIGHT_COLOR, linestyle="--", linewidth=1.2,
        label=f"above {highlight_hz / 1000:g} kHz",
    ))


def band_errors(errors: pd.DataFrame) -> Figure:
    """Bar chart of :func:`audioslots.reporting.figure2.reconstruction_by_band`: relative error per band and system."""
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(7.5, 3.6), layout="constrained")
        ax = fig.subplots()
        sns.barplot(errors, x="band", y="relative error", hue="system", ax=ax)
        ax.set_xlabel("frequency band")
        ax.set_ylabel("MSE / ground truth's mean square")
        ax.set_title("Reconstruction error per frequency band (compressed magnitudes)")
    return fig


def architecture(shapes: Sequence[tuple[str, str, tuple]], title: str | None = None) -> Figure:
    """Figure 1: the AudioSlots pipeline as boxes with the tensor shapes of a run.

    Args:
        shapes: ``(stage, what it is, shape)`` per stage, in order, e.g. from
            :func:`audioslots.reporting.inspection.architecture_shapes` (traced through the model, not typed).
        title: Text above the boxes.

    Returns:
        A figure with one box per stage, joined by arrows, each naming its shape as ``a × b``.

    Raises:
        ~audioslots.errors.DataError: if ``shapes`` is empty.
    """
    if not shapes:
        raise DataError("architecture needs at least one (stage, description, shape) triple, got none.")
    n = len(shapes)
    fig = Figure(figsize=(2.2 * n + 0.4, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, n)
    ax.set_ylim(0, 1)
    ax.axis("off")
    for i, (stage, what, shape) in enumerate(shapes):
        text = f"{stage}\n" + " × ".join(str(d) for d in shape) + "\n" + textwrap.fill(what, 24)
        ax.text(i + 0.5, 0.5, text, ha="center", va="center", fontsize="small",
                bbox={"boxstyle": "round,pad=0.5", "facecolor": "#eef3fb", "edgecolor": "#3b5b92"})
        if i + 1 < n:
            ax.annotate("", xy=(i + 1.08, 0.5), xytext=(i + 0.92, 0.5),
                        arrowprops={"arrowstyle": "->", "color": "#3b5b92"})
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def chunk_error_profile(profile: pd.DataFrame, features: FeatureConfig) -> Figure:
    """Error against position in the chunk, one panel per pipeline, one line per framing.

    Args:
        profile: :func:`audioslots.evaluation.chunk_boundaries.error_by_position`'s frame.
        features: the STFT, whose ``n_fft - hop`` edge zone is marked by a dotted line.

    Returns:
        A figure with one axis per pipeline of ``profile``.
    """
    pipelines = list(dict.fromkeys(profile["pipeline"]))
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, len(pipelines), sharex=True, squeeze=False)[0]
    edge_ms = (features.n_fft - features.hop_samples) / features.sample_rate * 1000
    for ax, pipeline in zip(axes, pipelines):
        sns.lineplot(data=profile[profile["pipeline"] == pipeline], x="position_ms", y="error_db", hue="framing",
                     ax=ax, linewidth=1)
        ax.axvline(edge_ms, color="grey", linestyle=":", linewidth=1)
        ax.text(edge_ms, ax.get_ylim()[1], f" n_fft − hop = {edge_ms:.1f} ms", va="top", fontsize=8, color="grey")
        ax.set(title=PIPELINES[pipeline], xlabel="position in the chunk (ms)", ylabel="relative error (dB)")
    return fig


def _system_label(system: str, chunk_seconds: float) -> str:
    # The paper's Table 1 names the 0.5 s setting plainly and marks the ablation "(1 s)".
    if np.isclose(chunk_seconds, FeatureConfig().chunk_seconds):
        return system
    return f"{system} ({chunk_seconds:g} s)"


def metric_distributions(metrics: pd.DataFrame) -> Figure:
    """Per-mixture SI-SNRi distributions of each system, split by mask.

    Boxes (without outliers) and every mixture as a dot, one group per system label and one
    colour per mask; the dashed line at 0 dB is the unprocessed mixture.

    Args:
        metrics: Rows as ``audioslots.evaluation.scores.evaluate`` returns them (``METRIC_COLUMNS``),
            possibly several systems concatenated, optionally with a ``label`` column naming
            each system. Without it the label is built from ``system`` and ``chunk_seconds``:
            ``"Oracle"``, ``"Oracle (1 s)"``, ... Groups follow Table 1's order (chunk length,
            then Oracle, Autoencoder, AudioSlots) when those columns exist.

    Returns:
        A figure with one axis.

    Raises:
        ~audioslots.errors.DataError: if the frame is empty or lacks ``si_snri``, ``mask`` or
            a way to name the systems.
    """
    has_system = {"system", "chunk_seconds"} <= set(metrics.columns)
    missing = [c for c in ("si_snri", "mask") if c not in metrics.columns]
    if metrics.empty or missing or not (has_system or "label" in metrics.columns):
        raise DataError(
            f"metric_distributions needs a non-empty frame with columns si_snri, mask and "
            f"either label or system and chunk_seconds; got {len(metrics)} rows with columns "
            f"{list(metrics.columns)}."
        )
    frame = metrics.copy()
    if has_system:
        rank = {name: i for i, name in enumerate(SYSTEMS)}
        frame["_order"] = frame["system"].map(lambda s: rank.get(s, len(rank)))
        frame = frame.sort_values(["chunk_seconds", "_order"], kind="stable")
    if "label" not in frame.columns:
        frame["label"] = [_system_label(s, c) for s, c in zip(frame["system"], frame["chunk_seconds"])]
    frame["mask"] = frame["mask"].map(lambda m: MASK_NAMES.get(m, m))
    order = list(pd.unique(frame["label"]))
    hue_order = [MASK_NAMES[m] for m in MASKS if MASK_NAMES[m] in set(frame["mask"])]
    hue_order += [m for m in pd.unique(frame["mask"]) if m not in hue_order]

    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(max(5.0, 1.5 * len(order) + 2), 4.2), layout="constrained")
        ax = fig.add_subplot()
        palette = dict(zip(hue_order, sns.color_palette("colorblind", len(hue_order))))
        common = dict(data=frame, x="label", y="si_snri", hue="mask", order=order, hue_order=hue_order, ax=ax)
        with warnings.catch_warnings():
            # seaborn 0.13.2 still passes vert= to Axes.bxp; nothing we can change, and it would
            # print into every rendered notebook.
            warnings.filterwarnings("ignore", "vert: bool was deprecated", MatplotlibDeprecationWarning)
            sns.boxplot(**common, showfliers=False, palette=palette, boxprops=dict(alpha=0.6), width=0.7)
        sns.stripplot(**common, dodge=True, palette=palette, size=3, alpha=0.7, edgecolor="black",
                      linewidth=0.3, legend=False)
        baseline = ax.axhline(0.0, color="grey", linestyle="--", linewidth=1.0, zorder=0)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(baseline)
        labels.append("mixture (0 dB)")
        # Outside the axes: never over the points, and no "best" search over thousands of them.
        ax.legend(handles, labels, title="mask", loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  fontsize="small")
        ax.set(xlabel="", ylabel="SI-SNRi (dB)", title="SI-SNR improvement per test mixture")
    return fig


#: Marker shape of each row of Table 1 on the compute figures (the colour tells the row too; the shape keeps
#: overlapping points of different rows apart). Rows not named here get :data:`OTHER_MARKERS` in turn.
ROW_MARKERS = {AUDIOSLOTS_ROW: "o", AUTOENCODER_ROW: "s", AUDIOSLOTS_1S_ROW: "^"}
#: Marker shapes of the rows that :data:`ROW_MARKERS` does not name, in the order of the rows.
OTHER_MARKERS = ("v", "P", "X", "h", "<", ">")
#: Size (points) and opacity of a learning-curve point and of a final network on the compute figures.
CURVE_POINT = {"markersize": 4, "alpha": 0.6}
FINAL_POINT = {"s": 55, "alpha": 0.85}
#: Line style of the Oracle's ceiling and of the mixture's 0 dB, the two references drawn on every panel.
ORACLE_LINE = {"color": "0.15", "linestyle": "--", "linewidth": 1.2}
MIXTURE_LINE = {"color": "grey", "linestyle": ":", "linewidth": 1.2}
#: Line style of a reference predictor's score (:func:`audioslots.evaluation.plateau.identical_slots_si_snri`): thin,
#: so that it reads as a mark, not as data.
REFERENCE_LINE = {"color": "grey", "linestyle": "-.", "linewidth": 0.8}


def _row_style(rows: Sequence[str]) -> tuple[dict, dict]:
    """A colour and a marker shape per row, the same for a row in every compute figure, whichever rows it shows."""
    known = list(dict.fromkeys([*ROW_ORDER, *rows]))
    palette = dict(zip(known, sns.color_palette("colorblind", len(known))))
    others = iter(OTHER_MARKERS * (1 + len(known) // len(OTHER_MARKERS)))
    markers = {row: ROW_MARKERS.get(row) or next(others) for row in known}
    return palette, markers


def _check_points(points: pd.DataFrame, who: str) -> None:
    needed = ["row", "mask", "train_flop", "si_snri", "si_snri_ci", "run", "final"]
    missing = [c for c in needed if c not in points.columns]
    if points.empty or missing:
        raise DataError(f"{who} needs a non-empty frame with columns {', '.join(needed)}; got {len(points)} "
                        f"rows with columns {list(points.columns)} (see audioslots.evaluation.learning_curve.compute_points).")
    if not (points["train_flop"] > 0).all():
        raise DataError(f"{who} places points on a log axis of training FLOPs; drop rows whose train_flop is "
                        "0 or empty (the oracle trains nothing).")


def _draw_points(ax, here: pd.DataFrame, palette: dict, markers: dict, errorbars: bool = True) -> None:
    """One panel's learning curves (small, joined per run) and final networks (large, black edge)."""
    for run, curve in here[~here["final"].astype(bool)].groupby("run", sort=False):
        curve = curve.sort_values("train_flop")
        row = curve["row"].iloc[0]
        drawn = ax.errorbar(curve["train_flop"].to_numpy(float), curve["si_snri"].to_numpy(float),
                            yerr=curve["si_snri_ci"].fillna(0.0).to_numpy(float) if errorbars else None,
                            color=palette[row], marker=markers[row], linewidth=0.9, capsize=1.5, elinewidth=0.6,
                            **CURVE_POINT)
        drawn.lines[0].set_gid(f"curve:{run}")
    finals = here[here["final"].astype(bool)]
    for row, group in finals.groupby("row", sort=False):
        ax.scatter(group["train_flop"], group["si_snri"], color=palette[row], marker=markers[row],
                   edgecolors="black", linewidths=0.9, zorder=3, gid=f"final:{row}", **FINAL_POINT)


def _draw_references(ax, oracle: float | None, show_labels: bool = False, fontsize: float = 8) -> None:
    """The Oracle's ceiling (dashed) and the mixture (0 dB, dotted) across a panel."""
    ax.axhline(0.0, zorder=0, gid="mixture", **MIXTURE_LINE)
    if oracle is not None and np.isfinite(oracle):
        ax.axhline(oracle, zorder=1, gid="oracle", **ORACLE_LINE)
    if show_labels:
        if oracle is not None and np.isfinite(oracle):
            ax.annotate(f"Oracle {oracle:.1f} dB", (0.01, oracle), xycoords=("axes fraction", "data"),
                        xytext=(0, -2), textcoords="offset points", ha="left", va="top", fontsize=fontsize,
                        color=ORACLE_LINE["color"], gid="oracle-label")
        ax.annotate("mixture 0 dB", (0.99, 0.0), xycoords=("axes fraction", "data"), xytext=(0, -2),
                    textcoords="offset points", ha="right", va="top", fontsize=fontsize, color="0.35",
                    gid="mixture-label")


def _db(value: float, decimals: int) -> str:
    """``−38.7 dB``: a typographic minus, as on the axes' ticks."""
    return f"{value:.{decimals}f} dB".replace("-", "\u2212")


def _draw_score_references(ax, references: Sequence[tuple[str, float]], fontsize: float = 8) -> None:
    """Each ``(label, dB)`` as a thin dash-dot line across the panel, labelled at its left (``gid``
    ``reference:<label>`` and ``reference-label:<label>``); one outside the panel's range as a label with an
    arrow at the panel's bottom (``↓``, ``reference-below:<label>``) or top (``↑``, ``reference-above:<label>``)
    instead, so that a score far below the networks' (the IBM's silent slot) does not squash them.

    Draw it last: it fixes the panel's y-range at what the rest of the panel needs.
    """
    low, high = ax.get_ylim()
    ax.set_ylim(low, high)
    style = {"fontsize": fontsize, "color": "0.35"}
    stacked = {"below": 0, "above": 0}
    for label, value in references:
        if low <= value <= high:
            ax.axhline(value, zorder=1, gid=f"reference:{label}", **REFERENCE_LINE)
            ax.annotate(f"{label} {_db(value, 1)}", (0.01, value), xycoords=("axes fraction", "data"), xytext=(0, -2),
                        textcoords="offset points", ha="left", va="top", gid=f"reference-label:{label}", **style)
            continue
        side = "below" if value < low else "above"
        # stacked upwards from the bottom spine, downwards from the top one
        arrow, spine, away = ("↓", 0.0, 1) if side == "below" else ("↑", 1.0, -1)
        ax.annotate(f"{label}: {_db(value, 0)} {arrow}", (0.99, spine), xycoords="axes fraction",
                    xytext=(0, away * (2 + 1.3 * fontsize * stacked[side])), textcoords="offset points", ha="right",
                    va="bottom" if side == "below" else "top", gid=f"reference-{side}:{label}", **style)
        stacked[side] += 1


def _reference_handles(references: Sequence[tuple[str, float]]) -> list[Line2D]:
    """One legend entry per reference label."""
    return [Line2D([], [], label=f"reference: {label}", **REFERENCE_LINE)
            for label in dict.fromkeys(label for label, _ in references)]


def _draw_paper(ax, paper: pd.DataFrame, palette: dict, label: str = "paper: {row}", fontsize="x-small") -> None:
    """The paper's integer-dB ranges as bars at its compute, labelled to the left of every bar (never on one).

    The labels are right-aligned left of the leftmost bar, and moved apart vertically so that no two overlap.
    """
    if paper.empty:
        return
    for row in paper.itertuples():
        ax.vlines(row.train_flop, row.paper_low_db, row.paper_high_db, colors=[palette[row.paper_row]],
                  linewidth=6, alpha=0.6, gid=f"paper:{row.paper_row}")
    left = float(paper["train_flop"].min())
    middles = ((paper["paper_low_db"] + paper["paper_high_db"]) / 2).to_numpy(float)
    order = np.argsort(middles, kind="stable")
    # Vertical spacing in points: the data's dB per point once the axes are laid out.
    fig = ax.get_figure()
    fig.draw_without_rendering()
    to_points = 72.0 / fig.dpi
    y_display = ax.transData.transform(np.column_stack([np.full(len(middles), left), middles]))[:, 1] * to_points
    size = (fontsize if isinstance(fontsize, (int, float))
            else plt_font_size(fontsize))
    gap, placed = 1.25 * size, {}
    last = -np.inf
    for i in order:
        y = max(y_display[i], last + gap)
        placed[i], last = y, y
    shift = (np.mean([placed[i] - y_display[i] for i in order]) if len(order) else 0.0)
    for i in order:
        row = paper.iloc[i]
        ax.annotate(label.format(row=row["paper_row"]), (left, middles[i]), xytext=(-6, placed[i] - y_display[i] - shift),
                    textcoords="offset points", ha="right", va="center", fontsize=fontsize,
                    color=palette[row["paper_row"]], gid=f"paper-label:{row['paper_row']}")


def plt_font_size(name: str) -> float:
    """The size in points of a relative font size (``x-small``) at the current default font size."""
    return FontProperties(size=name).get_size_in_points()


def compute_figure(points: pd.DataFrame, paper_csv=None, paper_compute=None, title: str | None = None,
                   oracle: dict[str, float] | None = None,
                   references: dict[str, Sequence[tuple[str, float]]] | None = None) -> Figure:
    """SI-SNRi against training FLOPs: our learning curves and final networks beside the paper's Table 1.

    One panel per mask (IBM, then Wiener-like; a system scored without a mask, such as
    Conv-TasNet's ``none``, appears in both), training FLOPs on a log axis, one colour and one
    marker shape per row of Table 1 (:data:`ROW_MARKERS`). The learning-curve points of a run are
    small and joined by a line, with their 95 % confidence intervals; the final network of every
    run is a larger, slightly transparent marker with a black edge, so that points of different
    rows at the same place stay visible. The Oracle's score (no network) is a dashed ceiling on each
    panel and the mixture a dotted 0 dB line; a reference score (``references``) is a thin grey
    dash-dot line, or, below the panel's range, a label with a downward arrow at its bottom. The
    paper's values stand at the paper's compute: our copy of its text keeps the integer dB only, so
    each is a bar from ``paper_low_db`` to ``paper_high_db``, labelled to the left of the bars. Each
    row of Table 1 has the same colour and shape in every such figure, whichever rows it shows. The
    legend is below the panels.

    Args:
        points: Columns ``row`` (Table-1 row label), ``mask``, ``train_flop``, ``si_snri``,
            ``si_snri_ci`` (may be empty), ``run`` and ``final`` (bool), as
            :func:`audioslots.evaluation.learning_curve.compute_points` gathers them.
        paper_csv: ``results/paper_table1.csv`` (``paper_row``, ``mask``, ``metric``,
            ``paper_low_db``, ``paper_high_db``); ``None``: no paper values (for runs on data the
            paper did not use, such as the synthetic set).
        paper_compute: ``results/paper_compute.csv`` or its frame: ``paper_row`` and
            ``train_flop``, the paper's training FLOPs of that row's network (needed with ``paper_csv``).
        title: above both panels, e.g. the data the runs were scored on.
        oracle: the Oracle's mean SI-SNRi per mask (``{"ibm": 12.3, "wiener": 12.5}``) of the data the
            points were scored on; ``None``: no ceiling drawn.
        references: per mask, ``[(label, mean SI-SNRi), ...]`` of reference predictors on the same test
            mixtures (e.g. ``identical slots``, :func:`audioslots.evaluation.plateau.identical_slots_si_snri`);
            ``None``: none drawn.

    Returns:
        A figure with two axes.

    Raises:
        ~audioslots.errors.DataError: if ``points`` is empty, lacks a column, or has a FLOP count
            that is not positive (no place on a log axis).
    """
    _check_points(points, "compute_figure")
    paper = _paper_at_its_compute(paper_csv, paper_compute)
    rows = list(dict.fromkeys([*paper["paper_row"], *points["row"]]))
    palette, markers = _row_style(rows)
    masks = [m for m in ("ibm", "wiener") if m in MASKS]
    oracle, references = oracle or {}, references or {}

    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(11, 5.2), layout="constrained")
        axes = fig.subplots(1, len(masks), sharex=True, sharey=True, squeeze=False)[0]
        for ax, mask in zip(axes, masks):
            here = points[(points["mask"] == mask) | ~points["mask"].isin(MASKS)]
            _draw_points(ax, here, palette, markers)
            _draw_references(ax, oracle.get(mask))
            ax.set_xscale("log")
            ax.set_title(MASK_NAMES[mask])
            # on each panel, not one figure label: the legend below the panels would cover it
            ax.set_xlabel("training FLOPs (forward + backward, all steps)")
        if title:
            fig.suptitle(title)
        axes[0].set_ylabel("SI-SNRi (dB)")
        handles = [Line2D([], [], color=palette[r], marker=markers[r], linewidth=4, markersize=7, label=r) for r in rows]
        handles += [
            Line2D([], [], color="grey", marker="o", markersize=CURVE_POINT["markersize"], alpha=CURVE_POINT["alpha"],
                   label="learning curve (95 % CI)"),
            Line2D([], [], color="grey", marker="o", markeredgecolor="black", linestyle="", markersize=7,
                   label="final network of a run"),
            *([Line2D([], [], color="grey", linewidth=6, alpha=0.6, label="paper (integer dB only)")] if len(paper) else []),
            *([Line2D([], [], label="Oracle (no network)", **ORACLE_LINE)] if oracle else []),
            Line2D([], [], label="mixture (0 dB)", **MIXTURE_LINE),
            *_reference_handles([r for mask in masks for r in references.get(mask, ())]),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize="small")
        for ax, mask in zip(axes, masks):  # last: the labels are spaced in the laid-out axes
            _draw_paper(ax, paper[paper["mask"] == mask], palette)
        for ax, mask in zip(axes, masks):  # after everything else: they keep the range the rest needs
            _draw_score_references(ax, references.get(mask, ()))
    return fig


#: The two rows of the headline figure (:func:`headline_figure`): the network and its autoencoder.
HEADLINE_ROWS = (AUDIOSLOTS_ROW, AUTOENCODER_ROW)
#: Legend entries that fit one row of the headline figure at its width and font; more take two rows.
HEADLINE_LEGEND_COLUMNS = 4


def headline_figure(points: pd.DataFrame, oracle: dict[str, float], paper_csv=None, paper_compute=None,
                    mask: str = "ibm", width_in: float = 6.9,
                    references: dict[str, Sequence[tuple[str, float]]] | None = None) -> Figure:
    """The book's first figure: SI-SNRi (one mask) of AudioSlots and its autoencoder against training FLOPs,
    one small panel per data set, the Oracle as a dashed ceiling, the mixture at 0 dB, reference predictors as
    thin dash-dot lines (or arrows at the bottom, below the range), the paper's values at its compute.

    Sized for a text column ``width_in`` wide at 100 dpi (the book's 688 px): every font is 8 pt or more at
    that width. Only the rows of :data:`HEADLINE_ROWS` are drawn.

    Args:
        points: as :func:`compute_figure`, plus a ``data`` column (one panel per value; the
            synthetic set last, and the paper's values only on the other panels).
        oracle: the Oracle's mean SI-SNRi with ``mask`` per value of ``data`` (no line where missing).
        paper_csv, paper_compute: as :func:`compute_figure`; the paper's bars go on every panel that is
            not the synthetic set.
        mask: ``ibm`` or ``wiener``.
        width_in: the figure's width in inches.
        references: per value of ``data``, ``[(label, mean SI-SNRi with mask), ...]`` of reference predictors
            on its test mixtures (as :func:`compute_figure`'s); none on a panel without an entry.

    Returns:
        A figure with one axis per data set, titled with the data's name.
    """
    _check_points(points, "headline_figure")
    if "data" not in points.columns:
        raise DataError("headline_figure draws one panel per data set: points need a data column.")
    points = points[points["row"].isin(HEADLINE_ROWS) & (points["mask"] == mask)]
    if points.empty:
        raise DataError(f"headline_figure has no point of {' or '.join(HEADLINE_ROWS)} with the {mask} mask.")
    data = sorted(set(points["data"]), key=lambda d: (d == "synthetic", d))
    paper = _paper_at_its_compute(paper_csv, paper_compute)
    paper = paper[paper["paper_row"].isin(HEADLINE_ROWS) & (paper["mask"] == mask)]
    palette, markers = _row_style(list(HEADLINE_ROWS))
    references = {name: refs for name, refs in (references or {}).items() if name in data}
    font = 8.5

    with sns.axes_style("whitegrid"), matplotlib_rc({"font.size": font, "axes.titlesize": font + 0.5,
                                                    "axes.labelsize": font, "xtick.labelsize": font,
                                                    "ytick.labelsize": font, "legend.fontsize": font}):
        fig = Figure(figsize=(width_in, 2.45), layout="constrained")
        ratios = [2.0 if d != "synthetic" else 1.0 for d in data]
        axes = fig.subplots(1, len(data), sharey=True, squeeze=False, width_ratios=ratios)[0]
        for ax, name in zip(axes, data):
            here = points[points["data"] == name]
            _draw_points(ax, here, palette, markers, errorbars=False)
            _draw_references(ax, oracle.get(name), show_labels=True, fontsize=font)
            ax.set_xscale("log")
            ax.set_title(name if name != "synthetic" else "synthetic set (not the paper's)")
            ax.set_xlabel("training FLOPs")
        axes[0].set_ylabel(f"SI-SNRi, {MASK_NAMES[mask]} (dB)")
        handles = [Line2D([], [], color=palette[r], marker=markers[r], linewidth=1, markersize=5, label=r)
                   for r in HEADLINE_ROWS]
        handles += [Line2D([], [], color="grey", marker="o", markeredgecolor="black", linestyle="", markersize=6,
                           label="final network (small: checkpoints)")]
        if len(paper):
            handles.append(Line2D([], [], color="grey", linewidth=6, alpha=0.6, label="paper (integer dB)"))
        handles += _reference_handles([r for refs in references.values() for r in refs])
        rows = math.ceil(len(handles) / HEADLINE_LEGEND_COLUMNS)
        fig.legend(handles=handles, loc="outside lower center", ncols=math.ceil(len(handles) / rows), frameon=False)
        for ax, name in zip(axes, data):
            if name != "synthetic" and len(paper):
                ax.set_xlim(right=float(paper["train_flop"].max()) * 4)
                _draw_paper(ax, paper, palette, label="paper: {row}", fontsize=font)
        for ax, name in zip(axes, data):  # after everything else: they keep the range the rest needs
            _draw_score_references(ax, references.get(name, ()), fontsize=font)
    return fig


def matplotlib_rc(params: dict):
    """``matplotlib.rc_context`` of ``params``."""
    return rc_context(params)


def _paper_at_its_compute(paper_csv, paper_compute) -> pd.DataFrame:
    """The paper's SI-SNRi rows (``paper_row``, ``mask``, ``paper_low_db``, ``paper_high_db``) with their ``train_flop``."""
    if paper_csv is None:
        return pd.DataFrame(columns=["paper_row", "mask", "metric", "paper_low_db", "paper_high_db", "train_flop"])
    if paper_compute is None:
        raise ConfigError("compute_figure places the paper's values at the paper's compute: give paper_compute "
                          "(results/paper_compute.csv) with paper_csv.")
    compute = paper_compute if isinstance(paper_compute, pd.DataFrame) else pd.read_csv(paper_compute)
    paper = pd.read_csv(paper_csv)
    return paper[paper["metric"] == "si_snri"].merge(compute[["paper_row", "train_flop"]], on="paper_row")
