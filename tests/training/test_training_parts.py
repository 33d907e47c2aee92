"""The parts of the training loop, each alone: the step, the log window and log, the non-finite guard, checkpoints."""

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from audioslots.config import ConvTasNetConfig, get_preset, replace
from audioslots.errors import CheckpointError
from audioslots.training import NonFiniteLoss, build_model, load_checkpoint, run_config, train_step
from audioslots.training.checkpoints import (Checkpointer, ResumePoint, RunFiles, as_json, preset_from_dict,
                                             resumable_view, resume, save_checkpoint)
from audioslots.training.log import LOG_COLUMNS, LogWindow, TrainingLog, read_log
from audioslots.training.nonfinite import NonFiniteGuard

ROOT = Path(__file__).resolve().parents[2]
TINY = get_preset("tiny")
CPU = torch.device("cpu")
FINITE, SKIPPED = torch.tensor(True), torch.tensor(False)


# --- train_step -------------------------------------------------------------------------------------


def _tiny_network_and_batch(seed=0):
    torch.manual_seed(seed)
    network = build_model(TINY, "audioslots", 2).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    sources = 0.1 * torch.randn(2, 2, TINY.features.chunk_samples)
    return network, optimizer, sources.sum(1), sources


def _snapshot(network, optimizer):
    return ({k: v.clone() for k, v in network.state_dict().items()},
            {i: {k: v.clone() for k, v in s.items()} for i, s in optimizer.state_dict()["state"].items()})


def test_train_step_updates_the_weights_and_returns_its_loss_and_that_it_was_taken():
    network, optimizer, mixtures, sources = _tiny_network_and_batch()
    before, _ = _snapshot(network, optimizer)
    loss, finite = train_step(network, optimizer, mixtures, sources, TINY, step=0)
    assert bool(finite) and loss.ndim == 0 and math.isfinite(float(loss))
    assert not all(torch.equal(before[k], v) for k, v in network.state_dict().items())


def test_a_non_finite_train_step_changes_no_weight_batchnorm_statistic_or_adam_moment():
    network, optimizer, mixtures, sources = _tiny_network_and_batch()
    train_step(network, optimizer, mixtures, sources, TINY, step=0)  # Adam has moments now
    weights, moments = _snapshot(network, optimizer)
    loss, finite = train_step(network, optimizer, mixtures * math.nan, sources, TINY, step=1)
    assert not bool(finite) and math.isnan(float(loss))
    assert all(torch.equal(weights[k], v) for k, v in network.state_dict().items())  # BatchNorm buffers too
    after = optimizer.state_dict()["state"]
    assert all(torch.equal(moments[i][k], after[i][k]) for i in moments for k in moments[i])


def test_train_step_clips_the_gradient_norm_when_the_preset_says_so():
    network, optimizer, mixtures, sources = _tiny_network_and_batch()
    clipped = replace(TINY, clip_grad_norm=1e-6)
    train_step(network, optimizer, mixtures, sources, clipped, step=0)
    norm = torch.nn.utils.get_total_norm([p.grad for p in network.parameters() if p.grad is not None])
    assert float(norm) == pytest.approx(1e-6, rel=1e-3)


# --- LogWindow and TrainingLog ----------------------------------------------------------------------


def test_log_row_is_the_mean_loss_of_the_steps_taken_and_counts_the_skipped_ones():
    window = LogWindow(CPU)
    for loss, finite in ((1.0, FINITE), (math.nan, SKIPPED), (3.0, FINITE)):
        window.add(torch.tensor(loss), finite)
    row = window.close(step=3, learning_rate=0.5, seconds=2.0)
    assert (row.step, row.loss, row.learning_rate, row.skipped) == (3, 2.0, 0.5, 1)
    assert row.as_csv() == {"step": 3, "loss": "2", "learning_rate": "0.5", "seconds": "2.000", "skipped": 1}


def test_log_window_starts_afresh_after_a_row():
    window = LogWindow(CPU)
    window.add(torch.tensor(5.0), FINITE)
    window.close(1, 0.1, 0.0)
    window.add(torch.tensor(1.0), FINITE)
    assert window.close(2, 0.1, 0.0).loss == 1.0


def test_log_row_of_a_window_whose_steps_were_all_skipped_has_no_loss():
    window = LogWindow(CPU)
    window.add(torch.tensor(math.inf), SKIPPED)
    row = window.close(1, 0.1, 0.0)
    assert math.isnan(row.loss) and row.skipped == 1


def test_log_window_restored_from_its_state_closes_with_the_row_of_the_uninterrupted_window():
    uninterrupted, first_half = LogWindow(CPU), LogWindow(CPU)
    for window in (uninterrupted, first_half):
        window.add(torch.tensor(0.1), FINITE)
        window.add(torch.tensor(math.nan), SKIPPED)
    restored = LogWindow(CPU, first_half.state())
    for window in (uninterrupted, restored):
        window.add(torch.tensor(0.7), FINITE)
    assert restored.close(3, 0.1, 0.0) == uninterrupted.close(3, 0.1, 0.0)


def test_training_log_keeps_the_rows_up_to_the_resumed_step_and_rewrites_the_file_at_every_row(tmp_path):
    path = tmp_path / "log.csv"
    log = TrainingLog(path, up_to_step=0)
    window = LogWindow(CPU)
    for step in (1, 2, 3):
        window.add(torch.tensor(float(step)), FINITE)
        log.append(window.close(step, 0.1, 0.0))
    resumed = TrainingLog(path, up_to_step=2)
    assert [row["step"] for row in read_log(path, 10)] == ["1", "2"]
    assert resumed.final_loss == 2.0 and resumed.skipped_here == 0


def test_training_log_that_does_not_write_keeps_this_calls_rows_only(tmp_path):
    path = tmp_path / "log.csv"
    log = TrainingLog(path, up_to_step=0, write=False)
    window = LogWindow(CPU)
    window.add(torch.tensor(1.0), SKIPPED)
    log.append(window.close(1, 0.1, 0.0))
    assert not path.exists() and math.isnan(log.final_loss) and log.skipped_here == 1


@pytest.mark.parametrize("path", sorted(ROOT.glob("results/**/log.csv")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_log_has_the_columns_the_log_writes(path):
    assert tuple(path.read_text().splitlines()[0].split(",")) == LOG_COLUMNS  # none needs a column filled in


# --- NonFiniteGuard ---------------------------------------------------------------------------------


def _steps(guard, pattern, logging=True):
    """Add steps (``x`` skipped, ``.`` taken) and return ``too_many_in_a_row`` after each."""
    answers = []
    for mark in pattern:
        guard.add(SKIPPED if mark == "x" else FINITE)
        answers.append(guard.too_many_in_a_row(logging))
    return answers


def test_guard_stops_when_the_limit_of_skipped_steps_in_a_row_is_reached():
    assert _steps(NonFiniteGuard(3, CPU), "xx.xxx") == [False, False, False, False, False, True]


def test_guard_forgets_a_run_of_skipped_steps_once_a_step_is_taken():
    assert not any(_steps(NonFiniteGuard(3, CPU), "xx.xx.xx.", logging=False))


def test_guard_that_reads_at_log_rows_only_still_catches_a_run_that_ended_in_between():
    guard = NonFiniteGuard(3, CPU)
    guard.read_every_step = False  # as on CUDA, where a read would sync
    assert _steps(guard, "xxx..", logging=False) == [False] * 5
    assert guard.too_many_in_a_row(logging=True)
    assert guard.error(step=5, run_dir=Path("RUN")).args[0].startswith(
        "The loss or gradient was not finite for 3 steps in a row (by step 5) in RUN;")
    assert not guard.too_many_in_a_row(logging=True)  # the run ended: read once


def test_guard_error_says_what_to_change():
    guard = NonFiniteGuard(1, CPU)
    _steps(guard, "x")
    assert isinstance(guard.error(1, Path("RUN")), NonFiniteLoss)
    assert all(option in str(guard.error(1, Path("RUN"))) for option in ("--lr", "--clip-grad-norm", "--autocast off"))


# --- Checkpointer -----------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _checkpointer(tmp_path, resumed=ResumePoint(), write=True, clock=None, **schedule):
    files = RunFiles(tmp_path)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.Adam(model.parameters())
    config = as_json(run_config(TINY, "audioslots", {"n_src": 2}))
    train_config = replace(TINY, **schedule).train
    return Checkpointer(files, config, train_config, model, optimizer, LogWindow(CPU), resumed, write=write,
                        clock=clock or Clock())


def _saved_steps(tmp_path, checkpointer, steps):
    saved = []
    for step in steps:
        checkpointer.after_step(step)
        if (tmp_path / "checkpoint.pt").exists():
            saved.append(load_checkpoint(tmp_path / "checkpoint.pt")["step"])
    return sorted(set(saved))


def test_checkpoints_every_checkpoint_every_steps_and_at_kept_steps_with_a_copy(tmp_path):
    checkpointer = _checkpointer(tmp_path, checkpoint_every=4, keep_checkpoints=(3,))
    assert _saved_steps(tmp_path, checkpointer, range(1, 10)) == [3, 4, 8]
    assert [p.name for p in RunFiles(tmp_path).kept_checkpoints()] == ["checkpoint_step0000003.pt"]
    assert load_checkpoint(tmp_path / "checkpoint_step0000003.pt")["step"] == 3


def test_checkpoint_holds_everything_a_resumed_run_needs(tmp_path):
    checkpointer = _checkpointer(tmp_path)
    checkpointer.save(7)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert set(state) == {"step", "config", "model", "optimizer", "rng", "window"}
    assert state["step"] == 7 and state["window"] == {"loss_sum": 0.0, "steps": 0, "skipped": 0}
    assert torch.equal(state["rng"]["torch"], torch.get_rng_state())


def test_checkpoints_by_wall_clock_minutes_since_the_last_save(tmp_path):
    clock = Clock()
    checkpointer = _checkpointer(tmp_path, clock=clock, checkpoint_every=1000, checkpoint_minutes=2.0)
    clock.now = 119.0
    assert not checkpointer.due(1)
    clock.now = 120.0
    assert checkpointer.due(2)
    checkpointer.after_step(2)
    assert not checkpointer.due(3)  # the clock starts again at the save


def test_a_step_is_saved_once(tmp_path, monkeypatch):
    import audioslots.training.checkpoints as checkpoints

    saved = []
    monkeypatch.setattr(checkpoints, "save_checkpoint", lambda path, state, **kw: saved.append(state["step"]))
    checkpointer = _checkpointer(tmp_path, checkpoint_every=2)
    checkpointer.after_step(2)
    checkpointer.save(2)  # the stop signal or the end at a scheduled step
    checkpointer.save(3)
    assert saved == [2, 3]


def test_the_checkpoint_resumed_from_is_not_saved_again(tmp_path):
    checkpointer = _checkpointer(tmp_path, resumed=ResumePoint(4, {}, tmp_path / "checkpoint.pt"))
    checkpointer.save(4)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_non_finite_weights_are_refused_and_the_earlier_checkpoint_kept(tmp_path):
    checkpointer = _checkpointer(tmp_path)
    checkpointer.save(1)
    with torch.no_grad():
        checkpointer.model[0].weight[0, 0] = math.nan
    with pytest.raises(NonFiniteLoss, match=r"Refusing to checkpoint non-finite weights \(0.weight\) at step 2"):
        checkpointer.save(2)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 1


def test_the_replaced_checkpoint_is_kept_as_the_previous(tmp_path):
    checkpointer = _checkpointer(tmp_path)
    checkpointer.save(1)
    checkpointer.save(2)
    assert load_checkpoint(tmp_path / "checkpoint.prev.pt")["step"] == 1


def test_after_falling_back_to_the_previous_checkpoint_the_unreadable_latest_is_replaced_not_kept(tmp_path):
    files = RunFiles(tmp_path)
    save_checkpoint(files.checkpoint, {"step": 2, "config": {}, "model": {}})
    files.previous_checkpoint.write_bytes(b"")  # stands for the readable previous checkpoint, step 2
    files.checkpoint.write_bytes(b"truncated")
    checkpointer = _checkpointer(tmp_path, resumed=ResumePoint(2, {}, files.previous_checkpoint))
    checkpointer.save(3)
    assert files.previous_checkpoint.read_bytes() == b""  # the unreadable one did not take its place
    checkpointer.save(4)
    assert load_checkpoint(files.previous_checkpoint)["step"] == 3


def test_a_process_that_does_not_write_keeps_the_same_schedule(tmp_path):
    clock = Clock()
    writer = _checkpointer(tmp_path / "a", clock=clock, checkpoint_minutes=1.0)
    silent = _checkpointer(tmp_path / "b", clock=clock, checkpoint_minutes=1.0, write=False)
    (tmp_path / "a").mkdir()
    for step, now in ((1, 30.0), (2, 61.0), (3, 90.0), (4, 122.0)):
        clock.now = now
        assert writer.due(step) == silent.due(step)
        writer.after_step(step)
        silent.after_step(step)
    assert writer.saved_step == silent.saved_step == 4 and not (tmp_path / "b").exists()


# --- Resuming ---------------------------------------------------------------------------------------


def test_resume_of_a_new_run_starts_at_step_zero(tmp_path):
    model = torch.nn.Linear(2, 2)
    assert resume(RunFiles(tmp_path), {}, model, torch.optim.Adam(model.parameters())) == ResumePoint()


def test_resume_restores_model_optimiser_rng_and_window(tmp_path):
    writer = _checkpointer(tmp_path)
    writer.window.add(torch.tensor(0.5), FINITE)
    writer.save(3)
    expected_rng = torch.get_rng_state()
    torch.manual_seed(123)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    point = resume(RunFiles(tmp_path), writer.config, model, torch.optim.Adam(model.parameters()))
    assert point.step == 3 and point.path == tmp_path / "checkpoint.pt" and point.window["steps"] == 1
    assert all(torch.equal(v, writer.model.state_dict()[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), expected_rng)


def test_resume_with_another_configuration_is_refused_naming_the_difference(tmp_path):
    writer = _checkpointer(tmp_path)
    writer.save(1)
    other = as_json(run_config(replace(TINY, learning_rate=0.5), "audioslots", {"n_src": 2}))
    with pytest.raises(CheckpointError, match="different configuration.*learning_rate: 0.001 in the run, 0.5 now"):
        resume(RunFiles(tmp_path), other, writer.model, writer.optimizer)


def test_options_added_since_a_run_began_take_their_defaults_when_comparing(tmp_path):
    config = as_json(run_config(TINY, "audioslots", {"n_src": 2, "root": "/here"}))
    older = as_json(config)
    del older["preset"]["train"]["max_nonfinite_steps"]
    del older["preset"]["model"]["factorised_decoder"]
    older["data"]["root"] = "/elsewhere"  # data moves between machines
    older["preset"]["train"]["num_workers"] = 7  # how a run is executed may change
    assert resumable_view(older) == resumable_view(config)


# --- Committed runs ---------------------------------------------------------------------------------


def _committed_presets() -> dict[str, dict]:
    """The stored preset of every committed run: its config.json and its provenance's train sections."""
    presets = {str(path.relative_to(ROOT)): json.loads(path.read_text())["preset"]
               for path in sorted(ROOT.glob("results/*/*/config.json"))}
    for path in sorted(ROOT.glob("results/*/provenance.json")):
        for section, record in json.loads(path.read_text()).items():
            if section.startswith("train:"):
                presets[f"{path.relative_to(ROOT)}:{section}"] = record["preset"]
    return presets


COMMITTED_PRESETS = _committed_presets()


@pytest.mark.parametrize("name", COMMITTED_PRESETS)
def test_every_committed_runs_preset_reads_back_with_the_values_it_stored(name):
    stored = COMMITTED_PRESETS[name]
    read = as_json(dataclasses.asdict(preset_from_dict(stored)))
    assert read["features"] == stored["features"]  # every run stored its STFT framing: nothing is filled in
    for part in ("model", "train", "convtasnet"):
        assert {key: read[part][key] for key in stored.get(part, {})} == stored.get(part, {})


def test_committed_runs_from_before_the_peer_read_back_with_its_default_config():
    older = [name for name, stored in COMMITTED_PRESETS.items() if "convtasnet" not in stored]
    assert older  # what preset_from_dict's default serves; the learning curve and the book read these runs
    assert all(preset_from_dict(COMMITTED_PRESETS[name]).convtasnet == ConvTasNetConfig() for name in older)
