"""The browser check finds each defect it names, on small pages rendered in headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hvae_lib.book_check import CHROMEDRIVER, CHROMIUM, check_book

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("HVAE_BROWSER_CHECK") == "required":
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required here (HVAE_BROWSER_CHECK=required)", pytrace=False)
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)

PIXEL = (  # a 1x1 PNG
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
GOOD = f"""
<p>Prose with a formula already typeset: <code>$x$ in code is fine</code>.</p>
<figure><img src="{PIXEL}" width="100"><figcaption>Fig. 1 A captioned figure.</figcaption></figure>
<table><tr><th>d</th><th>LL</th></tr><tr><td>2</td><td>-131.5 ± 0.6</td></tr></table>
<table><tr><td style="width: 6em; white-space: normal">a sentence that quotes -10.1 ± 0.2 points may wrap</td></tr></table>
"""
BAD = {
    "missing_images": '<figure><img src="absent.png"><figcaption>Fig. 1 gone</figcaption></figure>',
    "uncaptioned_images": f'<img src="{PIXEL}" width="100">',
    "raw_latex": r"<p>The density is $\kappa \mu^T z$ here.</p>",
    "wide_tables": "<table><tr>" + "".join(f"<td>column number {i}</td>" for i in range(40)) + "</tr></table>",
    "wrapped_cells": '<table><tr><td style="width: 3em; white-space: normal">-131.5 ± 0.6</td></tr></table>',
}


def page(body: str) -> str:
    return (
        "<html><head><meta charset=\"utf-8\"><title>t</title></head><body>"
        f'<main><article class="bd-article" style="width: 600px">{body}</article></main></body></html>'
    )


def test_a_clean_page_passes_and_each_defect_is_found(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "good.html").write_text(page(GOOD))
    for name, body in BAD.items():
        (html / f"{name}.html").write_text(page(GOOD + body))
    reports = {r.page: r for r in check_book(html, tmp_path / "shots", ["good", *BAD])}

    assert reports["good"].ok, reports["good"].problems
    assert (reports["good"].figures, reports["good"].tables) == (1, 2)
    for name in BAD:
        found = {check for check, items in reports[name].problems.items() if items}
        assert found == {name}, (name, reports[name].problems)
    assert len(list((tmp_path / "shots").glob("*.png"))) == 1 + len(BAD)


def test_a_page_missing_from_the_build_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        check_book(tmp_path, tmp_path / "shots", ["absent"])


def test_maths_on_a_page_whose_mathjax_never_starts_is_reported(tmp_path):
    """Sphinx marks maths with class "math" and loads MathJax deferred; without it, the formula
    stays raw and the page fails after its reloads, naming the cause."""
    html = tmp_path / "html"
    html.mkdir()
    (html / "nomathjax.html").write_text(page(GOOD + r'<p>Inline <span class="math">\(x\)</span>.</p>'))
    (report,) = check_book(html, tmp_path / "shots", ["nomathjax"], mathjax_wait=0.5)
    assert any("MathJax did not start within" in item for item in report.problems["raw_latex"])
    assert any(item.startswith(r"\(x\)") for item in report.problems["raw_latex"])
