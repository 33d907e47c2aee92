"""The book's view of a run: executed notebooks tagged for reading, a stale-result banner, all runs.

The notebooks are executed by papermill (``make reproduce``); the book only renders them
(``execute_notebooks: off``). Between the two, this module

* tags the executed notebooks for reading (:func:`prepare_notebook`): the parameter cells and
  papermill's injected one are removed from the page, every other code cell is folded
  (``hide-input``) so that results, figures and audio come first. Cell sources are untouched.
* stages the chosen run into ``book/run/`` (:func:`stage`): a copy of its notebooks (tagged,
  with a banner naming the commit that produced the run), its ``table1.csv``, metrics and
  provenance, and three generated MyST pages that the book includes: the banner
  (``banner.md``), the paper's claims with a verdict each (``status.md``, from
  :func:`audioslots.report.claims`) and Table 1 of every committed run (``all_runs.md``).

``make book RUN=results/paper`` stages that run and builds the book; ``python -m audioslots.book
--help`` is the same from the shell. ``book/run/`` is generated (it ignores itself in git).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd

from audioslots import provenance

#: Tags whose cells never show in the book (the notebook's defaults and papermill's injection).
PARAMETER_TAGS = ("parameters", "injected-parameters")
#: Tags by which a notebook already decided how a cell shows (such cells are left alone).
DISPLAY_TAGS = ("remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input", "hide-output")
#: Files and folders of the repository whose changes can change a run's results.
RESULT_INPUTS = ("audioslots", "notebooks")
#: Marks the banner cell that :func:`stage` inserts, so that staging twice inserts it once.
BANNER_TAG = "run-banner"


def prepare_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag a notebook's cells for reading in the book (in place; idempotent); returns it.

    Parameter cells (``parameters``, papermill's ``injected-parameters``) get ``remove-cell``;
    every other code cell without a display tag gets ``hide-input`` (the code folds away,
    its outputs stay).
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if any(t in tags for t in PARAMETER_TAGS):
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


@dataclass
class Staleness:
    """Whether the code has moved on since a run was made.

    Attributes:
        run_commit: the commit recorded in the run's provenance (may end in ``-dirty``).
        book_commit: the commit checked out where the book is built.
        changed: files under :data:`RESULT_INPUTS` that differ between the run's commit and the
            working tree (committed since, uncommitted or untracked).
        stale: the run may not be what the current code produces.
        reason: one sentence for the reader when ``stale``, else empty.
    """

    run_commit: str
    book_commit: str
    changed: list[str] = field(default_factory=list)
    stale: bool = False
    reason: str = ""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def staleness(run_commit: str, repo: str | Path = ".", paths: tuple[str, ...] = RESULT_INPUTS) -> Staleness:
    """Compare the commit that made a run with the checkout the book is built from.

    Equivalent to ``git diff --quiet RUN_COMMIT -- audioslots notebooks`` (the working tree, so
    commits since the run and uncommitted changes both count) plus untracked files there.

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
    pathspecs = [f":(top){p}" for p in paths]
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
        return ("```{admonition} Results older than the code\n:class: warning stale-run\n\n" + text + " " + state.reason
                + " The numbers and figures below may differ from what the current code produces: "
                "re-run `make reproduce` to refresh them.\n```\n")
    return "```{admonition} Which code made these results\n:class: note run-commit\n\n" + text + " The library and notebooks are unchanged since.\n```\n"


def _banner_cell(notebook: nbformat.NotebookNode, text: str) -> None:
    """Insert (or replace) the banner right after the notebook's title cell."""
    notebook.cells = [c for c in notebook.cells if BANNER_TAG not in c.metadata.get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = [BANNER_TAG]
    cell["id"] = BANNER_TAG
    titled = [i for i, c in enumerate(notebook.cells)
              if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")]
    notebook.cells.insert(titled[0] + 1 if titled else 0, cell)


def markdown_table(table: pd.DataFrame) -> str:
    """A pandas table as a Markdown pipe table (index dropped; ``|`` in cells escaped)."""
    def row(values):
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    lines = [row(table.columns), row(["---"] * len(table.columns))]
    lines += [row(values) for values in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def status_markdown(run_dir: str | Path) -> str:
    """The paper's claims with this run's verdicts (:func:`audioslots.report.claims`) as MyST."""
    from audioslots.report import claims
    from audioslots.reproduce import load_metrics

    try:
        metrics = load_metrics(run_dir)
    except (ValueError, FileNotFoundError):
        return "```{warning}\nThis run has no metrics yet: no claim of the paper can be checked.\n```\n"
    table = claims(metrics, Path(run_dir).parent / "paper_table1.csv")
    table["verdict"] = [f"**{v}**" if v in ("yes", "no") else v for v in table["verdict"]]
    table["likely reason"] = [f"{{ref}}`{reason} <{label}>`" if label else ""
                              for reason, label in zip(table["likely reason"], table.pop("why"))]
    return markdown_table(table)


def all_runs_markdown(results: str | Path = "results", paper_csv: str | Path = "results/paper_table1.csv") -> str:
    """Table 1 of every run in ``results/*/table1.csv`` beside the paper's, as MyST sections."""
    from audioslots.report import table1_of_runs

    runs = sorted(p.parent for p in Path(results).glob("*/table1.csv"))
    if not runs:
        return "No run in `results/` has a `table1.csv` yet.\n"
    table = table1_of_runs(runs, paper_csv)
    parts = ["## The runs\n\n" + markdown_table(run_summaries(runs))]
    for mask, group in table.groupby("mask", sort=False):
        parts.append(f"## SI-SNRi (dB), {mask} masks\n\n" + markdown_table(group.drop(columns="mask")))
    return "\n".join(parts)


def run_summaries(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per run from its ``provenance.json``: commit, device, preset and steps of each network."""
    rows = []
    for run_dir in run_dirs:
        info = provenance.load(run_dir)
        trained = {k.removeprefix("train:"): v for k, v in info.items() if k.startswith("train:")}
        presets = sorted({v.get("preset", {}).get("name", "?") for v in trained.values()})
        devices = sorted({v.get("device", "?") for v in trained.values()})
        rows.append({
            "run": Path(run_dir).name,
            "commit": f"`{info.get('commit', 'unrecorded')[:7]}`",
            "device": ", ".join(devices) or "—",
            "preset": ", ".join(presets) or "—",
            "training steps": ", ".join(f"{name} {v.get('steps', '?'):,}" for name, v in sorted(trained.items())) or "—",
            "note": info.get("time_boxed", {}).get("what", ""),
        })
    return pd.DataFrame(rows)


STAGED_FILES = ("provenance.json", "table1.csv")


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
    (target / ".gitignore").write_text("# Generated by `make book` (audioslots.book.stage): never committed.\n*\n")
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
        notebook = prepare_notebook(nbformat.read(path, as_version=4))
        _banner_cell(notebook, text)
        nbformat.write(notebook, target / "notebooks" / path.name)
    (target / "banner.md").write_text(text)
    (target / "status.md").write_text(status_markdown(run_dir))
    (target / "all_runs.md").write_text(all_runs_markdown(run_dir.parent, run_dir.parent / "paper_table1.csv"))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m audioslots.book", description=__doc__.split("\n\n")[0])
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
