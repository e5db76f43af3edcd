"""hvae_lib's layers import only the layers below them: no arrow upward, no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "hvae_lib"
# Each top-level package or module and its layer; an import must go to a strictly lower layer.
LAYER = {
    "stats": 0, "results": 0, "plotting": 0, "special": 0,
    "report": 1, "distributions": 1,
    "coordinates": 2, "data": 2,
    "models": 3,
    "training": 4, "evaluation": 4,
    "experiments": 5,
    "slides": 6, "chapters": 6, "book_check": 6, "units": 6,
}


def imported_packages(path: Path) -> set[str]:
    """The top-level hvae_lib packages that the file at ``path`` imports (relative or absolute)."""
    parts = path.relative_to(LIBRARY).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - node.level]
            name = [*base, *(node.module or "").split(".")] if node.module else list(base)
            found.add(name[0] if name else (node.names[0].name))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hvae_lib."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("hvae_lib.")}
    return found - {parts[0]}


def test_every_module_has_a_layer():
    tops = {p.relative_to(LIBRARY).with_suffix("").parts[0] for p in LIBRARY.rglob("*.py")} - {"__init__"}
    assert tops == set(LAYER), "add new packages to LAYER"


def test_imports_only_go_down():
    upward = []
    for path in sorted(LIBRARY.rglob("*.py")):
        source = path.relative_to(LIBRARY).with_suffix("").parts[0]
        if source == "__init__":
            continue
        upward += [f"{path.relative_to(LIBRARY)} imports {target}" for target in imported_packages(path)
                   if LAYER[target] >= LAYER[source]]
    assert not upward, upward


def test_the_checker_sees_relative_and_absolute_imports():
    """The import reader finds both spellings (so the layer test can fail)."""
    assert imported_packages(LIBRARY / "models" / "vae.py") >= {"distributions"}
    assert imported_packages(LIBRARY / "report.py") == {"results"}
