"""Training: schedule, resumption that loses nothing, refusal to mix configurations."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from audioslots.config import get_preset, replace
from audioslots.errors import CheckpointError
from audioslots.train import learning_rate, load_checkpoint, load_model, train

TINY = get_preset("tiny")


def _log(run_dir):
    import pandas as pd

    return pd.read_csv(run_dir / "log.csv")


def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_zero():
    cfg = replace(TINY, learning_rate=1.0, warmup_steps=10, steps=110).train
    warm = [learning_rate(s, cfg) for s in range(10)]
    assert warm == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(60, cfg) == pytest.approx(0.5)  # half way through the decay
    assert learning_rate(110, cfg) == pytest.approx(0.0, abs=1e-12)
    decay = [learning_rate(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))



def test_batch_seconds_keeps_the_audio_per_batch_whatever_the_chunk_length():
    cfg = replace(TINY, batch_size=5, batch_seconds=8.0).train
    assert [cfg.batch_for(c) for c in (0.5, 1.0, 4.0, 100.0)] == [16, 8, 2, 1]
    assert replace(TINY, batch_size=5).train.batch_for(1.0) == 5  # batch_seconds unset: batch_size


def test_training_crops_batch_seconds_of_audio_per_step(tiny_data, tmp_path, monkeypatch):
    import audioslots.train as training

    sizes = []

    class Recording(training.CropBatches):
        def __init__(self, dataset, batch_size, *args):
            sizes.append(batch_size)
            super().__init__(dataset, batch_size, *args)

    monkeypatch.setattr(training, "CropBatches", Recording)
    train(replace(TINY, batch_seconds=1.0, chunk_seconds=0.25, steps=1), tiny_data, tmp_path / "run", progress=False)
    assert sizes == [4]


def test_autoencoder_batch_is_every_source_of_the_separation_batch(tiny_data):
    from audioslots.data import LibriMix
    from audioslots.train import CropBatches

    dataset = LibriMix(tiny_data, "train-360")
    mixtures, sources = CropBatches(dataset, 3, 800, seed=1, kind="audioslots")[7]
    inputs, targets = CropBatches(dataset, 3, 800, seed=1, kind="autoencoder")[7]
    assert mixtures.shape == (3, 800) and sources.shape == (3, 2, 800)
    assert inputs.shape == (6, 800) and targets.shape == (6, 1, 800)
    assert torch.equal(inputs, sources.reshape(6, 800)) and torch.equal(targets[:, 0], inputs)


def test_training_writes_log_with_step_and_loss_and_a_loadable_checkpoint(tiny_data, tmp_path):
    result = train(TINY, tiny_data, tmp_path / "run", progress=False)
    log = _log(tmp_path / "run")
    assert list(log["step"]) == list(range(1, TINY.train.steps + 1))
    assert result.step == TINY.train.steps and math.isfinite(result.final_loss)
    model, config = load_model(tmp_path / "run" / "checkpoint.pt")
    assert config["model_kind"] == "audioslots" and model.training is False


def test_interrupted_run_resumed_with_the_same_call_ends_with_the_same_loss(tiny_data, tmp_path):
    preset = replace(TINY, steps=8)
    full = train(preset, tiny_data, tmp_path / "full", progress=False)
    train(preset, tiny_data, tmp_path / "resumed", progress=False, stop_after=4)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 4
    resumed = train(preset, tiny_data, tmp_path / "resumed", progress=False)
    assert resumed.final_loss == full.final_loss
    assert _log(tmp_path / "resumed")["loss"].tolist() == _log(tmp_path / "full")["loss"].tolist()


def test_run_killed_mid_way_and_restarted_ends_like_an_uninterrupted_run(tiny_data, tmp_path):
    command = [sys.executable, "-m", "audioslots", "train", "--data", str(tiny_data), "--preset", "tiny",
               "--steps", "60", "--no-progress", "--model", "autoencoder"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(command + ["--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(command + ["--out", str(killed_dir)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (killed_dir / "checkpoint.pt").exists() and len(_log(killed_dir)) >= 5:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert load_checkpoint(killed_dir / "checkpoint.pt")["step"] < 60

    subprocess.run(command + ["--out", str(killed_dir)], check=True, env=env, capture_output=True)
    assert _log(killed_dir)["loss"].iloc[-1] == _log(tmp_path / "full")["loss"].iloc[-1]


def test_resuming_with_another_configuration_is_refused_and_leaves_the_checkpoint_alone(tiny_data, tmp_path):
    train(TINY, tiny_data, tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="different configuration.*learning_rate"):
        train(replace(TINY, learning_rate=0.5), tiny_data, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_truncated_checkpoint_gives_a_clear_error(tiny_data, tmp_path):
    train(TINY, tiny_data, tmp_path / "run", progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_model(path)


def test_checkpoint_holding_arbitrary_objects_is_not_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": object(), "model": {}}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_autoencoder_has_one_slot_and_learns_from_single_sources(tiny_data, tmp_path):
    train(TINY, tiny_data, tmp_path / "ae", kind="autoencoder", progress=False)
    model, config = load_model(tmp_path / "ae" / "checkpoint.pt")
    assert config["model_kind"] == "autoencoder" and model.config.n_slots == 1
