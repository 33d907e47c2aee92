"""The changelog of the reference run: every committed version of ``results/cpu/table1.csv``.

The reference run (``results/cpu``) is the run ``make reproduce`` writes and the book shows by
default. Each commit that changed its ``table1.csv`` is one version; the book lists them, newest
first, with the commit that made the run (its ``provenance.json``) and how the SI-SNRi of the
headline rows moved. Nothing is written by hand: :func:`read_versions` reads the versions from
git, :func:`changelog_markdown` (pure, no git) turns them into MyST Markdown, and :func:`changelog`
does both for a checkout, or says in one sentence why it cannot (no git, not a checkout).
"""

from __future__ import annotations

import io
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from audioslots.kinds import AUDIOSLOTS_ROW, AUTOENCODER_ROW, ORACLE_ROW

#: The reference run, relative to the repository root.
REFERENCE_RUN = "results/cpu"
#: The rows of ``table1.csv`` the changelog follows, by ``label`` (or ``system`` in old versions).
ROWS = (AUDIOSLOTS_ROW, AUTOENCODER_ROW, ORACLE_ROW)
#: The masks the changelog follows, each as (value of the ``mask`` column, how the table names it).
MASKS = (("ibm", "IBM"), ("wiener", "W"))
#: Columns that name the test set a row was scored on; no change is given across a change of test set.
TEST_SET_COLUMNS = ("data", "n_mixtures")
#: Commit messages are shortened to about this many words.
MESSAGE_WORDS = 20
#: What is known of re-runs on another kind of CPU (the message of commit 78e07a9 says so).
MINUS = "\u2212"


class RunVersion(NamedTuple):
    """One committed version of the reference run's ``table1.csv``."""

    #: The commit that changed ``table1.csv`` (full or short hash).
    commit: str
    #: When it was committed, ISO 8601 (``2026-11-29T11:00:19+00:00`` or ``2026-11-29``).
    date: str
    #: The commit message (only its first line is shown).
    message: str
    #: That version of ``table1.csv``; None where it cannot be read.
    table: pd.DataFrame | None
    #: That version of ``provenance.json``; None or empty where there is none.
    provenance: dict | None
    #: Later commits that re-made the run with other code and left ``table1.csv`` byte-identical, as
    #: (commit, the commit that made that re-run) pairs, oldest first.
    reruns: tuple = ()


def short_message(message: str, words: int = MESSAGE_WORDS) -> str:
    """The first line of a commit message, cut to ``words`` words at a word boundary (``…`` if cut)."""
    lines = message.strip().splitlines()
    parts = lines[0].split() if lines else []
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(",;:") + " …"


def short_commit(commit: str | None) -> str:
    """A commit as the book names it: 7 hex digits, ``-dirty`` kept; ``""`` for none."""
    if not commit:
        return ""
    commit = str(commit)
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:7] + ("-dirty" if dirty else "")


def made_by(provenance: dict | None) -> str:
    """The short commit recorded in a run's provenance as the code that made it (``""`` if none)."""
    return short_commit((provenance or {}).get("commit"))


def _row(table: pd.DataFrame | None, name: str, mask: str) -> pd.Series | None:
    """The first row of ``table`` named ``name`` (``label``, else ``system``) with ``mask``; None if absent."""
    if table is None or "mask" not in table.columns or "si_snri" not in table.columns:
        return None
    key = "label" if "label" in table.columns else "system" if "system" in table.columns else None
    if key is None:
        return None
    rows = table[(table[key].astype(str) == name) & (table["mask"].astype(str) == mask)]
    return None if rows.empty else rows.iloc[0]


def _value(row: pd.Series | None) -> float | None:
    value = None if row is None else pd.to_numeric(row["si_snri"], errors="coerce")
    return None if value is None or pd.isna(value) else float(value)


def same_test_set(row: pd.Series | None, previous: pd.Series | None) -> bool:
    """Whether two rows were scored on the same test set, by the :data:`TEST_SET_COLUMNS` both have."""
    if row is None or previous is None:
        return False
    common = [c for c in TEST_SET_COLUMNS if c in row.index and c in previous.index]
    return all(str(row[c]).strip() == str(previous[c]).strip() for c in common)


def _number(value: float, signed: bool = False) -> str:
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    if signed and text in ("+0.00", "-0.00"):
        return "±0.00"
    return text.replace("-", MINUS)


def cell(row: pd.Series | None, previous: pd.Series | None) -> str:
    """``−1.80 (+0.08)``: a row's SI-SNRi and its change from the previous version's row.

    ``—`` where the row is missing; the value alone where the previous version has no such row
    or scored it on another test set (:func:`same_test_set`).
    """
    value = _value(row)
    if value is None:
        return "—"
    before = _value(previous)
    if before is None or not same_test_set(row, previous):
        return _number(value)
    return f"{_number(value)} ({_number(round(value, 2) - round(before, 2), signed=True)})"


def _when(version: RunVersion) -> datetime:
    when = datetime.fromisoformat(str(version.date).strip())
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _test_set(row: pd.Series | None) -> str:
    if row is None:
        return "an unrecorded test set"
    parts = [str(row["data"])] if "data" in row.index else []
    parts += [f"{int(row['n_mixtures'])} mixtures"] if "n_mixtures" in row.index else []
    return ", ".join(parts) or "an unrecorded test set"


def _first_row(table: pd.DataFrame | None) -> tuple[str, str, pd.Series] | None:
    """The first of the followed rows that ``table`` has: (name, mask, row)."""
    rows = ((name, mask, _row(table, name, mask)) for name in ROWS for mask, _ in MASKS)
    return next((r for r in rows if r[2] is not None), None)


def _environment(provenance: dict | None) -> str:
    environment = (provenance or {}).get("environment") or {}
    torch = (environment.get("packages") or {}).get("torch")
    parts = [f"CPU kernels {environment['cpu_capability']}"] if environment.get("cpu_capability") else []
    parts += [f"torch {torch}"] if torch else []
    return ", ".join(parts)


def _entry(version: RunVersion, previous: RunVersion | None) -> str:
    """The bullet of one version: its commit, what made it, its message, test-set change and re-runs."""
    by, environment = made_by(version.provenance), _environment(version.provenance)
    what = ", ".join(p for p in (f"run of `{by}`" if by else "no commit recorded", environment) if p)
    text = f"- `{short_commit(version.commit)}` ({what}): {short_message(version.message)}"
    first = _first_row(version.table)
    if previous is not None and first is not None:
        name, mask, row = first
        before = _row(previous.table, name, mask)
        if before is not None and not same_test_set(row, before):
            text += (f" *Scored on another test set than the version before ({_test_set(row)}; before: "
                     f"{_test_set(before)}), so no change is given.*")
    if version.reruns:
        again = ", ".join(f"`{short_commit(c)}`" + (f" (run of `{short_commit(b)}`)" if b else "")
                          for c, b in version.reruns)
        text += f" *Re-made with a byte-identical table by {again}.*"
    return text + "\n"


def _table(versions: list[RunVersion]) -> str:
    """Two rows per version (IBM, W), newest first, the version's date on the first and its commit on
    the second (one narrow column; the commit that made the run is in the version's bullet)."""
    lines = ["| version | mask | " + " | ".join(ROWS) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in ROWS) + " |"]
    for i, version in enumerate(versions):
        previous = versions[i + 1] if i + 1 < len(versions) else None
        heads = (_when(version).strftime("%Y-%m-%d"), short_commit(version.commit))
        for head, (mask, mask_name) in zip(heads, MASKS):
            cells = [cell(_row(version.table, name, mask), _row(previous.table if previous else None, name, mask))
                     for name in ROWS]
            lines.append("| " + " | ".join([head, mask_name] + cells) + " |")
    return "\n".join(lines) + "\n"


def changelog_markdown(versions: list[RunVersion] | list[tuple], run: str = REFERENCE_RUN) -> str:
    """MyST Markdown of the versions of a run's ``table1.csv``: a sentence, a table, one bullet each.

    Args:
        versions: :class:`RunVersion` (or tuples of its fields: commit, date, message, table1,
            provenance[, reruns]) in any order; shown newest first (by date; the given order
            breaks ties, so pass git's order, newest first).
        run: the run's folder, as the text names it.

    Returns:
        The sentence says how many versions there are and what a re-run reproduces; the table
        gives, per version and mask, the SI-SNRi (dB) of :data:`ROWS` with the change from the
        version below it; the bullets give each commit's message.
    """
    versions = [RunVersion(*v) for v in versions]
    if not versions:
        return f"No commit of this repository holds `{run}/table1.csv` yet.\n"
    versions = sorted(versions, key=_when, reverse=True)  # stable: equal dates keep git's order
    reruns = sum(len(v.reruns) for v in versions)
    again = (f" ({reruns} re-run{'s' if reruns != 1 else ''} of other code, named below, left the table "
             "byte-identical)") if reruns else ""
    span = f"from {_when(versions[-1]):%Y-%m-%d} to {_when(versions[0]):%Y-%m-%d}"
    text = (f"The history of this repository holds {len(versions)} version{'s' if len(versions) != 1 else ''} "
            f"of `{run}/table1.csv`, {span}. Re-running the same code reproduces the trained rows bit for "
            f"bit on the same kind of CPU and torch build{again}; on another kind of CPU the trained rows can "
            "differ while the Oracle rows do not (the CPU kernels each run used are in its bullet below).\n\n")
    text += ("SI-SNRi in dB on the run's test mixtures with the IBM and the Wiener-like (W) mask, newest version "
             "first; in brackets the change from the version below; — where a version has no such row. Each version "
             "is named by its date and its commit; its bullet below gives the commit that made the run (`-dirty`: "
             "with uncommitted changes) and the commit's message.\n\n")
    text += _table(versions) + "\n"
    return text + "".join(_entry(v, versions[i + 1] if i + 1 < len(versions) else None)
                          for i, v in enumerate(versions))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _show(repo: Path, commit: str, path: str) -> str | None:
    try:
        return _git(repo, "show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        return None


def _provenance(repo: Path, commit: str, run: str) -> dict:
    text = _show(repo, commit, f"{run}/provenance.json")
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}


def _table1(repo: Path, commit: str, run: str) -> pd.DataFrame | None:
    text = _show(repo, commit, f"{run}/table1.csv")
    try:
        return pd.read_csv(io.StringIO(text)) if text else None
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def _reruns(repo: Path, run: str, changed: set[str]) -> dict[str, tuple]:
    """Per version (a commit of ``changed``), the later commits that re-made the run with other code
    (another commit in ``provenance.json``) without changing ``table1.csv``."""
    log = _git(repo, "log", "--reverse", "--format=%H", "--", f"{run}/table1.csv", f"{run}/provenance.json").split()
    found: dict[str, list] = {}
    current, last_by = None, None
    for commit in log:
        by = _provenance(repo, commit, run).get("commit")
        if commit in changed:
            current, last_by = commit, by
        elif current is not None and by and by != last_by:
            found.setdefault(current, []).append((commit, by))
            last_by = by
    return {commit: tuple(pairs) for commit, pairs in found.items()}


def read_versions(repo: str | Path = ".", run: str = REFERENCE_RUN) -> list[RunVersion]:
    """Every commit that changed ``run/table1.csv`` (``git log --follow``), newest first, with that
    version's table and provenance and the re-runs that left it unchanged.

    Raises:
        OSError: git is not installed.

    ``repo`` outside a git checkout raises ``subprocess.CalledProcessError``.
    """
    repo = Path(repo)
    fields = "%H%x1f%cI%x1f%s%x1e"
    log = _git(repo, "log", "--follow", f"--format={fields}", "--", f"{run}/table1.csv")
    entries = [e.strip("\n").split("\x1f") for e in log.split("\x1e") if e.strip()]
    reruns = _reruns(repo, run, {commit for commit, _, _ in entries})
    return [RunVersion(commit, date, message, _table1(repo, commit, run), _provenance(repo, commit, run),
                       reruns.get(commit, ())) for commit, date, message in entries]


def _is_checkout_root(repo: Path) -> bool:
    try:
        top = _git(repo, "rev-parse", "--show-toplevel").strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return bool(top) and Path(top).resolve() == repo.resolve()


def changelog(repo: str | Path = ".", run: str = REFERENCE_RUN) -> str:
    """:func:`changelog_markdown` of :func:`read_versions`, or one sentence saying why there is none
    (git missing, ``repo`` not the root of a git checkout, e.g. a source archive), plus a note where
    the history is shallow or the working tree holds an uncommitted version of the table."""
    repo = Path(repo)
    if not _is_checkout_root(repo):
        return (f"This copy of the repository is not a git checkout (or git is not installed), so the history "
                f"of `{run}/table1.csv` cannot be listed here: `git log -- {run}/table1.csv` in a clone shows it.\n")
    try:
        versions = read_versions(repo, run)
        shallow = _git(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
        modified = bool(_git(repo, "status", "--porcelain", "--", f"{run}/table1.csv").strip())
    except (OSError, subprocess.CalledProcessError) as error:
        return f"git could not list the history of `{run}/table1.csv` here ({type(error).__name__}).\n"
    text = changelog_markdown(versions, run)
    if shallow:
        text += ("\nThis checkout is a shallow clone: older versions are left out (`git fetch --unshallow` "
                 "brings them).\n")
    if modified:
        text += (f"\nThe working tree's `{run}/table1.csv` differs from the newest committed version: the "
                 "book's other pages show that uncommitted run.\n")
    return text
