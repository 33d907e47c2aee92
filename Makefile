# The two commands of the README:
#   make reproduce   synthetic data → train → evaluate → results/cpu/ (CPU preset, ~20 min on 2 cores)
#   make test        the whole test suite
# Each creates or refreshes .venv from the pinned requirements by itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN ?= results/cpu
DATA ?= data/synthetic/Libri2Mix
PRESET ?= cpu
SEED ?= 0

.PHONY: setup reproduce test clean-book

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

reproduce: $(STAMP)
	$(BIN)/audioslots synth-data $(DATA) --seed $(SEED)
	$(BIN)/audioslots train --data $(DATA) --out $(RUN)/audioslots_0.5s --preset $(PRESET) --model audioslots
	$(BIN)/audioslots train --data $(DATA) --out $(RUN)/autoencoder_0.5s --preset $(PRESET) --model autoencoder
	$(BIN)/audioslots evaluate --oracle --data $(DATA) --split test --out $(RUN)/metrics/oracle_0.5s.csv
	$(BIN)/audioslots evaluate --checkpoint $(RUN)/autoencoder_0.5s/checkpoint.pt --data $(DATA) --split test --out $(RUN)/metrics/autoencoder_0.5s.csv
	$(BIN)/audioslots evaluate --checkpoint $(RUN)/audioslots_0.5s/checkpoint.pt --data $(DATA) --split test --out $(RUN)/metrics/audioslots_0.5s.csv
