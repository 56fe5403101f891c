# digitrec: `make demo` trains and evaluates the default model; `make test` runs the tests.
# Each target creates or reuses .venv and installs what it needs, so each works alone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The workplace keeps a verified copy of MNIST beside the checkout: use it instead of
# downloading. An explicit DIGITREC_DATA in the environment wins.
ifneq ($(wildcard ../shared/data/mnist),)
DIGITREC_DATA ?= $(abspath ../shared/data)
endif
export DIGITREC_DATA

DEMO_RUN := runs/demo

MODELS := build/models

.PHONY: install demo test lint docs models field-reader clean help

help:
	@echo "make demo   set up .venv, get MNIST, train the 'fast' recipe into $(DEMO_RUN), evaluate it, write its report"
	@echo "make test   set up .venv, lint, build the docs and run the test suite"
	@echo "make lint   ruff: lint and check the formatting (ruff format . fixes it)"
	@echo "make docs   build the documentation site into build/site/ (warnings are errors)"
	@echo "make models train the shipped default models (number finder, strip-reader, handwriting) and copy them into src/digitrec/shipped/"
	@echo "make field-reader  train the field reader (recipe reader, not shipped yet), its box head and the page's number finder into build/models/"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,bench,cluster,docs]"
	@touch $@

install: $(STAMP)

demo: install
	@$(BIN)/digitrec data download
	@if [ -e $(DEMO_RUN) ]; then \
		old=$(DEMO_RUN)-$$(date +%Y%m%d-%H%M%S); mv $(DEMO_RUN) $$old; echo "kept the previous demo run as $$old"; fi
	@start=$$(date +%s); \
	$(BIN)/digitrec train --recipe fast --out $(DEMO_RUN) && \
	$(BIN)/digitrec evaluate $(DEMO_RUN) && \
	$(BIN)/python -c "import json,sys; d=json.load(open('$(DEMO_RUN)/evaluation-test.json')); print(f\"\nTest accuracy: {100*d['accuracy']:.2f}% on {d['size']:,} MNIST test images\")" && \
	echo "Demo wall time: $$(( $$(date +%s) - start )) s" && \
	echo "Everything is in $(DEMO_RUN)/: config.json, history.csv, best.safetensors, last.safetensors, metrics.json, evaluation-test.json" && \
	echo "Report (open it in a browser, no server needed): $(DEMO_RUN)/report.html, figures in $(DEMO_RUN)/figures/"

# The shipped models, from the project's own recipes (the strip reader takes ~3.5 minutes on
# an H200, which `digitrec train` uses when there is one, ~8 hours on 2 CPU cores; the rest
# ~65 minutes on 2 cores; see MODELS.json for what the shipped ones cost): the number finder (synthetic pages and lone
# digits, then real fields whose numbers the shipped reader locates, at their own scale),
# the strip reader on the strips it cuts, the digit classifier. A run that already finished is reused; an interrupted one resumes.
FINDER_FIELDS := --fields danish-rowid:train --fields orand-car-a-dev:train
models: install
	@test -e $(MODELS)/finder.safetensors || $(BIN)/python -m digitrec.training.finder $(MODELS)/finder.safetensors
	@test -e $(MODELS)/finder-fields.safetensors || $(BIN)/python -m digitrec.training.finder $(MODELS)/finder-fields.safetensors \
		--init $(MODELS)/finder.safetensors --steps 1200 --enlarge 1 $(FINDER_FIELDS)
	@for recipe in strip-reader handwriting; do \
		run=$(MODELS)/$$recipe; \
		if [ -e $$run/metrics.json ]; then echo "$$run: finished, reused"; \
		elif [ -e $$run/config.json ]; then $(BIN)/digitrec train --resume $$run || exit 1; \
		elif [ $$recipe = strip-reader ]; then $(BIN)/digitrec train --recipe $$recipe --finder $(MODELS)/finder-fields.safetensors --precision fp32 --out $$run || exit 1; \
		else $(BIN)/digitrec train --recipe $$recipe --out $$run || exit 1; fi; \
	done
	$(BIN)/digitrec evaluate $(MODELS)/handwriting --no-report
	$(BIN)/python -m digitrec.shipped $(MODELS)/strip-reader $(MODELS)/handwriting --finder $(MODELS)/finder-fields.safetensors --finder-enlarge 1.33

# The field reader (recipe `reader`, in progress: not shipped yet), then its box head
# (about 80 minutes, the box head 6 and the finder 35 on 2 CPU cores). Continue a finished run with
# `digitrec train --recipe reader --init $(MODELS)/reader --out ...`.
field-reader: install
	@run=$(MODELS)/reader; \
	if [ -e $$run/metrics.json ]; then echo "$$run: finished, reused"; \
	elif [ -e $$run/config.json ]; then $(BIN)/digitrec train --resume $$run || exit 1; \
	else $(BIN)/digitrec train --recipe reader --out $$run || exit 1; fi
	@test -e $(MODELS)/reader/boxed.safetensors || $(BIN)/python -m digitrec.training.boxes $(MODELS)/reader $(MODELS)/reader/boxed.safetensors
	@test -e $(MODELS)/finder.safetensors || $(BIN)/python -m digitrec.training.finder $(MODELS)/finder.safetensors

lint: install
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .

# mkdocs.yml sets strict: a broken link or a page missing from the nav fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet

test: lint docs
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
