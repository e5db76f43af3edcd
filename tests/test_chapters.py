"""The chapters' notebooks: the generated Colab cell and the merged parameters cell."""

from __future__ import annotations

import subprocess
import sys
import types

import nbformat

from hvae_lib import chapters


def test_colab_cell_reads_the_url_and_pins_and_is_idempotent(monkeypatch, tmp_path):
    """The cell clones the URL of _config.yml once, puts the clone on sys.path every time it
    runs (once, also after a restart), and installs only what is missing, with the pins of
    requirements.txt."""
    source = chapters.colab_cell()
    assert chapters.repository_url() in source
    assert chapters.pinned()["torch-geometric"] in source and "torch==" not in source
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(args))
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = tmp_path / "hvae"
    code = source.replace(repr(chapters.COLAB_ROOT), repr(str(root)))
    exec(compile(code, "colab", "exec"), {})
    assert calls[0][:2] == ["git", "clone"] and sys.path[0] == str(root)
    root.mkdir()
    calls.clear()
    exec(compile(code, "colab", "exec"), {})
    assert not any(c[:2] == ["git", "clone"] for c in calls) and sys.path.count(str(root)) == 1


def test_prepare_puts_the_colab_cell_first_and_finish_merges_parameters(tmp_path):
    source = tmp_path / "chapter.py"
    source.write_text('# %% [markdown]\n# # Title\n\n# %% tags=["parameters", "remove-cell"]\nprofile = "cpu"\n\n# %%\nprint(profile)\n')
    target = tmp_path / "chapter.ipynb"
    chapters.prepare(source, target)
    notebook = nbformat.read(target, as_version=4)
    assert "google.colab" in notebook.cells[0].source and notebook.cells[0].metadata["tags"] == ["remove-cell"]
    injected = nbformat.v4.new_code_cell('# Parameters\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(3, injected)
    nbformat.write(notebook, target)
    chapters.finish(target)
    cells = nbformat.read(target, as_version=4).cells
    parameters = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0].source == 'profile = "smoke"'
    assert not [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
