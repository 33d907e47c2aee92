"""Provenance: the commit a run records."""

import subprocess

import pytest

from audioslots.provenance import git_commit


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "table.csv").write_text("a\n1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_clean_checkout_records_the_bare_commit(repo):
    assert git_commit(repo / "pkg") == _git(repo, "rev-parse", "HEAD")


def test_a_run_rewriting_its_committed_results_is_not_dirty(repo):
    (repo / "results" / "table.csv").write_text("a\n2\n")
    assert git_commit(repo / "pkg") == _git(repo, "rev-parse", "HEAD")


def test_changed_code_is_dirty(repo):
    (repo / "pkg" / "code.py").write_text("x = 2\n")
    assert git_commit(repo / "pkg") == _git(repo, "rev-parse", "HEAD") + "-dirty"


def test_outside_a_checkout_says_so(tmp_path):
    assert git_commit(tmp_path).startswith("unknown")
