"""The package's layout as ARCHITECTURE.md draws it: layers import only from the layers above them,
functions stay short, imports sit at the top of modules, and results/ holds no code."""

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "audioslots"

#: The layers, top (imported by everything) to bottom (imports everything). A module of a layer may
#: import from its own layer and the layers above it.
LAYERS = [
    {"config", "errors", "kinds", "runs", "audio", "features", "model", "convtasnet", "matching", "loss", "masks", "metrics",
     "separate", "flops", "provenance"},
    {"data"},
    {"training"},
    {"evaluation"},
    {"reporting"},
    {"pipeline", "cli", "cli_options", "__main__", "__init__"},
]
#: Imports that stay inside a function, each for a reason stated beside it in the module.
DEFERRED_IMPORTS = {
    ("audioslots/audio.py", "torchaudio.functional"),  # resampling only; torchaudio is slow to import
    ("audioslots/data/mix_librispeech.py", "pyloudnorm"),  # only the LibriSpeech builder measures loudness
    ("audioslots/reporting/figure2.py", "IPython.display"),  # comes with the notebooks, not a dependency
}
LONGEST_FUNCTION_LINES = 100


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _layer(path: Path) -> int:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audioslots"):
            names = [node.module] if node.module != "audioslots" else [f"audioslots.{a.name}" for a in node.names]
            yield from names
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("audioslots"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_from_its_layer_and_the_layers_above(path):
    own = _layer(path)
    for name in _imported_modules(ast.parse(path.read_text())):
        parts = name.split(".")
        if len(parts) < 2:
            continue
        target = PACKAGE / parts[1]
        target = target if target.is_dir() else target.with_suffix(".py")
        assert _layer(target) <= own, f"{path.relative_to(ROOT)} imports {name}, a layer below it"


def test_no_function_of_the_package_is_longer_than_a_screen_and_a_half():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}::{node.name} ({lines} lines)")
    assert not long


def test_imports_sit_at_the_top_of_modules_except_the_deferred_ones_with_a_reason():
    inside = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        inside |= {(str(path.relative_to(ROOT)), a.name) for a in inner.names}
                    elif isinstance(inner, ast.ImportFrom):
                        inside.add((str(path.relative_to(ROOT)), inner.module))
    assert inside <= DEFERRED_IMPORTS, sorted(inside - DEFERRED_IMPORTS)


def test_results_hold_no_code():
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert [f for f in tracked.stdout.splitlines() if f.endswith(".py")] == []
