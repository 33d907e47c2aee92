"""The changelog of the reference run (audioslots.reporting.changelog): the Markdown from given
versions (no git), and the versions read from this repository's history."""

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from audioslots.reporting.changelog import (
    RunVersion, cell, changelog, changelog_markdown, read_versions, short_message,
)

ROOT = Path(__file__).resolve().parents[2]
#: The book's text column is about 690 px wide: a table row (cells' text, no Markdown) must stay short.
NARROW = 60


def _table(values: dict, label: bool = True, n_mixtures: int = 100) -> pd.DataFrame:
    """A table1.csv with the given SI-SNRi per (name, mask), a decoy row first-matched by nothing."""
    rows = [{"label": "AudioSlots (1 s)", "system": "AudioSlots", "mask": "ibm", "si_snri": 99.0}]
    rows += [{"label": name, "system": name, "mask": mask, "si_snri": value, "n_mixtures": n_mixtures}
             for (name, mask), value in values.items()]
    table = pd.DataFrame(rows)
    return table if label else table.drop(columns="label").iloc[1:]


def _version(commit, date, table, by=None, message="A reference run"):
    return RunVersion(commit * 40 if len(commit) == 1 else commit, date, message, table,
                      {"commit": by} if by else {})


FULL = {("AudioSlots", "ibm"): -1.8038, ("AudioSlots", "wiener"): 0.5326, ("Autoencoder", "ibm"): 0.3317,
        ("Autoencoder", "wiener"): 2.1554, ("Oracle", "ibm"): 12.2648, ("Oracle", "wiener"): 12.5415}


def _rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines]


def test_versions_are_listed_newest_first_whatever_order_they_come_in():
    older = _version("a", "2026-11-25T10:00:00+00:00", _table(FULL))
    newer = _version("b", "2026-11-29T11:00:19+00:00", _table(FULL))
    for given in ([older, newer], [newer, older]):
        rows = _rows(changelog_markdown(given))
        assert [r[0] for r in rows] == ["2026-11-29", "bbbbbbb", "2026-11-25", "aaaaaaa"]


def test_equal_dates_keep_the_given_order_which_is_gits_newest_first():
    first, second = (_version(c, "2026-11-29", _table(FULL)) for c in "xy")
    rows = _rows(changelog_markdown([first, second]))
    assert rows[1][0] == "xxxxxxx" and rows[3][0] == "yyyyyyy"


def test_each_cell_gives_the_value_and_its_change_from_the_version_below_with_a_true_minus():
    before = {**FULL, ("AudioSlots", "ibm"): -1.8810}
    markdown = changelog_markdown([_version("b", "2026-11-29", _table(FULL), by="56ac90b2c6d8ca"),
                                   _version("a", "2026-11-26", _table(before), by="a196cebe72a4")])
    rows = _rows(markdown)
    assert rows[0] == ["2026-11-29", "IBM", "−1.80 (+0.08)", "0.33 (±0.00)", "12.26 (±0.00)"]
    assert rows[1] == ["b" * 7, "W", "0.53 (±0.00)", "2.16 (±0.00)", "12.54 (±0.00)"]
    assert rows[2][2] == "−1.88" and "(" not in "".join(rows[2][2:] + rows[3][2:])  # the oldest: no change
    assert "-" not in "".join(c for r in rows for c in r[2:])  # U+2212, never a hyphen
    assert "- `bbbbbbb` (run of `56ac90b`): A reference run" in markdown


def test_changes_are_of_the_shown_rounded_values():
    assert cell(pd.Series({"si_snri": -1.8038}), pd.Series({"si_snri": -1.8810})) == "−1.80 (+0.08)"
    assert cell(pd.Series({"si_snri": 0.004}), pd.Series({"si_snri": -0.004})) == "0.00 (±0.00)"


def test_a_missing_row_is_a_dash_and_its_neighbour_gets_no_change():
    partial = {k: v for k, v in FULL.items() if k[0] != "Autoencoder"}
    rows = _rows(changelog_markdown([_version("c", "2026-11-30", _table(FULL)),
                                     _version("b", "2026-11-29", _table(partial)),
                                     _version("a", "2026-11-28", _table(FULL))]))
    assert rows[2][3] == rows[3][3] == "—"
    assert rows[0][3] == "0.33" and rows[1][3] == "2.16"


def test_a_table_without_label_uses_system_and_its_first_matching_row():
    old = _table(FULL, label=False)
    old = pd.concat([old, pd.DataFrame([{"system": "AudioSlots", "mask": "ibm", "si_snri": 50.0}])])
    rows = _rows(changelog_markdown([_version("a", "2026-11-25", old)]))
    assert rows[0][2] == "−1.80"


def test_a_table_or_provenance_that_cannot_be_read_gives_dashes_not_an_error():
    markdown = changelog_markdown([_version("b", "2026-11-29", pd.DataFrame({"x": [1]})),
                                   RunVersion("a" * 40, "2026-11-28", "", None, None)])
    rows = _rows(markdown)
    assert all(c == "—" for r in rows for c in r[2:])
    assert rows[3][0] == "aaaaaaa" and "- `aaaaaaa` (no commit recorded)" in markdown


def test_no_change_is_given_across_a_change_of_test_set_and_the_entry_says_why():
    markdown = changelog_markdown([_version("b", "2026-11-29", _table(FULL, n_mixtures=100)),
                                   _version("a", "2026-11-25", _table(FULL, n_mixtures=40))])
    assert _rows(markdown)[0][2] == "−1.80"
    assert "another test set" in markdown and "40 mixtures" in markdown


def test_messages_keep_their_first_line_and_about_twenty_words_cut_at_a_word():
    long = " ".join(f"word{i}," for i in range(40)) + "\n\nBody that never shows."
    short = short_message(long)
    assert short.endswith(" …") and len(short.split()) == 21 and "," not in short[-4:]
    assert short_message("Short message\n\nbody") == "Short message"
    markdown = changelog_markdown([_version("a", "2026-11-25", _table(FULL), message=long)])
    assert "Body" not in markdown and f"- `aaaaaaa` (no commit recorded): {short}" in markdown


def test_the_table_stays_narrow_even_for_a_dirty_run_commit():
    markdown = changelog_markdown([_version("b", "2026-11-29", _table(FULL), by="e35239e8395659534b32d-dirty"),
                                   _version("a", "2026-11-25", _table({k: -v for k, v in FULL.items()}))])
    rows = _rows(markdown)
    assert "(run of `e35239e-dirty`)" in markdown
    assert {len(r) for r in rows} == {5}
    widest = [max(len(r[i]) for r in rows) for i in range(5)]  # each column as wide as its widest cell
    assert sum(widest) <= NARROW


def test_the_opening_sentence_counts_versions_and_says_what_a_rerun_reproduces():
    versions = [_version("b", "2026-11-29", _table(FULL))._replace(reruns=(("c" * 40, "d" * 40),)),
                _version("a", "2026-11-25", _table(FULL))]
    first = changelog_markdown(versions).split("\n\n")[0]
    assert "2 versions" in first and "from 2026-11-25 to 2026-11-29" in first
    assert "bit for bit" in first and "another kind of CPU" in first and "1 re-run " in first
    assert "byte-identical table by `ccccccc` (run of `ddddddd`)" in changelog_markdown(versions)


def test_no_versions_is_one_sentence():
    assert changelog_markdown([]).count("\n") == 1


# --- read from git ---------------------------------------------------------------------------------

def _is_checkout() -> bool:
    try:
        top = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return Path(top).resolve() == ROOT.resolve()


needs_git = pytest.mark.skipif(not _is_checkout(), reason="not a git checkout (e.g. a source archive)")


@needs_git
def test_this_repository_has_the_current_reference_table_as_its_newest_version():
    current = ROOT / "results/cpu/table1.csv"
    if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", str(current)],
                      capture_output=True, text=True).stdout.strip():
        pytest.skip("results/cpu/table1.csv has uncommitted changes")
    versions = read_versions(ROOT)
    assert versions and re.fullmatch(r"[0-9a-f]{40}", versions[0].commit)
    newest = versions[0].table
    expected = pd.read_csv(current)
    for name in ("AudioSlots", "Autoencoder", "Oracle"):
        for mask in ("ibm", "wiener"):
            pick = lambda t: t[(t["label"] == name) & (t["mask"] == mask)]["si_snri"].tolist()  # noqa: E731
            assert pick(newest) == pick(expected)
    assert versions[0].provenance.get("commit")
    assert [v.commit for v in versions] == subprocess.run(
        ["git", "-C", str(ROOT), "log", "--follow", "--format=%H", "--", "results/cpu/table1.csv"],
        capture_output=True, text=True, check=True).stdout.split()


@needs_git
def test_changelog_of_this_repository_is_markdown_with_a_table():
    text = changelog(ROOT)
    assert "| version | mask | AudioSlots | Autoencoder | Oracle |" in text and "bit for bit" in text


def test_a_folder_that_is_not_a_checkout_gets_one_sentence(tmp_path):
    (tmp_path / "results/cpu").mkdir(parents=True)
    text = changelog(tmp_path)
    assert "not a git checkout" in text and text.count("\n") == 1


def test_without_git_the_changelog_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the path
    assert shutil.which("git") is None
    assert "not a git checkout (or git is not installed)" in changelog(ROOT)
