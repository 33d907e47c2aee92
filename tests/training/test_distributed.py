"""Many processes, one run: batch shares, agreement on skipping and stopping, torchrun end to end."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.training.distributed import Ranks, StopSignals, batch_part, process_device, ranks_from_environment
from audioslots.errors import ConfigError
from audioslots.training import CropBatches, adam_step, count_run_flops, load_checkpoint, train

TINY = get_preset("tiny")


def test_ranks_come_from_torchrun_variables_and_default_to_one_process():
    assert ranks_from_environment({}) == Ranks(0, 1, 0)
    ranks = ranks_from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert ranks == Ranks(3, 4, 1) and ranks.distributed and not ranks.is_main


def test_batch_is_split_into_equal_contiguous_shares():
    shares = [batch_part(8, Ranks(rank, 4, rank)) for rank in range(4)]
    assert [list(range(8))[share] for share in shares] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert batch_part(8, Ranks()) == slice(0, 8)


def test_batch_that_does_not_split_evenly_is_refused_with_a_sentence():
    with pytest.raises(ConfigError, match="cannot be split evenly across 3 processes.*--batch-size"):
        batch_part(8, Ranks(0, 3, 0))


def test_shares_of_a_step_are_the_one_process_batch_whatever_the_number_of_processes(tiny_data):
    dataset = LibriMix(tiny_data, "train-360")
    whole_mixtures, whole_sources = CropBatches(dataset, 4, 800, 1, "audioslots")[5]
    for world in (2, 4):
        shares = [CropBatches(dataset, 4, 800, 1, "audioslots", batch_part(4, Ranks(r, world, r)))[5]
                  for r in range(world)]
        assert torch.equal(torch.cat([m for m, _ in shares]), whole_mixtures)
        assert torch.equal(torch.cat([s for _, s in shares]), whole_sources)


def test_cpu_device_is_kept_under_torchrun():
    assert process_device(torch.device("cpu"), Ranks(1, 2, 1)) == torch.device("cpu")


def test_fused_adam_skips_a_non_finite_step_on_the_device_and_takes_a_finite_one():
    # The CUDA path (fused Adam told found_inf, no host sync), run on the CPU's fused Adam.
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([weight], lr=0.1, fused=True)
    weight.grad = torch.ones(3)
    adam_step(optimizer, torch.tensor(True))
    after_one = (weight.detach().clone(), {k: v.clone() for k, v in optimizer.state[weight].items()})
    weight.grad = torch.full((3,), float("nan"))
    adam_step(optimizer, torch.tensor(False))
    assert torch.equal(weight.detach(), after_one[0])
    assert all(torch.equal(optimizer.state[weight][k], v) for k, v in after_one[1].items())
    assert float(optimizer.state[weight]["step"]) == 1.0


def test_stop_signals_are_remembered_and_the_previous_handlers_restored():
    before = signal.getsignal(signal.SIGUSR1)
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.received == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) is before


def _log(run_dir):
    import pandas as pd

    return pd.read_csv(run_dir / "log.csv")


def _logged_steps(run_dir) -> int:
    try:
        return len((run_dir / "log.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc: torchrun starts its workers in their own sessions)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _kill_job(process: subprocess.Popen) -> None:
    """SIGKILL torchrun and its training processes, as a cluster kills a job."""
    for pid in [*_descendants(process.pid), process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


@pytest.mark.slow  # about 40 s on 2 cores; part of the default run
def test_torchrun_two_processes_kill_9_and_rerun_end_at_step_40_close_to_one_process(tiny_data, tiny_train, tmp_path):
    run_dir = tmp_path / "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "audioslots", "train", "--preset", "tiny", "--data", str(tiny_data), "--out", str(run_dir),
               "--steps", "40", "--device", "cpu", "--no-progress"]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and job.poll() is None:
        if (run_dir / "checkpoint.pt").exists() and _logged_steps(run_dir) >= 5:
            _kill_job(job)
            break
        time.sleep(0.01)
    job.wait()
    assert job.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    killed_at = load_checkpoint(run_dir / "checkpoint.pt")["step"]
    assert killed_at < 40

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.stdout.count("Trained audioslots to step 40") == 1  # rank 0 alone reports
    assert {p.name for p in run_dir.iterdir()} == {"checkpoint.pt", "checkpoint.prev.pt", "config.json", "log.csv",
                                                   "flops.json"}
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == 40
    log = _log(run_dir)
    assert list(log["step"]) == list(range(1, 41))

    one_process = train(replace(TINY, steps=40), tiny_train, tmp_path / "one", device="cpu", progress=False)
    # Each process normalises its own crops on the CPU (no SyncBatchNorm), so close, not equal.
    assert log["loss"].iloc[-1] == pytest.approx(one_process.final_loss, rel=0.02)
    # A step's FLOPs are both processes' together: each trains on one of the batch's two crops.
    flops = json.loads((run_dir / "flops.json").read_text())
    share = count_run_flops(load_checkpoint(run_dir / "checkpoint.pt")["config"], batch_size=1)
    assert flops["processes"] == 2 and flops["flop_per_step"] == 2 * share
