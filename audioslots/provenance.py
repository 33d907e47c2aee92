"""Provenance: where every number of a run came from.

Each run folder holds ``provenance.json``; every step of the reproduction (data, training,
evaluation) adds its own section, so the file says which preset, data, steps, device, package
versions and commit produced the results next to it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from audioslots.errors import DataError

PACKAGES = ("audioslots", "torch", "torchaudio", "numpy", "scipy", "pandas", "soundfile",
            "matplotlib", "seaborn", "papermill", "jupyter-book")


#: The top-level folder that runs write into. A run that rewrites its own committed results
#: does not make the code that produced them "dirty".
OUTPUTS = "results"


def git_commit(path: str | Path = ".") -> str:
    """The commit checked out at ``path``, with ``-dirty`` if tracked files outside ``results/`` differ.

    ``AUDIOSLOTS_SOURCE_COMMIT``, when set, wins: a copied tree (e.g. one sent to a GPU machine)
    may carry a stale ``.git`` of its own, so whoever made the copy from a clean checkout says which
    commit it is.
    """
    told = os.environ.get("AUDIOSLOTS_SOURCE_COMMIT")
    if told:  # a copy of a clean checkout (a working tree copied to a GPU machine; scripts/gpu_check.sh)
        return told
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", f":(top,exclude){OUTPUTS}"],
            cwd=path, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if dirty else "")


def device_name(device: torch.device | str) -> str:
    """A human-readable name of the device that ran the computation."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def environment() -> dict:
    """Package versions, Python, platform and the CPU's vector instruction set.

    The instruction set (``AVX512``, ``AVX2``, … as PyTorch dispatches its CPU kernels) is part of
    what a CPU run's numbers depend on: the same code and data give trained networks that differ
    in the last float digits, and then diverge, on CPUs that dispatch differently.
    """
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "packages": versions}


def record(run_dir: str | Path, section: str, info: dict) -> dict:
    """Add or replace ``section`` of ``run_dir/provenance.json`` (written atomically); returns the whole file.

    Every call also refreshes the commit, the environment and the time of the last update.
    """
    path = Path(run_dir) / "provenance.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.loads(path.read_text()) if path.exists() else {}
    content[section] = info
    content["commit"] = git_commit(Path(__file__).resolve().parent)
    content["environment"] = environment()
    content["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return content


def amend(run_dir: str | Path, section: str, fields: dict) -> dict:
    """Add ``fields`` to an existing ``section`` of ``run_dir/provenance.json``; returns the whole file.

    Unlike :func:`record`, the run's commit, environment and time stay as they are, and so does the
    order of what is there: this is for facts derived afterwards from what the run stored, and
    ``fields`` should say so themselves.
    """
    path = Path(run_dir) / "provenance.json"
    content = load(run_dir)
    if section not in content:
        raise DataError(f"{path} has no section {section!r} to amend; the run never recorded that step.")
    content[section] = {**content[section], **fields}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(tmp, path)
    return content


def load(run_dir: str | Path) -> dict:
    """The provenance of a run (empty if none was recorded)."""
    path = Path(run_dir) / "provenance.json"
    return json.loads(path.read_text()) if path.exists() else {}
