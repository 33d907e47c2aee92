"""The paper's training compute: FLOPs of its Table-1 networks over its 300 000 steps of batch 64.

Writes ``results/paper_compute.csv`` (:func:`audioslots.evaluation.learning_curve.paper_compute`): for each
trained row of ``results/paper_table1.csv``, the FLOPs of one step of our ``paper`` preset's
network of that row (counted on the CPU from batches of 1, 2 and 3, exactly affine in the batch),
times the paper's steps; plus the commit and date of the count. The compute figure
(:func:`audioslots.reporting.plots.compute_figure`) places the paper's values there. A few minutes.

Usage, from the repository root::

    .venv/bin/python scripts/paper_compute.py
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from audioslots.flops import COUNTED_BY
from audioslots.evaluation.learning_curve import paper_compute
from audioslots.provenance import git_commit

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    table = paper_compute(ROOT / "results" / "paper_table1.csv")
    table["commit"] = git_commit(ROOT)
    table["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    table["counted_by"] = COUNTED_BY + "; from batches 1, 2 and 3, extrapolated along the exact line"
    out = ROOT / "results" / "paper_compute.csv"
    table.to_csv(out, index=False)
    print(table.drop(columns=["counted_by"]).to_string(index=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
