"""The factorised-decoder benchmark runs and records what it measured, at a tiny size."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_decoder_benchmark_writes_its_measurements_with_provenance(tmp_path):
    out = tmp_path / "bench.json"
    args = ["--batch", "1", "--slot-dim", "8", "--fourier-features", "4", "--hidden", "8",
            "--n-freq", "9", "--n-frames", "5", "--repeats", "1", "--device", "cpu", "--out", str(out)]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "decoder_factorised.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["grid"] == [9, 5] and result["commit"] and result["torch"].startswith("2.11")
    assert [row["part"] for row in result["rows"]] == ["first_layer", "decoder"]
    for row in result["rows"]:
        assert row["allclose"] and row["speedup"] == row["plain_s"] / row["factorised_s"]
