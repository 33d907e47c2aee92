"""The reproduction's steps (audioslots.reproduce): training several runs side by side."""

import json

import torch

from audioslots.config import get_preset, replace
from audioslots.reproduce import train_runs

TINY = replace(get_preset("tiny"), steps=4)


def test_runs_trained_in_worker_processes_end_like_runs_trained_here_and_are_recorded(tiny_data, tmp_path, monkeypatch):
    names = ["audioslots_0.5s", "autoencoder_0.5s"]
    monkeypatch.setattr("os.cpu_count", lambda: 2)  # two workers of one thread each
    apart = train_runs(names, TINY, tiny_data, tmp_path / "apart", device="cpu", progress=False, jobs=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = train_runs(names, TINY, tiny_data, tmp_path / "here", device="cpu", progress=False, jobs=1)
    finally:
        torch.set_num_threads(threads)
    assert list(apart) == names
    assert [r.step for r in apart.values()] == [4, 4]
    assert [r.final_loss for r in apart.values()] == [r.final_loss for r in here.values()]
    recorded = json.loads((tmp_path / "apart" / "provenance.json").read_text())
    assert {recorded[f"train:{n}"]["steps"] for n in names} == {4}
    assert all("1 threads" in recorded[f"train:{n}"]["device"] for n in names)


def test_a_failing_run_in_a_worker_raises_its_error_here(tiny_data, tmp_path):
    import pytest

    from audioslots.errors import ConfigError

    with pytest.raises(ConfigError, match="autocast"):
        train_runs(["audioslots_0.5s", "audioslots_1s"], replace(TINY, autocast="fp8"), tiny_data, tmp_path / "run",
                   device="cpu", progress=False, jobs=2)
