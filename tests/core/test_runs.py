"""The run vocabulary: one record per trained network names its folder, its metric file and its Table-1 row."""

from pathlib import Path

import pandas as pd
import pytest

from audioslots.convtasnet import NO_FRAMING, WHOLE
from audioslots.runs import (MODEL_KINDS, ROW_ORDER, ROWS, RUNS, SYSTEMS, metrics_stem, row_label, run_name_of,
                             system_of)

RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.mark.parametrize("run", RUNS.values(), ids=list(RUNS))
def test_a_runs_folder_is_where_the_rows_of_its_system_are_read_from(run):
    assert run.name == run_name_of(run.system, run.chunk_seconds) == metrics_stem(run.system, run.chunk_seconds)


@pytest.mark.parametrize("run", RUNS.values(), ids=list(RUNS))
def test_a_run_trains_the_network_its_system_is_scored_from(run):
    assert run.network in MODEL_KINDS and run.system in SYSTEMS
    assert system_of(run.network) == run.system


def test_every_network_kind_is_scored_as_a_system_of_table1():
    assert [system_of(kind) for kind in MODEL_KINDS] == ["AudioSlots", "Autoencoder", "ConvTasNet"]


def test_a_run_names_its_row_of_table1():
    assert [run.row for run in RUNS.values()] == ["AudioSlots", "Autoencoder", "AudioSlots (1 s)", ROWS[("ConvTasNet", WHOLE)]]


def test_row_labels_name_what_differs_from_the_papers_setting():
    assert row_label("Oracle", 1.0) == "Oracle (1 s)"
    assert row_label("Oracle", 0.5, "centred") == "Oracle (centred STFT)"
    assert row_label("AudioSlots", 0.5, chunk_overlap=0.5, order="continuity") == \
        "AudioSlots (50 % overlap) (no oracle order)"
    assert row_label("Autoencoder", 2.0) == "Autoencoder (2 s)"


def test_the_row_order_lists_each_row_once_the_papers_first_and_the_peers_last():
    assert len(ROW_ORDER) == len(set(ROW_ORDER)) and set(ROWS.values()) <= set(ROW_ORDER)
    assert ROW_ORDER[:5] == ["Oracle", "Autoencoder", "AudioSlots", "Oracle (1 s)", "AudioSlots (1 s)"]
    assert ROW_ORDER[-2:] == [ROWS[("ConvTasNet", WHOLE)], ROWS[("ConvTasNet", 0.5)]]


def test_the_oracle_trains_no_network_and_the_peer_one_for_every_chunk_length():
    assert run_name_of("Oracle", 0.5) is None
    assert run_name_of("ConvTasNet", 0.5) == run_name_of("ConvTasNet", WHOLE) == "convtasnet"


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*/metrics/*.csv")), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_committed_metric_files_are_named_by_metrics_stem(path):
    first = pd.read_csv(path, nrows=1).iloc[0]
    framing = None if first["framing"] == NO_FRAMING else first["framing"]  # a waveform network has no STFT
    assert path.stem == metrics_stem(first["system"], first["chunk_seconds"], framing, first["chunk_overlap"])
