"""The built book as a reader's browser shows it: every page rendered in headless Chromium.

Each page of ``_toc.yml`` is served from the built HTML on localhost, opened at a laptop's
width, and checked once MathJax has typeset it. A page fails on

* an image that did not load (``naturalWidth == 0``);
* a formula left as raw LaTeX (``$...$``, ``\\(``, ``\\[``, ``\\begin{...}`` in the text), a
  MathJax error, or maths on a page whose MathJax never started;
* an image outside a ``<figure>`` with a non-empty ``<figcaption>``;
* a table wider than the content column, or a "mean ± sd" cell that wraps onto two lines.

Every page's full-length screenshot goes to ``--screenshots`` (default ``_build/browser_check``,
which git ignores). Chromium is driven through ChromeDriver's W3C WebDriver protocol over HTTP,
so nothing beyond Debian's ``chromium`` and ``chromium-driver`` packages is needed.

    python -m hvae_lib.book_check _build/html
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hvae_lib.report import MEAN_SD

PROJECT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 900)
# Flags for a closed network: no background connections that the machine would refuse.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}",
]

# Runs in the page once MathJax has finished; returns what the checks need.
PAGE_SCRIPT = r"""
const [wait, meanSdPattern, done] = arguments;
const meanSd = new RegExp(meanSdPattern);
const article = document.querySelector("article.bd-article") || document.querySelector("main");
const hasMath = article.querySelector(".math") !== null;
const started = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
// MathJax is a deferred script: on a loaded machine it can still be absent here, so a page with
// maths waits for it (up to `wait` ms) rather than being read before it typesets.
const mathjax = new Promise(resolve => {
  const deadline = Date.now() + wait;
  const poll = () => {
    if (!hasMath) resolve(true);
    else if (started()) MathJax.startup.promise.then(() => resolve(true));
    else if (Date.now() > deadline) resolve(false);
    else setTimeout(poll, 50);
  };
  poll();
});
mathjax.then(mathjaxStarted => {
  const column = article.clientWidth;
  const images = [...article.querySelectorAll("img")];
  const missing = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const uncaptioned = images.filter(i => {
    const caption = i.closest("figure") && i.closest("figure").querySelector("figcaption");
    return !caption || !caption.textContent.trim();
  }).map(i => i.getAttribute("src"));
  const skip = "pre, code, script, style, mjx-container, .highlight, .MathJax";
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const latex = /\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/;
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(skip) && latex.test(node.textContent)) {
      raw.push(node.textContent.trim().slice(0, 80));
    }
  }
  const errors = article.querySelectorAll("mjx-merror").length;
  const tables = [...article.querySelectorAll("table")];
  const label = t => t.caption ? t.caption.textContent.trim()
    : [...t.querySelectorAll("thead th")].map(th => th.textContent.trim()).join(" | ").slice(0, 100);
  const wide = tables.filter(t => t.scrollWidth > column + 1)
    .map(t => `${label(t)} (${t.scrollWidth} px > ${column} px)`);
  const wrapped = [];
  for (const cell of article.querySelectorAll("td, th")) {
    if (!meanSd.test(cell.textContent.trim())) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    if (lines.size > 1) wrapped.push(cell.textContent.trim());
  }
  done({
    title: document.title,
    column: column,
    height: document.documentElement.scrollHeight,
    figures: article.querySelectorAll("figure").length,
    tables: tables.length,
    formulas: article.querySelectorAll("mjx-container").length,
    missing_images: missing,
    uncaptioned_images: uncaptioned,
    raw_latex: raw,
    mathjax_errors: errors,
    mathjax_started: mathjaxStarted,
    wide_tables: wide,
    wrapped_cells: wrapped,
  });
});
"""

FAILURES = ("missing_images", "uncaptioned_images", "raw_latex", "wide_tables", "wrapped_cells")


@dataclass
class PageReport:
    """What one page showed: counts, and the offending items of each check."""

    page: str
    figures: int
    tables: int
    formulas: int
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


def book_pages(toc: Path = PROJECT / "_toc.yml") -> list[str]:
    """The pages of the book, in reading order, as paths without suffix (``notebooks/vmf``)."""
    spec = yaml.safe_load(toc.read_text())
    pages = [spec["root"]]
    for part in spec.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _served(root: Path):
    """Serve ``root`` on localhost for the duration of the block; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class WebDriver:
    """The few W3C WebDriver commands the check needs, spoken to ChromeDriver over HTTP."""

    def __init__(self, chromium: str = CHROMIUM, chromedriver: str = CHROMEDRIVER, timeout: float = 60.0):
        for binary in (chromium, chromedriver):
            if not Path(binary).exists():
                raise FileNotFoundError(
                    f"{binary} not found: the browser check needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)"
                )
        self.timeout = timeout
        port = _free_port()
        self._process = subprocess.Popen(
            [chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._base = f"http://127.0.0.1:{port}"
        self._wait_until_ready()
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": CHROMIUM_FLAGS},
            "timeouts": {"script": int(timeout * 1000), "pageLoad": int(timeout * 1000)},
        }}}
        self._session = self._call("POST", "/session", capabilities)["sessionId"]

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self._call("GET", "/status")["ready"]:
                    return
            except OSError:
                time.sleep(0.1)
        self._process.kill()
        raise TimeoutError(f"chromedriver did not start within {self.timeout:.0f} s")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + 10) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("value", {})
            raise RuntimeError(f"WebDriver {method} {path}: {detail.get('message', error)}") from None

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self._session}/url", {"url": url})

    def run_async(self, script: str, args: list | None = None) -> dict:
        return self._call("POST", f"/session/{self._session}/execute/async", {"script": script, "args": args or []})

    def screenshot(self, path: Path) -> None:
        """The whole page, beyond the viewport (Chrome DevTools' captureScreenshot)."""
        shot = self._call("POST", f"/session/{self._session}/goog/cdp/execute",
                          {"cmd": "Page.captureScreenshot", "params": {"captureBeyondViewport": True}})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self._session}")
        finally:
            self._process.terminate()
            self._process.wait(timeout=10)


def check_book(html: Path, screenshots: Path, pages: list[str] | None = None, mathjax_wait: float = 30.0) -> list[PageReport]:
    """Render every page of the built book at ``html`` and report what each check found; a page
    with maths waits up to ``mathjax_wait`` seconds for MathJax to start."""
    html = Path(html)
    pages = book_pages() if pages is None else pages
    absent = [page for page in pages if not (html / f"{page}.html").exists()]
    if absent:
        raise FileNotFoundError(f"{html} lacks {', '.join(absent)}: build the book first (make html)")
    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)
    reports = []
    driver = WebDriver()
    try:
        with _served(html) as base:
            for page in pages:
                seen = _inspect(driver, f"{base}/{page}.html", mathjax_wait)
                problems = {name: list(seen[name]) for name in FAILURES}
                if not seen["mathjax_started"]:
                    problems["raw_latex"].append(f"MathJax did not start within {mathjax_wait:.0f} s")
                if seen["mathjax_errors"]:
                    problems["raw_latex"].append(f"{seen['mathjax_errors']} MathJax error(s)")
                driver.screenshot(screenshots / f"{page.replace('/', '__')}.png")
                reports.append(PageReport(page, seen["figures"], seen["tables"], seen["formulas"], problems))
    finally:
        driver.close()
    return reports


def _inspect(driver: WebDriver, url: str, mathjax_wait: float, attempts: int = 3) -> dict:
    """Open ``url`` and run the page script. A page whose script times out, or whose MathJax did
    not start (both seen intermittently on loaded 2-core machines, at a different page each
    time), is reloaded and checked again; the third timeout is an error, and the third
    MathJax that did not start is reported."""
    for attempt in range(attempts):
        driver.open(url)
        try:
            seen = driver.run_async(PAGE_SCRIPT, [int(mathjax_wait * 1000), MEAN_SD.pattern])
        except RuntimeError as error:
            if "script timeout" not in str(error) or attempt == attempts - 1:
                raise
            continue
        if seen["mathjax_started"] or attempt == attempts - 1:
            return seen


def format_reports(reports: list[PageReport]) -> str:
    """One line per page (figures, tables, formulas, verdict), then every problem found."""
    width = max(len(r.page) for r in reports)
    lines = [f"{'page':<{width}}  figures  tables  formulas  result"]
    for r in reports:
        lines.append(f"{r.page:<{width}}  {r.figures:>7}  {r.tables:>6}  {r.formulas:>8}  "
                     f"{'ok' if r.ok else 'FAILED'}")
    for r in reports:
        for check, items in r.problems.items():
            lines += [f"{r.page}: {check.replace('_', ' ')}: {item}" for item in items]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, nargs="?", default=PROJECT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=PROJECT / "_build" / "browser_check")
    args = parser.parse_args(argv)
    reports = check_book(args.html, args.screenshots)
    print(format_reports(reports))
    print(f"screenshots in {args.screenshots}")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
