# Two commands set up a fresh machine: `make book` (the book) and `make test` (the tests).
# Both create .venv from requirements.txt when it is missing or older than requirements.txt.

PROFILE ?= cpu
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
NOTEBOOK_SOURCES ?= $(wildcard notebooks/*.py)

# A checkout placed next to the shared datasets finds them without configuration.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export HVAE_DATA_DIR ?= $(if $(wildcard ../shared/datasets/MNIST),$(abspath ../shared/datasets))
# Chapters execute in notebooks/, so a relative data directory is made absolute here.
override HVAE_DATA_DIR := $(if $(HVAE_DATA_DIR),$(abspath $(HVAE_DATA_DIR)))

.PHONY: book notebooks html check-book figures slides test benchmarks clean

book: notebooks html

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Execute every chapter (or NOTEBOOK_SOURCES=notebooks/x.py) with papermill under PROFILE:
# the source gets its Colab cell (hvae_lib.chapters prepare), papermill's injected parameters
# are merged into the chapter's own (finish), and the executed notebook is stored next to its
# source (notebooks/NAME.ipynb), where _toc.yml points, and is committed; a chapter that fails
# leaves the committed notebook untouched.
notebooks: $(BIN)/.installed
	@mkdir -p _build/notebooks
	@set -e; for source in $(NOTEBOOK_SOURCES); do \
		name=$$(basename $$source .py); \
		echo "executing $$name (profile $(PROFILE))"; \
		$(BIN)/python -m hvae_lib.chapters prepare $$source _build/notebooks/$$name.ipynb; \
		$(BIN)/papermill --no-progress-bar --cwd notebooks --kernel python3 \
			-p profile $(PROFILE) _build/notebooks/$$name.ipynb _build/notebooks/$$name.executed.ipynb; \
		$(BIN)/python -m hvae_lib.chapters finish _build/notebooks/$$name.executed.ipynb; \
		mv _build/notebooks/$$name.executed.ipynb notebooks/$$name.ipynb; \
	done

# Render the committed, executed chapters to _build/html without executing anything. MathJax
# is served from the build itself (the pinned django-static-mathjax wheel ships MathJax 3), so
# the book's formulas render without a network.
MATHJAX_STATIC := _build/static/mathjax
html: $(BIN)/.installed
	@rm -rf $(MATHJAX_STATIC) && mkdir -p $(MATHJAX_STATIC)/output/chtml
	@mathjax=$$($(BIN)/python -c "import mathjax, pathlib; print(pathlib.Path(mathjax.__file__).parent / 'static' / 'mathjax' / 'es5')"); \
		cp $$mathjax/tex-chtml.js $(MATHJAX_STATIC)/ && cp -r $$mathjax/output/chtml/fonts $(MATHJAX_STATIC)/output/chtml/
	$(BIN)/jupyter-book build --warningiserror --keep-going --quiet .

# Render every page of the built book in headless Chromium (Debian's chromium and
# chromium-driver) and fail on a missing image, raw LaTeX, an uncaptioned figure or a table wider
# than the content column; screenshots go to _build/browser_check.
check-book: html
	$(BIN)/python -m hvae_lib.book_check _build/html

# Collect the slide versions (16:9 PDF, SVG, 300-dpi PNG) that the chapters saved.
figures: notebooks
	@mkdir -p _build/figures
	cp figures/*.pdf figures/*.svg figures/*.png _build/figures/
	@echo "slide figures in _build/figures"

# The talk: _build/slides/talk.pdf (16:9) and every slide as a 1920 x 1080 PNG, PDF and SVG under
# _build/slides/figures/, from the committed results (nothing is re-executed or retrained).
slides: $(BIN)/.installed
	$(BIN)/python -m hvae_lib.slides --profile $(PROFILE) --out _build/slides

test: $(BIN)/.installed
	$(BIN)/pytest

# Speed and accuracy against the peers, written to results/benchmarks/ (the book reads them).
benchmarks: $(BIN)/.installed
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/vmf.py --threads 1
	$(BIN)/python benchmarks/ensemble.py
	$(BIN)/python benchmarks/m2.py
	$(BIN)/python benchmarks/followup.py

clean:
	rm -rf _build
