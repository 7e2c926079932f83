"""Measure what training costs on this machine and fit the cost model of `playground/cost.py`.

    .venv/bin/python tools/fit_cost.py --write    # measure the grid (~17 min on 2 cores), fit, write the
                                                  # coefficients into playground/cost_fitted.py, print the table
    .venv/bin/python tools/fit_cost.py --refit    # fit again from tools/cost_measurements.json only
    .venv/bin/python tools/fit_cost.py --resume   # measure only the configs not saved yet, then fit
    .venv/bin/python tools/fit_cost.py --check    # re-measure a few configs against playground.cost.estimate
    .venv/bin/python tools/fit_cost.py --one '{"task": "reverse", "length": 10, "hidden_dim": 128}'

Every configuration is measured in a fresh Python process, as the app's training worker runs it: torch
and seq2seq imported, one torch thread; its resident memory then is the baseline. The child builds the
model, evaluates it once on `val_size` held-out examples, then trains through `seq2seq.training.train` at the
LONGEST length (min length = max length), stops itself after 2 warm-up steps and at least 5 timed ones
(1 s of them; fewer when a step is slow: one step slower than 10 s, or 8 s in all, ends it), and lets
train() run its closing evaluation while Adam's state is still alive. The parent kills a child after
120 s (600 s for the largest setting).

- peak memory: `ru_maxrss` at the end minus the baseline's current RSS (MB);
- step time: the median CPU time (`time.process_time`) between consecutive StepEvents, batch drawing
  included. CPU rather than wall time, because this machine is shared: another process's load stretches
  wall time by up to 2x at random, not the work. Wall times are saved too;
- evaluation time: the median CPU time of the closing evaluation and up to two more `evaluate()` calls.

The fit is a non-negative least-squares fit of each cost to the features of `playground.cost`, weighted by
1/measured (relative error, so small settings count as much as big ones). The margin written with it is
the larger of 1.25 and the largest measured/fitted ratio (after the fixed slack), rounded up to 0.05, so
that `fit x margin + slack` is above every measurement.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from seq2seq.tasks import length_cap, source_length  # noqa: E402 - torch-free

MEASUREMENTS = Path(__file__).resolve().parent / "cost_measurements.json"

# ------------------------------------------------------------------------------------------ child


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(cfg: dict) -> dict:
    """Run one configuration in THIS process (call it in a fresh one) and return what it cost.

    cfg keys: task, length, cell, emb_dim, hidden_dim, n_layers, dropout, attention, batch_size,
    teacher_forcing, val_size, warmup (steps not timed), min_seconds / max_steps (how long to time),
    slow_seconds (a step slower than this ends training after it), eval_repeats."""
    import resource
    import statistics
    import threading

    import torch

    sys.path.insert(0, str(ROOT))
    from seq2seq.config import ModelConfig, TrainConfig
    from seq2seq import build_model, count_parameters
    from seq2seq.tasks import Task, make_spec
    from seq2seq.training import DoneEvent, StepEvent, evaluate, train, validation_set

    torch.set_num_threads(1)
    import gc
    gc.collect()
    base_rss = _rss_kb()
    base_hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    task = Task(make_spec(cfg["task"], cfg.get("min_length", cfg["length"]), cfg["length"]))
    mc = ModelConfig(len(task.vocab), len(task.vocab), cell=cfg.get("cell", "lstm"), emb_dim=cfg.get("emb_dim", 32),
                     hidden_dim=cfg.get("hidden_dim", 128), n_layers=cfg.get("n_layers", 1),
                     dropout=cfg.get("dropout", 0.0), attention=cfg.get("attention", False))
    val_size = cfg.get("val_size", 500)
    model = build_model(mc, seed=0)
    val = validation_set(task, val_size)
    start, cpu = time.perf_counter(), time.process_time()
    evaluate(model, task, val)
    eval_cold, eval_cold_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_after_eval = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    warmup = cfg.get("warmup", 2)
    min_seconds = cfg.get("min_seconds", 1.0)
    max_steps = cfg.get("max_steps", 25)
    slow = cfg.get("slow_seconds", 10.0)
    stop = threading.Event()
    tc = TrainConfig(batch_size=cfg.get("batch_size", 128), teacher_forcing=cfg.get("teacher_forcing", 1.0),
                     steps=10**9, eval_every=10**9, val_size=val_size, lr=1e-3)
    gaps: list[float] = []      # wall time between StepEvents
    cpu_gaps: list[float] = []  # this process's CPU time between them: what another process's load can't inflate
    last = 0.0
    last_cpu = time.process_time()
    last_step_time = last_step_cpu = None
    done = None
    for event in train(model, task, tc, stop):
        if isinstance(event, StepEvent):
            now_cpu = time.process_time()
            gaps.append(event.elapsed - last)
            cpu_gaps.append(now_cpu - last_cpu)
            last, last_cpu = event.elapsed, now_cpu
            timed = gaps[warmup:]
            if (gaps[-1] > slow or (len(timed) >= 5 and sum(timed) >= min_seconds)
                    or len(timed) >= max_steps or (timed and sum(gaps) >= 8.0)):
                stop.set()
                last_step_time, last_step_cpu = time.perf_counter(), time.process_time()
        elif isinstance(event, DoneEvent):
            done = event
    eval_after_training = time.perf_counter() - last_step_time
    eval_after_training_cpu = time.process_time() - last_step_cpu
    peak_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    evals, eval_cpus = [eval_after_training], [eval_after_training_cpu]
    for _ in range(cfg.get("eval_repeats", 2) if eval_after_training < 1.0 else 0):
        start, cpu = time.perf_counter(), time.process_time()
        evaluate(model, task, val)
        evals.append(time.perf_counter() - start)
        eval_cpus.append(time.process_time() - cpu)
    timed = gaps[warmup:] or gaps
    timed_cpu = cpu_gaps[warmup:] or cpu_gaps
    return {
        "config": cfg,
        "parameters": count_parameters(model),
        "src_vocab": len(task.vocab),
        "base_rss_mb": base_rss / 1024,
        "base_hwm_mb": base_hwm / 1024,
        "peak_eval_mb": (peak_after_eval - base_rss) / 1024,  # after the first evaluation only
        "peak_mb": (peak_train - base_rss) / 1024,            # the whole run
        "steps": len(gaps),
        "step_gaps": [round(g, 6) for g in gaps],
        "step_cpu_gaps": [round(g, 6) for g in cpu_gaps],
        "step_seconds": statistics.median(timed),          # wall
        "step_cpu_seconds": statistics.median(timed_cpu),  # what the fit uses
        "eval_cold_seconds": eval_cold,
        "eval_cold_cpu_seconds": eval_cold_cpu,
        "eval_seconds": statistics.median(evals),
        "eval_cpu_seconds": statistics.median(eval_cpus),
        "val_examples": len(val),
        "done": done.reason if done else None,
    }


# ------------------------------------------------------------------------------------------ parent

BASE = dict(task="reverse", length=50, cell="lstm", emb_dim=32, hidden_dim=128, n_layers=1, dropout=0.0,
            attention=False, batch_size=128, teacher_forcing=1.0, val_size=500)
LARGEST = dict(BASE, emb_dim=256, hidden_dim=512, n_layers=4, dropout=0.9, attention=True, batch_size=1024,
               teacher_forcing=0.0)  # every setting of the app's form at its costliest


def grid() -> list[dict]:
    """The configurations to measure: presets, one-at-a-time sweeps around a mid-sized base on both paths
    (teacher forcing 1 and 0), combinations near the default budget, the largest form setting, and a
    seeded random sample of the form's space."""
    import random

    configs = [
        dict(BASE, length=10),  # the app's default preset, at its longest length
        dict(BASE, task="random", length=5, emb_dim=16, hidden_dim=32, n_layers=2, dropout=0.5, batch_size=32,
             teacher_forcing=0.5),  # the seed tutorial preset
        dict(BASE, length=1, emb_dim=1, hidden_dim=1, batch_size=1),
        dict(BASE, length=1, emb_dim=1, hidden_dim=1, batch_size=1, teacher_forcing=0.0),
        dict(BASE, emb_dim=256, hidden_dim=512, n_layers=4, attention=True, batch_size=1, teacher_forcing=0.0,
             val_size=100),
        dict(BASE, emb_dim=256, hidden_dim=512, n_layers=4, attention=True, batch_size=1, val_size=100),
        dict(BASE, val_size=1000), dict(BASE, hidden_dim=32, batch_size=8, val_size=1000, teacher_forcing=0.0),
    ]
    for tf in (1.0, 0.0):
        base = dict(BASE, teacher_forcing=tf)
        configs += [dict(base, hidden_dim=h) for h in (8, 32, 64, 128, 256, 512)]
        configs += [dict(base, batch_size=b) for b in (1, 16, 64, 256, 512, 1024)]
        configs += [dict(base, length=n) for n in (5, 20)]
        configs += [dict(base, n_layers=n) for n in (2, 3, 4)]
        configs += [dict(base, emb_dim=e) for e in (1, 256)]
        configs += [dict(base, attention=True), dict(base, cell="gru"), dict(base, cell="gru", attention=True),
                    dict(base, dropout=0.5), dict(base, n_layers=3, dropout=0.9),
                    dict(base, task="addition", length=9), dict(base, task="addition", length=3, attention=True),
                    dict(base, val_size=50), dict(base, val_size=200, length=30)]
    configs += [dict(BASE, teacher_forcing=0.5), dict(BASE, teacher_forcing=0.5, attention=True, n_layers=2)]
    # memory-heavy but quick: long, wide batches of a narrow model
    configs += [dict(BASE, hidden_dim=32, n_layers=4, batch_size=1024, teacher_forcing=tf, attention=True)
                for tf in (1.0, 0.0)]
    configs += [dict(BASE, hidden_dim=64, n_layers=2, batch_size=1024, teacher_forcing=0.0, cell="gru")]
    # near the default budget (1 GB, 0.5 s per step) and beyond it
    configs += [
        dict(BASE, hidden_dim=256, n_layers=2, batch_size=256, length=30, attention=True),  # the test's config
        dict(BASE, hidden_dim=256, n_layers=2, batch_size=256, length=30, attention=True, teacher_forcing=0.0),
        dict(BASE, hidden_dim=512, batch_size=64, teacher_forcing=1.0),
        dict(BASE, hidden_dim=256, n_layers=2, batch_size=128, attention=True, teacher_forcing=0.0),
        dict(BASE, hidden_dim=128, n_layers=4, batch_size=512, teacher_forcing=1.0, attention=True),
        dict(BASE, hidden_dim=256, n_layers=4, batch_size=512, teacher_forcing=1.0, emb_dim=256),
        dict(BASE, hidden_dim=512, n_layers=2, batch_size=256, teacher_forcing=0.0, attention=True),
        dict(BASE, hidden_dim=512, n_layers=4, batch_size=1024, emb_dim=256, attention=True,  # largest, TF 1
             val_size=100, timeout=600),
        dict(LARGEST, slow_seconds=1.0, timeout=600),                                    # largest of all
    ]
    # a seeded random sample of the form's space, skipping what would take more than ~4 s a step
    rng = random.Random(2024)
    sample = []
    while len(sample) < 30:
        task = rng.choice(["reverse", "copy", "sort", "random", "addition"])
        c = dict(BASE, task=task, length=rng.randint(1, length_cap(task)),
                 cell=rng.choice(["lstm", "gru"]), emb_dim=rng.choice([4, 16, 32, 64, 128, 256]),
                 hidden_dim=rng.choice([16, 32, 64, 128, 192, 256, 384, 512]), n_layers=rng.randint(1, 4),
                 dropout=rng.choice([0.0, 0.0, 0.2, 0.5]), attention=rng.random() < 0.5,
                 batch_size=rng.choice([1, 8, 32, 64, 128, 256, 512, 1024]),
                 teacher_forcing=rng.choice([0.0, 0.5, 1.0, 1.0]), val_size=rng.choice([100, 500, 500]))
        if _rough_step_seconds(c) <= 4.0:
            sample.append(dict(c, optional=True))
    return configs + sample


def _rough_step_seconds(c: dict) -> float:
    """A crude pre-fit guess (30 GFLOP/s, 3x forward for backward) to keep the random sample affordable."""
    g = 4 if c["cell"] == "lstm" else 3
    src = source_length(c["task"], c["length"])
    h, n = c["hidden_dim"], c["n_layers"]
    macs = c["batch_size"] * g * h * (c["emb_dim"] + h * (2 * n - 1)) * (src + c["length"] + 2)
    return 6 * macs / 30e9 * (1.5 if c["teacher_forcing"] < 1 else 1.0) + 0.01


PARENT_KEYS = ("timeout", "optional")  # how the parent runs a config, not what the child measures
DEADLINE = 17.5 * 60  # s: past this, optional (random-sample) configs are skipped, so a run stays < 20 min


def key(cfg: dict) -> str:
    return json.dumps({k: v for k, v in sorted(cfg.items()) if k not in PARENT_KEYS}, sort_keys=True)


def run_child(cfg: dict, timeout: float = 120.0) -> dict:
    """Measure one configuration in a fresh process; {"config", "error"} if it failed or timed out."""
    timeout = cfg.get("timeout", timeout)
    cfg = {k: v for k, v in cfg.items() if k not in PARENT_KEYS}
    command = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(cfg)]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"config": cfg, "error": f"timed out after {timeout:.0f} s"}
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return {"config": cfg, "error": lines[-1] if lines else f"exit code {result.returncode}"}
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - started
    return out


def measure_all(configs: list[dict], old: list[dict]) -> list[dict]:
    done = {key(m["config"]): m for m in old if "error" not in m}
    results = []
    started = time.perf_counter()
    for i, cfg in enumerate(configs, 1):
        k = key(cfg)
        if k in done:
            results.append(done[k])
            continue
        if cfg.get("optional") and time.perf_counter() - started > DEADLINE:
            print(f"[{i:3}/{len(configs)}] skipped (past {DEADLINE} s): {describe(cfg)}", flush=True)
            continue
        m = run_child(cfg)
        results.append(m)
        what = m.get("error") or (f"{m['peak_mb']:7.1f} MB {m['step_cpu_seconds'] * 1000:9.1f} ms/step "
                                  f"(wall {m['step_seconds'] * 1000:7.1f}) eval {m['eval_cpu_seconds'] * 1000:8.1f} "
                                  f"ms ({m['wall_seconds']:.0f} s)")
        print(f"[{i:3}/{len(configs)} {time.perf_counter() - started:6.0f} s] {describe(cfg):60} {what}",
              flush=True)
        MEASUREMENTS.write_text(json.dumps(results + [r for r in old if key(r["config"]) not in
                                                      {key(x["config"]) for x in results}], indent=1))
    return results


def describe(c: dict) -> str:
    tf = c.get("teacher_forcing", 1.0)
    lengths = f"{c['min_length']}-{c['length']}" if "min_length" in c else f"{c['length']}"
    return (f"{c['task'][:3]}{lengths} {c['cell']} e{c['emb_dim']} h{c['hidden_dim']}x{c['n_layers']}"
            f"{' d' + str(c['dropout']) if c['dropout'] else ''}{' att' if c['attention'] else ''} "
            f"b{c['batch_size']} tf{tf:g}{' val' + str(c['val_size']) if c['val_size'] != 500 else ''}")


# ------------------------------------------------------------------------------------------ fitting


def nnls(a, b, iterations: int = 500):
    """Non-negative least squares (Lawson-Hanson): argmin |a x - b| subject to x >= 0."""
    import numpy as np

    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, bool)
    w = a.T @ (b - a @ x)
    for _ in range(iterations):
        if passive.all() or w[~passive].max() <= 1e-12 * max(1.0, abs(w).max()):
            break
        j = np.argmax(np.where(passive, -np.inf, w))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            bad = passive & (z <= 0)
            alpha = np.min(x[bad] / (x[bad] - z[bad]))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
            x[~passive] = 0
        w = a.T @ (b - a @ x)
    return x


def _rows(measurements: list[dict], which: str):
    """(feature dicts, measured values, measurements) for memory, step or eval."""
    sys.path.insert(0, str(ROOT))
    from playground import cost
    from seq2seq.config import ModelConfig
    from seq2seq.tasks import make_spec

    feats, ys, used = [], [], []
    for m in measurements:
        if "error" in m:
            continue
        c = m["config"]
        spec = make_spec(c["task"], c["length"], c["length"])
        v = m["src_vocab"]
        mc = ModelConfig(v, v, cell=c["cell"], emb_dim=c["emb_dim"], hidden_dim=c["hidden_dim"],
                         n_layers=c["n_layers"], dropout=c["dropout"], attention=c["attention"])
        s = cost.shapes(mc, spec)
        fast = c["teacher_forcing"] >= 1.0
        if which == "memory":
            feats.append(cost.memory_features(s, m["parameters"], c["batch_size"], fast, m["val_examples"]))
            ys.append(m["peak_mb"])
        elif which == "step":
            feats.append(cost.step_features(s, m["parameters"], c["batch_size"], fast))
            ys.append(m.get("step_cpu_seconds", m["step_seconds"]))
        else:
            feats.append(cost.eval_features(s, m["val_examples"]))
            ys.append(m.get("eval_cpu_seconds", m["eval_seconds"]))
        used.append(m)
    return feats, ys, used


def fit(measurements: list[dict], which: str, slack: float, least_margin: float = 1.25):
    """Coefficients minimising the relative error, then the margin that makes fit*margin+slack an upper bound
    of every measurement."""
    import numpy as np

    feats, ys, used = _rows(measurements, which)
    names = list(feats[0])
    a = np.array([[f[k] for k in names] for f in feats], float)
    y = np.array(ys)
    weight = 1.0 / y  # relative error: small configurations matter as much as big ones
    aw = a * weight[:, None]
    scale = np.where(aw.std(0) > 0, np.abs(aw).max(0), 1.0)
    scale[scale == 0] = 1.0
    x = nnls(aw / scale, y * weight) / scale
    fitted = a @ x
    ratio = (y - slack) / fitted
    margin = max(least_margin, math.ceil(ratio.max() * 20) / 20)
    return dict(zip(names, x)), margin, used, y, fitted
SLACK = {"memory": 32.0, "step": 0.005, "eval": 0.005}  # MB, s, s: added after the margin
UNITS = {"memory": ("MB", 1.0), "step": ("ms", 1000.0), "eval": ("ms", 1000.0)}


def fit_all(measurements: list[dict]) -> dict:
    return {which: fit(measurements, which, SLACK[which]) for which in ("memory", "step", "eval")}


def report(fits: dict) -> None:
    for which, (coef, margin, used, y, fitted) in fits.items():
        unit, k = UNITS[which]
        print(f"\n== {which}: estimate = fit x {margin:.2f} + {SLACK[which] * k:g} {unit}")
        print(f"{'config':62} {'measured':>10} {'fit':>10} {'estimate':>10} {'est/meas':>8}")
        order = sorted(range(len(y)), key=lambda i: y[i])
        for i in order:
            est = fitted[i] * margin + SLACK[which]
            print(f"{describe(used[i]['config']):62} {y[i] * k:10.1f} {fitted[i] * k:10.1f} {est * k:10.1f} "
                  f"{est / y[i]:8.2f}")
        ratios = y / fitted
        bound = bool((fitted * margin + SLACK[which] >= y).all())
        print(f"measured/fit: min {ratios.min():.2f} median {sorted(ratios)[len(ratios) // 2]:.2f} "
              f"max {ratios.max():.2f}; every estimate >= measured: {bound}")


def coefficients_source(fits: dict, when: str) -> str:
    """The FITTED block of playground/cost_fitted.py: memory coefficients in bytes per unit of their feature (so
    "/ MB"), time coefficients in seconds per unit."""
    lines = [f"# fitted by tools/fit_cost.py on {when}"]
    for which, name in (("memory", "MEMORY_MB"), ("step", "STEP_SECONDS"), ("eval", "EVAL_SECONDS")):
        lines.append(f"{name}: dict[str, float] = {{")
        for k, v in fits[which][0].items():
            if v <= 0:
                continue
            value = f"{v:.4g}" if which != "memory" or k == "const" else f"{v * 2 ** 20:.4g} / MB"
            lines.append(f'    "{k}": {value},')
        lines.append("}")
    margins = ", ".join(f'"{w}": {fits[w][1]:.2f}' for w in fits)
    lines.append(f"MARGIN = {{{margins}}}")
    slack = ", ".join(f'"{w}": {SLACK[w]:g}' for w in fits)
    lines.append(f"SLACK = {{{slack}}}")
    return "\n".join(lines)


BEGIN, END = "# BEGIN FITTED (tools/fit_cost.py --write)", "# END FITTED"


def write_coefficients(source: str) -> None:
    path = ROOT / "playground" / "cost_fitted.py"
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{source}\n{END}{tail}")


CHECKS = [
    dict(BASE, length=10),
    dict(BASE, task="random", length=5, emb_dim=16, hidden_dim=32, n_layers=2, dropout=0.5, batch_size=32,
         teacher_forcing=0.5),
    dict(BASE, hidden_dim=256, n_layers=2, batch_size=256, length=30, attention=True),
    dict(BASE, task="addition", length=9, attention=True, teacher_forcing=0.5, hidden_dim=192, n_layers=2),
    dict(BASE, cell="gru", hidden_dim=384, n_layers=3, batch_size=64, length=40, teacher_forcing=0.0),
    dict(BASE, task="sort", length=45, emb_dim=64, hidden_dim=320, n_layers=1, batch_size=320, dropout=0.3),
    dict(BASE, length=50, min_length=3, hidden_dim=256, n_layers=2, attention=True),  # padded, packed eval
]


def check() -> bool:
    """Re-measure CHECKS and compare with playground.cost.estimate (which uses the coefficients in cost.py)."""
    sys.path.insert(0, str(ROOT))
    from playground import cost
    from seq2seq.config import ModelConfig, TrainConfig
    from seq2seq.tasks import make_spec

    ok = True
    print(f"{'config':62} {'MB':>6} {'est':>6} {'ms/step':>8} {'(wall)':>8} {'est':>8} {'eval ms':>8} {'(wall)':>8} "
          f"{'est':>8}")
    for cfg in CHECKS:
        m = run_child(cfg)
        if "error" in m:
            print(f"{describe(cfg):62} {m['error']}")
            ok = False
            continue
        spec = make_spec(cfg["task"], cfg.get("min_length", cfg["length"]), cfg["length"])
        v = m["src_vocab"]
        mc = ModelConfig(v, v, cell=cfg["cell"], emb_dim=cfg["emb_dim"], hidden_dim=cfg["hidden_dim"],
                         n_layers=cfg["n_layers"], dropout=cfg["dropout"], attention=cfg["attention"])
        tc = TrainConfig(batch_size=cfg["batch_size"], teacher_forcing=cfg["teacher_forcing"],
                         val_size=cfg["val_size"])
        est = cost.estimate(mc, tc, spec)
        good = (est.memory_mb >= m["peak_mb"] and est.step_seconds >= m["step_cpu_seconds"]
                and est.eval_seconds >= m["eval_cpu_seconds"])
        ok &= good
        print(f"{describe(cfg):62} {m['peak_mb']:6.0f} {est.memory_mb:6.0f} {m['step_cpu_seconds'] * 1000:8.1f} "
              f"{m['step_seconds'] * 1000:8.1f} {est.step_seconds * 1000:8.1f} {m['eval_cpu_seconds'] * 1000:8.1f} "
              f"{m['eval_seconds'] * 1000:8.1f} {est.eval_seconds * 1000:8.1f}  {'ok' if good else 'UNDER-ESTIMATED'}")
    print("every estimate stays above its measurement" if ok else "some estimates are below their measurements")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", help="measure one JSON config in this process and print the result as JSON")
    parser.add_argument("--refit", action="store_true", help="fit the saved measurements, measure nothing")
    parser.add_argument("--resume", action="store_true", help="keep saved measurements, measure the rest")
    parser.add_argument("--write", action="store_true", help="write the coefficients into playground/cost_fitted.py")
    parser.add_argument("--check", action="store_true", help="re-measure a few configs against playground.cost")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return
    if args.check:
        sys.exit(0 if check() else 1)
    old = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.exists() and (args.refit or args.resume) else []
    started = time.perf_counter()
    measurements = old if args.refit else measure_all(grid(), old)
    if not args.refit:
        print(f"measured {len(measurements)} configurations in {time.perf_counter() - started:.0f} s")
        MEASUREMENTS.write_text(json.dumps(measurements, indent=1))
    failed = [m for m in measurements if "error" in m]
    for m in failed:
        print(f"FAILED {describe(m['config'])}: {m['error']}")
    fits = fit_all(measurements)
    report(fits)
    source = coefficients_source(fits, time.strftime("%Y-%m-%d") + f", {len(measurements) - len(failed)} "
                                 f"configurations, {os.cpu_count()} CPUs")
    print("\n# paste into playground/cost_fitted.py (or run with --write):\n" + source)
    if args.write:
        write_coefficients(source)
        print("written to playground/cost_fitted.py")


if __name__ == "__main__":
    main()
