# Two commands on a fresh clone:
#   make train ARGS="--data.mirror ../shared/data/mnist"   # set up, train the default model, test it
#   make train ARGS="--config configs/presets/fast.yaml --data.mirror ../shared/data/mnist"  # 99% fast
#   make test                                               # set up, lint, type-check, run the tests
#   make report ARGS="--data.mirror ../shared/data/mnist"  # figures and report.md of the best model
#   make data-scale ARGS="--data.mirror ../shared/data/mnist"  # size x epochs study (~10 min, CPU)
#   make demo                                               # draw digits in the browser (after train)
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
# The PyTorch build to install; this pins what the project is tested with. Override for another
# platform, e.g. make TORCH="torch torchvision" train
TORCH ?= torch==2.14.1 torchvision==0.29.1
CONFIG ?= configs/default.yaml
ARGS ?=
# pytest-xdist workers for make test (each computes on one thread; see tests/conftest.py)
TEST_WORKERS ?= 2

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train report data-scale demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,demo]"
	touch $(STAMP)

# Train, then test the best checkpoint in the same process (fit --test true). ARGS: any fit option,
# e.g. ARGS="--config configs/presets/fast.yaml --data.mirror ../shared/data/mnist"
train: $(STAMP)
	$(BIN)/python -m mnist_lit fit --config $(CONFIG) --test true $(ARGS)

# Figures and report.md for the best checkpoint of the newest run (ARGS: data options only,
# e.g. --data.mirror ../shared/data/mnist; see python -m mnist_lit.report --help)
report: $(STAMP)
	$(BIN)/python -m mnist_lit.report --ckpt_path best $(ARGS)

# The reference's training-set size x epochs study, written to results/data_scale/ (ARGS: options
# of python -m mnist_lit.experiments.data_scale and fit options, e.g. --seeds [1,2,3])
data-scale: $(STAMP)
	$(BIN)/python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml $(ARGS)

# The drawing demo on http://127.0.0.1:7860 with the best checkpoint of the newest run (ARGS: options
# of python -m mnist_lit.demo, e.g. --collection my_digits --port 8000)
demo: $(STAMP)
	$(BIN)/python -m mnist_lit.demo --ckpt_path best $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
