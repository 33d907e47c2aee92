"""The README's recipe for the committed network: it separates a test mixture on a fresh clone, as printed."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- separate-start -->", "<!-- separate-end -->"


def readme_commands() -> list[str]:
    """The commands of the README's block between the separate markers, continuation lines joined."""
    block = (ROOT / "README.md").read_text().split(START)[1].split(END)[0]
    body = re.search(r"```bash\n(.*?)```", block, re.S).group(1)
    lines = body.replace("\\\n", " ").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_the_committed_network_separates_a_test_mixture_as_the_readme_prints(tmp_path):
    commands = readme_commands()
    # `make setup` made the environment these tests run in; the rest runs as printed, in a folder laid out
    # as a fresh clone (the vendored speech and the committed run), with the embedded data shared with other tests.
    assert commands[0] == "make setup"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "librispeech-mini").symlink_to(ROOT / "data" / "librispeech-mini")
    (ROOT / "data" / "real").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "real").symlink_to(ROOT / "data" / "real")
    (tmp_path / "results").symlink_to(ROOT / "results")
    for command in commands[1:]:
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/audioslots"
        done = subprocess.run([sys.executable, "-m", "audioslots", *argv[1:]], cwd=tmp_path, capture_output=True,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr
    mixture_path = Path(shlex.split(commands[-1])[2])
    mixture, rate = sf.read(tmp_path / mixture_path)
    sources = [sf.read(tmp_path / "separated" / f"{mixture_path.stem}_s{i}.wav") for i in (1, 2)]
    assert all(r == rate and s.shape == mixture.shape and np.isfinite(s).all() for s, r in sources)
    first, second = (s for s, _ in sources)
    # the default Wiener-like masks share each cell between the slots, so the sources add up to the mixture
    # (but for the STFT's framing at the chunk edges), and they are not one signal twice
    assert si_snr(first + second, mixture) > 10.0
    assert np.linalg.norm(first - second) > 0.1 * np.linalg.norm(mixture)


def si_snr(estimate: np.ndarray, reference: np.ndarray) -> float:
    scaled = (estimate @ reference) / (reference @ reference) * reference
    return float(10 * np.log10((scaled @ scaled) / ((scaled - estimate) @ (scaled - estimate))))
