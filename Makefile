# The two commands of the README:
#   make reproduce   embedded real speech → mini Libri2Mix → train → evaluate → results/cpu/ → the book (cpu preset)
#   make test        the whole test suite
# Each creates or refreshes .venv from the pinned requirements by itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN ?= results/cpu
DATA_ROOT ?=
PRESET ?= cpu
DEVICE ?= auto
SEED ?= 0

.PHONY: setup reproduce test book clean-book

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

NOTEBOOKS := 01_preprocessing 02_training 03_baselines 04_results 05_figure2 06_chunk_boundaries

# Notebooks are executed into a scratch folder and moved into $(RUN)/notebooks only when all of
# them succeeded: a failed run never replaces the notebooks the book shows.
reproduce: $(STAMP)
	rm -rf $(RUN)/.executing && mkdir -p $(RUN)/.executing
	for nb in $(NOTEBOOKS); do \
	  $(BIN)/papermill notebooks/$$nb.ipynb $(RUN)/.executing/$$nb.ipynb -k python3 --cwd . \
	    -r preset $(PRESET) -r data_root "$(DATA_ROOT)" -r run_dir $(RUN) -r device $(DEVICE) -p seed $(SEED) \
	    -p progress False --log-output --no-progress-bar || exit 1; \
	done
	$(BIN)/python -m audioslots.reporting.staging tag $(RUN)/.executing
	mkdir -p $(RUN)/notebooks && mv $(RUN)/.executing/*.ipynb $(RUN)/notebooks/ && rmdir $(RUN)/.executing
	$(MAKE) book RUN=$(RUN)

# The book shows the run RUN (make book RUN=results/paper): when the build starts, book/_ext/stage_run.py
# stages its notebooks into book/run/ (generated), with a banner naming the commit that made them.
# `jupyter-book build book/` alone shows results/cpu.
book: $(STAMP)
	AUDIOSLOTS_BOOK_RUN=$(RUN) $(BIN)/jupyter-book build book/
	@echo "The book: file://$(CURDIR)/book/_build/html/index.html"
