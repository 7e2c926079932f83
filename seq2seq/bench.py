"""Benchmark: python -m seq2seq.bench [--quick] [--only 1,5,...]

Prints, from one run on this machine (so ratios are fair even on a noisy, shared machine):
1. time and steps for the default configuration (TrainConfig's, evaluating every 100 steps) to reach 99% held-out
   exact match on reverse 3-10: the machine's speed gauge for the other items;
   1b. `python -m seq2seq train --task reverse --attention additive --bidirectional --target-accuracy 0.99` from
   pressing Enter to exit (a subprocess' wall clock), its steps and training seconds, beside the issue's reference
   (additive-attention bidirectional GRU, hidden 64, batch 128, lr 3e-3) trained in this process to 99%; and
   `python -m seq2seq --help`;
2. training throughput (target tokens/s) of the teacher-forcing fast path against the step loop,
   at the seed's sizes (emb 16, hidden 32, 2 layers, batch 32);
3. greedy decode latency of a 10-token source, one at a time and in a batch of 256;
4. peak memory of the process;
5. stability: over several seeds, the lowest held-out exact match at any evaluation after a run first reaches
   99% (STABILITY_RUNS: the CLI's default training, the app's presets, addition), and the exact match of the
   model the run keeps;
6. addition (operands of 1-3 digits) to 99% held-out exact match with ADDITION_FAST: steps and seconds per seed;
7. decoding one 10-token source: greedy with the bundled reverse model (RNN), greedy with a small Transformer's
   cached decoder (d_model 64, 2 layers, 4 heads, untrained, forced to 11 steps), beam search of width 5 with
   the bundled reverse model.
8. dates (6-29 characters) with the app's "LSTM + attention (fastest)" preset as it is (300 steps, lr 3e-3
   decaying), and with twice its steps: the first evaluation (every 25 steps) at >= 99% held-out exact match, its
   step and training seconds, and the exact match of the model the run keeps, per seed, beside reverse's time in 1.
9. the app's presets (seq2seq.controls.PRESETS) trained as the app trains them (app_run: the preset's values through
   controls.read, evaluated every EVAL_SECONDS and at the start, keep_best, the preset's time budget, the live
   preview's 4 watched sources), seeds 0, 1, 2: the whole run's seconds (every step and evaluation), the step and
   seconds of the first evaluation at >= 99% held-out exact match, the lowest exact match at any later evaluation,
   the kept model's exact match, beside reverse's time in 1; both times also in CPU seconds of the one training
   thread (near a quiet machine's wall clock on a loaded one); writes the medians to playground/preset_times.json
   (PRESET_TIMES), which the app reads to say how long each preset takes (not with --quick).
10. the lab bench's costs: training with a Pace that is never paused against without one (interleaved repeats of
   300 steps of reverse's default, the ratio of their medians); the encoder map (context_map, 300 sources) of each
   bundled reverse model; and the bytes one kept run holds (weights + training state) for the largest model the
   form allows (LSTM, emb 256, hidden 512, 4 layers, additive attention, bidirectional), six of them, and the
   growth of this process's peak memory while six are kept.
Targets on 2 quiet cores: (1) <= 20 s; (1b) <= 5 s Enter to exit, training within 1.2x the reference's;
(2) >= 3x; (3) <= 1 ms per sequence; (5) never below 97% after 99%; (6) <= 20 s of training;
(7) <= 1 ms, <= 2 ms, <= 5 ms; (8) <= 60 s; (9) the Transformer preset at 99% within 15 s of training;
(10) pacing within 1.05x, a map within 1 s.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .__main__ import CLI_LR, CLI_STEPS, TARGET_EVAL_SECONDS
from .config import ModelConfig, TrainConfig
from .decode import Forced, beam_search, evaluating, greedy_decode, greedy_decode_batch
from .builder import build_model
from .common import count_parameters
from .common import sequence_loss
from .model import Seq2Seq
from .tasks import Task, make_batch, make_spec, validation_set
from .training import DoneEvent, EvalEvent, train

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_REVERSE = ROOT / "checkpoints" / "reverse"
CLI_COMMAND = ["train", "--task", "reverse", "--attention", "additive", "--bidirectional", "--target-accuracy", "0.99"]
# the reference for CLI_COMMAND: reached 99% in 140 steps, about 2.7 s of training on a quiet machine
REFERENCE = (dict(cell="gru", hidden_dim=64, attention="additive", bidirectional=True),
             dict(batch_size=128, lr=0.003, eval_seconds=TARGET_EVAL_SECONDS))
# the best configuration tried for addition (1-3 digit operands) to 99% held-out exact match (see README)
ADDITION_FAST = (dict(cell="gru", hidden_dim=128, attention="additive", bidirectional=True),
                 dict(lr=0.003, batch_size=256, warmup=100, lr_decay=True, schedule="cosine", steps=3000))
CLI_DEFAULT = dict(lr=CLI_LR, lr_decay=True, steps=CLI_STEPS)  # what `python -m seq2seq train` trains with
# the app's presets (settings.PRESETS) as model and train settings, with the schedule this benchmark recommends
PRESET_TUNED = (dict(hidden_dim=96, attention="dot"), dict(lr=0.0075, lr_decay=True, steps=500))
PRESET_FASTEST = (dict(cell="gru", hidden_dim=64, attention="additive", bidirectional=True),
                  dict(lr=0.003, lr_decay=True, steps=300))  # decaying over 400 steps swung to 93.8% after 99%
PRESET_TRANSFORMER = (dict(arch="transformer", hidden_dim=64, n_layers=2, heads=4),
                      dict(lr=0.003, lr_decay=True, steps=700, warmup=50, batch_size=32, schedule="cosine"))
# (batch 128 decaying linearly over 1000 steps also held >= 97%, at 3.3x the cost; over 1500, cosine: 92.6%)
# (name, task, model settings, train settings, evaluate every): each trained for its own steps (addition: None,
# twice what the ADDITION_FAST runs of item 6 needed; skipped if they never got there). The app evaluates every
# 0.25 s, about every 10-20 steps: its presets are checked every 25
STABILITY_RUNS = [("CLI default", "reverse", {}, CLI_DEFAULT, 50),
                  ("app Tuned default", "reverse", *PRESET_TUNED, 25),
                  ("app LSTM + attention (fastest)", "reverse", *PRESET_FASTEST, 25),
                  ("app Transformer", "reverse", *PRESET_TRANSFORMER, 25),
                  ("addition", "addition", ADDITION_FAST[0], {**ADDITION_FAST[1], "steps": None}, 50)]


def time_to_accuracy(task: Task, target: float = 0.99, seed: int = 0, model_kw: dict | None = None,
                     train_kw: dict | None = None) -> tuple[Seq2Seq, DoneEvent]:
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **(model_kw or {})), seed=seed)
    *_, done = train(model, task, TrainConfig(**{"steps": 5000, **(train_kw or {}), "target_accuracy": target,
                                                 "seed": seed}))
    return model, done


def stability(task: Task, model_kw: dict, train_kw: dict, seed: int, every: int = 50,
              target: float = 0.99) -> tuple[int | None, float, DoneEvent]:
    """Train as train_kw says, evaluating every `every` steps: (the first step at >= target, the lowest exact
    match at any later evaluation (1.0 if none), the DoneEvent: the kept model's figures)."""
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **model_kw), seed=seed)
    first, lowest = None, 1.0
    for event in train(model, task, TrainConfig(**{**train_kw, "eval_every": every, "seed": seed})):
        if isinstance(event, EvalEvent):
            if first is not None:
                lowest = min(lowest, event.exact_match)
            elif event.exact_match >= target:
                first = event.step
        elif isinstance(event, DoneEvent):
            return first, lowest, event
    raise AssertionError("train() ended without a DoneEvent")


def dates_run(task: Task, seed: int, every: int = 25, steps: int | None = None) -> tuple[int | None, float, float]:
    """PRESET_FASTEST as the app trains it (with `steps`, its decay over that many), on `task`: (the first step at
    >= 99% held-out exact match (None if never), the training seconds it took to get there, the kept model's exact
    match)."""
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **PRESET_FASTEST[0]), seed=seed)
    first, first_at = None, float("nan")
    settings = {**PRESET_FASTEST[1], "eval_every": every, "seed": seed, **({"steps": steps} if steps else {})}
    for event in train(model, task, TrainConfig(**settings)):
        if isinstance(event, EvalEvent) and first is None and event.exact_match >= 0.99:
            first, first_at = event.step, event.elapsed
        elif isinstance(event, DoneEvent):
            return first, first_at, event.exact_match
    raise AssertionError("train() ended without a DoneEvent")


# How the app trains a preset (playground/training.py `_train`, playground/worker.py `_run_job`), without the app:
# its held-out set is val_size_within(model, spec, budget.eval_seconds), which is the cap, 500, for every preset at
# the default budget (the library does not import the app, so it is written here); the worker stops within 0.5 s
# (worker.STOP_WITHIN) and watches the form's default sources (train_tab's watch_default: 4 held-out ones, seed 11)
APP_VAL_SIZE = 500
APP_STOP_WITHIN = 0.5
APP_WATCH = 4
PRESET_TIMES = ROOT / "playground" / "preset_times.json"


@dataclass
class AppRun:
    """One run of app_run: `seconds` from the run's start to its end (every step and evaluation, the final one
    included: DoneEvent.elapsed), `first_step`/`first_seconds` the first evaluation at >= the target (None if
    never), `lowest_after` the lowest exact match at any later evaluation (1.0 if none), `kept` the exact match of
    the model the run keeps, `evaluations` how many there were; `cpu`/`first_cpu` the same two times in CPU seconds
    of this process (one thread: close to a quiet machine's wall clock however loaded this one is)."""
    seed: int
    seconds: float
    steps: int
    first_step: int | None
    first_seconds: float | None
    lowest_after: float
    kept: float
    evaluations: int
    reason: str
    cpu: float
    first_cpu: float | None


def app_run(values: dict[str, Any], seed: int | None = None, target: float = 0.99) -> AppRun:
    """Train a preset's form `values` (with `seed` instead of the form's, when given) as the app's worker does: one
    torch thread (the caller's), the configs controls.read makes, evaluated at the start and every EVAL_SECONDS of
    run time (train's cadence: not sooner than EVAL_WAIT x an evaluation, and at least every eval_every steps),
    keeping the best weights, within the preset's time budget."""
    from .controls import EVAL_SECONDS, read
    task, model_config, train_config = read({**values, **({} if seed is None else {"seed": seed})})
    train_config = replace(train_config, val_size=APP_VAL_SIZE, eval_seconds=EVAL_SECONDS)
    watch = [example.source for example in validation_set(task, APP_WATCH, seed=11)]
    model = build_model(model_config, seed=train_config.seed)
    first = first_at = first_cpu = last_evaluated = None
    lowest, evaluations = 1.0, 0
    cpu_start = time.process_time()
    for event in train(model, task, train_config, threading.Event(), eval_at_start=True, watch=watch,
                       stop_within=APP_STOP_WITHIN):
        if isinstance(event, EvalEvent):
            evaluations, last_evaluated = evaluations + 1, event.step
            if first is not None:
                lowest = min(lowest, event.exact_match)
            elif event.exact_match >= target:
                first, first_at, first_cpu = event.step, event.elapsed, time.process_time() - cpu_start
        elif isinstance(event, DoneEvent):
            # the final evaluation, of the last weights, when no EvalEvent showed it (the page plots it all the same)
            if event.evaluated and event.figures_step == event.step != last_evaluated:
                evaluations += 1
                if first is not None:
                    lowest = min(lowest, event.exact_match)
                elif event.exact_match >= target:
                    first, first_at, first_cpu = event.step, event.elapsed, time.process_time() - cpu_start
            return AppRun(train_config.seed, event.elapsed, event.step, first, first_at, lowest, event.exact_match,
                          evaluations, event.reason, time.process_time() - cpu_start, first_cpu)
    raise AssertionError("train() ended without a DoneEvent")


def median_or_none(values: list[float | None]) -> float | None:
    """The median, counting None (never) as later than any number: None when half or more are None."""
    ranked = sorted(values, key=lambda v: (v is None, v or 0.0))
    low, high = ranked[(len(ranked) - 1) // 2], ranked[len(ranked) // 2]
    return None if low is None or high is None else low if low == high else (low + high) / 2


def preset_times(runs: dict[str, list[AppRun]], gauge: float, gauge_cpu: float, loads: list[float],
                 presets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """PRESET_TIMES's contents: per preset the form values measured (`values`: a reader can tell whether the preset
    has changed since), the medians over its seeds (wall clock, and CPU seconds), and every seed's figures."""
    def rounded(x: float | None, places: int = 1) -> float | None:
        return None if x is None else round(x, places)

    return {"measured": datetime.date.today().isoformat(), "cpus": os.cpu_count(),
            "load": [round(x, 1) for x in loads],
            "gauge_seconds": round(gauge, 1), "gauge_cpu_seconds": round(gauge_cpu, 1),
            "about": "python -m seq2seq.bench --only 9: each preset trained as the app trains it, seeds 0, 1, 2; "
                     "seconds: wall clock of the whole run (every step and evaluation), to_99: the first held-out "
                     "evaluation at >= 99% exact match (null: not reached by half the seeds); cpu_seconds: the same "
                     "in CPU seconds of the one training thread (close to a quiet machine's wall clock); gauge: "
                     "reverse's default run to 99% (bench item 1) in the same process, about 10 s on 2 quiet cores",
            "presets": {name: {"values": presets[name],
                               "seconds": rounded(statistics.median(r.seconds for r in rs)),
                               "to_99_seconds": rounded(median_or_none([r.first_seconds for r in rs])),
                               "to_99_steps": median_or_none([r.first_step for r in rs]),
                               "cpu_seconds": rounded(statistics.median(r.cpu for r in rs)),
                               "to_99_cpu_seconds": rounded(median_or_none([r.first_cpu for r in rs])),
                               "steps": statistics.median(r.steps for r in rs),
                               "seeds": [{"seed": r.seed, "seconds": rounded(r.seconds), "steps": r.steps,
                                          "to_99_seconds": rounded(r.first_seconds), "to_99_steps": r.first_step,
                                          "cpu_seconds": rounded(r.cpu), "to_99_cpu_seconds": rounded(r.first_cpu),
                                          "lowest_after_99": round(r.lowest_after, 3), "kept": round(r.kept, 3),
                                          "evaluations": r.evaluations}
                                         for r in rs]}
                        for name, rs in runs.items()}}

def cli_run(seed: int) -> tuple[float, int, float, str]:
    """CLI_COMMAND (with --seed unless 0, and --out a temporary folder) as a user runs it: (seconds from start to
    exit, steps, training seconds, exact match as printed)."""
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--seed", str(seed)] if seed else []
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "seq2seq", *CLI_COMMAND, *extra, "--out", f"{tmp}/m"],
                                cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    found = re.search(r": (\d+) steps in ([\d.]+) s, held-out exact match ([\d.]+%)", result.stdout)
    if result.returncode or not found:
        raise RuntimeError(f"the CLI failed: {result.stderr.strip()[-300:]}")
    return wall, int(found[1]), float(found[2]), found[3]


def help_seconds(repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seq2seq", "--help"], cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def training_throughput(task: Task, fast: bool, steps: int) -> float:
    """Target tokens per second of forward + backward + Adam at the seed's sizes."""
    config = ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=32, n_layers=2, dropout=0.0)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = random.Random(0)
    batches = [make_batch(task.examples(rng, 32, held_out=False, one_length=True), task.vocab) for _ in range(steps)]
    tokens = sum(int((b.trg[:, 1:] != 0).sum()) for b in batches)
    start = time.perf_counter()
    for b in batches:
        if fast:
            logits = model(b.src, b.src_lens, b.trg, 1.0)
        else:
            logits = model.forward_steps(b.src, b.src_lens, b.trg, 1.0)
        loss = sequence_loss(logits, b.trg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return tokens / (time.perf_counter() - start)


SOURCE = "3 1 4 1 5 9 2 6 5 3"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def decode_latency(model: Seq2Seq, task: Task, repeats: int) -> tuple[float, float]:
    """Median ms to greedy-decode one 10-token source with a trained model; ms per sequence in a batch."""
    assert greedy_decode(model, task.vocab, SOURCE).output == "3 5 6 2 9 5 1 4 1 3", "model did not learn"
    single = median_ms(lambda: greedy_decode(model, task.vocab, SOURCE), repeats)
    examples = task.examples(random.Random(1), 256, held_out=True)
    batch = make_batch(examples, task.vocab)
    with evaluating(model):
        start = time.perf_counter()
        for _ in range(10):
            greedy_decode_batch(model, batch.src, batch.src_lens, 12)
        batched = (time.perf_counter() - start) / 10 / len(examples)
    return single, batched * 1000


def decode_timings(repeats: int) -> tuple[float, float, float]:
    """Median ms for one 10-token source: greedy with the bundled reverse model, greedy with a small untrained
    Transformer (cached decoder) forced to 11 steps, beam search of width 5 with the bundled reverse model."""
    from .checkpoint import load_checkpoint
    bundled = load_checkpoint(BUNDLED_REVERSE)
    vocab = bundled.task.vocab
    assert greedy_decode(bundled.model, vocab, SOURCE).output == "3 5 6 2 9 5 1 4 1 3"
    rnn = median_ms(lambda: greedy_decode(bundled.model, vocab, SOURCE), repeats)
    transformer = build_model(ModelConfig(len(vocab), len(vocab), arch="transformer", hidden_dim=64, n_layers=2,
                                          heads=4), seed=0)
    eleven = Forced({t: vocab.stoi["7"] for t in range(11)})  # never <eos>: exactly 11 steps
    assert len(greedy_decode(transformer, vocab, SOURCE, max_len=11, policy=eleven).steps) == 11
    cached = median_ms(lambda: greedy_decode(transformer, vocab, SOURCE, max_len=11, policy=eleven), repeats)
    beam = median_ms(lambda: beam_search(bundled.model, vocab, SOURCE, 5), max(repeats // 5, 10))
    return rnn, cached, beam


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m seq2seq.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for README)")
    parser.add_argument("--only", help="comma-separated items to run (1 always runs: the speed gauge), e.g. 1,5")
    args = parser.parse_args()
    only = None if args.only is None else set(args.only.split(","))

    def wanted(item: str) -> bool:
        return only is None or item in only

    torch.set_num_threads(args.threads)
    task = Task(make_spec("reverse"))
    print(f"torch {torch.__version__}, {args.threads} thread(s), {torch.get_num_interop_threads()} interop, "
          f"load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}", flush=True)

    gauge_cpu = time.process_time()
    model, done = time_to_accuracy(task)
    gauge_cpu = time.process_time() - gauge_cpu
    print(f"1. default config to 99% held-out exact match on reverse 3-10: {done.elapsed:.1f} s, {done.step} steps "
          f"({done.reason}; exact {done.exact_match:.1%})   target <= 20 s", flush=True)

    if wanted("1b"):
        seeds = [0] if args.quick else [0, 1, 2]
        for seed in seeds:
            wall, steps, seconds, exact = cli_run(seed)
            _, ref = time_to_accuracy(task, seed=seed, model_kw=REFERENCE[0], train_kw=REFERENCE[1])
            print(f"1b. seed {seed}: `python -m seq2seq {' '.join(CLI_COMMAND)}`: {wall:.1f} s Enter to exit, "
                  f"{steps} steps, {seconds:.1f} s training ({exact}); reference trained here: {ref.step} steps, "
                  f"{ref.elapsed:.1f} s: {seconds / ref.elapsed:.2f}x   target <= 5 s, <= 1.2x", flush=True)
        print(f"1b. `python -m seq2seq --help`: {help_seconds():.2f} s", flush=True)

    if wanted("2"):
        steps = 30 if args.quick else 200
        loop = training_throughput(task, fast=False, steps=steps)
        fast = training_throughput(task, fast=True, steps=steps)
        print(f"2. training at the seed's sizes: fast path {fast:,.0f} target tokens/s, step loop {loop:,.0f} "
              f"tokens/s: {fast / loop:.1f}x   target >= 3x", flush=True)

    if wanted("3"):
        single, batched = decode_latency(model, task, repeats=50 if args.quick else 500)
        print(f"3. greedy decode of a 10-token source: {single:.2f} ms one at a time (with the step trace), "
              f"{batched:.3f} ms per sequence in a batch of 256   target <= 1 ms", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"4. peak memory of this process: {peak:.0f} MB", flush=True)

    seeds = range(2) if args.quick else range(3)
    addition = Task(make_spec("addition"))
    fast_runs = []
    if wanted("6"):
        for seed in seeds:
            _, done_add = time_to_accuracy(addition, seed=seed, model_kw=ADDITION_FAST[0], train_kw=ADDITION_FAST[1])
            fast_runs.append(done_add)
        print(f"6. addition 1-3 digits to 99% held-out exact match, {ADDITION_FAST[0]} {ADDITION_FAST[1]}: "
              + ", ".join(f"seed {seed}: {d.elapsed:.1f} s, {d.step} steps ({d.exact_match:.1%})"
                          for seed, d in zip(seeds, fast_runs))
              + f"; reverse's default run above took {done.elapsed:.1f} s (scale by it across machines)   "
                f"target <= 20 s", flush=True)
    if wanted("5"):
        for name, task_name, model_kw, train_kw, every in STABILITY_RUNS:
            if train_kw.get("steps", 0) is None:  # twice the most steps the runs of 6. needed
                if not fast_runs or any(d.reason != "target_accuracy" for d in fast_runs):
                    print(f"5. {name}: skipped (item 6 did not run, or its runs did not all reach 99%)", flush=True)
                    continue
                train_kw = {**train_kw, "steps": 2 * max(d.step for d in fast_runs)}
            runs = [stability(task if task_name == "reverse" else addition, model_kw, train_kw, seed, every)
                    for seed in seeds]
            detail = ", ".join(f"seed {seed}: 99% at step {first}, then >= {low:.1%}, kept {d.exact_match:.1%}"
                               if first is not None else f"seed {seed}: never 99% (kept {d.exact_match:.1%})"
                               for seed, (first, low, d) in zip(seeds, runs))
            lowest = min(low for first, low, _ in runs) if all(first is not None for first, _, _ in runs) \
                else float("nan")
            print(f"5. {name}: {model_kw or 'default model'} {train_kw}, evaluated every {every} steps: lowest "
                  f"held-out exact match after first reaching 99%: {lowest:.1%} ({detail})   target >= 97%",
                  flush=True)

    if wanted("8"):
        dates = Task(make_spec("dates"))
        for steps in (PRESET_FASTEST[1]["steps"], 2 * PRESET_FASTEST[1]["steps"]):
            found = []
            for seed in seeds:
                first, first_at, kept = dates_run(dates, seed, steps=steps)
                found.append(f"seed {seed}: " + (f"99% at step {first} after {first_at:.1f} s" if first is not None
                                                   else "never 99%") + f", kept {kept:.1%}")
            print(f"8. dates 6-29 with the app's LSTM + attention (fastest) preset {PRESET_FASTEST[0]} "
                  f"{ {**PRESET_FASTEST[1], 'steps': steps} }: {'; '.join(found)}; reverse's default run above took "
                  f"{done.elapsed:.1f} s   target <= 60 s", flush=True)

    if wanted("9"):
        from .controls import PRESETS
        loads = [os.getloadavg()[0]]
        runs: dict[str, list[AppRun]] = {}
        for name, values in PRESETS.items():
            runs[name] = rs = [app_run(values, seed) for seed in seeds]
            found = "; ".join(f"seed {r.seed}: {r.seconds:.1f} s ({r.cpu:.1f} s CPU), {r.steps} steps, "
                              + (f"99% at step {r.first_step} after {r.first_seconds:.1f} s ({r.first_cpu:.1f} s CPU), "
                                 f"then >= {r.lowest_after:.1%}" if r.first_step is not None else "never 99%")
                              + f", kept {r.kept:.1%}" for r in rs)
            whole, cpu = statistics.median(r.seconds for r in rs), statistics.median(r.cpu for r in rs)
            to_99 = median_or_none([r.first_seconds for r in rs])
            to_99_cpu = median_or_none([r.first_cpu for r in rs])
            print(f"9. preset {name}, as the app trains it: the whole run {whole:.1f} s, {whole / done.elapsed:.2f}x "
                  f"reverse's default run ({cpu:.1f} s CPU, {cpu / gauge_cpu:.2f}x); 99% after "
                  + (f"{to_99:.1f} s, {to_99 / done.elapsed:.2f}x ({to_99_cpu:.1f} s CPU, {to_99_cpu / gauge_cpu:.2f}x)"
                     if to_99 is not None and to_99_cpu is not None else "not reached by most seeds")
                  + f" (medians; {found}); reverse's default run above: {done.elapsed:.1f} s, {gauge_cpu:.1f} s CPU"
                  + ("   target: 99% <= 15 s" if name == "Transformer" else ""), flush=True)
        loads.append(os.getloadavg()[0])
        if args.quick:
            print(f"9. (--quick: {PRESET_TIMES.name} left as it is)", flush=True)
        else:
            times = preset_times(runs, done.elapsed, gauge_cpu, loads, PRESETS)
            PRESET_TIMES.write_text(json.dumps(times, indent=1) + "\n")
            print(f"9. wrote {PRESET_TIMES.relative_to(ROOT)}", flush=True)

    if wanted("7"):
        rnn, cached, beam = decode_timings(50 if args.quick else 300)
        print(f"7. decoding a 10-token source: greedy, bundled reverse RNN {rnn:.2f} ms (target <= 1 ms); greedy, "
              f"Transformer d_model 64, 2 layers, 4 heads, cached, 11 steps {cached:.2f} ms (<= 2 ms); beam 5, "
              f"bundled reverse RNN {beam:.2f} ms (<= 5 ms)", flush=True)

    if wanted("10"):
        lab_bench(task, repeats=1 if args.quick else 3)


def lab_bench(task: Task, repeats: int) -> None:
    """Item 10: what Pause / One step / Slow, the encoder map and the kept runs cost."""
    from .checkpoint import load_checkpoint
    from .encoder_map import context_map
    from .pacing import Pace
    from .training import TrainState

    def run(pace) -> float:
        model = build_model(ModelConfig(len(task.vocab), len(task.vocab)), seed=0)
        begun = time.perf_counter()
        for _ in train(model, task, TrainConfig(steps=300, eval_every=1000, val_size=50), pace=pace):
            pass
        return time.perf_counter() - begun

    plain, paced = [], []
    for _ in range(repeats):  # interleaved: the machine's load falls on both alike
        plain.append(run(None))
        paced.append(run(Pace()))
    ratio = statistics.median(paced) / statistics.median(plain)
    print(f"10. pacing: 300 steps of reverse's default with a Pace never paused {statistics.median(paced):.2f} s, "
          f"without {statistics.median(plain):.2f} s: {ratio:.3f}x   target <= 1.05x", flush=True)
    for name in ("reverse", "reverse-attention", "reverse-transformer"):
        folder = ROOT / "checkpoints" / name
        if not folder.exists():
            continue
        checkpoint = load_checkpoint(folder)
        context_map(checkpoint.model, checkpoint.task, n=300)  # warm
        took = median_ms(lambda: context_map(checkpoint.model, checkpoint.task, n=300), 5)
        print(f"10. encoder map of bundled {name}, 300 sources: {took:.0f} ms   target <= 1000 ms", flush=True)
    largest = ModelConfig(len(task.vocab), len(task.vocab), emb_dim=256, hidden_dim=512, n_layers=4,
                          attention="additive", bidirectional=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kept = []
    for seed in range(6):  # six runs kept, each its weights and a training state with Adam's moments
        model = build_model(largest, seed=seed)
        state = TrainState.fresh(seed)
        for _ in train(model, task, TrainConfig(steps=1, batch_size=2, val_size=2, eval_every=1000), state=state):
            pass
        kept.append((model, state.to_bytes()))
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    one = 4 * count_parameters(kept[0][0]) + len(kept[0][1])
    print(f"10. a kept run of the largest model the form allows ({count_parameters(kept[0][0]):,} parameters): "
          f"{one / 1e6:.0f} MB (weights and training state), six {6 * one / 1e6:.0f} MB; this process's peak grew "
          f"{grew:.0f} MB while building and keeping six (the app counts them in SEQ2SEQ_SESSIONS_MB, default "
          f"1000, and drops kept runs before anyone's model)", flush=True)


if __name__ == "__main__":
    main()
