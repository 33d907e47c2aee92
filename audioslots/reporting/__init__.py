"""Reporting: what the book shows of a run, computed from its scores, provenance and networks.

- :mod:`~audioslots.reporting.tables`: Table 1 beside the paper's, Table 1 of several runs, the provenance;
- :mod:`~audioslots.reporting.claims`: the paper's claims about Table 1, each with a verdict;
- :mod:`~audioslots.reporting.inspection`: the networks' sizes, FLOPs, shapes and training costs;
- :mod:`~audioslots.reporting.figure2`: what the networks make of test mixtures (Figure 2, listening);
- :mod:`~audioslots.reporting.plots`: every figure, drawn from the data the modules above compute;
- :mod:`~audioslots.reporting.book`: the book's prose, every sentence with a number computed from the results.
- :mod:`~audioslots.reporting.staging`: a run staged into ``book/run/`` for the book (notebooks, banner, pages).
- :mod:`~audioslots.reporting.plateau_figure`: the plateau study's figure and findings.
"""
