"""Staging a run for the book: executed notebooks tagged for reading, a stale-result banner, and the
generated pages of :mod:`audioslots.reporting.book` written into ``book/run/``.

The notebooks are executed by papermill (``make reproduce``); the book only renders them
(``execute_notebooks: off``). Between the two, this module

* tags the executed notebooks for reading (:func:`prepare_notebook`): the parameter cells and
  papermill's injected one are removed from the page, every other code cell is folded
  (``hide-input``) so that results, figures and audio come first. Cell sources are untouched.
* stages the chosen run into ``book/run/`` (:func:`stage`): a copy of its notebooks (tagged,
  with a banner naming the commit that produced the run), its ``table1.csv``, metrics and
  provenance, and the generated MyST pages that the book includes (:mod:`audioslots.reporting.book`).

``make book RUN=results/paper`` stages that run and builds the book; ``python -m
audioslots.reporting.staging --help`` is the same from the shell. ``book/run/`` is generated (it
ignores itself in git).
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from audioslots import provenance
from audioslots.reporting.book import (all_runs_markdown, compute_findings_markdown, gpu_hours_markdown,
                                       headline_markdown, outcome_markdown, plateau_markdown,
                                       runs_in_progress_markdown, status_markdown, synthetic_figure_markdown,
                                       write_compute_figure, write_headline_figure)
from audioslots.reporting.tables import csv_markdown

#: Tags whose cells never show in the book (the notebook's defaults and papermill's injection).
PARAMETER_TAGS = ("parameters", "injected-parameters")
#: Tags by which a notebook already decided how a cell shows (such cells are left alone).
DISPLAY_TAGS = ("remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input", "hide-output")
#: Files and folders of the repository whose changes can change a run's results.
RESULT_INPUTS = ("audioslots", "notebooks")
#: The package whose modules the notebooks import.
PACKAGE = "audioslots"
#: Marks the banner cell that :func:`stage` inserts, so that staging twice inserts it once.
BANNER_TAG = "run-banner"


def prepare_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag a notebook's cells for reading in the book (in place; idempotent); returns it.

    Parameter cells (``parameters``, papermill's ``injected-parameters``) and code cells that
    printed nothing (imports, set-up: a fold with nothing under it) get ``remove-cell``; every
    other code cell without a display tag gets ``hide-input`` (the code folds away, its outputs
    stay).
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if any(t in tags for t in PARAMETER_TAGS):
            wanted = "remove-cell"
        elif not any(t in tags for t in DISPLAY_TAGS) and not cell.get("outputs"):
            wanted = "remove-cell"
        elif any(t in tags for t in DISPLAY_TAGS):
            continue
        else:
            wanted = "hide-input"
        if wanted not in tags:
            cell.metadata["tags"] = tags + [wanted]
    return notebook


def prepare_notebooks(folder: str | Path) -> list[Path]:
    """:func:`prepare_notebook` on every ``*.ipynb`` of ``folder``, rewritten in place."""
    paths = sorted(Path(folder).glob("*.ipynb"))
    for path in paths:
        nbformat.write(prepare_notebook(nbformat.read(path, as_version=4)), path)
    return paths


_TABLE = re.compile(r"<table.*?</table>", re.S)
_ROW = re.compile(r"<tr[^>]*>.*?</tr>", re.S)
_HEADER_CELL = re.compile(r"<th[^>]*>(.*?)</th>", re.S)
_CELL_TEXT = re.compile(r">([^<>]*_[^<>]*)<")
_SIX_DECIMALS = re.compile(r"(<td[^>]*>)\s*(-?\d+\.\d*?)0+\s*(</td>)")


def tidy_table_html(text: str) -> str:
    """A notebook's HTML table as a reader wants it: no default index column, no padded float zeros.

    A pandas table whose index is unnamed row numbers (``0 … n-1``, or what is left of them after a
    filter: one header cell per body row, each an integer, one header row) loses that column and the
    blank corner cell of its header row; a cell ``0.500000`` becomes
    ``0.5`` and ``1.000000`` becomes ``1.0`` (trailing zeros only: no digit that carries a value is
    dropped); a name may break after an underscore (``<wbr>``). Works on the HTML of ``DataFrame.to_html`` and of a pandas ``Styler``.
    """
    def one_table(match: re.Match) -> str:
        table = match.group(0)
        head, _, body = table.partition("<tbody>")
        rows = _ROW.findall(body)
        labels = [_HEADER_CELL.findall(row) for row in rows]
        unnamed = len(_ROW.findall(head)) == 1  # a named index adds a header row of its own
        if rows and unnamed and all(len(cells) == 1 and cells[0].strip().isdigit() for cells in labels):
            body = _ROW.sub(lambda row: _HEADER_CELL.sub("", row.group(0), count=1), body)
            head = _ROW.sub(lambda row: _HEADER_CELL.sub("", row.group(0), count=1), head)
            table = head + "<tbody>" + body
        table = _SIX_DECIMALS.sub(lambda m: m.group(1) + m.group(2) + ("0" if m.group(2).endswith(".") else "")
                                  + m.group(3), table)
        # A name like ``paper_low_db`` may break after its underscores, so that a wide table fits its column.
        return _CELL_TEXT.sub(lambda m: ">" + m.group(1).replace("_", "_<wbr>") + "<", table)

    return _TABLE.sub(one_table, text)


def tidy_notebook_tables(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """:func:`tidy_table_html` on every HTML output of the notebook (in place); returns it. Sources untouched."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if html is None:
                continue
            joined = "".join(html) if isinstance(html, list) else html
            if "<table" in joined:
                output["data"]["text/html"] = tidy_table_html(joined)
    return notebook


@dataclass
class Staleness:
    """Whether the code has moved on since a run was made.

    Attributes:
        run_commit: the commit recorded in the run's provenance (may end in ``-dirty``).
        book_commit: the commit checked out where the book is built.
        changed: files under :data:`RESULT_INPUTS`, less the modules no notebook runs
            (:func:`rendering_only`), that differ between the run's commit and the working tree
            (committed since, uncommitted or untracked).
        stale: the run may not be what the current code produces.
        reason: one sentence for the reader when ``stale``, else empty.
    """

    run_commit: str
    book_commit: str
    changed: list[str] = field(default_factory=list)
    stale: bool = False
    reason: str = ""


def imported_modules(source: str, module: str = "", package: bool = False) -> set[str]:
    """The module names that the import statements anywhere in ``source`` name (in functions too).

    ``from a.b import c`` names ``a.b`` and ``a.b.c`` (``c`` may be a module); relative imports are
    resolved against ``module``, the name of the module ``source`` is (``package``: its ``__init__``).
    Lines of IPython magics (``%``, ``!``) are skipped.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".") if package else module.split(".")[:-1]
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def _module_file(repo: Path, name: str) -> Path | None:
    """The file of module ``name`` in ``repo`` (``a/b.py`` or ``a/b/__init__.py``), or None (a name that is not a module)."""
    path = repo.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def notebook_code(repo: str | Path, notebooks: str = "notebooks", package: str = PACKAGE) -> set[str] | None:
    """The files of ``package`` that the notebooks run: those their code cells import, and those
    these import in turn (with every parent package's ``__init__``), as repository paths.

    Read statically (no import runs), counting imports inside functions too, so it errs towards
    more files. None when there are no notebooks to read.
    """
    repo = Path(repo)
    paths = sorted((repo / notebooks).glob("*.ipynb"))
    if not paths:
        return None
    todo = [name for path in paths for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
            for name in imported_modules(cell.source)]
    reached: set[Path] = set()
    while todo:
        parts = todo.pop().split(".")
        if parts[0] != package:
            continue
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            file = _module_file(repo, name)
            if file is None or file in reached:
                continue
            reached.add(file)
            todo += imported_modules(file.read_text(encoding="utf-8"), name, file.name == "__init__.py")
    return {file.relative_to(repo).as_posix() for file in reached}


def rendering_only(repo: str | Path, package: str = PACKAGE) -> list[str]:
    """The modules of ``package`` that no notebook runs (:func:`notebook_code`): they render runs for
    the book or serve the command line, so changing them cannot change a run's numbers or figures.
    Empty (every module counts) when there are no notebooks to read."""
    repo = Path(repo)
    reached = notebook_code(repo, package=package)
    if reached is None:
        return []
    modules = (path.relative_to(repo).as_posix() for path in (repo / package).rglob("*.py"))
    return sorted(path for path in modules if path not in reached)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def staleness(run_commit: str, repo: str | Path = ".", paths: tuple[str, ...] = RESULT_INPUTS) -> Staleness:
    """Compare the commit that made a run with the checkout the book is built from.

    Equivalent to ``git diff --quiet RUN_COMMIT -- audioslots notebooks`` (the working tree, so
    commits since the run and uncommitted changes both count) plus untracked files there, with the
    modules that no notebook runs (:func:`rendering_only`) left out.

    Args:
        run_commit: from the run's ``provenance.json`` (``-dirty`` suffix allowed).
        repo: any folder of the git checkout.
        paths: the files and folders that affect results.

    Returns:
        A :class:`Staleness`; ``stale`` is also true when the commit is unknown here or the
        run was made from uncommitted changes.
    """
    repo = Path(repo)
    try:
        book_commit = _git(repo, "rev-parse", "HEAD").strip()
    except (OSError, subprocess.CalledProcessError):
        return Staleness(run_commit, "unknown", stale=True,
                         reason="The book is not built from a git checkout, so it cannot tell which code made this run.")
    commit = run_commit.removesuffix("-dirty")
    try:
        _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
    except (OSError, subprocess.CalledProcessError):
        return Staleness(run_commit, book_commit, stale=True,
                         reason=f"The run's commit {run_commit!r} is not in this repository.")
    # ":(top)" makes the paths relative to the repository root wherever repo points.
    pathspecs = [f":(top){p}" for p in paths] + [f":(top,exclude){p}" for p in rendering_only(repo)]
    changed = _git(repo, "diff", "--name-only", commit, "--", *pathspecs).split()
    changed += _git(repo, "ls-files", "--others", "--exclude-standard", "--", *pathspecs).split()
    changed = sorted(set(changed))
    if changed:
        reason = (f"{len(changed)} file(s) that affect results changed since the run's commit: "
                  + ", ".join(f"`{c}`" for c in changed[:8]) + (", …" if len(changed) > 8 else "") + ".")
    elif run_commit.endswith("-dirty"):
        reason = "The run was made from uncommitted changes, which no commit records."
    else:
        reason = ""
    return Staleness(run_commit, book_commit, changed, stale=bool(reason), reason=reason)


def banner(run_dir: str | Path, repo: str | Path = ".", name: str | None = None) -> str:
    """MyST Markdown naming the run and its commit, with a warning admonition when stale."""
    info = provenance.load(run_dir)
    run_commit = info.get("commit", "")
    name = name or str(run_dir)
    if not run_commit:
        return ("```{warning}\nThis page shows the run in `" + name + "`, which records no commit: "
                "nothing says which code produced it.\n```\n")
    state = staleness(run_commit, repo)
    short = run_commit[:7] + ("-dirty" if run_commit.endswith("-dirty") else "")
    text = (f"This page shows the run in `{name}`, made by commit `{short}` "
            f"(updated {info.get('updated', 'at an unrecorded time')}); the book is built from "
            f"commit `{state.book_commit[:7]}`.")
    if state.stale:
        # Folded (the title says what matters), so that the page's own content stays on the first screen.
        return (f"```{{admonition}} Results of commit {short}, older than the code (unfold for what changed)\n"
                ":class: warning stale-run dropdown\n\n" + text + " " + state.reason
                + " The numbers and figures below may differ from what the current code produces: "
                "re-run `make reproduce` to refresh them.\n```\n")
    return "```{admonition} Which code made these results\n:class: note run-commit\n\n" + text + " The notebooks and the library code they run are unchanged since.\n```\n"


def _banner_cell(notebook: nbformat.NotebookNode, text: str) -> None:
    """Insert (or replace) the banner right after the notebook's title cell."""
    notebook.cells = [c for c in notebook.cells if BANNER_TAG not in c.metadata.get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = [BANNER_TAG]
    cell["id"] = BANNER_TAG
    titled = [i for i, c in enumerate(notebook.cells)
              if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")]
    notebook.cells.insert(titled[0] + 1 if titled else 0, cell)


STAGED_FILES = ("provenance.json", "table1.csv")
#: Folders of ``results/`` whose CSVs the book shows as tables (``book/run/tables/<folder>_<stem>.md``).
TABLE_FOLDERS = ("benchmarks", "diagnostics")


def stage(run_dir: str | Path, book_dir: str | Path = "book", repo: str | Path = ".") -> Path:
    """Copy ``run_dir`` into ``book_dir/run`` for the book to render; returns that folder.

    The folder is replaced as a whole (a symlink left by older checkouts too) and ignores itself
    in git. Notebooks are tagged (:func:`prepare_notebook`) and get the run banner.
    """
    run_dir, book_dir = Path(run_dir), Path(book_dir)
    if not (run_dir / "notebooks").is_dir():
        raise FileNotFoundError(f"{run_dir}/notebooks not found: stage a run made by `make reproduce` "
                                f"(RUN=results/cpu, results/paper, ...).")
    target = book_dir / "run"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    (target / "notebooks").mkdir(parents=True)
    (target / ".gitignore").write_text("# Generated by `make book` (audioslots.reporting.staging.stage): never committed.\n*\n")
    for name in STAGED_FILES:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, target / name)
    if (run_dir / "metrics").is_dir():
        shutil.copytree(run_dir / "metrics", target / "metrics")
    try:
        name = run_dir.resolve().relative_to(Path(repo).resolve()).as_posix()
    except ValueError:
        name = run_dir.as_posix()
    text = banner(run_dir, repo, name=name)
    for path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        notebook = tidy_notebook_tables(prepare_notebook(nbformat.read(path, as_version=4)))
        _banner_cell(notebook, text)
        nbformat.write(notebook, target / "notebooks" / path.name)
    (target / "banner.md").write_text(text)
    (target / "gpu_hours.md").write_text(gpu_hours_markdown(run_dir.parent / "benchmarks", run_dir.parent / "paper_compute.csv"))
    (target / "outcome.md").write_text(outcome_markdown(run_dir, run_dir.parent / "paper_table1.csv",
                                                        run_dir.parent / "paper_compute.csv"))
    headline = write_headline_figure(run_dir.parent, target / "headline_figure.png")
    (target / "headline.md").write_text(headline_markdown(run_dir, headline))
    write_compute_figure(run_dir.parent, target / "compute_figure.png")
    synthetic = write_compute_figure(run_dir.parent, target / "compute_figure_synthetic.png", synthetic=True)
    (target / "compute_synthetic.md").write_text(synthetic_figure_markdown(synthetic))
    (target / "compute_findings.md").write_text(compute_findings_markdown(
        run_dir.parent, run_dir.parent / "paper_table1.csv", run_dir.parent / "paper_compute.csv"))
    (target / "status.md").write_text(status_markdown(run_dir))
    (target / "all_runs.md").write_text(all_runs_markdown(run_dir.parent, run_dir.parent / "paper_table1.csv"))
    (target / "plateau.md").write_text(plateau_markdown(run_dir.parent / "plateau"))
    (target / "in_progress.md").write_text(runs_in_progress_markdown(run_dir.parent))
    (target / "tables").mkdir()
    for folder in TABLE_FOLDERS:  # the CSVs that the book's pages show, each fitted to the text column
        for csv in sorted((run_dir.parent / folder).glob("*.csv")):
            (target / "tables" / f"{folder}_{csv.stem}.md").write_text(csv_markdown(csv, f"results/{folder}/{csv.name}"))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m audioslots.reporting.staging", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tag = commands.add_parser("tag", help="tag the executed notebooks of a folder for reading, in place")
    tag.add_argument("folder")
    put = commands.add_parser("stage", help="stage a run into BOOK/run for `jupyter-book build`")
    put.add_argument("run_dir", help="e.g. results/cpu or results/paper")
    put.add_argument("--book", default="book")
    args = parser.parse_args(argv)
    if args.command == "tag":
        print(f"tagged {len(prepare_notebooks(args.folder))} notebooks in {args.folder}")
    else:
        print(f"staged {args.run_dir} into {stage(args.run_dir, args.book)}")


if __name__ == "__main__":
    main()
