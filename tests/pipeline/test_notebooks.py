"""The notebooks execute end to end under papermill at the tiny preset and write the run's files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["01_preprocessing", "02_training", "03_baselines", "04_results", "05_figure2", "06_chunk_boundaries"]


README = ROOT / "README.md"
RECIPE_START, RECIPE_END = "<!-- gpu-recipe-start -->", "<!-- gpu-recipe-end -->"


def readme_gpu_recipe() -> str:
    """The shell block of the README's GPU recipe, as printed (the book's intro includes the same lines)."""
    text = README.read_text()
    block = text[text.index(RECIPE_START) + len(RECIPE_START):text.index(RECIPE_END)]
    return block.strip().removeprefix("```bash").removesuffix("```").strip()


def copy_of_working_tree(target: Path) -> Path:
    """The repository's files as a fresh clone of this working tree would have them (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def recipe_clone(tiny_data, tmp_path_factory):
    """The README's GPU recipe, pasted into a copy of the repository, at the tiny preset on the CPU.

    Only the values of its variables change (data folder, preset, device) and the conda line goes
    (the environment is this one): every notebook runs under papermill, then the book is built.
    """
    clone = copy_of_working_tree(tmp_path_factory.mktemp("clone"))
    lines = readme_gpu_recipe().splitlines()
    assert lines[0].startswith("conda env create"), lines[0]
    settings = [i for i, line in enumerate(lines) if line.startswith("RUN=")]
    assert len(settings) == 1, "the recipe sets RUN, DATA, PRESET and DEVICE on one line"
    lines[settings[0]] = f"RUN=results/paper DATA={tiny_data} PRESET=tiny DEVICE=cpu"
    script = "set -u\n" + "\n".join(lines[1:]) + "\n"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    result = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0 or not (clone / "book" / "_build" / "html" / "index.html").exists():
        pytest.fail(f"The README's GPU recipe failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    return clone


@pytest.fixture(scope="module")
def executed(recipe_clone):
    """The run folder the recipe wrote: its notebooks executed at the tiny preset, its tables and metrics."""
    return recipe_clone / "results" / "paper"


def test_readme_recipe_ends_in_a_book_of_its_run(recipe_clone):
    html = recipe_clone / "book" / "_build" / "html"
    for name in NOTEBOOKS:
        assert (html / "run" / "notebooks" / f"{name}.html").exists(), name
    intro = (html / "intro.html").read_text()
    assert "results/paper" in intro and "What reproduced and what did not" in intro


def _cells(notebook):
    """What a pair must agree on: each cell's type, source and metadata (outputs and ids aside)."""
    return [(c.cell_type, c.source.strip(), dict(c.metadata)) for c in notebook.cells]


def test_every_notebook_is_a_jupytext_pair():
    """The MyST Markdown file is the source; papermill executes the .ipynb beside it."""
    notebooks = ROOT / "notebooks"
    texts = {p.stem for p in notebooks.glob("*.md")}
    executables = {p.stem for p in notebooks.glob("*.ipynb")}
    assert texts == executables, (f"unpaired notebooks {sorted(texts ^ executables)}: "
                                  "run .venv/bin/jupytext --sync notebooks/*.md")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.md")), ids=lambda p: p.stem)
def test_text_notebook_and_ipynb_are_in_sync(path):
    text = jupytext.read(path)
    executable = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    assert _cells(text) == _cells(executable), (
        f"{path.name} and {path.stem}.ipynb differ: edit the .md, then run .venv/bin/jupytext --sync {path}")
    assert executable.metadata["kernelspec"]["name"] == text.metadata["kernelspec"]["name"] == "python3"


def test_every_notebook_has_a_parameters_cell():
    for name in NOTEBOOKS:
        cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        assert sum("parameters" in c["metadata"].get("tags", []) for c in cells) == 1, name


def test_notebooks_write_table1_metrics_and_provenance(executed):
    table = pd.read_csv(executed / "table1.csv")
    rows = set(zip(table["system"], table["chunk_seconds"]))
    assert {("Oracle", 0.5), ("Autoencoder", 0.5), ("AudioSlots", 0.5), ("Oracle", 1.0), ("AudioSlots", 1.0)} <= rows
    assert ("ConvTasNet", 0.0) in rows  # the waveform peer, on whole mixtures
    provenance = json.loads((executed / "provenance.json").read_text())
    assert provenance["train:audioslots_0.5s"]["preset"]["name"] == "tiny"
    assert provenance["commit"] and provenance["environment"]["packages"]["torch"].startswith("2.11")


def test_executed_notebooks_have_no_error_outputs(executed):
    for name in NOTEBOOKS:
        cells = json.loads((executed / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, name


def test_figures_are_saved_as_images_in_the_executed_notebooks(executed):
    """The book renders the notebooks' outputs: every figure must be there as a PNG."""
    for name in ("01_preprocessing", "02_training", "04_results", "05_figure2", "06_chunk_boundaries"):
        cells = json.loads((executed / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows no figure"
        leaked = [o for o in outputs if "<Figure size" in "".join(o.get("data", {}).get("text/plain", ""))
                  and "image/png" not in o.get("data", {})]
        assert not leaked, f"{name}: a figure printed as text instead of an image"



def test_prepare_notebook_removes_parameter_cells_and_folds_code_only():
    from audioslots.reporting.staging import prepare_notebook

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("preset = 'cpu'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("preset = 'tiny'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("stream", text="drawn")]),
        nbformat.v4.new_code_cell("x", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("import numpy"),
    ])
    sources = [c.source for c in notebook.cells]
    prepare_notebook(prepare_notebook(notebook))  # idempotent
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    assert tags == [[], ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"],
                    ["remove-input"], ["remove-cell"]]
    assert [c.source for c in notebook.cells] == sources


#: Library calls that run networks or place them on a device: each notebook call must pass ``device``.
DEVICE_CALLS = {"train_run", "train_runs", "evaluate_runs", "evaluate_checkpoint", "load_models", "load_model", "train"}


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.md")), ids=lambda p: p.stem)
def test_notebooks_pass_the_device_parameter_to_every_network_call(path):
    import ast

    missing = []
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in DEVICE_CALLS and "device" not in {k.arg for k in node.keywords}:
                    missing.append(f"{name}(...) on line {node.lineno}")
    assert not missing, f"{path.name}: without device=: {missing}"
