"""End to end: every chapter executes under the smoke profile and the book builds, warnings as errors.

Runs README's `make book` in a copy of the project, so the committed executed notebooks and
results are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hvae_lib.book_check import CHROMEDRIVER, CHROMIUM, check_book, format_reports
from hvae_lib.data import DataUnavailableError, data_dir, load_images

PROJECT = Path(__file__).resolve().parents[1]
BOOK_FILES = ["Makefile", "_config.yml", "_toc.yml", "requirements.txt", "book", "notebooks", "hvae_lib"]


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """A copy of the project with every chapter executed under smoke and the book built."""
    tmp_path = tmp_path_factory.mktemp("book")
    try:
        load_images("mnist")
    except DataUnavailableError as error:
        pytest.fail(f"the book's chapters read the real data sets; set HVAE_DATA_DIR.\n{error}")
    for name in BOOK_FILES:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    # Benchmarks are measurements of this machine, not runs: the appendix reads the committed ones.
    shutil.copytree(PROJECT / "results" / "benchmarks", tmp_path / "results" / "benchmarks")
    venv = Path(sys.prefix)
    env = {
        **os.environ,
        "HVAE_DATA_DIR": str(data_dir().resolve()),
        "HVAE_RESULTS_DIR": str(tmp_path / "results"),
        "HVAE_FIGURES_DIR": str(tmp_path / "figures"),
    }
    env.pop("MPLBACKEND", None)
    result = subprocess.run(
        ["make", "book", "PROFILE=smoke", f"VENV={venv}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return tmp_path


def test_smoke_book_builds(smoke_book):
    tmp_path = smoke_book
    toc = yaml.safe_load((tmp_path / "_toc.yml").read_text())
    for page in toc_files(toc):
        assert (tmp_path / "_build" / "html" / f"{page}.html").exists(), page
    for notebook in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"], notebook.name
        stderr = [o["text"] for o in outputs if o.get("name") == "stderr"]
        assert not stderr, f"{notebook.name} printed to stderr: {stderr}"
        assert "profile **smoke**" in json.dumps(outputs), f"{notebook.name} lacks its provenance note"
    assert any((tmp_path / "figures").glob("*.png"))


def test_smoke_book_renders_in_a_browser(smoke_book):
    """Every page in headless Chromium: images load, maths is typeset, figures are captioned,
    tables fit the content column (``hvae_lib.book_check``)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("HVAE_BROWSER_CHECK") == "required":
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required here (HVAE_BROWSER_CHECK=required)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    reports = check_book(smoke_book / "_build" / "html", smoke_book / "_build" / "browser_check")
    assert all(r.ok for r in reports), format_reports(reports)
    assert [r.page for r in reports] == toc_files(yaml.safe_load((smoke_book / "_toc.yml").read_text()))
