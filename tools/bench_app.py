"""App benchmark: start-up time, and what the live UI costs training; writes its table into
docs/benchmarks.md (section bench:app).

    python tools/bench_app.py [--runs 3] [--steps N] [--only-start] [--no-write]

0/1. `python app.py` from launch to the first HTTP 200 on /, against a bare Gradio Blocks app started the
   same way (alternated; the ratio is the figure), and the first /decode right after.
2. What training in a worker process costs at the start: forking a run from the warm zygote (model
   built, ready to train), and "click Train -> first point" through the app (the untrained model's
   held-out accuracy at step 0, and the first loss).
3. The Train tab's default preset as a presenter sees it: seconds from pressing Train until the streamed
   held-out exact match reaches 99%, and how many accuracy points a run draws.
4. Training steps/s of that preset, through the app's streaming /train endpoint (gradio_client, as a
   browser would drive it) against the same training run headless in this process (same evaluation
   cadence and validation set size), interleaved so both see the same machine; the figure to watch is
   the ratio.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent.parent  # the project
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from playground import settings  # noqa: E402
from seq2seq import ModelConfig, Task, TrainConfig, build_model, make_spec, train  # noqa: E402
from playground.budget import Budget
from playground.cost import val_size_within  # noqa: E402

sys.path.insert(0, str(HERE / "tests"))
sys.path.insert(0, str(HERE / "tools"))
from benchdoc import table, write_section  # noqa: E402
from helpers import free_port, wait_for_http  # noqa: E402


def headless_steps_per_s(steps: int) -> float:
    """The Train tab's default preset, trained by seq2seq.train() with nothing watching, evaluated as the app
    evaluates it (the same cadence and validation set)."""
    task, model_config, train_config = settings.read(settings.PRESETS[settings.DEFAULT_PRESET])
    val_size = val_size_within(model_config, task.spec, Budget.from_env().eval_seconds)
    config = replace(train_config, steps=steps, val_size=val_size, eval_seconds=settings.EVAL_SECONDS)
    *_, done = train(build_model(model_config, seed=config.seed), task, config)
    return steps / done.elapsed


def seconds_to_99(client) -> tuple[float | None, int, float]:
    """Pressing Train with the default preset: seconds until the page shows ≥ 99% held-out exact match (None if
    the run never does), how many accuracy points the run drew, and how long it took in all."""
    started = time.perf_counter()
    reached = None
    outputs = []
    for update in client.submit(mode="new", api_name="/train"):
        outputs.append(update)
        exact = [row[1] for row in (update[1] or {}).get("data", []) if row[2] == "exact match"]
        if reached is None and exact and max(exact) >= 99:
            reached = time.perf_counter() - started
    points = sum(1 for row in outputs[-1][1]["data"] if row[2] == "exact match")
    return reached, points, time.perf_counter() - started


def app_steps_per_s(client, steps: int) -> tuple[float, int]:
    """The same run through /train; returns the app's own steps/s and how many updates streamed."""
    outputs = list(client.submit(steps=steps, mode="new", api_name="/train"))
    status = outputs[-1][2]
    match = re.search(r"([\d,]+) steps in ([\d.]+) s", status)
    if not match:
        raise RuntimeError(f"unexpected final status: {status}")
    return int(match[1].replace(",", "")) / float(match[2]), len(outputs)


def worker_start_ms(runs: int) -> list[float]:
    """Milliseconds for WorkerPool.start(): fork from the zygote, build the default model, say "started"."""
    from playground.worker import Job, WorkerPool
    task = Task(make_spec("reverse", 3, 10))
    config = ModelConfig(len(task.vocab), len(task.vocab))
    pool = WorkerPool()
    pool.warm_up()
    times = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            run = pool.start(Job(config.to_dict(), task.spec.to_dict(), TrainConfig(steps=1).to_dict()))
            times.append(1000 * (time.perf_counter() - started))
            for _ in run.messages():
                pass
    finally:
        pool.close()
    return times


def first_point_s(client) -> tuple[float, float]:
    """Seconds from submitting /train until the first update with the step-0 accuracy point, and with a loss."""
    started = time.perf_counter()
    accuracy = loss = None
    job = client.submit(steps=200, mode="new", api_name="/train")
    for update in job:
        now = time.perf_counter() - started
        if accuracy is None and isinstance(update[1], dict) and update[1].get("data"):
            accuracy = now
        if loss is None and isinstance(update[0], dict) and update[0].get("data"):
            loss = now
    return accuracy, loss


BARE_APP = """
import os
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("a bare Gradio Blocks app")
demo.launch(server_name="127.0.0.1", server_port=int(os.environ["GRADIO_SERVER_PORT"]), ssr_mode=False)
"""


def start_seconds(command: list[str], decode: bool = False) -> tuple[float, float | None]:
    """Seconds from starting `command` (a server) to its first HTTP 200 on /, and (decode=True) from then to
    the first /decode answered, as a fresh page's first Decode click would be."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    server = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_for_http(f"http://127.0.0.1:{port}/", server)
        first = None
        if decode:
            from gradio_client import Client
            asked = time.perf_counter()
            Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False).predict(
                "3 1 4 1 5 9", api_name="/decode")
            first = time.perf_counter() - asked
        return up, first
    finally:
        server.terminate()
        server.wait(10)


def start_rows(runs: int) -> list[tuple]:
    """`make run`'s server against a bare Gradio Blocks app started the same way, alternated so both see the
    same machine; and the first decode on a fresh page (connecting included)."""
    bare_file = Path(tempfile.mkdtemp()) / "bare.py"
    bare_file.write_text(BARE_APP)
    bare, app, first = [], [], []
    start_seconds([sys.executable, str(bare_file)])  # warm-up, not counted: the first start reads gradio from disk
    start_seconds([sys.executable, "app.py"])
    for _ in range(runs):
        bare.append(start_seconds([sys.executable, str(bare_file)])[0])
        up, decode = start_seconds([sys.executable, "app.py"], decode=True)
        app.append(up)
        first.append(decode)
    b, a = statistics.median(bare), statistics.median(app)
    print(f"0. start to first HTTP 200: app {a:.2f} s, bare Gradio {b:.2f} s: {a / b:.2f}x (median of {runs}); "
          f"first decode {statistics.median(first):.2f} s")
    return [("`python app.py` launch to first HTTP 200, against a bare Gradio Blocks app started the same way "
             f"(alternated, median of {runs})", "≤ 1.3×",
             f"**{a:.2f} s vs {b:.2f} s: {a / b:.2f}×** (app {', '.join(f'{x:.2f}' for x in app)}; bare "
             f"{', '.join(f'{x:.2f}' for x in bare)})"),
            ("first /decode on a fresh server, right after its first HTTP 200 (gradio_client connect included)",
             "≤ 3 s", f"**{statistics.median(first):.2f} s** median (max {max(first):.2f} s)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=settings.PRESETS[settings.DEFAULT_PRESET]["steps"])
    parser.add_argument("--only-start", action="store_true", help="measure only the start-up (item 0)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app
    when = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start"
    rows = start_rows(max(args.runs, 7))
    if not args.only_start:
        rows += app_rows(args)
    text = f"Measured {when}.\n\n" + table(("what", "target", "measured"), rows)
    if not args.no_write:
        write_section("app", text)


def app_rows(args) -> list[tuple]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=HERE, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        from gradio_client import Client
        client = Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
        starts = worker_start_ms(10)
        print(f"2. a training run's own process, forked from the warm zygote with its model built: median "
              f"{statistics.median(starts):.0f} ms, max {max(starts):.0f} ms (10 runs)")
        points = [first_point_s(client) for _ in range(5)]
        first_acc = statistics.median(p[0] for p in points)
        print(f"   click Train -> first point (step-0 held-out accuracy): median {first_acc:.2f} s, max "
              f"{max(p[0] for p in points):.2f} s; first loss point: median "
              f"{statistics.median(p[1] for p in points):.2f} s (5 runs)")
        runs = [seconds_to_99(client) for _ in range(args.runs)]
        reached = ", ".join("never" if r[0] is None else f"{r[0]:.1f} s" for r in runs)
        print(f"3. default preset, pressing Train -> held-out exact match >= 99% on the page: {reached}; accuracy "
              f"points per run: {', '.join(str(r[1]) for r in runs)} (runs of "
              f"{', '.join(f'{r[2]:.1f}' for r in runs)} s)")
        app_steps_per_s(client, 200)   # warm both up: first steps in a process are slow
        headless_steps_per_s(200)
        app, headless, updates = [], [], []
        for _ in range(args.runs):
            rate, n = app_steps_per_s(client, args.steps)
            app.append(rate)
            updates.append(n)
            headless.append(headless_steps_per_s(args.steps))
        a, h = statistics.median(app), statistics.median(headless)
        print(f"4. training {args.steps} steps (default preset), median of {args.runs}: app {a:.0f} steps/s "
              f"({statistics.median(updates):.0f} streamed updates), headless {h:.0f} steps/s; the app runs at "
              f"{a / h:.0%} of headless speed (live UI cost {1 - a / h:+.1%})")
    finally:
        server.terminate()
        server.wait(10)
    return [
        ("a training run's own process: forked from the warm zygote, model built, ready", "—",
         f"**{statistics.median(starts):.0f} ms** median (max {max(starts):.0f} ms, 10 runs)"),
        ("click Train → first status and point (the untrained model's held-out accuracy at step 0)", "< 0.5 s",
         f"**{first_acc:.2f} s** median (max {max(p[0] for p in points):.2f} s); first loss point "
         f"{statistics.median(p[1] for p in points):.2f} s"),
        ("Tuned default: click Train → the page shows ≥ 99% held-out exact match", "≤ 10 s",
         f"**{reached}** ({args.runs} runs)"),
        ("held-out accuracy points a run draws", "≥ 30 in 10 s",
         f"**{min(r[1] for r in runs)}–{max(r[1] for r in runs)}** in runs of "
         f"{min(r[2] for r in runs):.1f}–{max(r[2] for r in runs):.1f} s"),
        (f"training steps/s, Tuned default, {args.steps} steps: app's streaming `/train` vs the same `train()` "
         "headless (same evaluation cadence and validation set)", "live UI costs ≤ 10%",
         f"**{a:.0f} vs {h:.0f} steps/s: {a / h:.0%}** (median of {args.runs} interleaved runs; "
         f"{'/'.join(f'{x:.0f}' for x in app)} vs {'/'.join(f'{x:.0f}' for x in headless)})"),
    ]


if __name__ == "__main__":
    main()
