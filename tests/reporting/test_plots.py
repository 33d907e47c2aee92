"""Specification of the book's figures: the right panels, the right data in them, labelled."""

import matplotlib

matplotlib.use("agg")  # headless; the library itself never picks a backend

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.patches import Rectangle

from audioslots.config import FeatureConfig, get_preset
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError, DataError
from audioslots.evaluation.scores import METRIC_COLUMNS
from audioslots.features import stft
from audioslots.reporting import plots
from audioslots.reporting.figure2 import reconstruction_by_band
from audioslots.reporting.inspection import architecture_shapes

FEATURES = FeatureConfig()
ESTIMATE_KEYS = ("ground_truth", "autoencoder", "audioslots")


@pytest.fixture
def example(tiny_data):
    return LibriMix(tiny_data, "test")[0]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def grid_position(ax):
    spec = ax.get_subplotspec()
    return spec.rowspan.start, spec.colspan.start


def figure2_columns(n_examples=2, n_src=2, n_freq=257, n_frames=65, tensor=False):
    rng = np.random.default_rng(0)
    columns = []
    for e in range(n_examples):
        stacks = {k: rng.uniform(0, 1 + e, (n_src, n_freq, n_frames)) for k in ESTIMATE_KEYS}
        column = {"title": f"example {e + 1}", "mixture": rng.uniform(0, 1, (n_freq, n_frames)), **stacks}
        if tensor:
            column = {k: v if k == "title" else torch.tensor(v, requires_grad=True) for k, v in column.items()}
        columns.append(column)
    return columns


def metrics_frame(systems, n_mixtures=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        {"mixture_id": str(j), "system": system, "order": "oracle", "chunk_seconds": seconds, "mask": mask,
         "si_snr": rng.normal(), "si_snri": rng.normal(3.0), "n_src": 2}
        for system, seconds in systems for mask in ("ibm", "wiener") for j in range(n_mixtures)
    ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


# waveforms ------------------------------------------------------------------------------------


def test_waveforms_stacks_the_mixture_above_each_source_on_a_time_axis_in_seconds(example):
    fig = plots.waveforms(example.mixture, example.sources, FEATURES.sample_rate, title="a mixture")
    assert len(fig.axes) == 1 + example.sources.shape[0]
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == ["mixture", "source 1", "source 2"]
    assert fig.axes[-1].get_xlabel() == "time (s)"
    for ax, signal in zip(fig.axes, [example.mixture, *example.sources]):
        x, y = ax.lines[0].get_data()
        np.testing.assert_allclose(y, signal.numpy())
        assert x[-1] == pytest.approx((signal.numel() - 1) / FEATURES.sample_rate)
    assert fig.get_suptitle() == "a mixture"


def test_waveforms_rejects_sources_of_another_length(example):
    with pytest.raises(DataError, match="same length"):
        plots.waveforms(example.mixture, example.sources[:, :-1], FEATURES.sample_rate)


# preprocessing_steps --------------------------------------------------------------------------


def test_preprocessing_steps_shows_the_linear_and_the_compressed_magnitude(example):
    crop = example.mixture[: FEATURES.chunk_samples]
    fig = plots.preprocessing_steps(crop, FEATURES)
    axes = {ax.get_label(): ax for ax in fig.axes}
    linear = axes["linear"].images[0].get_array()
    compressed = axes["compressed"].images[0].get_array()
    assert linear.shape == (FEATURES.n_freq, FEATURES.n_frames)
    np.testing.assert_allclose(linear, stft(crop, FEATURES).abs().numpy(), rtol=1e-6)
    np.testing.assert_allclose(compressed, linear**0.3, rtol=1e-5, atol=1e-6)
    colorbar_labels = {ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"}
    assert colorbar_labels == {"magnitude |X|", "compressed magnitude |X|^0.3"}
    assert axes["linear"].get_ylabel() == "frequency (kHz)" and axes["linear"].get_xlabel() == "time (s)"
    assert axes["linear"].images[0].get_extent()[3] == pytest.approx(8.0 + 8.0 / 512)  # Nyquist + half a bin


def test_preprocessing_histograms_show_compression_lifting_the_low_values(example):
    fig = plots.preprocessing_steps(example.mixture[: FEATURES.chunk_samples], FEATURES)
    axes = {ax.get_label(): ax for ax in fig.axes}
    lowest_bar = {name: axes[name].patches[0].get_height() for name in ("hist_linear", "hist_compressed")}
    for name in lowest_bar:
        assert sum(p.get_height() for p in axes[name].patches) == pytest.approx(100.0)  # shares in %
    assert lowest_bar["hist_linear"] > 2 * lowest_bar["hist_compressed"]


# encoder_grid ---------------------------------------------------------------------------------


def test_encoder_grid_crops_to_the_encoder_input_and_draws_32_by_8_cells_of_8_bins():
    compressed = torch.rand(FEATURES.n_freq, FEATURES.n_frames)
    fig = plots.encoder_grid(compressed)
    (ax,) = image_axes(fig)
    np.testing.assert_allclose(ax.images[0].get_array(), compressed[:256, :64].numpy(), rtol=1e-6)
    borders = {c.get_label(): c.get_segments() for c in ax.collections}
    horizontal = sorted(s[0][1] for s in borders["cell borders (frequency)"])
    vertical = sorted(s[0][0] for s in borders["cell borders (time)"])
    assert horizontal == list(range(0, 257, 8))  # 33 borders → 32 frequency cells
    assert vertical == list(range(0, 65, 8))  # 9 borders → 8 time cells
    (cell,) = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_label().startswith("one cell")]
    assert (cell.get_width(), cell.get_height()) == (8, 8)
    assert ax.get_xlabel() == "frame" and ax.get_ylabel() == "frequency bin"


def test_encoder_grid_rejects_a_spectrogram_smaller_than_the_grid():
    with pytest.raises(DataError, match="at least 256 × 64"):
        plots.encoder_grid(np.zeros((257, 40)))


# chunking -------------------------------------------------------------------------------------


def test_chunking_marks_every_chunk_boundary_and_shades_the_zero_padding():
    samples = round(2.3 * FEATURES.sample_rate)
    fig = plots.chunking(torch.randn(samples), FEATURES)
    (ax,) = fig.axes
    (boundaries,) = [c for c in ax.collections if c.get_label() == "chunk boundary"]
    assert [s[0][0] for s in boundaries.get_segments()] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    (padding,) = [p for p in ax.patches if p.get_label() == "zero padding"]
    assert padding.get_x() == pytest.approx(2.3)
    assert padding.get_x() + padding.get_width() == pytest.approx(2.5)
    x, y = ax.lines[0].get_data()
    assert x[-1] == pytest.approx(2.5 - 1 / FEATURES.sample_rate) and not np.any(y[samples:])


def test_chunking_shades_nothing_when_the_mixture_is_a_whole_number_of_chunks():
    fig = plots.chunking(np.ones(2 * FEATURES.chunk_samples), FEATURES)
    assert not [p for p in fig.axes[0].patches if p.get_label() == "zero padding"]


# loss_curves ----------------------------------------------------------------------------------


def test_loss_curves_draws_one_line_per_run_on_a_log_scale():
    steps = np.arange(1, 11)
    logs = pd.concat(
        pd.DataFrame({"run": run, "step": steps, "loss": scale / steps})
        for run, scale in (("a", 1.0), ("b", 2.0))
    )
    fig = plots.loss_curves(logs)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "training step" and "loss" in ax.get_ylabel()
    data_lines = [line for line in ax.lines if len(line.get_xdata()) == len(steps)]
    assert sorted(tuple(line.get_ydata()) for line in data_lines) == sorted(
        tuple(scale / steps) for scale in (1.0, 2.0)
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_loss_curves_draws_each_reference_loss_as_a_labelled_line_of_its_own_style():
    logs = pd.DataFrame({"run": "a", "step": np.arange(1, 11), "loss": 1.0 / np.arange(1, 11)})
    references = {"coarse copy (the plateau)": 0.4, "mean of sources (the floor)": 0.15}
    (ax,) = plots.loss_curves(logs, references=references).axes
    lines = {line.get_gid(): line for line in ax.lines if str(line.get_gid()).startswith("reference:")}
    assert set(lines) == {f"reference:{label}" for label in references}
    for label, loss in references.items():
        assert set(lines[f"reference:{label}"].get_ydata()) == {loss}
    assert len({line.get_linestyle() for line in lines.values()}) == len(references)
    assert set(references) <= {t.get_text() for t in ax.get_legend().get_texts()}


def test_loss_curves_rejects_a_reference_a_log_axis_cannot_show():
    logs = pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]})
    with pytest.raises(DataError, match="reference losses"):
        plots.loss_curves(logs, references={"floor": 0.0})


def test_loss_curves_rejects_a_frame_without_loss():
    with pytest.raises(DataError, match="step and loss"):
        plots.loss_curves(pd.DataFrame({"run": ["a"], "step": [1]}))


# figure2 --------------------------------------------------------------------------------------


def test_figure2_has_one_column_per_example_and_three_rows_per_source():
    columns = figure2_columns(n_examples=2, n_src=2)
    fig = plots.figure2(columns, FEATURES.sample_rate, FEATURES.hop_samples)
    axes = image_axes(fig)
    assert sorted(grid_position(ax) for ax in axes) == [(r, c) for r in range(1 + 3 * 2) for c in range(2)]
    by_position = {grid_position(ax): ax for ax in axes}
    assert [by_position[0, c].get_title() for c in range(2)] == ["example 1", "example 2"]
    row_names = [by_position[r, 0].get_ylabel().rsplit("\n", 1)[0].replace("\n", " ") for r in range(7)]
    assert row_names == [
        "input mixture",
        "source 1 ground truth", "source 1 autoencoder", "source 1 AudioSlots",
        "source 2 ground truth", "source 2 autoencoder", "source 2 AudioSlots",
    ]
    assert all(by_position[6, c].get_xlabel() == "time (s)" for c in range(2))
    assert by_position[0, 0].get_ylabel().endswith("(kHz)")
    assert fig.get_suptitle()


def test_figure2_puts_each_spectrogram_in_its_row():
    columns = figure2_columns(n_examples=2, n_src=2)
    fig = plots.figure2(columns, FEATURES.sample_rate, FEATURES.hop_samples)
    by_position = {grid_position(ax): ax.images[0].get_array() for ax in image_axes(fig)}
    for c, column in enumerate(columns):
        np.testing.assert_allclose(by_position[0, c], column["mixture"])
        for i in range(2):
            for j, key in enumerate(ESTIMATE_KEYS):
                np.testing.assert_allclose(by_position[1 + 3 * i + j, c], column[key][i])


def test_figure2_shares_one_colour_scale_across_the_grid():
    columns = figure2_columns(n_examples=2, n_src=2)
    fig = plots.figure2(columns, FEATURES.sample_rate, FEATURES.hop_samples)
    largest = max(np.max(v) for column in columns for k, v in column.items() if k != "title")
    for ax in image_axes(fig):
        assert ax.images[0].get_clim() == (0.0, pytest.approx(largest))
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and colorbars[0].get_ylabel() == "compressed magnitude |X|^0.3"


def test_figure2_outlines_the_band_above_highlight_hz_on_every_panel():
    fig = plots.figure2(figure2_columns(n_examples=1, n_src=2), FEATURES.sample_rate, FEATURES.hop_samples,
                        highlight_hz=3000.0)
    for ax in image_axes(fig):
        (box,) = [p for p in ax.patches if isinstance(p, Rectangle)]
        top_khz = ax.images[0].get_extent()[3]
        assert box.get_y() == pytest.approx(3.0) and 3.0 < box.get_y() + box.get_height() <= top_khz
        assert not box.get_fill() and box.get_linestyle() == "--"


def test_figure2_accepts_tensors_that_require_grad():
    fig = plots.figure2(figure2_columns(n_examples=1, n_src=1, tensor=True), 16000, 125)
    assert len(image_axes(fig)) == 4


def test_figure2_rejects_estimates_with_another_shape():
    columns = figure2_columns(n_examples=1, n_src=2)
    columns[0]["audioslots"] = columns[0]["audioslots"][:, :, :-1]
    with pytest.raises(DataError, match="column 0"):
        plots.figure2(columns, 16000, 125)


def test_figure2_rejects_a_highlight_above_nyquist():
    with pytest.raises(ConfigError, match="Nyquist"):
        plots.figure2(figure2_columns(n_examples=1, n_src=1), 16000, 125, highlight_hz=9000.0)


# metric_distributions -------------------------------------------------------------------------


def test_metric_distributions_names_systems_as_table1_and_in_its_order():
    systems = [
        ("AudioSlots", 1.0), ("Oracle", 0.5), ("AudioSlots", 0.5), ("Oracle", 1.0), ("Autoencoder", 0.5)
    ]
    fig = plots.metric_distributions(metrics_frame(systems))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Oracle", "Autoencoder", "AudioSlots", "Oracle (1 s)", "AudioSlots (1 s)"
    ]
    assert ax.get_ylabel() == "SI-SNRi (dB)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["IBM", "Wiener-like", "mixture (0 dB)"]


def test_metric_distributions_draws_the_mixture_baseline_at_0_db():
    fig = plots.metric_distributions(metrics_frame([("Oracle", 0.5)]))
    (ax,) = fig.axes
    baselines = [line for line in ax.lines if line.get_linestyle() == "--" and set(line.get_ydata()) == {0.0}]
    assert len(baselines) == 1


def test_metric_distributions_shows_every_mixture_as_a_point():
    frame = metrics_frame([("Oracle", 0.5), ("AudioSlots", 0.5)], n_mixtures=5)
    fig = plots.metric_distributions(frame)
    points = np.concatenate([c.get_offsets()[:, 1] for c in fig.axes[0].collections])
    np.testing.assert_allclose(np.sort(points), np.sort(frame["si_snri"].to_numpy()))


def test_metric_distributions_keeps_a_given_label_column():
    frame = metrics_frame([("AudioSlots", 0.5)]).assign(label="AudioSlots (cpu preset)")
    fig = plots.metric_distributions(frame)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["AudioSlots (cpu preset)"]


def test_metric_distributions_rejects_a_frame_without_si_snri():
    with pytest.raises(DataError, match="si_snri"):
        plots.metric_distributions(metrics_frame([("Oracle", 0.5)]).drop(columns="si_snri"))


# purity ---------------------------------------------------------------------------------------


def test_plots_leave_pyplot_and_global_style_untouched():
    style_before = dict(matplotlib.rcParams)
    figures_before = plt.get_fignums()
    plots.figure2(figure2_columns(n_examples=1, n_src=1), 16000, 125)
    plots.metric_distributions(metrics_frame([("Oracle", 0.5)]))
    assert plt.get_fignums() == figures_before
    assert dict(matplotlib.rcParams) == style_before


def test_figure2_draws_no_band_outline_unless_asked():
    """Where detail is lost is measured (figure2.reconstruction_by_band), not drawn as a fact."""
    fig = plots.figure2(figure2_columns(n_examples=1, n_src=1), FEATURES.sample_rate, FEATURES.hop_samples)
    assert not [p for ax in image_axes(fig) for p in ax.patches if isinstance(p, Rectangle)]


def test_figure2_panels_are_large_enough_to_read_on_a_laptop():
    fig = plots.figure2(figure2_columns(n_examples=3, n_src=2), FEATURES.sample_rate, FEATURES.hop_samples)
    width, height = fig.get_size_inches()
    assert width / 3 >= 3.5 and height / 7 >= 1.5


# architecture (Figure 1) ----------------------------------------------------------------------


def test_architecture_draws_one_box_per_stage_with_its_traced_shape():
    preset = get_preset("tiny")
    shapes = architecture_shapes(preset.model, preset.features)
    fig = plots.architecture(shapes)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]  # arrows are empty annotations
    assert len(texts) == len(shapes)
    for text, (_, _, shape) in zip(texts, shapes):
        assert " × ".join(str(d) for d in shape) in text
    assert shapes[-1][2] == (preset.model.n_slots, preset.features.n_freq, preset.features.n_frames)


def test_architecture_rejects_no_stages():
    with pytest.raises(DataError):
        plots.architecture([])


# band errors ----------------------------------------------------------------------------------


def test_reconstruction_by_band_is_zero_for_a_perfect_estimate_and_grows_where_the_estimate_is_off():
    column = figure2_columns(n_examples=1, n_src=2)[0]
    truth = np.asarray(column["ground_truth"])
    off = truth.copy()
    off[:, truth.shape[1] // 2:] += 1.0  # only the upper half of the bins (4–8 kHz) is wrong
    errors = reconstruction_by_band([dict(column, autoencoder=truth, audioslots=off)], FEATURES.sample_rate)
    by = errors.set_index(["band", "system"])["mse"]
    assert by[("0–1 kHz", "Autoencoder")] == 0 and by[("4–8 kHz", "Autoencoder")] == 0
    assert by[("0–1 kHz", "AudioSlots")] == 0 and by[("4–8 kHz", "AudioSlots")] > 0.9
    fig = plots.band_errors(errors)
    assert fig.axes[0].get_xlabel() == "frequency band"


# compute_figure -------------------------------------------------------------------------------

PAPER_TABLE1 = "results/paper_table1.csv"


def compute_points(seed=0):
    """Fake points: a three-step learning curve of one AudioSlots run, final networks of two systems, a peer."""
    rng = np.random.default_rng(seed)
    curve = [{"row": "AudioSlots", "mask": mask, "train_flop": flop, "si_snri": rng.normal(), "si_snri_ci": 0.2,
              "run": "x10/audioslots_0.5s", "step": step, "final": False}
             for mask in ("wiener", "ibm") for step, flop in ((100, 1e12), (400, 4e12), (7500, 7.5e13))]
    finals = [{"row": row, "mask": mask, "train_flop": flop, "si_snri": rng.normal(), "si_snri_ci": np.nan,
               "run": run, "step": np.nan, "final": True}
              for row, run, flop in (("AudioSlots", "cpu/audioslots_0.5s", 5e12), ("Autoencoder", "cpu/autoencoder_0.5s", 6e12))
              for mask in ("wiener", "ibm")]
    peer = [{"row": "Conv-TasNet", "mask": "none", "train_flop": 2e13, "si_snri": 3.0, "si_snri_ci": np.nan,
             "run": "cpu/convtasnet", "step": np.nan, "final": True}]
    return pd.DataFrame(curve + finals + peer)


PAPER_COMPUTE = pd.DataFrame({"paper_row": ["AudioSlots", "Autoencoder"], "train_flop": [4e18, 6e18]})


def test_compute_figure_has_an_ibm_then_a_wiener_panel_with_flops_on_a_log_axis():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1, PAPER_COMPUTE)
    assert [ax.get_title() for ax in fig.axes] == ["IBM", "Wiener-like"]
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert all("FLOPs" in ax.get_xlabel() for ax in fig.axes) and fig.axes[0].get_ylabel() == "SI-SNRi (dB)"


def test_compute_figure_legend_is_below_the_panels_and_never_over_the_data():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1, PAPER_COMPUTE, oracle={"ibm": 12.0, "wiener": 12.5})
    fig.draw_without_rendering()
    legend = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert legend.y1 <= ax.get_window_extent().y0, "the legend overlaps a panel"


def test_compute_figure_gives_each_row_its_own_marker_shape_and_translucent_points():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1, PAPER_COMPUTE)
    shapes = {h.get_label(): h.get_marker() for h in fig.legends[0].legend_handles if h.get_label() in
              ("AudioSlots", "Autoencoder", "Conv-TasNet")}
    assert len(set(shapes.values())) == 3, shapes
    finals = [c for ax in fig.axes for c in ax.collections if str(c.get_gid()).startswith("final:")]
    assert finals and all(c.get_alpha() is not None and c.get_alpha() < 1 for c in finals)


def test_compute_figure_draws_the_oracle_as_a_dashed_ceiling_on_each_panel():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1, PAPER_COMPUTE, oracle={"ibm": 12.0, "wiener": 12.5})
    for ax, value in zip(fig.axes, (12.0, 12.5)):
        (line,) = [line for line in ax.lines if line.get_gid() == "oracle"]
        assert line.get_linestyle() == "--" and line.get_ydata()[0] == value
        assert [line for line in ax.lines if line.get_gid() == "mixture"]


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_compute_figure_labels_of_the_paper_overlap_neither_its_bars_nor_each_other():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1,
                               pd.DataFrame({"paper_row": ["AudioSlots", "Autoencoder", "AudioSlots (1 s)"],
                                             "train_flop": [4.2e18, 6.4e18, 8.4e18]}))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        labels = [t.get_window_extent(renderer) for t in ax.texts if str(t.get_gid()).startswith("paper-label:")]
        bars = [c.get_window_extent(renderer) for c in ax.collections if str(c.get_gid()).startswith("paper:")]
        assert len(labels) == 3 and len(bars) == 3
        assert not any(_boxes_overlap(label, bar) for label in labels for bar in bars)
        assert not any(_boxes_overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1:])


def test_compute_figure_joins_a_runs_learning_curve_in_order_of_compute_with_its_mask_only():
    points = compute_points()
    fig = plots.compute_figure(points.sample(frac=1.0, random_state=1), PAPER_TABLE1, PAPER_COMPUTE)
    for ax, mask in zip(fig.axes, ("ibm", "wiener")):
        (line,) = [line for line in ax.lines if line.get_gid() == "curve:x10/audioslots_0.5s"]
        expected = points[~points["final"] & (points["mask"] == mask)].sort_values("train_flop")
        x, y = line.get_data()
        np.testing.assert_allclose(x, expected["train_flop"])
        np.testing.assert_allclose(y, expected["si_snri"])


def _final_offsets(ax) -> np.ndarray:
    """The (FLOPs, SI-SNRi) of every final network drawn on a panel, in the order drawn."""
    offsets = [c.get_offsets() for c in ax.collections if str(c.get_gid()).startswith("final:")]
    return np.concatenate(offsets) if offsets else np.empty((0, 2))


def test_compute_figure_marks_every_final_network_and_shows_a_maskless_peer_in_both_panels():
    points = compute_points()
    fig = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE)
    for ax, mask in zip(fig.axes, ("ibm", "wiener")):
        expected = points[points["final"] & points["mask"].isin([mask, "none"])]
        drawn = _final_offsets(ax)
        np.testing.assert_allclose(sorted(map(tuple, drawn)), sorted(map(tuple, expected[["train_flop", "si_snri"]].to_numpy())))


def test_compute_figure_draws_the_papers_integer_db_ranges_at_the_papers_compute_labelled():
    fig = plots.compute_figure(compute_points(), PAPER_TABLE1, PAPER_COMPUTE)
    paper = pd.read_csv(PAPER_TABLE1)
    for ax, mask in zip(fig.axes, ("ibm", "wiener")):
        for row, flop in zip(PAPER_COMPUTE["paper_row"], PAPER_COMPUTE["train_flop"]):
            (bar,) = [c for c in ax.collections if c.get_gid() == f"paper:{row}"]
            cell = paper[(paper["paper_row"] == row) & (paper["mask"] == mask) & (paper["metric"] == "si_snri")].iloc[0]
            np.testing.assert_allclose(bar.get_segments()[0], [[flop, cell["paper_low_db"]], [flop, cell["paper_high_db"]]])
        labels = {t.get_text() for t in ax.texts}
        assert {"paper: AudioSlots", "paper: Autoencoder"} <= labels
        assert "paper: AudioSlots (1 s)" not in labels  # no compute given for it: not placed
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"AudioSlots", "Autoencoder", "Conv-TasNet", "final network of a run"} <= legend


def test_compute_figure_without_the_paper_has_no_paper_values_and_keeps_each_rows_colour():
    points = compute_points()
    with_paper = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE)
    alone = plots.compute_figure(points[points["row"] == "Autoencoder"], title="synthetic set")
    assert alone.get_suptitle() == "synthetic set"
    for ax in alone.axes:
        assert not [c for c in ax.collections if str(c.get_gid()).startswith("paper:")] and not ax.texts
    assert "paper (integer dB only)" not in {t.get_text() for t in alone.legends[0].get_texts()}

    def colour(fig, row):
        (handle,) = [h for h in fig.legends[0].legend_handles if h.get_label() == row]
        return handle.get_color()

    assert colour(alone, "Autoencoder") == colour(with_paper, "Autoencoder")
    assert colour(with_paper, "Autoencoder") != colour(with_paper, "AudioSlots")


def test_compute_figure_asks_for_the_papers_compute_with_its_values():
    with pytest.raises(ConfigError, match="paper_compute"):
        plots.compute_figure(compute_points(), PAPER_TABLE1)


def test_compute_figure_refuses_no_points_and_points_without_compute():
    with pytest.raises(DataError, match="non-empty frame"):
        plots.compute_figure(compute_points().iloc[:0], PAPER_TABLE1, PAPER_COMPUTE)
    oracle = compute_points().assign(train_flop=0)
    with pytest.raises(DataError, match="log axis"):
        plots.compute_figure(oracle, PAPER_TABLE1, PAPER_COMPUTE)


def _reference_artists(ax, kind: str) -> list:
    """The lines or texts of a panel whose gid starts with ``kind`` (``reference:``, ``reference-below:``, ...)."""
    return [a for a in [*ax.lines, *ax.texts] if str(a.get_gid()).startswith(kind)]


def test_compute_figure_draws_a_reference_inside_the_range_as_a_line_and_one_below_as_an_arrow_label():
    points = compute_points()
    low, high = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE).axes[0].get_ylim()
    inside, below = (low + high) / 2, low - 30
    references = {"ibm": [("identical slots", below)], "wiener": [("identical slots", inside)]}
    fig = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE, references=references)
    ibm, wiener = fig.axes
    assert all(ax.get_ylim() == pytest.approx((low, high)) for ax in fig.axes), "a reference stretched the axis"
    (line,) = _reference_artists(wiener, "reference:identical slots")
    assert line.get_linestyle() == "-." and set(line.get_ydata()) == {inside}
    assert _reference_artists(wiener, "reference-label:identical slots")
    assert not _reference_artists(ibm, "reference:")
    (arrow,) = _reference_artists(ibm, "reference-below:identical slots")
    assert arrow.get_text().endswith("↓") and f"{below:.0f}".lstrip("-") in arrow.get_text()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend.count("reference: identical slots") == 1


def test_compute_figure_labels_a_reference_above_the_range_at_the_top_without_stretching():
    points = compute_points()
    low, high = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE).axes[0].get_ylim()
    fig = plots.compute_figure(points, PAPER_TABLE1, PAPER_COMPUTE, references={"ibm": [("far above", high + 30)]})
    assert fig.axes[0].get_ylim() == pytest.approx((low, high))
    (arrow,) = _reference_artists(fig.axes[0], "reference-above:far above")
    assert arrow.get_text().endswith("↑")


# headline_figure --------------------------------------------------------------------------------


def headline_points():
    points = compute_points()
    speech = points.assign(data="real speech (LibriSpeech mini)")
    synthetic = points.assign(data="synthetic", run=["s_" + r for r in points["run"]])
    return pd.concat([speech, synthetic], ignore_index=True)


def test_headline_figure_has_speech_then_the_synthetic_set_with_ibm_points_of_the_two_networks_only():
    points = headline_points()
    fig = plots.headline_figure(points, {"real speech (LibriSpeech mini)": 12.3, "synthetic": 11.7},
                                PAPER_TABLE1, PAPER_COMPUTE)
    assert [ax.get_title() for ax in fig.axes] == ["real speech (LibriSpeech mini)", "synthetic set (not the paper's)"]
    assert all(ax.get_xscale() == "log" for ax in fig.axes) and "IBM" in fig.axes[0].get_ylabel()
    for ax, data in zip(fig.axes, ("real speech (LibriSpeech mini)", "synthetic")):
        expected = points[points["final"] & (points["data"] == data) & (points["mask"] == "ibm")
                          & points["row"].isin(plots.HEADLINE_ROWS)]
        drawn = _final_offsets(ax)
        np.testing.assert_allclose(sorted(map(tuple, drawn)), sorted(map(tuple, expected[["train_flop", "si_snri"]].to_numpy())))
        (oracle,) = [line for line in ax.lines if line.get_gid() == "oracle"]
        assert oracle.get_linestyle() == "--"
        assert [line for line in ax.lines if line.get_gid() == "mixture"]


def test_headline_figure_puts_the_papers_values_on_the_speech_panel_only():
    fig = plots.headline_figure(headline_points(), {}, PAPER_TABLE1, PAPER_COMPUTE)
    speech, synthetic = fig.axes
    assert {c.get_gid() for c in speech.collections if str(c.get_gid()).startswith("paper:")} == \
        {"paper:AudioSlots", "paper:Autoencoder"}
    assert not [c for c in synthetic.collections if str(c.get_gid()).startswith("paper:")]


def test_headline_figure_fits_the_text_column_with_fonts_of_8_pt_or_more():
    fig = plots.headline_figure(headline_points(), {"synthetic": 11.7}, PAPER_TABLE1, PAPER_COMPUTE)
    assert fig.get_figwidth() == pytest.approx(6.9)
    fig.draw_without_rendering()
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= 8
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)


def test_headline_figure_draws_references_on_their_panel_only_without_stretching_the_axis():
    speech = "real speech (LibriSpeech mini)"
    plain = plots.headline_figure(headline_points(), {}, PAPER_TABLE1, PAPER_COMPUTE)
    low, high = plain.axes[0].get_ylim()
    inside, below = (low + high) / 2, low - 30
    fig = plots.headline_figure(headline_points(), {}, PAPER_TABLE1, PAPER_COMPUTE,
                                references={speech: [("a", inside), ("identical slots", below)]})
    speech_ax, synthetic_ax = fig.axes
    assert speech_ax.get_ylim() == pytest.approx((low, high))
    (line,) = _reference_artists(speech_ax, "reference:a")
    assert set(line.get_ydata()) == {inside}
    (arrow,) = _reference_artists(speech_ax, "reference-below:identical slots")
    assert "↓" in arrow.get_text()
    assert not _reference_artists(synthetic_ax, "reference")


def test_headline_figure_with_references_keeps_its_size_fonts_and_legend_inside_the_figure():
    fig = plots.headline_figure(headline_points(), {"synthetic": 11.7}, PAPER_TABLE1, PAPER_COMPUTE,
                                references={"real speech (LibriSpeech mini)": [("identical slots", -40.0)]})
    assert fig.get_figwidth() == pytest.approx(6.9) and fig.get_figheight() == pytest.approx(2.45)
    fig.draw_without_rendering()
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    assert min(t.get_fontsize() for t in texts) >= 8
    legend, page = fig.legends[0].get_window_extent(), fig.bbox
    assert page.x0 <= legend.x0 and legend.x1 <= page.x1, "the legend is wider than the figure"
    assert "reference: identical slots" in {t.get_text() for t in fig.legends[0].get_texts()}
