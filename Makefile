# Two commands on a fresh machine:  make run  (set up, start the app)  and  make test  (set up, run every test)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: run test test-fast bench loadtest fit-cost checkpoints clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) app.py

# every tier: unit, app (one shared python app.py) and browser (Chromium)
test: $(VENV)/.dev
	$(PY) -m pytest -q

# the unit tier alone: no server, no browser, under a minute
test-fast: $(VENV)/.dev
	$(PY) -m pytest -q tests/unit

# Measures, and writes every figure into docs/benchmarks.md (about 30 minutes on 2 cores)
bench: $(VENV)/.dev
	$(PY) tools/benchdoc.py library -- $(PY) -m seq2seq.bench --only 1b,2,3,4,5,6,7
	$(PY) tools/benchdoc.py dates -- $(PY) -m seq2seq.bench --only 8
	$(PY) tools/benchdoc.py presets -- $(PY) -m seq2seq.bench --only 9
	$(PY) tools/benchdoc.py lab -- $(PY) -m seq2seq.bench --only 10
	$(PY) tools/bench_app.py

# The load test (loopback only, 3–4 minutes a run; REPEAT=5 runs it five times, each against a fresh server):
# every failed call fails it; prints the probe's decode p50/p95 alone and under load, peak memory, temp files
REPEAT ?= 1
loadtest: $(VENV)/.dev
	$(PY) tools/loadtest.py --repeat $(REPEAT) --private-tmp

# Re-fits the cost model's coefficients on this machine (about 20 minutes) and writes them into playground/cost_fitted.py
fit-cost: $(VENV)/.dev
	$(PY) tools/fit_cost.py --write

# Regenerates the bundled models in checkpoints/ (deterministic: fixed seeds, one thread, step limits; every
# setting spelled out, so a change of the CLI's defaults changes none of them); about 40 minutes on 2 cores
checkpoints: $(VENV)/.runtime
	$(PY) -m seq2seq train --task reverse --out checkpoints/reverse --cell lstm --emb 32 --hidden 128 --layers 2 --lr 0.005 --steps 3000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task reverse --out checkpoints/reverse-attention --attention additive --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 6000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task reverse --out checkpoints/reverse-transformer --arch transformer --hidden 64 --layers 2 --heads 4 --lr 0.002 --steps 3000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task addition --out checkpoints/addition --attention additive --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 12000 --batch-size 256 --eval-every 100 --lr-decay --schedule cosine --warmup 100 --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task copy --out checkpoints/copy --attention general --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 1500 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task sort --out checkpoints/sort --cell lstm --emb 32 --hidden 128 --lr 0.005 --steps 2000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task dates --out checkpoints/dates --attention additive --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 2000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task numbers --out checkpoints/numbers --attention additive --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 2000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	$(PY) -m seq2seq train --task commands --out checkpoints/commands --attention additive --bidirectional --cell lstm --emb 32 --hidden 64 --lr 0.003 --steps 3000 --batch-size 128 --eval-every 100 --lr-decay --seed 0 --threads 1 --no-train-state
	for t in reverse reverse-attention reverse-transformer addition copy sort dates numbers commands; do $(PY) -m seq2seq eval --checkpoint checkpoints/$$t; done
	PYTHONPATH=. $(PY) tools/natural_addition.py --checkpoint checkpoints/addition --n 2000
	PYTHONPATH=. $(PY) tools/attention_stats.py

clean:
	rm -rf $(VENV) .pytest_cache
