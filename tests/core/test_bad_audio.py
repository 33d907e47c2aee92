"""Bad audio never turns into a number: each defect is one clear error naming the file, nothing written."""

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audioslots.cli import main
from audioslots.data.dataset import LibriMix, metadata_path
from audioslots.errors import DataError
from audioslots.evaluation.scores import table1
from audioslots.data.synthetic import SynthConfig, synthesize_librimix


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad") / "Libri2Mix"
    config = SynthConfig(mixtures={"test": 3}, seconds={"test": 1.0}, speakers_per_split={"test": 2})
    return synthesize_librimix(root, seed=5, config=config, progress=False)


@pytest.fixture
def copy(clean, tmp_path):
    """A private copy of the clean set whose CSV points at the copy's files."""
    root = shutil.copytree(clean, tmp_path / "Libri2Mix")
    csv_path = metadata_path(root, "test")
    csv_path.write_text(csv_path.read_text().replace(str(clean), str(root)))
    return root


def _file(root, folder, index=1):
    ids = LibriMix(root, "test").mixture_ids
    return root / "wav16k" / "min" / "test" / folder / f"{ids[index]}.wav"


def _evaluate(capsys, root, out):
    code = main(["evaluate", "--oracle", "--data", str(root), "--split", "test", "--out", str(out), "--no-progress"])
    return code, capsys.readouterr().err


def _assert_refused(code, err, out, *fragments):
    assert code == 2 and "Traceback" not in err, err
    for fragment in fragments:
        assert str(fragment) in err
    assert not out.exists(), "nothing may be written for bad data"


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_sample_is_refused_naming_the_file(copy, tmp_path, capsys, value):
    bad = _file(copy, "s1")
    samples, rate = sf.read(bad, dtype="float32")
    samples[100] = value
    sf.write(bad, samples, rate, subtype="FLOAT")
    out = tmp_path / "metrics.csv"
    _assert_refused(*_evaluate(capsys, copy, out), out, bad, "NaN or infinite")


def test_an_all_zero_source_is_refused_naming_the_file(copy, tmp_path, capsys):
    bad = _file(copy, "s2")
    frames = sf.info(bad).frames
    sf.write(bad, np.zeros(frames, dtype=np.int16), 16000, subtype="PCM_16")
    out = tmp_path / "metrics.csv"
    _assert_refused(*_evaluate(capsys, copy, out), out, bad, "silent")


def test_a_source_shorter_than_its_mixture_is_refused_naming_it(copy, tmp_path, capsys):
    bad = _file(copy, "s1", index=0)
    samples, rate = sf.read(bad, dtype="int16")
    sf.write(bad, samples[:-10], rate, subtype="PCM_16")
    out = tmp_path / "metrics.csv"
    _assert_refused(*_evaluate(capsys, copy, out), out, bad, "samples but")


def test_duplicate_mixture_ids_are_refused_naming_the_csv(copy, tmp_path, capsys):
    csv_path = metadata_path(copy, "test")
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(lines + [lines[1]]) + "\n")
    out = tmp_path / "metrics.csv"
    _assert_refused(*_evaluate(capsys, copy, out), out, csv_path, "more than once")


def test_table1_refuses_to_average_over_a_nan_score():
    metrics = pd.DataFrame({
        "mixture_id": ["a", "b"], "system": ["Oracle"] * 2, "order": ["given"] * 2, "chunk_seconds": [0.5] * 2,
        "framing": ["pad-end"] * 2, "chunk_overlap": [0.0] * 2, "mask": ["ibm"] * 2,
        "si_snr": [10.0, np.nan], "si_snri": [1.0, np.nan], "n_src": [2, 2],
    })
    with pytest.raises(DataError, match="mixtures b"):
        table1(metrics)


def test_a_clean_copy_is_accepted(copy, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    code, err = _evaluate(capsys, copy, out)
    assert code == 0, err
    assert np.isfinite(pd.read_csv(out)["si_snri"]).all()
