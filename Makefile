# Set-up, demo and tests. `make demo` and `make test` set up on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.spiketime-setup

.PHONY: setup setup-bench demo test lint bench clean

setup: $(STAMP)

# Re-run only when the recipe or the project metadata changes.
$(STAMP): Makefile pyproject.toml scripts/fix_lava.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check setuptools torch==2.13.0 \
		"numpy<2" h5py scipy matplotlib "networkx<=2.8.7" "asteval<0.10" \
		scikit-learn "pillow<11" tqdm pytest hypothesis pyyaml ruff nir==1.0.8 numba==0.68.1
	$(BIN)/pip install -q --disable-pip-version-check --no-deps \
		snntorch==1.0.0 nirtorch==2.6 rockpool==3.1.0 norse==1.1.0
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python \
		lava-nc==0.10.0 lava-dl==0.6.0
	$(BIN)/python scripts/fix_lava.py
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The bench extra: lauscher (SHD's encoder) for scripts/cochlea_*.py and bench/cochlea.py.
# Not in the default set-up: lauscher and soundfile (numba, which it also needs, is in the default set).
setup-bench: setup
	$(BIN)/pip install -q --disable-pip-version-check lauscher==1.0.1

demo: setup
	$(BIN)/spiketime pipeline --out runs/demo

test: setup
	$(BIN)/python -m pytest -q tests

# Style and import order as pyproject.toml's [tool.ruff] sets them.
lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/emulator.py

clean:
	rm -rf $(VENV) runs build *.egg-info
