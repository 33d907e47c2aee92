"""Vendor the real-speech mini set: every utterance of ../shared/librispeech-mini, trimmed.

The 251 LibriSpeech utterances (one per speaker, 55 MB of FLAC) exceed the 30 MB the repository
may hold (GPU runs copy the whole working tree). We keep every speaker — speaker variety is what a
separation model needs — and cut each utterance to at most ``MAX_SECONDS``, at the quietest 10 ms
between ``MAX_SECONDS - 1`` s and ``MAX_SECONDS`` so that words are rarely cut in half. Utterances
shorter than that are kept whole. Written as 16-bit FLAC, as LibriSpeech is.

    python scripts/vendor_librispeech_mini.py ../shared/librispeech-mini data/librispeech-mini
"""

import argparse
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

MAX_SECONDS = 6.0
FRAME_SECONDS = 0.01


def cut_point(audio: np.ndarray, rate: int) -> int:
    """Sample at which to end the utterance: its end, or the quietest 10 ms in the last second allowed."""
    limit = int(MAX_SECONDS * rate)
    if len(audio) <= limit:
        return len(audio)
    frame = int(FRAME_SECONDS * rate)
    search = audio[limit - rate:limit]
    energy = (search[: len(search) // frame * frame].reshape(-1, frame) ** 2).sum(1)  # (frames,)
    return limit - rate + int(energy.argmin()) * frame + frame // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = sorted(args.source.glob("*.flac"))
    for path in files:
        audio, rate = sf.read(path, dtype="int16")
        sf.write(args.out / path.name, audio[: cut_point(audio.astype(np.float64), rate)], rate,
                 format="FLAC", subtype="PCM_16")
    shutil.copy(args.source / "README.md", args.out / "README.upstream.md")
    print(f"{len(files)} utterances → {args.out}")


if __name__ == "__main__":
    main()
