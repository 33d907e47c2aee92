"""The notebooks execute end to end under papermill at the tiny preset and write the run's files."""

import json
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_preprocessing", "02_training", "03_baselines", "04_results", "05_figure2", "06_chunk_boundaries"]


@pytest.fixture(scope="module")
def executed(tiny_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    for name in NOTEBOOKS:
        try:
            papermill.execute_notebook(
                ROOT / "notebooks" / f"{name}.ipynb", run_dir / f"{name}.ipynb", cwd=str(ROOT), kernel_name="python3",
                parameters={"preset": "tiny", "data_root": str(tiny_data), "run_dir": str(run_dir), "progress": False},
                progress_bar=False,
            )
        except papermill.PapermillExecutionError as error:
            pytest.fail(f"{name}.ipynb failed in cell {error.exec_count}: {error.ename}: {error.evalue}")
    return run_dir


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
        cells = json.loads((executed / f"{name}.ipynb").read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, name


def test_figures_are_saved_as_images_in_the_executed_notebooks(executed):
    """The book renders the notebooks' outputs: every figure must be there as a PNG."""
    for name in ("01_preprocessing", "02_training", "04_results", "05_figure2", "06_chunk_boundaries"):
        cells = json.loads((executed / f"{name}.ipynb").read_text())["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows no figure"
        leaked = [o for o in outputs if "<Figure size" in "".join(o.get("data", {}).get("text/plain", ""))
                  and "image/png" not in o.get("data", {})]
        assert not leaked, f"{name}: a figure printed as text instead of an image"



def test_prepare_notebook_removes_parameter_cells_and_folds_code_only():
    from audioslots.book import prepare_notebook

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("preset = 'cpu'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("preset = 'tiny'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("plot()"),
        nbformat.v4.new_code_cell("x", metadata={"tags": ["remove-input"]}),
    ])
    sources = [c.source for c in notebook.cells]
    prepare_notebook(prepare_notebook(notebook))  # idempotent
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    assert tags == [[], ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"],
                    ["remove-input"]]
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
