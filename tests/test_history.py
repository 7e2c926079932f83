import csv
import io

from seq2seq.history import History
from seq2seq.train import DoneEvent, EvalEvent, StepEvent


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
    assert h.steps == list(range(1, 56))


def test_plot_views_stay_small_however_long_the_history():
    h = History()
    run(h, 0, 10_000)
    points = h.loss_points(300)
    assert 250 <= len(points) <= 300
    assert points[-1][0] == 10_000                         # ends at the latest step
    assert points[0][1] < 1000 and points[0][1] > points[-1][1]  # bucket means, still falling
    evals = h.eval_points(300)
    assert len(evals) <= 300 and evals[-1].step == 10_000
    assert History().loss_points() == []


def test_short_histories_are_shown_whole():
    h = History()
    run(h, 0, 50)
    assert [p[0] for p in h.loss_points(300)] == list(range(1, 51))
    assert len(h.eval_points(300)) == 5


def test_csv_has_one_row_per_step_with_metrics_where_measured():
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.1, 2.5))
    run(h, 0, 20)
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert [r["step"] for r in rows] == [str(i) for i in range(21)]
    assert rows[0]["train_loss"] == "" and rows[0]["exact_match"] == "0"
    assert rows[5]["train_loss"] == "200" and rows[5]["exact_match"] == ""
    assert rows[10]["exact_match"] == "0.01" and rows[10]["val_loss"] == "0.1"
