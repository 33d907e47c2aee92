"""The LibriMix reader: layout, fallbacks, lazy crops, one clear error per bad input."""

import csv
import re
import shutil

import numpy as np
import pytest
import torch

from audioslots.audio import write_wav
from audioslots.data.dataset import SPLITS, Example, LibriMix, metadata_path
from audioslots.data.layout import metadata_columns, write_csv
from audioslots.errors import DataError
from audioslots.data.synthetic import SynthConfig, synthesize_librimix

RATE = 16000


@pytest.fixture(scope="module")
def libri2mix(tmp_path_factory):
    """Three one-second synthetic mixtures in ``dev``, written once for this module."""
    root = tmp_path_factory.mktemp("librimix") / "Libri2Mix"
    config = SynthConfig(mixtures={"dev": 3}, seconds={"dev": 1.0}, speakers_per_split={"dev": 2})
    return synthesize_librimix(root, seed=3, config=config, progress=False)


def rewrite_csv(path, transform):
    """Rewrite a metadata CSV with ``transform(rows) -> rows`` (rows include the header)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(transform(rows))


def retarget_csv(root, old_root, new_root):
    """Replace ``old_root`` by ``new_root`` in the paths listed by ``root``'s dev CSV."""
    rewrite_csv(
        metadata_path(root, "dev"),
        lambda rows: [[cell.replace(str(old_root), str(new_root)) for cell in row] for row in rows],
    )


def naming(path, message):
    """A ``pytest.raises`` pattern: the file's path, then ``message`` (a regular expression)."""
    return re.escape(str(path)) + " " + message


def test_metadata_path_follows_the_librimix_layout(tmp_path):
    expected = tmp_path / "wav8k" / "max" / "metadata" / "mixture_train-100_mix_clean.csv"
    assert metadata_path(tmp_path, "train-100", sample_rate=8000, mode="max") == expected


def test_a_written_metadata_csv_has_the_librimix_columns_and_no_temporary_file_beside_it(tmp_path):
    path = metadata_path(tmp_path, "dev")
    write_csv(path, metadata_columns(2), [["a_b", "/m.wav", "/s1.wav", "/s2.wav", 16000]])
    assert path.read_bytes() == (
        b"mixture_ID,mixture_path,source_1_path,source_2_path,length\r\na_b,/m.wav,/s1.wav,/s2.wav,16000\r\n"
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_reader_returns_ids_shapes_and_lengths_of_the_csv(libri2mix):
    dataset = LibriMix(libri2mix, "dev")
    with open(metadata_path(libri2mix, "dev"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(dataset) == 3
    assert dataset.mixture_ids == [row["mixture_ID"] for row in rows]
    assert dataset.lengths == [int(row["length"]) for row in rows] == [RATE] * 3
    for index, example in enumerate(dataset):
        assert isinstance(example, Example)
        assert example.mixture_id == dataset.mixture_ids[index]
        assert example.mixture.shape == (dataset.lengths[index],)
        assert example.sources.shape == (2, dataset.lengths[index])


def test_mixture_read_back_is_the_sum_of_the_sources_read_back(libri2mix):
    example = LibriMix(libri2mix, "dev")[0]
    assert torch.equal(example.mixture, example.sources.sum(dim=0))
    assert example.sources.abs().amax(dim=1).min() > 0.01  # both sources are audible


def test_crop_reads_the_same_samples_as_the_whole_utterance_and_zero_pads(libri2mix):
    dataset = LibriMix(libri2mix, "dev")
    whole = dataset[1]
    crop = dataset.crop(1, 100, 500)
    assert torch.equal(crop.mixture, whole.mixture[100:600])
    assert torch.equal(crop.sources, whole.sources[:, 100:600])
    tail = dataset.crop(1, RATE - 10, 30)
    assert torch.equal(tail.sources[:, :10], whole.sources[:, -10:])
    assert (tail.sources[:, 10:] == 0).all() and (tail.mixture[10:] == 0).all()


def test_preloaded_split_gives_exactly_what_the_files_give(libri2mix):
    on_disk = LibriMix(libri2mix, "dev")
    in_memory = LibriMix(libri2mix, "dev").preload()
    assert in_memory.nbytes == sum(on_disk.lengths) * 3 * 4
    for index in range(len(on_disk)):
        disk, memory = on_disk[index], in_memory[index]
        assert disk.mixture_id == memory.mixture_id
        assert torch.equal(disk.mixture, memory.mixture) and torch.equal(disk.sources, memory.sources)
    for offset, n_samples in [(100, 500), (RATE - 10, 30), (0, 3 * RATE)]:
        disk, memory = on_disk.crop(1, offset, n_samples), in_memory.crop(1, offset, n_samples)
        assert torch.equal(disk.mixture, memory.mixture) and torch.equal(disk.sources, memory.sources)


def test_preloaded_examples_are_copies(libri2mix):
    dataset = LibriMix(libri2mix, "dev").preload()
    dataset[0].sources.zero_()
    assert dataset[0].sources.abs().sum() > 0


def test_max_mixtures_keeps_the_first_rows(libri2mix):
    full, short = LibriMix(libri2mix, "dev"), LibriMix(libri2mix, "dev", max_mixtures=2)
    assert short.mixture_ids == full.mixture_ids[:2]


def test_index_past_the_end_is_an_index_error(libri2mix):
    with pytest.raises(IndexError):
        LibriMix(libri2mix, "dev")[3]


def test_moved_data_set_is_read_from_the_layout_when_csv_paths_are_stale(libri2mix, tmp_path):
    moved = shutil.copytree(libri2mix, tmp_path / "elsewhere")
    original = LibriMix(libri2mix, "dev")[2]
    # The copied CSV still points into libri2mix; make those paths stale, as after a move.
    retarget_csv(moved, libri2mix, "/gone")
    example = LibriMix(moved, "dev")[2]
    assert torch.equal(example.sources, original.sources)


def test_missing_wav_in_both_places_is_a_data_error_naming_both(libri2mix, tmp_path):
    moved = shutil.copytree(libri2mix, tmp_path / "copy")
    dataset = LibriMix(moved, "dev")
    lost = moved / "wav16k" / "min" / "dev" / "s2" / f"{dataset.mixture_ids[0]}.wav"
    lost.unlink()
    retarget_csv(moved, libri2mix, moved)
    with pytest.raises(DataError, match="nor " + naming(lost, "exists")):
        LibriMix(moved, "dev").crop(0, 0, 10)


def test_missing_root_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=naming(tmp_path / "nowhere", "does not exist")):
        LibriMix(tmp_path / "nowhere", "dev")


def test_root_without_the_sample_rate_folder_is_a_data_error_naming_it(libri2mix):
    expected = naming(libri2mix, r"has no wav8k/min folder \(found: wav16k")
    with pytest.raises(DataError, match=expected):
        LibriMix(libri2mix, "dev", sample_rate=8000)


def test_unknown_split_is_a_data_error_listing_the_known_ones(libri2mix):
    expected = "Unknown LibriMix split 'validation': choose one of " + ", ".join(SPLITS)
    with pytest.raises(DataError, match=expected):
        LibriMix(libri2mix, "validation")


def test_missing_metadata_csv_is_a_data_error_naming_it(libri2mix):
    with pytest.raises(DataError, match=naming(metadata_path(libri2mix, "test"), "does not exist")):
        LibriMix(libri2mix, "test")


def test_csv_without_the_expected_columns_is_a_data_error_naming_them(libri2mix, tmp_path):
    copy = shutil.copytree(libri2mix, tmp_path / "copy")
    csv_path = metadata_path(copy, "dev")
    # Keep mixture_ID, mixture_path, source_2_path; drop source_1_path and length.
    rewrite_csv(csv_path, lambda rows: [[r[0], r[1], r[3]] for r in rows])
    expected = naming(csv_path, r"lacks the column\(s\) source_1_path, length")
    with pytest.raises(DataError, match=expected):
        LibriMix(copy, "dev")


def test_csv_of_three_sources_read_as_two_is_a_data_error(libri2mix, tmp_path):
    copy = shutil.copytree(libri2mix, tmp_path / "copy")
    csv_path = metadata_path(copy, "dev")
    rewrite_csv(
        csv_path,
        lambda rows: [r[:4] + [r[2] if i else "source_3_path"] + r[4:] for i, r in enumerate(rows)],
    )
    with pytest.raises(DataError, match=naming(csv_path, "has a source_3_path column.*--n-src 3")):
        LibriMix(copy, "dev")


def test_wav_at_another_rate_inside_the_data_set_is_a_data_error_naming_it(libri2mix, tmp_path):
    copy = shutil.copytree(libri2mix, tmp_path / "copy")
    retarget_csv(copy, libri2mix, copy)
    dataset = LibriMix(copy, "dev")
    bad = copy / "wav16k" / "min" / "dev" / "mix_clean" / f"{dataset.mixture_ids[1]}.wav"
    write_wav(bad, np.zeros(8000), 8000)
    with pytest.raises(DataError, match=naming(bad, "is 8000 Hz")):
        dataset[1]


def test_wav_length_that_disagrees_with_the_csv_is_a_data_error_naming_both(libri2mix, tmp_path):
    copy = shutil.copytree(libri2mix, tmp_path / "copy")
    csv_path = metadata_path(copy, "dev")
    retarget_csv(copy, libri2mix, copy)
    rewrite_csv(csv_path, lambda rows: [rows[0]] + [r[:-1] + ["999"] for r in rows[1:]])
    with pytest.raises(DataError, match=f"has {RATE} samples but " + naming(csv_path, "says 999")):
        LibriMix(copy, "dev")[0]
