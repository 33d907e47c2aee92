"""Sphinx extension: stage the run the book shows into ``book/run/`` at the start of every build.

So that ``jupyter-book build book/`` works verbatim on a fresh clone: the book's reproduction
chapters, banner and Status live in ``book/run/``, which is generated from a run folder of
``results/`` (:func:`audioslots.reporting.staging.stage`) and never committed. The run is
``$AUDIOSLOTS_BOOK_RUN`` (a path relative to the repository root; ``make book RUN=...`` sets it),
by default ``results/cpu``, the reference run that ``make reproduce`` writes. The changelog of
that reference run (:func:`audioslots.reporting.changelog.changelog`, from git history) is staged
beside it as ``book/run/changelog.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

BOOK = Path(__file__).resolve().parents[1]
REPOSITORY = BOOK.parent
DEFAULT_RUN = "results/cpu"


def setup(app: Sphinx) -> dict:
    # At load time, before sphinx-external-toc reads _toc.yml and Sphinx looks for documents.
    try:
        from audioslots.reporting.staging import stage
        from audioslots.reporting.changelog import changelog
    except ImportError as error:
        raise ExtensionError(f"The book needs the audioslots package ({error}): run `make setup`, "
                             "or `pip install --no-deps -e .` in the conda environment.") from None
    run = REPOSITORY / os.environ.get("AUDIOSLOTS_BOOK_RUN", DEFAULT_RUN)
    try:
        staged = stage(run, BOOK, repo=REPOSITORY)
    except FileNotFoundError as error:
        raise ExtensionError(str(error)) from None
    # The changelog page (book/changelog.md) is of the reference run whichever run the book shows.
    (staged / "changelog.md").write_text(changelog(REPOSITORY))
    print(f"stage_run: the book shows {run.relative_to(REPOSITORY) if run.is_relative_to(REPOSITORY) else run} "
          f"(staged into {staged.relative_to(REPOSITORY)})")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
