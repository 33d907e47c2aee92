"""One run of the real-speech stall sweep: the `cpu` preset with settings, trained on real speech and scored.

The run of ``experiments/cpu_preset_tuning.py``, whose options it takes, with its learning curve in
the record: AudioSlots (or, with ``--kind autoencoder``, its autoencoder) with fields of the `cpu`
preset set by ``--set KEY=VALUE`` (:func:`audioslots.config.parse_setting`), trained on the
real-speech mini Libri2Mix, then an AudioSlots network scored with oracle slot order on the first
``--eval-mixtures`` test mixtures. The network variants the sweep tried are fields of
``ModelConfig`` like any other: ``feature_projection`` (``"per_row"`` or ``"per_cell"``: one map of
z per frequency row or per grid cell) and ``fourier_axes`` (``"separate"``: Fourier features of
frequency only or of time only). ``feature_grid`` follows the chunk length (32 × 8 cells for 0.5 s,
32 × 16 for 1 s). ``--overrides JSON`` takes the same settings as one JSON object, the form the
committed records print.

Appends one JSON line to ``OUT/runs.jsonl``: ``name``, ``kind``, ``over`` (the settings, as JSON),
``loss`` (the last logged training loss), ``train_s`` (wall seconds of training), ``ibm`` and
``wiener`` (mean SI-SNRi in dB; AudioSlots only) and ``curve`` (``step:loss`` of every logged window).
The run folder (checkpoint, log) goes to ``RUNS/NAME``; re-running the same command resumes it.

Usage, from the repository root::

    .venv/bin/python experiments/real_speech_stall/train_variant.py cell_axis_w128 --runs /tmp/real_speech_stall \\
        --set steps=400 --set feature_projection=per_cell --set fourier_axes=separate \\
        --set attn_dim=128 --set mlp_dim=256 --set attn_heads=8
    .venv/bin/python experiments/real_speech_stall/train_variant.py ae_cell --kind autoencoder \\
        --runs /tmp/real_speech_stall --set steps=400 --set feature_projection=per_cell
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from audioslots.cli_options import start_experiment
from audioslots.config import Preset, replace
from audioslots.model import encoder_grid
from audioslots.training import RunFiles

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cpu_preset_tuning import append_record, train_and_score, tuning_parser  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "results" / "tuning" / "real_speech_stall"
RECORDS = "runs.jsonl"


def sized_grid(preset: Preset) -> Preset:
    """``preset`` with its per-row and per-cell maps sized for its chunks' grid."""
    return replace(preset, feature_grid=encoder_grid(preset.features.n_freq, preset.features.n_frames))


def logged_curve(run_dir: Path) -> str:
    """``step:loss`` of every window of the run's training log, separated by spaces."""
    with RunFiles(run_dir).log.open() as f:
        return " ".join(f"{row['step']}:{float(row['loss']):.4f}" for row in csv.DictReader(f))


def main(argv=None) -> int:
    args = tuning_parser(__doc__, OUT, RECORDS).parse_args(argv)
    data, preset = start_experiment(args)
    record = train_and_score(args, sized_grid(preset), data)
    append_record(args.out / RECORDS, {**record, "curve": logged_curve(args.runs / args.name)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
