"""Evaluation: Table 1's scores of networks and oracles, learning curves, and the chunk-boundary analysis."""
