# The two commands of the README:
#   make demo   create .venv, install, run the demo
#   make test   same .venv (+ .venv-tf4), run the whole suite on transformers 5.x and the
#               compatibility subset on transformers 4.57
# `make setup` is idempotent: it reinstalls only when pyproject.toml or requirements/ change.

PYTHON ?= python3
VENV := .venv
VENV_TF4 := .venv-tf4
TORCH := torch==2.13.0
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-tf4 bench clean

setup: $(VENV)/.installed $(VENV_TF4)/.installed

$(VENV)/.installed: pyproject.toml requirements/dev.txt requirements/no-deps.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q $(TORCH)
	$(VENV)/bin/python -m pip install -q -r requirements/dev.txt -e .
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements/no-deps.txt
	touch $@

$(VENV_TF4)/.installed: pyproject.toml requirements/tf4.txt
	test -x $(VENV_TF4)/bin/python || $(PYTHON) -m venv $(VENV_TF4)
	$(VENV_TF4)/bin/python -m pip install -q --upgrade pip
	$(VENV_TF4)/bin/python -m pip install -q $(TORCH)
	$(VENV_TF4)/bin/python -m pip install -q -r requirements/tf4.txt -e .
	touch $@

demo: setup
	$(VENV)/bin/medmo demo

test: setup
	MEDMO_TF4_PYTHON=$(CURDIR)/$(VENV_TF4)/bin/python $(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS)
	$(MAKE) --no-print-directory test-tf4

test-tf4: $(VENV_TF4)/.installed
	$(VENV_TF4)/bin/python -m pytest -m compat -n $(PYTEST_WORKERS)

# every CPU bench; bench/gpu_check.py needs a GPU (README, Benchmarks) and runs alone
bench: setup
	for script in $(filter-out bench/common.py bench/gpu_check.py,$(wildcard bench/*.py)); do $(VENV)/bin/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(VENV_TF4) build *.egg-info runs

# Wheels for the GPU machine (Python 3.12, x86-64, no network): what its image lacks, at the tested
# versions (requirements/gpu-wheels.txt). The README's Benchmarks section shows the run that uses them.
GPU_WHEELS := .whl
.PHONY: gpu-wheels
gpu-wheels: requirements/gpu-wheels.txt
	rm -rf $(GPU_WHEELS) && mkdir -p $(GPU_WHEELS)
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d $(GPU_WHEELS) -r requirements/gpu-wheels.txt
	@ls $(GPU_WHEELS) && du -ch $(GPU_WHEELS)/*.whl | tail -1
