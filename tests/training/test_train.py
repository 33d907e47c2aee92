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
from audioslots.training import NonFiniteLoss, learning_rate, load_checkpoint, load_model, train

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


def test_training_crops_batch_seconds_of_audio_per_step(tiny_train, tmp_path, monkeypatch):
    import audioslots.training.loop as loop

    sizes = []

    class Recording(loop.CropBatches):
        def __init__(self, dataset, batch_size, *args):
            sizes.append(batch_size)
            super().__init__(dataset, batch_size, *args)

    monkeypatch.setattr(loop, "CropBatches", Recording)
    train(replace(TINY, batch_seconds=1.0, chunk_seconds=0.25, steps=1), tiny_train, tmp_path / "run", progress=False)
    assert sizes == [4]


def test_autoencoder_batch_is_every_source_of_the_separation_batch(tiny_data):
    from audioslots.data.dataset import LibriMix
    from audioslots.training import CropBatches

    dataset = LibriMix(tiny_data, "train-360")
    mixtures, sources = CropBatches(dataset, 3, 800, seed=1, kind="audioslots")[7]
    inputs, targets = CropBatches(dataset, 3, 800, seed=1, kind="autoencoder")[7]
    assert mixtures.shape == (3, 800) and sources.shape == (3, 2, 800)
    assert inputs.shape == (6, 800) and targets.shape == (6, 1, 800)
    assert torch.equal(inputs, sources.reshape(6, 800)) and torch.equal(targets[:, 0], inputs)


def test_training_writes_log_with_step_and_loss_and_a_loadable_checkpoint(tiny_train, tmp_path):
    result = train(TINY, tiny_train, tmp_path / "run", progress=False)
    log = _log(tmp_path / "run")
    assert list(log["step"]) == list(range(1, TINY.train.steps + 1))
    assert result.step == TINY.train.steps and math.isfinite(result.final_loss)
    model, config = load_model(tmp_path / "run" / "checkpoint.pt")
    assert config["model_kind"] == "audioslots" and model.training is False


def test_kept_checkpoints_are_the_weights_of_their_step_and_do_not_block_resuming(tiny_train, tmp_path):
    run = tmp_path / "run"
    preset = replace(TINY, steps=6, keep_checkpoints=(1, 3))
    train(preset, tiny_train, run, progress=False, stop_after=3)
    at_three = load_checkpoint(run / "checkpoint.pt")["model"]
    train(preset, tiny_train, run, progress=False)  # resumes to the end
    kept = sorted(p.name for p in run.glob("checkpoint_step*.pt"))
    assert kept == ["checkpoint_step0000001.pt", "checkpoint_step0000003.pt"]
    assert load_checkpoint(run / "checkpoint_step0000001.pt")["step"] == 1
    saved = load_checkpoint(run / "checkpoint_step0000003.pt")
    assert saved["step"] == 3
    assert all(torch.equal(saved["model"][k], v) for k, v in at_three.items())
    train(replace(preset, keep_checkpoints=(2,)), tiny_train, run, progress=False)  # an execution option only


def test_interrupted_run_resumed_with_the_same_call_ends_with_the_same_loss(tiny_train, tmp_path):
    preset = replace(TINY, steps=8)
    full = train(preset, tiny_train, tmp_path / "full", progress=False)
    train(preset, tiny_train, tmp_path / "resumed", progress=False, stop_after=4)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 4
    resumed = train(preset, tiny_train, tmp_path / "resumed", progress=False)
    assert resumed.final_loss == full.final_loss
    assert _log(tmp_path / "resumed")["loss"].tolist() == _log(tmp_path / "full")["loss"].tolist()


CLI_COMMAND = [sys.executable, "-m", "audioslots", "train", "--preset", "tiny", "--steps", "60", "--no-progress",
               "--model", "autoencoder"]
CLI_ENV = dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def uninterrupted_cli_run(tiny_data, tmp_path_factory):
    """The log of a 60-step CLI run that nothing interrupted."""
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    subprocess.run(CLI_COMMAND + ["--data", str(tiny_data), "--out", str(run_dir)], check=True, env=CLI_ENV,
                   capture_output=True)
    return _log(run_dir)


def _logged_steps(run_dir) -> int:
    try:
        return len((run_dir / "log.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def _start_and_signal(command, run_dir, signum) -> subprocess.Popen:
    """Start a CLI run and send it ``signum`` once it has checkpointed and logged 5 steps."""
    process = subprocess.Popen(command + ["--out", str(run_dir)], env=CLI_ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (run_dir / "checkpoint.pt").exists() and _logged_steps(run_dir) >= 5:
            process.send_signal(signum)
            break
        time.sleep(0.01)
    return process


def test_run_killed_mid_way_and_restarted_ends_like_an_uninterrupted_run(tiny_data, tmp_path, uninterrupted_cli_run):
    command = CLI_COMMAND + ["--data", str(tiny_data)]
    killed_dir = tmp_path / "killed"
    process = _start_and_signal(command, killed_dir, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert load_checkpoint(killed_dir / "checkpoint.pt")["step"] < 60

    subprocess.run(command + ["--out", str(killed_dir)], check=True, env=CLI_ENV, capture_output=True)
    assert _log(killed_dir)["loss"].iloc[-1] == uninterrupted_cli_run["loss"].iloc[-1]


def test_sigterm_checkpoints_the_step_it_was_at_and_rerun_ends_like_an_uninterrupted_run(
        tiny_data, tmp_path, uninterrupted_cli_run):
    command = CLI_COMMAND + ["--data", str(tiny_data)]
    run_dir = tmp_path / "preempted"
    process = _start_and_signal(command, run_dir, signal.SIGTERM)
    _, stderr = process.communicate()
    assert process.returncode == 128 + signal.SIGTERM, "the run finished before it could be stopped"
    assert "Stopped by SIGTERM" in stderr and "re-run the same command to resume" in stderr
    assert "Traceback" not in stderr
    stopped_at = load_checkpoint(run_dir / "checkpoint.pt")["step"]
    assert 5 <= stopped_at < 60 and _log(run_dir)["step"].iloc[-1] == stopped_at

    subprocess.run(command + ["--out", str(run_dir)], check=True, env=CLI_ENV, capture_output=True)
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == 60
    assert _log(run_dir)["loss"].tolist() == uninterrupted_cli_run["loss"].tolist()


def test_resuming_with_another_configuration_is_refused_and_leaves_the_checkpoint_alone(tiny_train, tmp_path):
    train(TINY, tiny_train, tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="different configuration.*learning_rate"):
        train(replace(TINY, learning_rate=0.5), tiny_train, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_truncated_checkpoint_gives_a_clear_error(tiny_train, tmp_path):
    train(TINY, tiny_train, tmp_path / "run", progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_model(path)


def test_a_shipped_finished_network_is_smaller_separates_the_same_and_is_found_finished(tiny_train, tmp_path):
    from audioslots.training import ship_checkpoint

    result = train(TINY, tiny_train, tmp_path / "run", progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    full = load_checkpoint(path)
    size = path.stat().st_size
    assert ship_checkpoint(path) == size - path.stat().st_size > size / 2  # Adam keeps two tensors per weight
    shipped = load_checkpoint(path)
    assert "optimizer" not in shipped and shipped["step"] == full["step"]
    assert all(torch.equal(shipped["model"][k], v) for k, v in full["model"].items())
    assert load_model(path)[0] is not None
    again = train(TINY, tiny_train, tmp_path / "run", progress=False)
    assert again.step == result.step and again.final_loss == result.final_loss
    assert load_checkpoint(path).keys() == shipped.keys()  # not rewritten with an optimiser
    assert ship_checkpoint(path) == 0


def test_a_network_still_training_is_not_shipped_and_one_without_optimiser_does_not_resume(tiny_train, tmp_path):
    from audioslots.training import save_checkpoint, ship_checkpoint

    preset = replace(TINY, steps=6)
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=3)
    path = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(CheckpointError, match="step 3 of 6"):
        ship_checkpoint(path)
    state = load_checkpoint(path)
    del state["optimizer"]
    save_checkpoint(path, state, keep_previous=False)
    with pytest.raises(CheckpointError, match="cannot resume training"):
        train(preset, tiny_train, tmp_path / "run", progress=False)


def test_the_ship_script_ships_finished_networks_and_refuses_one_still_training(tiny_train, tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "ship_checkpoint", Path(__file__).resolve().parents[2] / "scripts" / "ship_checkpoint.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    train(replace(TINY, steps=4), tiny_train, tmp_path / "done", progress=False)
    train(replace(TINY, steps=4), tiny_train, tmp_path / "half", progress=False, stop_after=2)
    assert script.main([str(tmp_path / "done")]) == 0
    assert script.main([str(tmp_path / "done")]) == 0
    assert script.main([str(tmp_path / "half")]) == 1
    out, err = capsys.readouterr()
    assert "MB of optimiser state dropped" in out and "already shipped" in out
    assert "step 2 of 4" in err and "optimizer" in load_checkpoint(tmp_path / "half" / "checkpoint.pt")


def test_checkpoint_holding_arbitrary_objects_is_not_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": object(), "model": {}}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_autoencoder_has_one_slot_and_learns_from_single_sources(tiny_train, tmp_path):
    train(TINY, tiny_train, tmp_path / "ae", kind="autoencoder", progress=False)
    model, config = load_model(tmp_path / "ae" / "checkpoint.pt")
    assert config["model_kind"] == "autoencoder" and model.config.n_slots == 1


def _inject_nan_inputs(monkeypatch, nan_steps):
    """Make the input spectrograms of the steps in ``nan_steps`` (0-based, counted over calls) all NaN.

    The network's output is then NaN, its BatchNorm statistics too, and so are the loss and the
    gradient. scipy's Hungarian solver refuses NaN costs, so those steps are scored unmatched.
    """
    import audioslots.kinds as kinds
    import audioslots.training.step_flops as step_flops

    spectrogram_calls, loss_calls = iter(range(10**6)), iter(range(10**6))
    real_spectrogram, real_loss = kinds.spectrogram, kinds.matched_mse

    def spectrogram(waveforms, features):
        out = real_spectrogram(waveforms, features)
        call = next(spectrogram_calls)  # two calls per step: the inputs, then the targets
        return out * math.nan if call % 2 == 0 and call // 2 in nan_steps else out

    def matched_mse(pred, target):
        if next(loss_calls) in nan_steps:
            return (pred - target).square().mean(), None
        return real_loss(pred, target)

    monkeypatch.setattr(kinds, "spectrogram", spectrogram)
    monkeypatch.setattr(kinds, "matched_mse", matched_mse)
    monkeypatch.setattr(step_flops, "count_step_flops", lambda *args, **kwargs: 0)  # calls are counted over training steps only


def test_non_finite_steps_are_skipped_logged_and_leave_weights_and_batchnorm_untouched(tiny_train, tmp_path, monkeypatch):
    _inject_nan_inputs(monkeypatch, {2, 3})  # steps 3 and 4
    preset = replace(TINY, steps=8)
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=2)
    before = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=4)
    after = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert after["step"] == 4
    assert all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])  # BatchNorm too
    moments = [(i, k) for i, group in before["optimizer"]["state"].items() for k in group]
    assert all(torch.equal(before["optimizer"]["state"][i][k], after["optimizer"]["state"][i][k]) for i, k in moments)

    result = train(preset, tiny_train, tmp_path / "run", progress=False)
    log = _log(tmp_path / "run")
    assert log["skipped"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0] and log["loss"][2:4].isna().all()
    assert result.step == 8 and math.isfinite(result.final_loss)
    assert all(torch.isfinite(t).all() for t in load_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"].values())


def test_non_finite_steps_in_a_row_stop_the_run_with_a_sentence_and_a_finite_checkpoint(tiny_train, tmp_path, monkeypatch):
    _inject_nan_inputs(monkeypatch, set(range(2, 100)))
    with pytest.raises(NonFiniteLoss, match="not finite for 3 steps in a row.*--lr"):
        train(replace(TINY, steps=8, max_nonfinite_steps=3), tiny_train, tmp_path / "run", progress=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 4 and all(torch.isfinite(t).all() for t in state["model"].values())
    assert _log(tmp_path / "run")["skipped"].tolist() == [0, 0, 1, 1, 1]


def test_unreadable_latest_checkpoint_falls_back_to_the_previous_with_a_warning(tiny_train, tmp_path):
    preset = replace(TINY, steps=8)  # a checkpoint every 2 steps
    full = train(preset, tiny_train, tmp_path / "full", progress=False)
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=4)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.prev.pt")["step"] == 2
    latest = tmp_path / "run" / "checkpoint.pt"
    latest.write_bytes(latest.read_bytes()[:100])
    with pytest.warns(UserWarning, match="cannot be read.*previous checkpoint.*step 2"):
        resumed = train(preset, tiny_train, tmp_path / "run", progress=False)
    assert resumed.step == 8 and resumed.final_loss == full.final_loss
    assert _log(tmp_path / "run")["loss"].tolist() == _log(tmp_path / "full")["loss"].tolist()


def test_no_readable_checkpoint_left_is_a_clear_error(tiny_train, tmp_path):
    train(replace(TINY, steps=4), tiny_train, tmp_path / "run", progress=False)
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (tmp_path / "run" / name).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="No readable checkpoint.*delete the folder"):
        train(replace(TINY, steps=4), tiny_train, tmp_path / "run", progress=False)


def test_checkpoint_minutes_adds_checkpoints_by_wall_clock_time(tiny_train, tmp_path, monkeypatch):
    import audioslots.training.checkpoints as checkpoints

    saved = []
    real = checkpoints.save_checkpoint
    monkeypatch.setattr(checkpoints, "save_checkpoint", lambda path, state, **kw: (saved.append(state["step"]),
                                                                                 real(path, state, **kw)))
    train(replace(TINY, steps=4, checkpoint_every=1000, checkpoint_minutes=1e-9), tiny_train, tmp_path / "run",
          progress=False)
    assert saved == [1, 2, 3, 4]


def test_run_from_before_the_new_training_options_resumes_with_their_defaults(tiny_train, tmp_path):
    preset = replace(TINY, steps=4)
    train(preset, tiny_train, tmp_path / "run", progress=False, stop_after=2)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    for name in ("checkpoint_minutes", "clip_grad_norm", "max_nonfinite_steps", "autocast", "dynamic_mixing"):
        del state["config"]["preset"]["train"][name]
    torch.save(state, path)
    assert train(preset, tiny_train, tmp_path / "run", progress=False).step == 4
    assert _log(tmp_path / "run")["skipped"].tolist() == [0, 0, 0, 0]


def test_clip_grad_norm_and_bf16_autocast_on_cpu_train(tiny_train, tmp_path):
    result = train(replace(TINY, steps=2, clip_grad_norm=0.1, autocast="bf16"), tiny_train, tmp_path / "run",
                   device="cpu", progress=False)
    assert result.step == 2 and math.isfinite(result.final_loss)


def test_unknown_autocast_is_refused_with_the_choices(tiny_train, tmp_path):
    from audioslots.errors import ConfigError

    with pytest.raises(ConfigError, match="autocast 'fp8'.*auto, bf16, off"):
        train(replace(TINY, autocast="fp8"), tiny_train, tmp_path / "run", progress=False)


# The paper preset's structure, schedule and options (ResNet-34 blocks at stride 1, 4096-wide slots,
# attention 512, bf16 autocast, the full grid decoded) at a shape that trains in seconds: chunks of
# 1 000 samples (8 frames instead of 64), a ResNet of width 16 and a decoder of width 128. A CPU
# without bf16 instructions emulates bf16 products, which made two full-size steps take minutes.
PAPER_AT_TEST_SHAPE = {"chunk_seconds": 0.0625, "resnet_width": 16, "decoder_hidden": 128}


def test_paper_preset_trains_in_bf16_on_cpu_resumes_and_separates_a_chunk(tiny_data, tiny_train, tmp_path):
    from audioslots.config import features_from_dict
    from audioslots.data.dataset import LibriMix
    from audioslots.separate import predict

    paper = replace(get_preset("paper"), batch_size=2, steps=2, autocast="bf16", num_workers=0, log_every=1,
                    checkpoint_every=1, **PAPER_AT_TEST_SHAPE)
    assert replace(paper, resnet_width=64, decoder_hidden=512).model == get_preset("paper").model
    train(paper, tiny_train, tmp_path / "paper", device="cpu", progress=False, stop_after=1)
    assert load_checkpoint(tmp_path / "paper" / "checkpoint.pt")["step"] == 1
    result = train(paper, tiny_train, tmp_path / "paper", device="cpu", progress=False)
    assert result.step == 2 and math.isfinite(result.final_loss)

    model, config = load_model(tmp_path / "paper" / "checkpoint.pt")
    features = features_from_dict(config["preset"]["features"])
    mixture = LibriMix(tiny_data, "test")[0].mixture[: features.chunk_samples]
    estimate = predict(model, mixture[None], features)
    assert estimate.shape == (1, 2, features.n_freq, features.n_frames) and torch.isfinite(estimate).all()
