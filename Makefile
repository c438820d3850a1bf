# Two commands on a fresh clone (each creates the virtual environment .venv on first use):
#   make train ARGS="--data.mirror ../shared/data/mnist"   # set up, train the default model, test it
#   make test                                               # set up, lint, type-check, run the tests
# make help lists every target.

PYTHON ?= python3
VENV ?= .venv
# The PyTorch build to install; this pins what the project is tested with. Override for another
# platform, e.g. make TORCH="torch torchvision" train
TORCH ?= torch==2.14.1 torchvision==0.29.1
CONFIG ?= default
ARGS ?=
# pytest-xdist workers for make test (each computes on one thread; see tests/conftest.py)
TEST_WORKERS ?= 2

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# what each extra adds to the training install (pyproject.toml, [project.optional-dependencies])
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
EXPORT_STAMP := $(VENV)/.installed-export

.PHONY: help install train report data-scale demo export test lint clean

help: ## List the targets (ARGS="..." passes options on to the command a target runs)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with what training needs (PyTorch, Lightning, ...)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,demo,export,mlflow]"
	touch $(TEST_STAMP)

$(DEMO_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

$(EXPORT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[export]"
	touch $(EXPORT_STAMP)

train: $(STAMP) ## Train the default model and test it (ARGS: fit options, e.g. --config fast)
	$(BIN)/python -m mnist_lit fit --config $(CONFIG) --test true $(ARGS)

report: $(STAMP) ## Figures and report.md of the newest run's best checkpoint (ARGS: --data.mirror DIR)
	$(BIN)/python -m mnist_lit.report --ckpt_path best $(ARGS)

data-scale: $(STAMP) ## Training-set size x epochs study into results/data_scale/ (~10 min, CPU)
	$(BIN)/python -m mnist_lit.experiments.data_scale --config data_scale $(ARGS)

demo: $(DEMO_STAMP) ## Draw digits in the browser, http://127.0.0.1:7860 (after train)
	$(BIN)/python -m mnist_lit.demo --ckpt_path best $(ARGS)

export: $(EXPORT_STAMP) ## The newest run's best model as ONNX (ARGS: --format torchscript, --out FILE)
	$(BIN)/python -m mnist_lit.export --ckpt_path best --format onnx $(ARGS)

lint: $(TEST_STAMP) ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## Set up, lint, type-check and run the tests (no network, tiny data; ~10 min on 2 cores)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

clean: ## Remove .venv and the tools' caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
