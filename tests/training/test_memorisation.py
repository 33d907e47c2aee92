"""The memorisation check: the `cpu` network, trained on four fixed crops of real speech, separates them.

Nothing else in the suite asks the whole training path to *learn separation*: a regression in the
matching, the gradients, the masks or the scoring would leave every shape test green. On a pool
of four crops the network leaves the plateau within the run (see
:mod:`audioslots.evaluation.plateau`) and its IBM estimates approach the Oracle's on the same crops.
"""

from pathlib import Path

import pytest

from audioslots.config import get_preset, replace
from audioslots.data.dataset import LibriMix
from audioslots.data.mix_librispeech import build_librimix
from audioslots.evaluation import plateau
from audioslots.features import spectrogram
from audioslots.separate import predict
from audioslots.training import load_model, train

SPEECH = Path(__file__).resolve().parents[2] / "data" / "librispeech-mini"
POOL = 4
MEMORISE = replace(get_preset("cpu"), crop_pool=POOL, batch_seconds=None, batch_size=POOL, steps=250, warmup_steps=25,
                   learning_rate=2e-3, log_every=25, checkpoint_every=250)


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """The pool's crops ``(mixtures, sources)`` and the network's predictions for them after training."""
    root = build_librimix(SPEECH, tmp_path_factory.mktemp("speech") / "Libri2Mix",
                          mixtures={"train-360": 8, "dev": 1, "test": 1}, progress=False)
    dataset = LibriMix(root, "train-360")
    run = train(MEMORISE, dataset, tmp_path_factory.mktemp("run") / "memorise", device="cpu", progress=False)
    mixtures, sources = plateau.pool_crops(dataset, MEMORISE)
    model, _ = load_model(run.run_dir / "checkpoint.pt")
    return mixtures, sources, predict(model, mixtures, MEMORISE.features), run


def test_training_on_four_real_crops_ends_below_the_separation_floor(memorised):
    mixtures, sources, _, run = memorised
    floor = plateau.trivial_losses(mixtures, sources, MEMORISE.features)[plateau.FLOOR]
    assert run.final_loss < 0.8 * floor


@pytest.mark.parametrize("mask", ["ibm", "wiener"])
def test_the_memorised_crops_are_separated_close_to_the_oracle(memorised, mask):
    mixtures, sources, predicted, _ = memorised
    network = plateau.crop_si_snri(predicted, mixtures, sources, MEMORISE.features, mask)
    oracle = plateau.crop_si_snri(spectrogram(sources, MEMORISE.features), mixtures, sources, MEMORISE.features, mask)
    assert network > 4.0 and oracle - network < 6.0, (network, oracle)
