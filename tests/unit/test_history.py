import csv
import io

import pytest

from seq2seq.history import History
from seq2seq.training import DoneEvent, EvalEvent, StepEvent


def run(history: History, start: int, n: int, eval_every: int = 10) -> None:
    for step in range(start + 1, start + n + 1):
        history.record(StepEvent(step, loss=1000.0 / step, elapsed=0.01 * (step - start)))
        if step % eval_every == 0:
            history.record(EvalEvent(step, 0.0, exact_match=step / 1000, token_accuracy=0.5, val_loss=1.0 / step))
    history.record(DoneEvent(start + n, 0.0, "steps", "done", start / 1000 + n / 1000, 0.5, 1.0 / (start + n)))


def test_steps_continue_across_runs_and_done_does_not_repeat_the_last_eval():
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.1, 2.5))
    run(h, 0, 30)
    assert h.last_step == 30
    run(h, h.last_step, 25)  # ends off the eval grid: the DoneEvent adds its own point
    assert h.last_step == 55
    assert [e.step for e in h.evals] == [0, 10, 20, 30, 40, 50, 55]


def test_a_run_that_diverged_forgets_the_steps_after_the_weights_it_went_back_to():
    h = History()
    for step in range(1, 54):  # evaluated at 10 ... 50, then the loss blew up after step 50
        h.record(StepEvent(step, loss=1000.0 / step if step <= 50 else 1e6, elapsed=0.01 * step))
        if step % 10 == 0:
            h.record(EvalEvent(step, 0.0, exact_match=step / 1000, token_accuracy=0.5, val_loss=1.0 / step))
    h.record(DoneEvent(50, 0.0, "diverged", "went back to the weights of step 50", 0.05, 0.5, 0.02))
    assert h.last_step == 50  # the next run counts on from 51, not 54
    assert [e.step for e in h.evals] == [10, 20, 30, 40, 50]
    assert max(p[0] for p in h.loss_points(300)) == 50 and max(p[1] for p in h.loss_points(300)) == 1000.0
    assert h.to_csv().splitlines()[-1].split(",")[0] == "50"


def test_plot_views_stay_small_however_long_the_history():
    h = History()
    run(h, 0, 10_000)
    points = h.loss_points(300)
    assert 250 <= len(points) <= 300
    ends = [p[0] for p in points]
    assert ends == sorted(set(ends)) and ends[-1] == 10_000  # in order, up to the latest step
    # each point is the mean training loss of the steps since the previous point (loss = 1000 / step)
    for start, (end, mean, *_) in zip([0] + ends, points):
        assert mean == pytest.approx(sum(1000.0 / s for s in range(start + 1, end + 1)) / (end - start))
    evals = h.eval_points(300)
    assert 150 <= len(evals) <= 300 and evals[-1].step == 10_000
    gaps = {b.step - a.step for a, b in zip(evals, evals[1:])}
    assert len(gaps) == 1  # evenly thinned
    assert History().loss_points() == [] and History().eval_points() == []


def test_short_histories_are_shown_whole():
    h = History()
    run(h, 0, 50)
    assert [(p[0], p[1]) for p in h.loss_points(300)] == [(s, 1000.0 / s) for s in range(1, 51)]  # no averaging
    assert [e.step for e in h.eval_points(300)] == [10, 20, 30, 40, 50]


def test_csv_has_one_row_per_step_with_metrics_where_measured():
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.1, 2.5))
    run(h, 0, 20)
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert [r["step"] for r in rows] == [str(i) for i in range(21)]
    assert rows[0]["train_loss"] == "" and rows[0]["exact_match"] == "0"
    assert rows[5]["train_loss"] == "200" and rows[5]["exact_match"] == ""
    assert rows[10]["exact_match"] == "0.01" and rows[10]["val_loss"] == "0.1"
