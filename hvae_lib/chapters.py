"""From a chapter's jupytext source to the notebook the book renders and Colab opens.

``prepare`` reads ``notebooks/NAME.py`` and puts the Colab setup cell first, generated from
``_config.yml`` (the repository URL lives there only) and ``requirements.txt`` (the pins).
``finish`` runs after papermill: it writes the values papermill injected into the chapter's own
``parameters`` cell and drops the injected cell, so the rendered chapter has one (hidden)
parameters cell and a reader who edits it is not overridden by a second one.

    python -m hvae_lib.chapters prepare notebooks/table1_mnist.py _build/notebooks/table1_mnist.ipynb
    python -m hvae_lib.chapters finish _build/notebooks/table1_mnist.executed.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

PROJECT = Path(__file__).resolve().parents[1]
COLAB_ROOT = "/content/hvae"
# Import name -> distribution name of what the chapters need and Colab does not ship.
COLAB_MISSING = {"torch_geometric": "torch_geometric", "power_spherical": "power-spherical"}

COLAB_CELL = '''\
# On Colab only: put the book's library on the path (cloned once, so a restarted runtime finds it)
# and install the pinned packages Colab lacks; Colab's own torch is kept.
import importlib.util
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    if not os.path.exists({root!r}):
        subprocess.run(["git", "clone", "--depth=1", {url!r}, {root!r}], check=True)
    if {root!r} not in sys.path:
        sys.path.insert(0, {root!r})
    missing = [pin for module, pin in {pins!r}.items() if importlib.util.find_spec(module) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
'''


def repository_url(config: Path = PROJECT / "_config.yml") -> str:
    """The book's repository URL, from ``_config.yml`` (``repository.url``)."""
    return yaml.safe_load(config.read_text())["repository"]["url"]


def pinned(requirements: Path = PROJECT / "requirements.txt") -> dict[str, str]:
    """``name==version`` of every pinned requirement, keyed by the lower-case name."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = f"{match.group(1)}=={match.group(2)}"
    return pins


def colab_cell() -> str:
    """The source of the Colab setup cell."""
    pins = pinned()
    wanted = {module: pins[name.lower().replace("_", "-")] for module, name in COLAB_MISSING.items()}
    return COLAB_CELL.format(root=COLAB_ROOT, url=repository_url(), pins=wanted)


def prepare(source: Path, target: Path) -> None:
    """Write the notebook of chapter ``source`` (jupytext) to ``target``, Colab cell first."""
    notebook = jupytext.read(source)
    cell = nbformat.v4.new_code_cell(colab_cell(), metadata={"tags": ["remove-cell"]})
    notebook.cells.insert(0, cell)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def finish(path: Path) -> None:
    """Merge papermill's injected parameters into the chapter's ``parameters`` cell, in place."""
    notebook = nbformat.read(path, as_version=4)
    tags = [cell.get("metadata", {}).get("tags", []) for cell in notebook.cells]
    injected = [i for i, t in enumerate(tags) if "injected-parameters" in t]
    own = [i for i, t in enumerate(tags) if "parameters" in t]
    if not injected:
        return
    if len(own) != 1:
        raise ValueError(f"{path}: expected one cell tagged 'parameters', found {len(own)}")
    lines = [line for line in notebook.cells[injected[0]].source.splitlines() if line and not line.startswith("#")]
    notebook.cells[own[0]].source = "\n".join(lines)
    del notebook.cells[injected[0]]
    nbformat.write(notebook, path)


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    if command == "prepare" and len(paths) == 2:
        prepare(Path(paths[0]), Path(paths[1]))
    elif command == "finish" and len(paths) == 1:
        finish(Path(paths[0]))
    else:
        sys.exit(__doc__)
