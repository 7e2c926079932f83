"""How long Stop takes: from the /stop call to the run's final status, on the largest RNN the Train form accepts
within the default budget, pressed at random moments (some during evaluations), quiet and beside busy processes.

    .venv/bin/python tools/stop_latency.py --find                 # the largest accepted RNN (LARGEST below)
    .venv/bin/python tools/stop_latency.py --app -n 20 --busy 2   # through the app (gradio_client), 2 busy loops
    .venv/bin/python tools/stop_latency.py --worker -n 20         # the worker alone: stop() to its Finished

--app starts `python app.py` on a free loopback port (tests/helpers.AppServer), trains the settings --find gives
(a new model each time, no step limit), waits for the first progress line, waits a random 0-4 s, calls /stop and
times it until the status starts "Stopped". --busy N starts N `python3 -c 'while True: pass'` beside it (killed at
the end, by their own pids). Prints one line per trial and a summary: median, 90th percentile and worst, how
many ended the cooperative way ("stopped by request") and how many were killed, how many were stopped during an
evaluation, and how many ended unevaluated (figures from an earlier step). Loopback only; about 1 min per 10 trials.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# what --find gave on 2026-11-27 (default budget): 12,665,002 parameters, an estimated step of 0.50 s
LARGEST = {"cell": "lstm", "attention": "dot", "bidirectional": True, "n_layers": 2, "teacher_forcing": 1.0,
           "dropout": 0.0, "min_len": 10, "max_len": 10, "batch_size": 32, "steps": 0, "lr_decay": False,
           "hidden_dim": 460, "emb_dim": 256}


def largest_rnn() -> dict:
    """The accepted RNN settings (default budget) with the most parameters: for each cell, attention, direction,
    layers, teacher forcing, dropout, length and batch size, the largest hidden size the budget accepts."""
    from playground import limits, settings
    from playground.cost import estimate
    from seq2seq.controls import SettingsError

    def read(values: dict):
        try:
            return settings.read(values, limits.SETTINGS, limits.BUDGET)
        except SettingsError:
            return None

    best = None
    for cell, attention, both, layers, forcing, dropout, length, batch in itertools.product(
            ("lstm", "gru"), ("none", "dot", "general", "additive"), (False, True), (1, 2, 3, 4), (0.0, 1.0),
            (0.0, 0.5), (10, 30, 50), (32, 128, 512)):
        base = dict(cell=cell, attention=attention, bidirectional=both, n_layers=layers, teacher_forcing=forcing,
                    dropout=dropout, min_len=length, max_len=length, batch_size=batch, steps=0, lr_decay=False)

        def values(hidden: int) -> dict:
            return {**base, "hidden_dim": hidden, "emb_dim": min(256, hidden)}
        if read(values(8)) is None:
            continue
        low, high = 8, 513
        while high - low > 1:  # the budget's cost grows with the hidden size
            mid = (low + high) // 2
            low, high = (mid, high) if read(values(mid)) else (low, mid)
        task, model_config, train_config = read(values(low))
        cost = estimate(model_config, train_config, task.spec)
        if best is None or cost.parameters > best[0]:
            best = (cost.parameters, values(low), cost)
    parameters, found, cost = best
    print(f"largest accepted RNN: {parameters:,} parameters, estimated step {cost.step_seconds:.2f} s: {found}",
          flush=True)
    return found


def busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["python3", "-c", "while True: pass"]) for _ in range(n)]


def summary(label: str, results: list[tuple[float, str]]) -> None:
    seconds = sorted(s for s, _ in results)
    p90 = seconds[min(len(seconds) - 1, int(round(0.9 * (len(seconds) - 1))))]
    statuses = [status for _, status in results]
    cooperative = sum(s.startswith("Stopped: stopped by request") for s in statuses)
    during = sum("during the evaluation" in s for s in statuses)
    unevaluated = sum("was not evaluated" in s or "not evaluated yet" in s for s in statuses)
    print(f"{label}: {len(seconds)} stops; median {statistics.median(seconds):.2f} s, p90 {p90:.2f} s, worst "
          f"{seconds[-1]:.2f} s; {cooperative} by request (the rest killed), {during} during an evaluation, "
          f"{unevaluated} ended with an earlier evaluation's figures", flush=True)


def app_trials(values: dict, n: int, seed: int) -> list[tuple[float, str]]:
    from helpers import STATUS, AppServer, client, wait_for_status

    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        server = AppServer(Path(folder))
        try:
            for trial in range(n):
                c = client(server.url)
                job = c.submit(**{**values, "time_budget": 120, "mode": "new", "seed": trial}, api_name="/train")
                wait_for_status(job, r"Training: step", timeout=120)
                time.sleep(rng.uniform(0, 4))
                started = time.perf_counter()
                assert c.predict(api_name="/stop") == "Stopping…"
                while True:
                    updates = job.outputs()
                    status = updates[-1][STATUS] if updates else ""
                    if status.startswith("Stopped") or job.done():
                        break
                    time.sleep(0.005)
                took = time.perf_counter() - started
                job.result(timeout=60)
                results.append((took, status))
                print(f"  {took:5.2f} s  {status[:170]}", flush=True)
        finally:
            server.stop()
    return results


def worker_trials(values: dict, n: int, seed: int) -> list[tuple[float, str]]:
    from dataclasses import replace

    from playground import limits, settings
    from playground.cost import val_size_within
    from playground.worker import Finished, Job, WorkerPool
    from seq2seq.events import DoneEvent

    task, model_config, train_config = settings.read({**values, "time_budget": 120}, limits.SETTINGS, limits.BUDGET)
    train_config = replace(train_config, val_size=val_size_within(model_config, task.spec, limits.BUDGET.eval_seconds),
                           eval_seconds=settings.EVAL_SECONDS)
    rng = random.Random(seed)
    pool = WorkerPool()
    pool.warm_up()
    results = []
    try:
        for trial in range(n):
            run = pool.start(Job(model_config.to_dict(), task.spec.to_dict(), train_config.to_dict(),
                                 eval_at_start=True))
            stop_at = time.perf_counter() + 1.0 + rng.uniform(0, 4)
            started, done, status = None, None, "?"
            for message in run.messages(stop_grace=limits.STOP_GRACE):
                if started is None and time.perf_counter() >= stop_at:
                    started = time.perf_counter()
                    run.stop()
                if isinstance(message, list):
                    done = next((e for e in message if isinstance(e, DoneEvent)), done)
                elif isinstance(message, Finished):
                    status = f"Stopped: {done.message}"
                elif message is not None and not isinstance(message, list) and type(message).__name__ != "Snapshot":
                    status = f"Stopped: {getattr(message, 'message', message)}"
            took = time.perf_counter() - started
            results.append((took, status))
            print(f"  {took:5.2f} s  {status[:170]}", flush=True)
    finally:
        pool.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--find", action="store_true", help="only print the largest accepted RNN settings")
    parser.add_argument("--app", action="store_true", help="through the app (the default)")
    parser.add_argument("--worker", action="store_true", help="the worker process alone")
    parser.add_argument("-n", type=int, default=10, help="stops to time (default 10)")
    parser.add_argument("--busy", type=int, default=0, help="busy loops beside it (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.find:
        largest_rnn()
        return
    values = LARGEST
    loops = busy(args.busy)
    try:
        label = f"{'worker' if args.worker else 'app'}, {args.busy} busy loop(s)"
        results = (worker_trials if args.worker else app_trials)(values, args.n, args.seed)
        summary(label, results)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


if __name__ == "__main__":
    main()
