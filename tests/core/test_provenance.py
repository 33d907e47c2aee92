"""Provenance: the commit a run records."""

import re
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


@pytest.fixture(autouse=True)
def no_told_commit(monkeypatch):
    monkeypatch.delenv("AUDIOSLOTS_SOURCE_COMMIT", raising=False)


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


def test_a_copied_tree_takes_the_commit_it_is_told_even_with_a_stale_git_of_its_own(repo, monkeypatch):
    monkeypatch.setenv("AUDIOSLOTS_SOURCE_COMMIT", "0123abc")
    assert git_commit(repo / "pkg") == git_commit(repo.parent) == "0123abc"


# The book's stale-result banner (audioslots.reporting.staging.staleness / banner) -------------------------


def _notebook(*sources: str) -> str:
    """A notebook of code cells, as its file's text."""
    import nbformat

    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


@pytest.fixture
def code_repo(tmp_path):
    """A checkout with the folders that affect results (audioslots/, notebooks/) and a run; its
    notebook runs ``audioslots.model``."""
    for path, text in {"audioslots/__init__.py": "", "audioslots/model.py": "x = 1\n",
                       "notebooks/01.ipynb": _notebook("from audioslots.model import x"), "README.md": "r\n",
                       "results/cpu/table1.csv": "a\n1\n"}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run")
    return tmp_path


def _commit_all(repo, message):
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def test_run_of_the_current_code_is_not_stale(code_repo):
    from audioslots.reporting.staging import staleness

    state = staleness(_git(code_repo, "rev-parse", "HEAD"), code_repo)
    assert not state.stale and state.changed == [] and state.reason == ""


def test_changes_outside_library_and_notebooks_do_not_make_a_run_stale(code_repo):
    from audioslots.reporting.staging import staleness

    run = _git(code_repo, "rev-parse", "HEAD")
    (code_repo / "README.md").write_text("changed\n")
    (code_repo / "results" / "cpu" / "table1.csv").write_text("a\n2\n")
    _commit_all(code_repo, "docs and results")
    assert not staleness(run, code_repo).stale


def test_changing_a_module_no_notebook_runs_does_not_make_a_run_stale(code_repo):
    from audioslots.reporting.staging import staleness

    run = _git(code_repo, "rev-parse", "HEAD")
    (code_repo / "audioslots" / "reporting").mkdir()
    (code_repo / "audioslots" / "reporting" / "book.py").write_text("from audioslots.model import x\nrendering = 1\n")
    _commit_all(code_repo, "render differently")
    assert not staleness(run, code_repo).stale
    (code_repo / "audioslots" / "model.py").write_text("x = 2\n")
    assert staleness(run, code_repo).changed == ["audioslots/model.py"]


def test_a_module_counts_once_a_notebook_runs_it_through_another(code_repo):
    from audioslots.reporting.staging import staleness

    run = _git(code_repo, "rev-parse", "HEAD")
    (code_repo / "audioslots" / "loss.py").write_text("y = 1\n")
    _commit_all(code_repo, "a loss no notebook runs yet")
    assert not staleness(run, code_repo).stale
    (code_repo / "audioslots" / "model.py").write_text("def f():\n    from .loss import y\n")
    _commit_all(code_repo, "the model runs the loss, inside a function")
    assert staleness(run, code_repo).changed == ["audioslots/loss.py", "audioslots/model.py"]


def test_without_notebooks_to_read_every_module_counts(code_repo):
    from audioslots.reporting.staging import rendering_only

    assert rendering_only(code_repo) == []
    (code_repo / "audioslots" / "cli.py").write_text("")
    assert rendering_only(code_repo) == ["audioslots/cli.py"]
    (code_repo / "notebooks" / "01.ipynb").unlink()
    assert rendering_only(code_repo) == []


@pytest.mark.parametrize("source, module, package, names", [
    ("import a.b as c", "", False, {"a.b"}),
    ("from a.b import c, d", "", False, {"a.b", "a.b.c", "a.b.d"}),
    ("from . import m", "p.q.r", False, {"p.q", "p.q.m"}),
    ("from .. import m", "p.q.r", False, {"p", "p.m"}),
    ("from .s import t", "p.q", True, {"p.q.s", "p.q.s.t"}),
    ("def f():\n    import a\n", "", False, {"a"}),
    ("%matplotlib inline\n!ls\nimport a\n", "", False, {"a"}),
])
def test_imported_modules_reads_every_import_statement(source, module, package, names):
    from audioslots.reporting.staging import imported_modules

    assert imported_modules(source, module, package) == names


def test_the_notebooks_do_not_run_the_books_rendering_modules():
    """The book's pages and banner are made by modules the notebooks never import."""
    from pathlib import Path

    from audioslots.reporting.staging import notebook_code, rendering_only

    root = Path(__file__).resolve().parents[2]
    reached = notebook_code(root)
    assert {"audioslots/model.py", "audioslots/reporting/plots.py", "audioslots/__init__.py"} <= reached
    assert {"audioslots/reporting/book.py", "audioslots/reporting/staging.py", "audioslots/cli.py"} <= set(rendering_only(root))


def test_library_committed_since_the_run_makes_it_stale(code_repo):
    from audioslots.reporting.staging import staleness

    run = _git(code_repo, "rev-parse", "HEAD")
    (code_repo / "audioslots" / "model.py").write_text("x = 2\n")
    _commit_all(code_repo, "code")
    state = staleness(run, code_repo)
    assert state.stale and state.changed == ["audioslots/model.py"] and "audioslots/model.py" in state.reason


def test_uncommitted_and_untracked_notebook_changes_make_a_run_stale(code_repo):
    from audioslots.reporting.staging import staleness

    run = _git(code_repo, "rev-parse", "HEAD")
    (code_repo / "notebooks" / "01.ipynb").write_text(_notebook("from audioslots.model import x", "x + 1"))
    (code_repo / "notebooks" / "02.md").write_text("# 2\n")
    assert staleness(run, code_repo).changed == ["notebooks/01.ipynb", "notebooks/02.md"]


def test_a_dirty_or_unknown_run_commit_is_stale(code_repo):
    from audioslots.reporting.staging import staleness

    head = _git(code_repo, "rev-parse", "HEAD")
    assert staleness(head + "-dirty", code_repo).stale
    assert staleness("0" * 40, code_repo).stale


def test_banner_names_the_commit_and_warns_only_when_stale(code_repo):
    import json

    from audioslots.reporting.staging import banner

    run_dir = code_repo / "results" / "cpu"
    head = _git(code_repo, "rev-parse", "HEAD")
    (run_dir / "provenance.json").write_text(json.dumps({"commit": head}))
    fresh = banner(run_dir, code_repo, name="results/cpu")
    assert head[:7] in fresh and "stale-run" not in fresh
    (code_repo / "audioslots" / "model.py").write_text("x = 3\n")
    stale = banner(run_dir, code_repo, name="results/cpu")
    assert head[:7] in stale and "stale-run" in stale and "audioslots/model.py" in stale


# The book's page of every run (audioslots.reporting.book.all_runs_markdown) -------------------------------


def _fake_run(results, name, rows, commit, device, steps, time_boxed=None):
    import json

    import pandas as pd

    run = results / name
    run.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(run / "table1.csv", index=False)
    info = {"commit": commit, "train:audioslots_0.5s": {"preset": {"name": "paper"}, "device": device, "steps": steps}}
    if time_boxed:
        info["time_boxed"] = {"what": time_boxed}
    (run / "provenance.json").write_text(json.dumps(info))


def test_every_run_gets_a_row_its_overlap_variant_stays_on_its_page_and_its_provenance_a_row(tmp_path):
    from audioslots.reporting.book import all_runs_markdown

    def row(system, overlap, value):
        label = system + (f" ({round(100 * overlap)} % overlap)" if overlap else "")
        return {"label": label, "system": system, "chunk_seconds": 0.5, "framing": "pad-end", "chunk_overlap": overlap,
                "mask": "ibm", "si_snri": value, "data": "real"}

    _fake_run(tmp_path, "cpu", [row("AudioSlots", 0.0, 1.25), row("AudioSlots", 0.5, 2.5)], "a" * 40, "CPU", 900)
    _fake_run(tmp_path, "gpu", [row("AudioSlots", 0.0, 3.75)], "b" * 40, "NVIDIA H200", 1150, time_boxed="time-boxed")
    _fake_run(tmp_path, "toy", [{**row("AudioSlots", 0.0, 5.0), "data": "synthetic"}], "c" * 40, "CPU", 10)
    paper = tmp_path / "paper.csv"
    paper.write_text("paper_row,mask,metric,paper_value\nAudioSlots,ibm,si_snri,9.x\n")
    page = all_runs_markdown(tmp_path, paper)
    real, synthetic = page.split("## SI-SNRi (dB) on real")[1].split("## SI-SNRi (dB) on synthetic")
    # one row per run; the paper's values are on speech: a last row there, none on the synthetic set
    assert "| cpu | 1.25 |" in real and "| gpu | 3.75 |" in real and "| paper (Table 1) | 9.x |" in real
    assert "| toy | 5.00 |" in synthetic and "paper" not in synthetic.split("## The runs")[0]
    # the overlap variant is not a row of the paper's setting: it stays on the run's own page
    assert "2.50" not in page
    assert re.search(r"\| gpu \| `bbbbbbb` \| NVIDIA H200 \| paper \| audioslots_0.5s 1,150 \| — \| time-boxed \|", page)
    assert "| cpu | `aaaaaaa` | CPU | paper | audioslots_0.5s 900 | — |  |" in page


def test_amending_a_section_keeps_the_commit_environment_and_date_of_the_run(tmp_path):
    import json

    from audioslots.errors import DataError
    from audioslots.provenance import amend, load

    recorded = {"time_boxed": {}, "commit": "abc", "environment": {"python": "3.0"}, "updated": "then",
                "train:x": {"steps": 5}}
    (tmp_path / "provenance.json").write_text(json.dumps(recorded))
    amend(tmp_path, "train:x", {"train_flop": 10, "train_flop_derived": {"how": "counted afterwards"}})
    assert load(tmp_path) == {**recorded, "train:x": {"steps": 5, "train_flop": 10,
                                                      "train_flop_derived": {"how": "counted afterwards"}}}
    assert list(load(tmp_path)) == list(recorded)  # nothing moves
    with pytest.raises(DataError, match="no section 'train:y'"):
        amend(tmp_path, "train:y", {"train_flop": 1})


def test_environment_names_the_cpu_instruction_set_the_kernels_dispatch_to():
    import torch

    from audioslots.provenance import environment

    recorded = environment()["cpu_capability"]
    assert recorded == torch.backends.cpu.get_cpu_capability() and recorded
