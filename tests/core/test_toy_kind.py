"""A kind of system is one object: a kind defined here, outside the library, is trained by the library's
loop, scored by its evaluation and given a row of Table 1 once it is registered, with no library edit."""

import numpy as np
import pytest
import torch

from audioslots.config import get_preset
from audioslots.data.dataset import LibriMix
from audioslots.errors import ConfigError
from audioslots.kinds import Kind, kind_of, register, system_kind, unregister
from audioslots.pipeline import evaluate_runs, write_table1
from audioslots.runs import NO_ORACLE_ORDER, EvalSpec, row_label
from audioslots.training import load_checkpoint, load_model, train

TINY = get_preset("tiny")


class ScaledMixture(torch.nn.Module):
    """One learned gain per slot times the mixture's compressed magnitudes: ``(batch, freq, frames)`` →
    ``(batch, n_src, freq, frames)``; with ``cells``, only those cells of the grid, ``(batch, n_src, K, 1)``."""

    def __init__(self, n_src: int):
        super().__init__()
        self.gains = torch.nn.Parameter(torch.linspace(0.4, 0.6, n_src))

    def forward(self, features: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        out = self.gains[:, None, None] * features[:, None]  # (batch, n_src, freq, frames)
        return out if cells is None else out.flatten(-2)[..., cells, None]


class ScaledMixtureKind(Kind):
    """A network of the paper's pipeline whose every slot is a scaled copy of the mixture: it says only how its
    network is built; training, scoring and rows are the library's."""

    def build(self, preset, n_src):
        return ScaledMixture(n_src)


TOY = ScaledMixtureKind("toy", "Toy", rows={0.5: "Toy (a scaled mixture per slot)"})


@pytest.fixture(scope="module")
def toy():
    """:data:`TOY`, registered while this module's tests run."""
    register(TOY)
    yield TOY
    unregister(TOY.name)


@pytest.fixture(scope="module")
def toy_run(toy, tiny_data, tmp_path_factory):
    """A run folder with the toy network trained by ``train`` and scored by ``evaluate_runs``."""
    run_dir = tmp_path_factory.mktemp("toy_run")
    train(TINY, LibriMix(tiny_data, "train-360"), run_dir / toy.run_name(0.5), kind=toy.name, device="cpu",
          progress=False)
    evaluate_runs([EvalSpec(toy.system, 0.5)], tiny_data, run_dir, device="cpu", progress=False)
    return run_dir


def test_the_librarys_loop_trains_a_kind_defined_outside_it(toy, toy_run):
    state = load_checkpoint(toy_run / "toy_0.5s" / "checkpoint.pt")
    assert state["step"] == TINY.train.steps and state["config"]["model_kind"] == toy.name
    assert not torch.equal(state["model"]["gains"], ScaledMixture(2).gains.detach())  # Adam moved the gains
    model, _ = load_model(toy_run / "toy_0.5s" / "checkpoint.pt")
    assert isinstance(model, ScaledMixture)


def test_its_network_is_scored_and_reaches_a_row_of_table1(toy, toy_run, tiny_data):
    table = write_table1(toy_run)
    rows = table[table["system"] == toy.system]
    assert set(rows["label"]) == {toy.row(0.5)} and set(rows["mask"]) == {"ibm", "wiener"}
    assert (rows["n_mixtures"] == len(LibriMix(tiny_data, "test"))).all()
    assert (toy_run / "metrics" / "toy_0.5s.csv").exists() and np.isfinite(rows["si_snri"]).all()
    # A network of mixtures, like AudioSlots: also scored without the ground truth's slot order.
    free = table[table["system"] == toy.system + NO_ORACLE_ORDER]
    assert set(free["label"]) == {row_label(toy.system, 0.5, order="continuity")} and len(free) == 2


def test_a_kind_is_known_by_name_and_system_only_while_registered(toy):
    assert kind_of("toy") is toy and system_kind("Toy") is toy
    with pytest.raises(ConfigError, match="already registered"):
        register(ScaledMixtureKind("toy", "Another toy"))
    other = register(ScaledMixtureKind("other", "Other"))
    unregister(other.name)
    with pytest.raises(ConfigError, match="Unknown model 'other'"):
        kind_of("other")
    with pytest.raises(ConfigError, match="Unknown system 'Other'"):
        system_kind("Other")


def test_the_oracle_trains_no_network(tiny_train, tmp_path):
    with pytest.raises(ConfigError, match="trains no network"):
        train(TINY, tiny_train, tmp_path / "oracle", kind="oracle", progress=False)
    assert not (tmp_path / "oracle").exists()
