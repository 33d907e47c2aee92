"""Ship finished networks: drop the Adam state from their ``checkpoint.pt``, which keeps them usable and
about a third of the size.

A resume point of a long run is committed with its optimiser state, so that the run continues
exactly. Once the network has trained all its steps that state is dead weight (two tensors per
weight); :func:`audioslots.training.ship_checkpoint` drops it in place. The network separates and
scores exactly as before, and re-running its training finds it finished. A network still training
is refused.

Usage, from the repository root::

    .venv/bin/python scripts/ship_checkpoint.py results/real_cpu_x64/audioslots_0.5s
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audioslots.errors import CheckpointError
from audioslots.training import RunFiles, ship_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="+", type=Path, metavar="NETWORK_DIR",
                        help="a trained network's folder, e.g. results/real_cpu_x64/audioslots_0.5s")
    args = parser.parse_args(argv)
    for folder in args.networks:
        try:
            saved = ship_checkpoint(RunFiles(folder).checkpoint)
        except CheckpointError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{folder}: {saved / 1e6:.1f} MB of optimiser state dropped" if saved else f"{folder}: already shipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
