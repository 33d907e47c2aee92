"""Shared fixtures: a tiny synthetic LibriMix-layout data set, written once per test run."""

import pytest
import torch

from audioslots.data.dataset import LibriMix
from audioslots.data.synthetic import SynthConfig, synthesize_librimix

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A few one-second two-speaker mixtures per split, in the LibriMix layout."""
    root = tmp_path_factory.mktemp("data") / "Libri2Mix"
    config = SynthConfig(
        mixtures={"train-360": 8, "dev": 2, "test": 3},
        seconds={"train-360": 1.0, "dev": 1.2, "test": 1.2},
    )
    return synthesize_librimix(root, seed=0, config=config, progress=False)


@pytest.fixture
def tiny_train(tiny_data):
    """The training split of :func:`tiny_data`, as ``train`` takes it."""
    return LibriMix(tiny_data, "train-360")
