"""Conv-TasNet, the waveform peer: its PIT loss, training that resumes exactly, evaluation on
whole mixtures, separation from the command line, and its rows of Table 1."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from audioslots import convtasnet, provenance
from audioslots.cli import main
from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint, load_metrics
from audioslots.features import chunk
from audioslots.loss import matched_neg_si_snr
from audioslots.pipeline import evaluate_runs, train_runs, write_table1
from audioslots.reporting.tables import table1_beside_paper
from audioslots.runs import ROWS, EvalSpec
from audioslots.training import count_run_flops, load_checkpoint, load_model, train, training_crops

TINY = get_preset("tiny")
PEER_LABEL = ROWS[("ConvTasNet", convtasnet.WHOLE)]


def _si_snr_reference(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SI-SNR in dB by Le Roux et al.'s definition, written out in float64 NumPy."""
    estimate, reference = estimate - estimate.mean(), reference - reference.mean()
    target = (estimate @ reference) / (reference @ reference) * reference
    return 10 * np.log10((target @ target) / ((estimate - target) @ (estimate - target)))


@pytest.mark.parametrize("n_src", [2, 3])
def test_pit_si_snr_loss_is_minus_the_best_mean_si_snr_over_all_permutations(n_src):
    generator = torch.Generator().manual_seed(n_src)
    target = torch.randn(5, n_src, 400, generator=generator)
    shuffled = torch.stack([t[torch.randperm(n_src, generator=generator)] for t in target])
    pred = (shuffled + 0.7 * torch.randn(5, n_src, 400, generator=generator)).requires_grad_()
    loss, perm = matched_neg_si_snr(pred, target)

    p, t = pred.detach().double().numpy(), target.double().numpy()
    best = [max(np.mean([_si_snr_reference(p[b, order[j]], t[b, j]) for j in range(n_src)])
                for order in itertools.permutations(range(n_src))) for b in range(len(t))]
    assert loss.item() == pytest.approx(-np.mean(best), abs=1e-4)
    assert all(sorted(row.tolist()) == list(range(n_src)) for row in perm)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_peer_batch_holds_the_audio_of_an_audioslots_batch_in_its_own_crops():
    for name in ("paper", "cpu", "tiny"):
        preset = get_preset(name)
        crops, samples = training_crops(preset, "convtasnet")
        slots_crops, slots_samples = training_crops(preset, "audioslots")
        assert samples == round(preset.convtasnet.crop_seconds * preset.features.sample_rate)
        assert abs(crops * samples - slots_crops * slots_samples) <= samples / 2  # up to a whole crop's rounding


def _log(run_dir):
    return pd.read_csv(run_dir / "log.csv")


def test_peer_run_stopped_and_resumed_ends_exactly_like_an_uninterrupted_one(tiny_train, tmp_path):
    preset = replace(TINY, steps=6)
    full = train(preset, tiny_train, tmp_path / "full", kind="convtasnet", progress=False)
    train(preset, tiny_train, tmp_path / "resumed", kind="convtasnet", progress=False, stop_after=3)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 3
    resumed = train(preset, tiny_train, tmp_path / "resumed", kind="convtasnet", progress=False)
    assert resumed.step == full.step == 6
    assert _log(tmp_path / "resumed")["loss"].tolist() == _log(tmp_path / "full")["loss"].tolist()
    weights = [load_checkpoint(tmp_path / run / "checkpoint.pt")["model"] for run in ("full", "resumed")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    model, config = load_model(tmp_path / "full" / "checkpoint.pt")
    assert config["model_kind"] == "convtasnet" and isinstance(model, torch.nn.Module) and not model.training


def test_peer_run_records_the_flops_of_its_own_step(tiny_train, tmp_path):
    result = train(replace(TINY, steps=1), tiny_train, tmp_path / "run", kind="convtasnet", progress=False)
    config = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["config"]
    assert result.flop_per_step > 0
    assert count_run_flops(config) == result.flop_per_step
    assert count_run_flops({**config, "model_kind": "audioslots"}) != result.flop_per_step


def test_run_from_before_the_peer_existed_resumes(tiny_train, tmp_path):
    preset = replace(TINY, steps=4)
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=2)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["config"]["preset"]["convtasnet"]
    torch.save(state, path)
    assert train(preset, tiny_train, tmp_path / "run", progress=False).step == 4


class _Replay(torch.nn.Module):
    """A stand-in network that answers every chunk with the true sources of that chunk, in a swapped order."""

    def __init__(self, sources: torch.Tensor, chunk_samples: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.chunks = chunk(sources, chunk_samples).transpose(0, 1)  # (n_chunks, n_src, chunk)
        self.calls = []

    def forward(self, x):
        self.calls.append(tuple(x.shape))
        if x.shape[0] == 1:
            return torch.zeros(1, self.chunks.shape[1], x.shape[-1])
        return torch.stack([c.roll(k, dims=0) for k, c in enumerate(self.chunks)])


def test_whole_mixture_is_one_pass_and_chunks_are_put_in_the_ground_truth_order():
    generator = torch.Generator().manual_seed(0)
    sources = torch.randn(2, 1000, generator=generator)
    model = _Replay(sources, 300)
    whole = convtasnet.separate(model, sources.sum(0))
    assert model.calls == [(1, 1, 1000)] and whole.shape == (2, 1000)
    chunked = convtasnet.separate(model, sources.sum(0), chunk_samples=300, sources=sources)
    assert model.calls[-1] == (4, 1, 300)
    assert torch.allclose(chunked, sources)


@pytest.fixture(scope="module")
def peer_run(tiny_data, tmp_path_factory):
    """A run folder holding a tiny trained peer and its metrics, made by the reproduction's own steps."""
    run_dir = tmp_path_factory.mktemp("peer_run")
    train_runs(["convtasnet"], TINY, tiny_data, run_dir, device="cpu", progress=False, jobs=1)
    evaluate_runs([EvalSpec("Oracle", 0.5), EvalSpec("ConvTasNet", convtasnet.WHOLE), EvalSpec("ConvTasNet", 0.5)],
                  tiny_data, run_dir, device="cpu", progress=False)
    return run_dir


def test_peer_is_scored_on_whole_mixtures_without_a_mask(tiny_data, peer_run):
    dataset = LibriMix(tiny_data, "test")
    metrics = evaluate_checkpoint(peer_run / "convtasnet" / "checkpoint.pt", dataset, progress=False)
    assert len(metrics) == len(dataset)
    assert set(metrics["system"]) == {"ConvTasNet"} and set(metrics["mask"]) == {convtasnet.NO_MASK}
    assert set(metrics["chunk_seconds"]) == {convtasnet.WHOLE} and set(metrics["framing"]) == {convtasnet.NO_FRAMING}
    assert np.isfinite(metrics[["si_snr", "si_snri"]].to_numpy()).all()
    chunked = evaluate_checkpoint(peer_run / "convtasnet" / "checkpoint.pt", dataset, chunk_seconds=0.5, progress=False)
    assert set(chunked["chunk_seconds"]) == {0.5} and set(chunked["mask"]) == {convtasnet.NO_MASK}


def test_the_provenance_records_the_preset_the_peer_trained_with(peer_run):
    recorded = provenance.load(peer_run)["train:convtasnet"]["preset"]
    assert recorded == json.loads((peer_run / "convtasnet" / "config.json").read_text())["preset"]


def test_peer_rows_of_table1_are_labelled_and_show_no_mask_and_no_paper_value(peer_run):
    summary = write_table1(peer_run)
    peer = summary[summary["system"] == "ConvTasNet"]
    assert set(peer["label"]) == {PEER_LABEL, ROWS[("ConvTasNet", 0.5)]}
    assert PEER_LABEL == "Conv-TasNet (not in the paper; same data, same training budget)"
    assert set(peer["mask"]) == {convtasnet.NO_MASK}

    table = table1_beside_paper(load_metrics(peer_run), "results/paper_table1.csv")
    row = table.loc[PEER_LABEL]
    assert (row.xs("paper", level=2) == "—").all()
    assert (row.xs("none (waveform)", level=1).xs("ours", level=1) != "—").all()
    assert (row.xs("IBM", level=1) == "—").all() and (row.xs("Wiener-like", level=1) == "—").all()
    assert (table.loc["Oracle"].xs("none (waveform)", level=1) == "—").all()
    assert (table.loc["Oracle"].xs("IBM", level=1).xs("ours", level=1) != "—").all()


def test_separate_command_works_with_a_peer_checkpoint(tiny_data, peer_run, tmp_path, capsys):
    mixture = next((tiny_data / "wav16k" / "min" / "test" / "mix_clean").glob("*.wav"))
    code = main(["separate", str(mixture), "--checkpoint", str(peer_run / "convtasnet" / "checkpoint.pt"),
                 "--out-dir", str(tmp_path / "sep")])
    assert code == 0, capsys.readouterr().err
    written = sorted((tmp_path / "sep").glob("*.wav"))
    assert len(written) == 2 and all(sf.info(w).frames == sf.info(mixture).frames for w in written)


def test_peer_run_killed_mid_way_and_restarted_ends_like_an_uninterrupted_one(tiny_data, tmp_path):
    """SIGKILL (no chance to checkpoint at the kill): the re-run resumes from the last checkpoint, exactly."""
    import signal

    from test_train import CLI_ENV, _log, _start_and_signal

    command = [sys.executable, "-m", "audioslots", "train", "--preset", "tiny", "--steps", "40", "--no-progress",
               "--model", "convtasnet", "--data", str(tiny_data)]
    subprocess.run(command + ["--out", str(tmp_path / "whole")], check=True, env=CLI_ENV, capture_output=True)
    process = _start_and_signal(command, tmp_path / "killed", signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    subprocess.run(command + ["--out", str(tmp_path / "killed")], check=True, env=CLI_ENV, capture_output=True)
    assert _log(tmp_path / "killed")["loss"].tolist() == _log(tmp_path / "whole")["loss"].tolist()
