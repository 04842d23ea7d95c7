# One entry point for everything: `make demo`, `make test`, `make test-slow`, `make bench`, `make fuzz`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.graphc-installed

.PHONY: install demo test test-slow test-all bench fuzz tf1-corpus gpu-bundle clean

$(STAMP): setup.py
	@# Graphviz's dot draws graphs (graphc.viz, GRAPHC_DUMP); install it where apt can, else go on
	@command -v dot >/dev/null || (apt-get install -y -q graphviz >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null 2>&1)) || \
	  echo "note: could not install graphviz; graph pictures are written as .dot source"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not slow" tests

test-slow: $(STAMP)
	$(PY) -m pytest -q -n 2 -m slow tests

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 tests

BENCH_STAMP := $(VENV)/.graphc-bench-installed

# The peers (onnxruntime, tensorflow-cpu, torch) are the `bench` extra; torch is pinned to a CPU build
# (pip takes the local CPU wheel; the CUDA one is several GB and no use here).
$(BENCH_STAMP): $(STAMP) setup.py
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -c "import sys, torch; sys.exit(torch.version.cuda and 'a CUDA build of torch was installed; want the CPU wheel')"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/bench_matmul.py
	$(PY) benchmarks/bench_fusion.py
	$(PY) benchmarks/bench_compile.py
	$(PY) benchmarks/bench_distributed.py
	$(PY) benchmarks/bench_remat.py

# Seeded, time-bounded fuzzing (~10-15 min on 2 cores): counts per outcome; fails on any crash, hang,
# wrong result or unclear exception. `make test` runs a short version (tests/test_fuzz.py).
fuzz: $(STAMP)
	$(PY) -m fuzz

# The TF1 corpus (tests/tf1_corpus): public TF1 scripts run under TensorFlow's tf.compat.v1 and under
# graphc, final metrics compared (slow: tens of minutes)
tf1-corpus: $(BENCH_STAMP)
	$(PY) tests/tf1_corpus/runner.py --jobs 2 --reuse tests/tf1_corpus/tensorflow_runs.json

# build/gpu-bundle/: CUDA kernels, TVM's runtime and a run.sh that checks and times them on a GPU machine
gpu-bundle: $(STAMP)
	$(PY) benchmarks/gpu_bundle/build.py

clean:
	rm -rf $(VENV) build *.egg-info
