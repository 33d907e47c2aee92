"""What every benchmark shares: provenance, timers, the device's peak, peak memory, output.

Each benchmark writes one JSON object per run into ``results/benchmarks/`` with the same header
(:func:`header`: benchmark, commit, date, device, device name, threads, torch version, load) and
then refreshes the CSV tables the book's Performance page shows (:func:`write_tables`), so that
no number is ever typed by hand.

Usage, from the repository root, to refresh the tables from the committed JSON files::

    .venv/bin/python -m benchmarks.common
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from audioslots.data.synthetic import SynthConfig, synthesize_librimix
from audioslots.provenance import device_name, git_commit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "benchmarks"
#: Large generated data sets (git-ignored).
DATA = ROOT / "data" / "benchmarks"

#: Dense (no 2:4 sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets. The
#: data sheets print the sparse figure with an asterisk; dense is half of it.
#: (name test on ``torch.cuda.get_device_name``, label, TFLOP/s), first match wins.
PEAK_BF16_TFLOPS = (
    (lambda name: "H100" in name and "PCIE" in name, "H100 PCIe", 756.0),
    (lambda name: "H100" in name and "NVL" not in name, "H100 SXM", 989.4),
    (lambda name: "H200" in name and "NVL" not in name, "H200 SXM", 989.4),
    (lambda name: "A100" in name, "A100", 312.0),
)


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    """The device's dense bf16 peak and where it came from, or ``None`` and the reason."""
    if device.type != "cuda":
        return None, f"no tensor-core peak for device type {device.type!r}: MFU is a GPU figure"
    name = torch.cuda.get_device_name(device)
    for matches, label, tflops in PEAK_BF16_TFLOPS:
        if matches(name.upper()):
            return tflops, f"{label} dense bf16 peak (NVIDIA data sheet)"
    return None, f"{name!r} is not in benchmarks/common.py's PEAK_BF16_TFLOPS table; add its dense bf16 peak"


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it measures finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[int, str]:
    """Peak memory in bytes and what it measures.

    CUDA: ``torch.cuda.max_memory_allocated`` since :func:`reset_peak_memory` (tensors only, not
    the allocator's cache or the CUDA context). CPU: the process's peak resident set size
    (``getrusage``; Linux reports kB), which includes Python, torch and everything loaded.
    """
    if device.type == "cuda":
        sync(device)
        return torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024, "peak RSS of the process (getrusage ru_maxrss)"


def header(benchmark: str, device: torch.device) -> dict:
    """The fields every benchmark JSON starts with."""
    return {
        "benchmark": benchmark,
        "commit": git_commit(ROOT),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average_1min": _load_average(),
    }


def _load_average() -> float | None:
    """The machine's 1-minute load when the run started: others' work slows a CPU measurement."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Stopwatch:
    """Wall time of a block, after waiting for the device on entry and on exit."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = 0.0

    def __enter__(self):
        sync(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        sync(self.device)
        self.seconds = time.perf_counter() - self._start
        return False


class PeakMemory:
    """Peak memory added while the block runs, in bytes (``None`` where it cannot be measured).

    CUDA: ``torch.cuda.max_memory_allocated`` above what was allocated on entry. CPU (Linux):
    the process's peak resident set size (``VmHWM``), reset on entry through
    ``/proc/self/clear_refs``, above the resident size on entry. Unlike :func:`peak_memory`,
    this isolates one block from what the process used before it.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.bytes: int | None = None

    def __enter__(self):
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self._start = _reset_peak_rss()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            sync(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._start
        elif self._start is not None:
            self.bytes = _proc_status_bytes("VmHWM") - self._start
        return False


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise KeyError(field)


def _reset_peak_rss() -> int | None:
    """Reset the peak RSS to the current RSS and return it; ``None`` without Linux's /proc."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # "5" resets VmHWM (proc(5))
        return _proc_status_bytes("VmRSS")
    except OSError:
        return None


def write_result(result: dict, out: Path | None) -> None:
    """Print the JSON line; write it to ``out`` and refresh the book's tables if ``out`` is given."""
    line = json.dumps(result)
    print(line)
    if out is None:
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(line + "\n")
    if out.parent.resolve() == RESULTS.resolve():
        write_tables(RESULTS)


# --- The book's tables --------------------------------------------------------------------------

#: One CSV per benchmark family: which JSON fields become columns, with the column titles the
#: Performance page shows. Dotted names reach into nested objects; ``rows`` fan out to one line each.
TABLES = {
    "train_throughput": [
        ("file", "file"), ("commit", "commit"), ("date", "date"), ("device_name", "device"),
        ("threads", "threads"), ("load_average_1min", "load"), ("preset", "preset"),
        ("batch", "batch"), ("autocast", "bf16 autocast"), ("compile", "compile"),
        ("workers", "workers"), ("steps_per_second", "steps/s"), ("crops_per_second", "crops/s"),
        ("tflop_per_step", "TFLOP/step"), ("achieved_tflops", "TFLOP/s"), ("mfu", "MFU"),
        ("peak_memory_bytes", "peak memory (MiB)"), ("data_wait_share", "data wait share"),
    ],
    "data_pipeline": [
        ("file", "file"), ("commit", "commit"), ("date", "date"), ("device_name", "device"),
        ("load_average_1min", "load"), ("rows.cache", "page cache"), ("rows.reader", "reader"),
        ("rows.workers", "workers"), ("rows.crops_per_second", "crops/s"),
        ("rows.crops_per_second_per_worker", "crops/s per worker"),
        ("rows.milliseconds_per_crop", "ms per crop (one process)"),
    ],
    "evaluate_speed": [
        ("file", "file"), ("commit", "commit"), ("date", "date"), ("device_name", "device"),
        ("load_average_1min", "load"), ("rows.system", "system"),
        ("rows.mixtures", "mixtures"), ("rows.audio_hours", "audio (h)"),
        ("rows.seconds", "seconds"), ("rows.projected_seconds", "seconds for 3000"),
        ("rows.mixtures_per_second", "mixtures/s"), ("rows.realtime_factor", "× real time"),
    ],
    "decoder_factorised": [
        ("file", "file"), ("commit", "commit"), ("date", "date"), ("device_name", "device"),
        ("batch", "batch"), ("rows.part", "part"), ("rows.plain_s", "plain (s)"),
        ("rows.factorised_s", "factorised (s)"), ("rows.speedup", "speed-up"),
        ("rows.plain_peak_bytes", "plain peak (MiB)"),
        ("rows.factorised_peak_bytes", "factorised peak (MiB)"),
    ],
}


def _cell(name: str, value) -> str:
    if value is None:
        return "n/a"
    if name == "commit":
        return str(value)[:7] + ("-dirty" if str(value).endswith("-dirty") else "")
    if name.endswith("bytes"):
        return f"{value / 2**20:,.0f}"
    if name.endswith("share") or name == "mfu":
        return f"{100 * value:.1f} %"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def table_rows(results: list[tuple[str, dict]], columns: list[tuple[str, str]]) -> list[list[str]]:
    """One line per result, or per item of its ``rows`` when a column reaches into them."""
    lines = []
    for file, result in results:
        items = result.get("rows", [None]) if any(c.startswith("rows.") for c, _ in columns) else [None]
        for item in items:
            line = []
            for name, _ in columns:
                if name == "file":
                    value = file
                elif name.startswith("rows."):
                    value = item.get(name[5:])
                else:
                    value = result.get(name)
                line.append(_cell(name.split(".")[-1], value))
            lines.append(line)
    return lines


def write_tables(folder: Path = RESULTS) -> dict[str, Path]:
    """Write ``<benchmark>.csv`` for every family in :data:`TABLES` from the JSON files in ``folder``.

    Every JSON in the folder appears, sorted by file name; a family with no JSON yet gets a
    one-line "none yet" table, so the page's ``csv-table`` directives always find their file.
    """
    results: dict[str, list[tuple[str, dict]]] = {name: [] for name in TABLES}
    for path in sorted(Path(folder).glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("benchmark") in results:
            results[result["benchmark"]].append((path.name, result))
    written = {}
    for name, columns in TABLES.items():
        path = Path(folder) / f"{name}.csv"
        lines = table_rows(results[name], columns)
        if not lines:
            lines = [["none yet"] + [""] * (len(columns) - 1)]
        with path.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([title for _, title in columns])
            writer.writerows(lines)
        written[name] = path
    return written


# --- Data on disk -------------------------------------------------------------------------------


def ensure_synthetic(root: Path, split: str, mixtures: int, seconds: float, progress: bool = True) -> Path:
    """A synthetic LibriMix-layout folder with ``mixtures`` utterances of ``seconds`` in ``split``.

    Made once by :func:`audioslots.data.synthetic.synthesize_librimix` (deterministic, seed 0) and reused
    while its manifest matches.
    """
    config = SynthConfig(mixtures={split: mixtures}, seconds={split: seconds})
    return synthesize_librimix(root, seed=0, config=config, progress=progress)


if __name__ == "__main__":  # python -m benchmarks.common: refresh the CSV tables from the JSON
    for path in write_tables().values():
        print(path, file=sys.stderr)
