"""Training compute for runs recorded before training counted it, derived from what they stored.

For each ``train:<name>`` section of ``RUN_DIR/provenance.json`` without ``train_flop``, the FLOPs
of one training step are counted (:func:`audioslots.training.step_flops.count_run_flops`) from the run's
``<name>/config.json`` — the preset, model kind and number of sources it trained with — on noise
of the step's shapes (the count depends on shapes only). A batch above ``--direct-max-batch`` is
extrapolated from batches of 1, 2 and 3 (:func:`audioslots.flops.affine_in_batch`, which refuses
counts that are not exactly affine in the batch); a smaller one is counted directly *and*
extrapolated, and the two must agree.

The section gains ``flop_per_step``, ``train_flop`` (``flop_per_step`` × the section's ``steps``)
and ``train_flop_derived``, which says that the count was made afterwards, how, and at which
commit; the run's own commit, environment and date stay as they were. ``table1.csv`` is then
rewritten by :func:`audioslots.pipeline.write_table1`, which adds its ``train_flop`` column.

Usage, from the repository root::

    .venv/bin/python scripts/add_train_flop.py results/cpu results/paper_h200_short
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from audioslots import provenance
from audioslots.flops import COUNTED_BY, affine_in_batch
from audioslots.pipeline import training_compute, write_table1
from audioslots.training import RunFiles, count_run_flops, preset_from_dict

ROOT = Path(__file__).resolve().parents[1]
PROBES = (1, 2, 3)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="e.g. results/cpu")
    parser.add_argument("--direct-max-batch", type=int, default=16,
                        help="count batches up to this size directly as well (default 16: the cpu preset's)")
    return parser.parse_args(argv)


def derive(run_dir: Path, name: str, steps: int, direct_max_batch: int) -> dict:
    """The fields that :func:`training_compute` and the derivation note add to ``train:<name>``."""
    config = json.loads(RunFiles(run_dir / name).config.read_text())
    preset = preset_from_dict(config["preset"])
    batch = preset.train.batch_for(preset.features.chunk_seconds)
    start = time.perf_counter()
    extrapolated = affine_in_batch(lambda b: count_run_flops(config, b), batch, PROBES)
    how = f"extrapolated to batch {batch} from batches {', '.join(map(str, PROBES))} (exactly affine)"
    if batch <= direct_max_batch:
        direct = count_run_flops(config, batch)
        if direct != extrapolated:
            raise RuntimeError(f"{name}: direct count {direct} at batch {batch} differs from the extrapolated "
                               f"{extrapolated}; the step is not affine in the batch.")
        how = f"counted at batch {batch}, equal to the count {how}"
    print(f"{run_dir}/{name}: {extrapolated:,} FLOP per step × {steps} steps ({time.perf_counter() - start:.0f} s)",
          file=sys.stderr)
    return {**training_compute(extrapolated, steps), "train_flop_derived": {
        "by": "scripts/add_train_flop.py", "commit": provenance.git_commit(ROOT),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "how": f"counted afterwards from {name}/config.json on noise of the step's shapes, {how}; {COUNTED_BY}",
    }}


def main(argv=None) -> int:
    args = parse_args(argv)
    for run_dir in args.run_dirs:
        for section, info in provenance.load(run_dir).items():
            if section.startswith("train:") and "train_flop" not in info:
                name = section.removeprefix("train:")
                provenance.amend(run_dir, section, derive(run_dir, name, info["steps"], args.direct_max_batch))
        write_table1(run_dir)
        print(f"{run_dir}/table1.csv rewritten with train_flop", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
