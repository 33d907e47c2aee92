"""The plateau's reference predictors, their losses and scores, and the escape step of a training log."""

import numpy as np
import pytest
import torch

from audioslots.config import get_preset
from audioslots.data.dataset import LibriMix
from audioslots.evaluation import plateau
from audioslots.features import spectrogram
from audioslots.loss import matched_mse

FEATURES = get_preset("cpu").features


@pytest.fixture(scope="module")
def crops(tiny_data):
    dataset = LibriMix(tiny_data, "train-360")
    examples = [dataset.crop(i, 0, FEATURES.chunk_samples) for i in range(4)]
    return torch.stack([e.mixture for e in examples]), torch.stack([e.sources for e in examples])


def test_every_predictor_puts_the_same_prediction_in_every_slot(crops):
    mixtures, sources = crops
    for name, pred in plateau.trivial_predictions(mixtures, sources, FEATURES).items():
        assert pred.shape == (4, 2, FEATURES.n_freq, FEATURES.n_frames), name
        assert torch.equal(pred[:, 0], pred[:, 1]), name


def test_the_coarse_copys_profile_is_the_least_squares_fit(crops):
    mixtures, sources = crops
    target = spectrogram(sources, FEATURES).double()
    envelope = spectrogram(mixtures, FEATURES).double().mean(1)  # (B, T)
    # brute force: one column of the design matrix per frequency, solved by lstsq
    design = envelope[:, None, :].expand(-1, 2, -1).reshape(-1)  # (B*n*T,)
    by_lstsq = [torch.linalg.lstsq(design[:, None], target[:, :, f].reshape(-1)[:, None]).solution.item()
                for f in range(FEATURES.n_freq)]
    coarse = plateau.trivial_predictions(mixtures, sources, FEATURES)["coarse copy"]
    profile = coarse[0, 0, :, 0] / envelope[0, 0]
    np.testing.assert_allclose(profile.numpy(), np.array(by_lstsq), rtol=1e-4, atol=1e-6)


def test_the_mean_of_two_sources_costs_a_quarter_of_their_squared_difference(crops):
    mixtures, sources = crops
    target = spectrogram(sources, FEATURES)
    expected = (target[:, 0] - target[:, 1]).square().mean().item() / 4
    assert plateau.trivial_losses(mixtures, sources, FEATURES)["mean of sources"] == pytest.approx(expected, rel=1e-5)


def test_the_losses_are_the_matched_mse_and_the_floor_is_lowest(crops):
    mixtures, sources = crops
    losses = plateau.trivial_losses(mixtures, sources, FEATURES)
    target = spectrogram(sources, FEATURES)
    halves = spectrogram(mixtures / 2, FEATURES)[:, None].expand_as(target)
    assert losses["mixture halves"] == pytest.approx(matched_mse(halves, target)[0].item())
    assert min(losses, key=losses.get) == plateau.FLOOR and max(losses, key=losses.get) == "constant"


def test_identical_slots_do_not_separate_with_the_ibm(crops):
    mixtures, sources = crops
    scores = plateau.trivial_si_snri(mixtures, sources, FEATURES, "ibm")
    assert all(score < -20 for score in scores.values()), scores  # one slot takes every cell, the other is silent


def test_the_true_sources_as_estimates_score_the_oracles_positive_si_snri(crops):
    mixtures, sources = crops
    assert plateau.crop_si_snri(spectrogram(sources, FEATURES), mixtures, sources, FEATURES, "ibm") > 5


class CopyInEverySlot(torch.nn.Module):
    """A stand-in network of identical slots: the compressed mixture, scaled, in each of two slots."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, features):  # (batch, F, T) -> (batch, 2, F, T)
        return self.scale * features[:, None].expand(-1, 2, -1, -1)


@pytest.fixture(scope="module")
def one_chunk_data(tmp_path_factory):
    """Test mixtures exactly one chunk of FEATURES long."""
    from audioslots.data.synthetic import SynthConfig, synthesize_librimix

    config = SynthConfig(mixtures={"test": 3}, seconds={"test": FEATURES.chunk_seconds})
    root = tmp_path_factory.mktemp("one_chunk") / "Libri2Mix"
    return synthesize_librimix(root, seed=1, config=config, progress=False)


def test_identical_slots_on_one_chunk_mixtures_score_what_crop_si_snri_gives_their_crops(one_chunk_data):
    test = LibriMix(one_chunk_data, "test")
    mixtures = torch.stack([test[i].mixture for i in range(len(test))])
    sources = torch.stack([test[i].sources for i in range(len(test))])
    assert mixtures.shape[-1] == FEATURES.chunk_samples
    floor = plateau.trivial_predictions(mixtures, sources, FEATURES)[plateau.FLOOR]
    scores = plateau.identical_slots_si_snri(test, FEATURES, predictor=plateau.FLOOR).set_index("mask")
    for mask in ("ibm", "wiener"):
        crops = plateau.crop_si_snri(floor, mixtures, sources, FEATURES, mask)
        assert scores.loc[mask, "si_snri"] == pytest.approx(crops, abs=1e-4)
        assert scores.loc[mask, "n_mixtures"] == len(test)


def test_identical_slots_score_what_evaluate_gives_a_network_of_identical_slots(tiny_data):
    from audioslots.evaluation.scores import evaluate, table1

    test = LibriMix(tiny_data, "test")
    assert max(test.lengths) > FEATURES.chunk_samples  # several chunks, stitched
    network = table1(evaluate("AudioSlots", test, FEATURES, model=CopyInEverySlot(), progress=False))
    ours = plateau.identical_slots_si_snri(test, FEATURES)
    merged = network.merge(ours, on="mask", suffixes=("_network", "_ours"))
    assert sorted(merged["mask"]) == ["ibm", "wiener"]
    np.testing.assert_allclose(merged["si_snri_ours"], merged["si_snri_network"], atol=1e-4)
    assert (merged["n_mixtures_ours"] == merged["n_mixtures_network"]).all()


def test_every_reference_predictor_scores_the_same_on_whole_mixtures(tiny_data):
    test = LibriMix(tiny_data, "test")
    scores = [plateau.identical_slots_si_snri(test, FEATURES, predictor=name).set_index("mask")["si_snri"]
              for name in plateau.TRIVIAL_PREDICTORS]
    for other in scores[1:]:
        np.testing.assert_allclose(other.to_numpy(), scores[0].to_numpy(), atol=1e-4)
    assert scores[0]["ibm"] < scores[0]["wiener"]  # the IBM leaves one slot silent


def test_identical_slots_refuse_an_unknown_predictor(tiny_data):
    from audioslots.errors import ConfigError

    with pytest.raises(ConfigError, match="reference predictor"):
        plateau.identical_slots_si_snri(LibriMix(tiny_data, "test"), FEATURES, predictor="copy")


def test_reference_losses_are_the_trivial_losses_of_a_pool_of_fresh_training_crops(tiny_data):
    from audioslots.config import replace

    dataset = LibriMix(tiny_data, "train-360")
    preset = get_preset("tiny")
    mixtures, sources = plateau.pool_crops(dataset, replace(preset, crop_pool=5))
    assert plateau.reference_losses(dataset, preset, n=5) == plateau.trivial_losses(mixtures, sources, preset.features)


def test_reference_losses_need_a_crop(tiny_data):
    from audioslots.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one crop"):
        plateau.reference_losses(LibriMix(tiny_data, "train-360"), get_preset("tiny"), n=0)


@pytest.mark.parametrize("losses, expected", [
    ([0.05, 0.04, 0.03, 0.02, 0.02], 30),
    ([0.05, 0.03, 0.04, 0.03, 0.03, 0.03], 40),  # one lucky window does not count
    ([0.05, 0.04, 0.04, 0.03, 0.03], None),  # never stays below for two more windows
])
def test_escape_step_is_the_first_step_that_stays_below_the_level(losses, expected):
    steps = [10 * (i + 1) for i in range(len(losses))]
    assert plateau.escape_step(steps, losses, level=0.035) == expected


def test_held_out_crops_start_where_the_training_span_ends(tiny_data):
    from audioslots.config import replace

    dataset = LibriMix(tiny_data, "train-360")
    preset = replace(get_preset("tiny"), crop_span=0.25, chunk_seconds=0.25)
    mixtures, sources = plateau.held_out_crops(dataset, preset, n=3)
    assert mixtures.shape == (3, preset.features.chunk_samples) and sources.shape[:2] == (3, 2)
    start = int(np.ceil(dataset.lengths[0] * 0.25))
    assert torch.equal(mixtures[0], dataset.crop(0, start, preset.features.chunk_samples).mixture)


def test_held_out_crops_that_cannot_fit_are_refused_with_a_sentence(tiny_data):
    from audioslots.config import replace
    from audioslots.errors import DataError

    with pytest.raises(DataError, match="too short"):
        plateau.held_out_crops(LibriMix(tiny_data, "train-360"), replace(get_preset("tiny"), crop_span=0.9), n=3)


def _study(folder, speakers=()):
    """A plateau study folder with pools of 8 and 64 crops (seed 0), the stream and the given speaker counts."""
    import pandas as pd

    (folder / "logs").mkdir()
    rows = []
    settings = [(8, 0, 90, 5.0), (64, 0, 360, 1.0), (0, 0, None, -9.0), *[(0, k, 100 * k, -8.0) for k in speakers]]
    for pool, count, escape, pool_ibm in settings:
        stem = f"speakers{count}" if count else f"pool{pool}"
        pd.DataFrame({"step": [10, 20, 30], "loss": [0.05, 0.04, 0.02]}).to_csv(folder / "logs" / f"{stem}_s0.csv")
        rows.append({"pool": pool, "speakers": count, "seed": 0, "steps": 30, "escape_step": escape, "floor_step": None,
                     "loss_coarse copy": 0.04, "loss_mean of sources": 0.02, "pool_ibm": pool_ibm,
                     "pool_oracle_ibm": 10.0, "test_ibm": -10.0 + pool / 64, "held_out_ibm": -6.5 if count else None})
    pd.DataFrame(rows).to_csv(folder / "plateau.csv", index=False)
    pd.DataFrame([{"data": "mini", "distinct_crops": 1000, "exponent": 0.5, "escape_step": 1234.0, "low": 1000.0,
                   "high": 2000.0, "fitted_on": "8, 64"}]).to_csv(folder / "extrapolation.csv", index=False)


def test_plateau_figure_and_sentence_say_each_runs_escape_and_the_fits_extrapolation(tmp_path):
    from audioslots.reporting.plateau_figure import plateau_figure, plateau_sentence

    _study(tmp_path)
    figure = plateau_figure(tmp_path)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:4] == ["8 crops", "64 crops", "the stream (fresh crops)", "left the plateau, by crops"]
    text = plateau_sentence(tmp_path)
    assert "8 crops at step 90" in text and "64 crops at step 360" in text
    assert "mini (1,000 distinct crops of one chunk) at about step 1,234 (95 % band 1,000 to 2,000)" in text
    assert "the embedded data itself, it left it not within 30 steps (seed 0)." in text
    assert "8 crops +5.0 dB (Oracle +10.0); 64 crops +1.0 dB" in text
    assert "every one of these 3 runs scored between -10.0 and -9.0 dB" in text
    assert "training speakers" not in text
    (tmp_path / "extrapolation.csv").write_text("")
    assert "Too few pool sizes" in plateau_sentence(tmp_path)


def test_plateau_figure_and_sentence_add_the_speaker_counts_and_their_fit(tmp_path):
    import pandas as pd

    from audioslots.reporting.plateau_figure import plateau_figure, plateau_sentence

    _study(tmp_path, speakers=(4, 16))
    titles = [ax.get_title() for ax in plateau_figure(tmp_path).axes]
    assert titles[4:7] == ["4 speakers", "16 speakers",
                           "left the plateau, by speakers"]
    text = plateau_sentence(tmp_path)
    assert "with 4 speakers at step 400 (seed 0); 16 speakers at step 1,600 (seed 0)." in text
    assert "then on the test speakers: 4 speakers -6.5 and -10.0 dB; 16 speakers -6.5 and -10.0 dB." in text
    assert "Too few speaker counts" in text
    pd.DataFrame([{"data": "mini", "speakers": 185, "exponent": 1.0, "escape_step": 18500.0, "low": 9000.0,
                   "high": 40000.0, "fitted_on": "4, 16"}]).to_csv(tmp_path / "extrapolation_speakers.csv", index=False)
    text = plateau_sentence(tmp_path)
    assert "mini (185 training speakers) at about step 18,500 (95 % band 9,000 to 40,000)" in text
    assert "fitted on 4, 16 speakers) puts" in text and "pull its steps down" not in text
    runs = pd.read_csv(tmp_path / "plateau.csv")
    runs.loc[runs["speakers"] == 16, "escape_step"] = None  # a speaker count that never left the plateau
    runs.to_csv(tmp_path / "plateau.csv", index=False)
    assert "16 speakers not within 30 steps (seed 0)" in plateau_sentence(tmp_path)
    assert "4, 16 speakers; the runs that had not left it by their last step are not in the fit" in plateau_sentence(tmp_path)


def test_the_streams_measured_escape_is_set_against_each_fits_band_for_the_embedded_data(tmp_path):
    import pandas as pd

    from audioslots.reporting.plateau_figure import EMBEDDED, plateau_sentence

    _study(tmp_path, speakers=(4, 16))
    runs = pd.read_csv(tmp_path / "plateau.csv")
    runs.loc[(runs["pool"] == 0) & (runs["speakers"] == 0), "escape_step"] = 1500
    runs.to_csv(tmp_path / "plateau.csv", index=False)
    fit = {"exponent": 0.5, "fitted_on": "8, 64"}
    pd.DataFrame([{"data": EMBEDDED, "distinct_crops": 10000, "escape_step": 4000.0, "low": 2000.0, "high": 7000.0,
                   **fit}]).to_csv(tmp_path / "extrapolation.csv", index=False)
    pd.DataFrame([{"data": EMBEDDED, "speakers": 185, "escape_step": 1400.0, "low": 700.0, "high": 2600.0,
                   **fit}]).to_csv(tmp_path / "extrapolation_speakers.csv", index=False)
    text = plateau_sentence(tmp_path)
    assert ("it left it at step 1,500 (seed 0): below the band that the fit over pools puts on it (2,000 to 7,000); "
            "within the band that the fit over speaker counts puts on it (700 to 2,600).") in text
