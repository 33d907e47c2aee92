"""Speed measurements, each run from the repository root as ``python -m benchmarks.<name>``.

- ``train_throughput``: training steps per second, FLOPs, MFU, peak memory and data wait;
- ``data_pipeline``: training crops per second from a Libri2Mix-sized folder, by loader workers;
- ``evaluate_speed``: the Oracle and a model scored on a test split of Libri2Mix's size;
- ``decoder_factorised``: the decoder's plain and factorised first layer, timed side by side;
- ``decoder_share``: the decoder's share of a training step's FLOPs, and the paper's schedule
  projected for a decoded fraction of the grid;
- ``common``: what they share (timers, the JSON header and output, the book's CSV tables).

Their JSON goes to ``results/benchmarks/`` (``decoder_share``'s to ``results/decoded_cells/``).
"""
