"""Benchmark: python -m seq2seq.bench [--quick]

Prints, from one run on this machine (so ratios are fair even on a noisy, shared machine):
1. time and steps for the default configuration to reach 99% held-out exact match on reverse 3-10;
2. training throughput (target tokens/s) of the teacher-forcing fast path against the step loop,
   at the seed's sizes (emb 16, hidden 32, 2 layers, batch 32);
3. greedy decode latency of a 10-token source, one at a time and in a batch of 256;
4. peak memory of the process;
5. stability: over several seeds, the lowest held-out exact match at any evaluation (every 50 steps) after
   a run first reaches 99%, trained about twice the steps it needs to get there, for reverse (default
   config) and addition (ADDITION_FAST); and the exact match of the model the run keeps;
6. addition (operands of 1-3 digits) to 99% held-out exact match with ADDITION_FAST: steps and seconds per seed.
Targets on 2 cores: (1) <= 20 s; (2) >= 3x; (3) <= 1 ms per sequence; (5) never below 97% after 99%;
(6) <= 20 s of training.
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import time

import torch

from .config import ModelConfig, TrainConfig
from .decode import evaluating, greedy_decode, greedy_decode_batch
from .model import Seq2Seq, build_model, sequence_loss
from .tasks import Task, make_batch, make_spec
from .train import DoneEvent, EvalEvent, train

# the best configuration tried for addition (1-3 digit operands) to 99% held-out exact match (2026-11-28: it does
# not get there in 3000 steps; see README)
ADDITION_FAST = (dict(cell="gru", attention=True), dict(lr=0.01, lr_decay=True, steps=3000))
# (task, model settings, train settings, steps) of the stability runs: about twice the steps each needs to reach
# 99% (reverse: about 1000); None: twice what the ADDITION_FAST runs needed (skipped if they never got there)
STABILITY_RUNS = [("reverse", {}, {}, 2000), ("reverse", {}, dict(lr=0.003, lr_decay=True), 2000),
                  ("addition", *ADDITION_FAST, None)]


def time_to_accuracy(task: Task, target: float = 0.99, seed: int = 0, model_kw: dict | None = None,
                     train_kw: dict | None = None) -> tuple[Seq2Seq, DoneEvent]:
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **(model_kw or {})), seed=seed)
    *_, done = train(model, task, TrainConfig(**{"steps": 5000, **(train_kw or {}), "target_accuracy": target,
                                                 "seed": seed}))
    return model, done


def stability(task: Task, model_kw: dict, train_kw: dict, steps: int, seed: int,
              target: float = 0.99) -> tuple[int | None, float, DoneEvent]:
    """Train `steps` steps, evaluating every 50: (the first step at >= target, the lowest exact match at any
    later evaluation (1.0 if none), the DoneEvent: the kept model's figures)."""
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **model_kw), seed=seed)
    first, lowest = None, 1.0
    for event in train(model, task, TrainConfig(**{**train_kw, "steps": steps, "eval_every": 50, "seed": seed})):
        if isinstance(event, EvalEvent):
            if first is not None:
                lowest = min(lowest, event.exact_match)
            elif event.exact_match >= target:
                first = event.step
        elif isinstance(event, DoneEvent):
            return first, lowest, event
    raise AssertionError("train() ended without a DoneEvent")


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


def decode_latency(model: Seq2Seq, task: Task, repeats: int) -> tuple[float, float]:
    """Median ms to greedy-decode one 10-token source with a trained model; ms per sequence in a batch."""
    source = "3 1 4 1 5 9 2 6 5 3"
    assert greedy_decode(model, task.vocab, source).output == "3 5 6 2 9 5 1 4 1 3", "model did not learn"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        greedy_decode(model, task.vocab, source)
        times.append(time.perf_counter() - start)
    examples = task.examples(random.Random(1), 256, held_out=True)
    batch = make_batch(examples, task.vocab)
    with evaluating(model):
        start = time.perf_counter()
        for _ in range(10):
            greedy_decode_batch(model, batch.src, batch.src_lens, 12)
        batched = (time.perf_counter() - start) / 10 / len(examples)
    return statistics.median(times) * 1000, batched * 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m seq2seq.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for README)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = Task(make_spec("reverse"))
    print(f"torch {torch.__version__}, {args.threads} thread(s), {torch.get_num_interop_threads()} interop")

    model, done = time_to_accuracy(task)
    print(f"1. default config to 99% held-out exact match on reverse 3-10: {done.elapsed:.1f} s, {done.step} steps "
          f"({done.reason}; exact {done.exact_match:.1%})   target <= 20 s")

    steps = 30 if args.quick else 200
    loop = training_throughput(task, fast=False, steps=steps)
    fast = training_throughput(task, fast=True, steps=steps)
    print(f"2. training at the seed's sizes: fast path {fast:,.0f} target tokens/s, step loop {loop:,.0f} "
          f"tokens/s: {fast / loop:.1f}x   target >= 3x")

    single, batched = decode_latency(model, task, repeats=50 if args.quick else 500)
    print(f"3. greedy decode of a 10-token source: {single:.2f} ms one at a time (with the step trace), "
          f"{batched:.3f} ms per sequence in a batch of 256   target <= 1 ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"4. peak memory of this process: {peak:.0f} MB")

    seeds = range(2) if args.quick else range(3)
    addition = Task(make_spec("addition"))
    fast = []
    for seed in seeds:
        _, done_add = time_to_accuracy(addition, seed=seed, model_kw=ADDITION_FAST[0], train_kw=ADDITION_FAST[1])
        fast.append(done_add)
    for name, model_kw, train_kw, steps in STABILITY_RUNS:
        if steps is None:  # twice the most steps the fast runs above needed
            if any(d.reason != "target_accuracy" for d in fast):
                print(f"5. {name}: skipped (the runs of 6. did not all reach 99%)")
                continue
            steps = 2 * max(d.step for d in fast)
        runs = [stability(task if name == "reverse" else addition, model_kw, train_kw, steps, seed) for seed in seeds]
        detail = ", ".join(f"seed {seed}: 99% at step {first}, then >= {low:.1%}, kept {d.exact_match:.1%}"
                           if first is not None else f"seed {seed}: never 99% (kept {d.exact_match:.1%})"
                           for seed, (first, low, d) in zip(seeds, runs))
        lowest = min(low for first, low, _ in runs) if all(first is not None for first, _, _ in runs) else float("nan")
        print(f"5. {name}, {steps} steps {model_kw or 'default config'} {train_kw or ''}: lowest held-out exact match "
              f"after first reaching 99%: {lowest:.1%} ({detail})   target >= 97%")
    print(f"6. addition 1-3 digits to 99% held-out exact match, {ADDITION_FAST[0]} {ADDITION_FAST[1]}: "
          + ", ".join(f"seed {seed}: {d.elapsed:.1f} s, {d.step} steps ({d.exact_match:.1%})"
                      for seed, d in zip(seeds, fast))
          + f"; reverse's default run above took {done.elapsed:.1f} s (scale by it across machines)   target <= 20 s")


if __name__ == "__main__":
    main()
