"""Stop during an evaluation, as a gradio_client user presses it: the run ends there by its own hand (not killed by
the server), says which step its figures are from, and Continue goes on with its training state (Adam, the
generators), exactly as one run that never stopped.

A server of its own, whose evaluation budget (SEQ2SEQ_EVAL_SECONDS=30) lets a held-out evaluation of this model
take a second or more, while its steps (batch size 1) are quick: so "step 100" stays on the status line for as long
as the evaluation of step 100 runs, and a Stop pressed when it shows lands inside that evaluation. Time is asserted
only as the run reports it, never by the wall clock of a busy machine.
"""
import csv
import re
from dataclasses import replace

import pytest

from playground import settings
from playground.budget import Budget
from seq2seq import build_model, train as train_in_process
from seq2seq.training import StepEvent
from tests.helpers import METRICS, STATUS, AppServer, client, outputs, reported, train, \
    wait_for_status

# an untrained LSTM of hidden size 512 decodes all 500 held-out sources at every length to 50: an evaluation of
# 1-3 s; a step of batch 1 is ~20 ms
SETTINGS = dict(task="reverse", min_len=1, max_len=50, emb_dim=32, hidden_dim=512, n_layers=1, attention="none",
                batch_size=1, lr_decay=False, seed=7)


@pytest.fixture(scope="module")
def slow_eval_server(tmp_path_factory):
    # a stop is honoured within a second on a quiet machine; on a busy one the server would kill a run (nice 10)
    # that takes longer than 1.5 s: here it may take its time, so what is asserted is the run's own way of stopping
    server = AppServer(tmp_path_factory.mktemp("slow-eval"), SEQ2SEQ_EVAL_SECONDS="30", SEQ2SEQ_STOP_GRACE="60")
    yield server
    server.stop()


def losses(metrics_csv: str) -> dict[int, float]:
    with open(metrics_csv) as f:
        return {int(r["step"]): float(r["train_loss"]) for r in csv.DictReader(f) if r["train_loss"]}


def test_stop_during_an_evaluation_ends_the_run_there_and_continue_goes_on_exactly(slow_eval_server):
    c = client(slow_eval_server.url)
    job = c.submit(steps=0, time_budget=120, mode="new", **SETTINGS, api_name="/train")
    wait_for_status(job, r"Training: step 100 ", timeout=120)  # its evaluation (every 100 steps) has begun
    assert c.predict(api_name="/stop") == "Stopping…"
    final = outputs(job)[-1][STATUS]
    # by its own hand (a kill would say "it did not stop when asked"), inside the evaluation, which it gave up
    stopped = re.match(r"Stopped: stopped by request after 100 steps, during the evaluation of step 100; kept the "
                       r"model as it was at step 0, its best \(([\d.]+)% of held-out sources exactly right; step 100 was not "
                       r"evaluated\)\. ", final)
    assert stopped, final
    ran, seconds, step = reported(final)
    assert (ran, step) == (100, 100)  # training stands at step 100 (the next run goes on from there) ...
    figures = re.search(r"held-out \(step 0\) exact match ([\d.]+)%, token accuracy ([\d.]+)%, loss ([\d.]+)\.",
                        final)
    assert figures and figures[1] == stopped[1], final  # ... and the figures say which step they are from
    decoded = c.predict("3 1 4", api_name="/decode")
    assert "your model (trained here, step 100)" in decoded[-1]

    again = train(c, steps=20, mode="continue", **SETTINGS)
    assert again[0][STATUS].startswith("Starting (continuing from step 100)"), again[0][STATUS]
    assert again[-1][STATUS].startswith("Done: finished 20 steps") and "step 120 in all" in again[-1][STATUS]
    resumed = losses(again[-1][METRICS])
    assert sorted(resumed) == list(range(1, 121))

    # the run that never stopped, here: the same settings, 120 steps (evaluations never change the training)
    task, model_config, train_config = settings.read({**SETTINGS, "steps": 120}, settings.SETTINGS, Budget())
    model = build_model(model_config, seed=train_config.seed)
    straight = [e.loss for e in train_in_process(model, task, replace(train_config, val_size=1, eval_every=1000))
                if isinstance(e, StepEvent)]
    # steps 101-120 as one run would have taken them: Adam's moments and the generators went on (a fresh optimizer,
    # what a killed run leaves, would differ from the first step)
    assert [resumed[s] for s in range(1, 121)] == pytest.approx(straight, rel=2e-5, abs=1e-6)
