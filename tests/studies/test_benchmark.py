"""The benchmarks (``python -m benchmarks.<name>``) run at a tiny size and record what they measured
with the shared header (FLOP counts: test_flops.py); the book's tables match the committed JSON;
LibriMix's direct 16-bit PCM crop path reads exactly what ``read_wav`` reads."""

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audioslots.audio import pcm16_data_chunk, read_wav, write_wav
from audioslots.data.dataset import LibriMix
from audioslots.errors import DataError
from benchmarks import common

ROOT = Path(__file__).resolve().parents[2]
#: The fields of ``benchmarks.common.header`` that every benchmark's JSON starts with.
HEADER = ("benchmark", "commit", "date", "device", "device_name", "threads", "torch")


def run_benchmark(name: str, out: Path, *args: str) -> dict:
    """``python -m benchmarks.<name> ... --out out`` from the repository root; its JSON result."""
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args, "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert all(result[key] for key in HEADER), {key: result.get(key) for key in HEADER}
    assert result["torch"] == torch.__version__ and result["benchmark"] == name
    return result


def test_every_benchmark_is_a_module_of_the_benchmarks_package():
    names = sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py") if path.stem != "__init__")
    assert {"common", "train_throughput", "data_pipeline", "evaluate_speed", "decoder_factorised"} <= set(names)
    for name in names:
        importlib.import_module(f"benchmarks.{name}")


def test_decoder_benchmark_writes_its_measurements_with_provenance(tmp_path):
    result = run_benchmark("decoder_factorised", tmp_path / "bench.json", "--batch", "1", "--slot-dim", "8",
                           "--fourier-features", "4", "--hidden", "8", "--n-freq", "9", "--n-frames", "5",
                           "--repeats", "1", "--device", "cpu")
    assert result["grid"] == [9, 5] and "load_average_1min" in result
    assert [row["part"] for row in result["rows"]] == ["first_layer", "decoder"]
    for row in result["rows"]:
        assert row["allclose"] and row["speedup"] == row["plain_s"] / row["factorised_s"]


# --- benchmarks.train_throughput, data_pipeline, evaluate_speed ----------------------------------------


def test_train_throughput_reports_speed_flops_memory_and_no_mfu_on_cpu(tiny_data, tmp_path):
    result = run_benchmark("train_throughput", tmp_path / "train.json", "--preset", "tiny", "--device", "cpu",
                           "--steps", "2", "--warmup", "1", "--data", str(tiny_data))
    assert result["benchmark"] == "train_throughput" and result["preset"] == "tiny" and result["batch"] == 2
    for key in ("steps_per_second", "crops_per_second", "tflop_per_step", "achieved_tflops", "peak_memory_bytes"):
        assert result[key] > 0, key
    assert result["crops_per_second"] == pytest.approx(result["steps_per_second"] * result["batch"])
    assert result["achieved_tflops"] == pytest.approx(result["tflop_per_step"] * result["steps_per_second"])
    assert 0 <= result["data_wait_share"] <= 1
    assert result["mfu"] is None and result["peak_tflops"] is None and "cpu" in result["mfu_note"]
    assert result["autocast"] is False and result["compile"] is False


def test_data_pipeline_measures_every_reader_cache_and_worker_count(tiny_data, tmp_path):
    result = run_benchmark("data_pipeline", tmp_path / "data.json", "--data", str(tiny_data),
                           "--workers", "0", "1", "--batches", "2", "--batch-size", "4")
    assert result["benchmark"] == "data_pipeline" and result["files_per_crop"] == 3
    settings = {(row["cache"], row["reader"], row["workers"]) for row in result["rows"]}
    assert settings == {(c, r, w) for c in ("cold", "warm") for r in ("pcm16", "read_wav") for w in (0, 1)}
    for row in result["rows"]:
        assert row["crops"] == 2 * 4 and row["crops_per_second"] > 0 and row["milliseconds_per_crop"] > 0
    assert set(result["workers_for_target"]) == {"cold", "warm"}


def test_evaluate_speed_times_oracle_and_model_and_profiles_them(tiny_data, tmp_path):
    result = run_benchmark("evaluate_speed", tmp_path / "eval.json", "--data", str(tiny_data), "--device", "cpu",
                           "--preset", "tiny", "--model-mixtures", "2", "--profile", "--profile-mixtures", "1")
    rows = {row["system"]: row for row in result["rows"]}
    assert set(rows) == {"Oracle", "AudioSlots"}
    assert rows["Oracle"]["mixtures"] == 3 and rows["AudioSlots"]["mixtures"] == 2
    for row in rows.values():
        assert row["seconds"] > 0 and row["projected_seconds"] >= row["seconds"] and row["metric_rows"] > 0
        assert np.isfinite(row["mean_si_snri"])
    assert rows["Oracle"]["mean_si_snri"] > 5  # the oracle separates well: the data went through evaluate
    for system in ("Oracle", "AudioSlots"):
        assert result["profile"][system]["by_own_time"][0]["own_seconds"] > 0


def test_peak_table_knows_the_data_sheet_figures_and_nothing_for_a_cpu():
    names = {"NVIDIA H100 80GB HBM3": 989.4, "NVIDIA H100 PCIe": 756.0, "NVIDIA H200": 989.4,
             "NVIDIA A100-SXM4-80GB": 312.0, "NVIDIA A100 80GB PCIe": 312.0, "NVIDIA H100 NVL": None}
    for name, tflops in names.items():
        found = [peak for matches, _, peak in common.PEAK_BF16_TFLOPS if matches(name.upper())]
        assert (found[0] if found else None) == tflops, name
    assert common.peak_tflops(torch.device("cpu"))[0] is None


# --- The book's tables ---------------------------------------------------------------------------------


def test_committed_tables_are_up_to_date_with_the_committed_json(tmp_path):
    committed = ROOT / "results" / "benchmarks"
    for path in committed.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    for name, path in common.write_tables(tmp_path).items():
        assert (committed / path.name).read_text() == path.read_text(), (
            f"results/benchmarks/{path.name} is stale: run `python -m benchmarks.common`"
        )


def test_tables_have_one_line_per_row_of_each_result(tmp_path):
    result = {"benchmark": "data_pipeline", "commit": "0123456789abcdef", "rows": [
        {"cache": "cold", "reader": "pcm16", "workers": w, "crops_per_second": 100.0 * (w + 1)} for w in (0, 1, 2)]}
    (tmp_path / "a.json").write_text(json.dumps(result))
    lines = (common.write_tables(tmp_path)["data_pipeline"]).read_text().splitlines()
    assert len(lines) == 1 + 3 and lines[1].startswith("a.json,0123456,")
    assert (tmp_path / "train_throughput.csv").read_text().splitlines()[1].startswith("none yet")


# --- LibriMix.crop's direct 16-bit PCM path (audioslots/data/dataset.py) -----------------------------------------


def test_crops_read_with_pread_equal_read_wav_everywhere_including_past_the_end(tiny_data):
    dataset = LibriMix(tiny_data, "train-360")
    rng = np.random.default_rng(0)
    for _ in range(50):
        index = int(rng.integers(len(dataset)))
        offset, n_samples = int(rng.integers(dataset.lengths[index] + 50)), int(rng.integers(1, 20000))
        crop = dataset.crop(index, offset, n_samples)
        expected = [read_wav(p, 16000, offset, offset + n_samples) for p in dataset._wav_paths(index)]
        assert torch.equal(crop.mixture, expected[0]) and torch.equal(crop.sources, torch.stack(expected[1:]))
    assert all(chunk is not None for chunk in dataset._pcm16_chunks.values())  # the fast path was taken


def test_only_complete_mono_16_bit_pcm_wav_at_the_rate_takes_the_direct_path(tmp_path):
    samples = (np.arange(1000) % 200 - 100).astype(np.int16)
    pcm = write_wav(tmp_path / "pcm.wav", samples, 16000)
    offset, frames = pcm16_data_chunk(pcm, 16000)
    assert frames == 1000 and np.array_equal(np.fromfile(pcm, "<i2", offset=offset), samples)
    assert pcm16_data_chunk(pcm, 8000) is None  # another rate: read_wav says so
    sf.write(tmp_path / "float.wav", samples / 32768.0, 16000, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.stack([samples, samples], 1), 16000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(pcm.read_bytes()[:-100])
    for path in ("float.wav", "stereo.wav", "truncated.wav", "missing.wav"):
        assert pcm16_data_chunk(tmp_path / path, 16000) is None, path


def test_a_crop_of_a_file_that_breaks_after_the_first_read_is_an_error_not_silence(tiny_data, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(tiny_data, root)
    csv = next(root.rglob("mixture_train-360_mix_clean.csv"))
    csv.write_text(csv.read_text().replace(str(tiny_data), str(root)))
    dataset = LibriMix(root, "train-360")
    dataset.crop(0, 0, 100)
    source = dataset._wav_paths(0)[1]
    source.write_bytes(source.read_bytes()[:200])
    with pytest.raises(DataError, match="shorter"):
        dataset.crop(0, 1000, 100)
