"""The lab bench through the API, as a script (or the page) uses it (issue 19): runs kept side by side and made
current, renamed, deleted and capped; Pause, One step, Slow and settings changed while paused. Runs are seeded and
short; what is asserted is what the server reports, never how long it took."""
import csv
import re
import time

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from seq2seq.checkpoint import load_checkpoint_zip
from seq2seq.training import TrainState
from playground import limits, runs
from tests.helpers import CHECKPOINT, LOSS_PLOT, METRICS, MODEL_INFO, STATUS, client, outputs, train, \
    wait_for_status, wait_until

TABLE, RUNS_LOSS, RUNS_ACCURACY, SAID = range(4)  # what /runs, /make_current, /rename_run and /delete_run return
STEP_REPORT = re.compile(r"Step ([\d,]+): loss (\d+\.\d+) · gradient norm ([\d.e+-]+) before clipping"
                         r"(?: \(clipped to 1\))? · learning rate ([\d.e+-]+)\.")


def rows(answer) -> list[dict]:
    table = answer[TABLE]
    return [dict(zip(table["headers"], row)) for row in table["data"]]


def plot_series(plot) -> set[str]:
    value = plot["value"] if "value" in plot else plot
    return {row[2] for row in value["data"]}


def test_two_runs_with_different_hidden_sizes_are_listed_overlaid_and_either_can_be_the_model(app_url):
    c = client(app_url)
    first = train(c, steps=60, hidden_dim=32)
    second = train(c, steps=60, hidden_dim=64, mode="new")
    assert first[-1][STATUS].startswith("Done") and second[-1][STATUS].startswith("Done")
    answer = c.predict(api_name="/runs")
    listed = rows(answer)
    assert [r["run"] for r in listed] == ["■ 1", "■ 2"]
    assert listed[0]["name"] == "reverse, LSTM 32"  # the first run: its task and shape
    assert listed[1]["name"] == "Hidden size 32 → 64 (current)"  # then what changed, and which is the model now
    assert listed[0]["differs from the first run"] == "—"
    assert listed[1]["differs from the first run"] == "Hidden size 32 → 64"
    for run in listed:  # its figures: final exact match, best step, steps, time, parameters
        assert re.fullmatch(r"\d+\.\d%", run["exact match"]) and run["steps"] == "60"
        assert 0 < int(run["best step"]) <= 60 and float(run["time, s"]) > 0
    assert int(listed[1]["parameters"].replace(",", "")) > int(listed[0]["parameters"].replace(",", ""))
    # the plots overlay both runs, one series each, named by their numbers (the table names them)
    numbers = {"1", "2"}
    assert plot_series(answer[RUNS_LOSS]) == numbers and plot_series(answer[RUNS_ACCURACY]) == numbers
    assert answer[RUNS_LOSS]["color_map"] == {"1": runs.RUN_COLOURS[0], "2": runs.RUN_COLOURS[1]}

    # run 1 made current: /decode with "your model" uses it (hidden 32), and Train continues it
    made = c.predict("1", api_name="/make_current")
    assert made[SAID].startswith("Run 1 “reverse, LSTM 32” is the current model") and "hidden 32" in made[SAID]
    assert rows(made)[0]["name"].endswith("(current)")
    info = c.predict("3 1 4", api_name="/decode")[MODEL_INFO]
    assert "your model" in info and "hidden 32" in info and "step 60" in info
    longer = train(c, steps=20, hidden_dim=32)  # continue: run 1 gets longer, no new run
    assert "continuing from step 60" in longer[0][STATUS]
    assert [(r["run"], r["steps"]) for r in rows(c.predict(api_name="/runs"))] == [("■ 1", "80"), ("■ 2", "60")]

    renamed = c.predict("2", "wide", api_name="/rename_run")
    assert renamed[SAID] == "Renamed run 2 “wide”." and rows(renamed)[1]["name"] == "wide"
    with pytest.raises(AppError, match="Another run is already called “wide”"):
        c.predict("1", "wide", api_name="/rename_run")
    deleted = c.predict("wide", api_name="/delete_run")
    assert deleted[SAID] == "Deleted run “2: wide”." and [r["run"] for r in rows(deleted)] == ["■ 1"]
    with pytest.raises(AppError, match=r"There is no run '2' in this session; its runs are: 1: reverse, LSTM 32\."):
        c.predict("2", api_name="/make_current")
    # another client's runs are its own
    assert rows(client(app_url).predict(api_name="/runs")) == []


def test_the_session_keeps_six_runs_and_says_which_oldest_it_dropped(app_url):
    c = client(app_url)
    for seed in range(limits.MAX_RUNS):
        status = train(c, steps=3, seed=seed, mode="new", hidden_dim=16)[-1][STATUS]
        assert "dropped" not in status
    status = train(c, steps=3, seed=99, mode="new", hidden_dim=16)[-1][STATUS]
    assert status.endswith(f"This session keeps {limits.MAX_RUNS} runs: dropped the oldest, “1: reverse, LSTM 16”.")
    answer = c.predict(api_name="/runs")
    listed = rows(answer)
    assert [r["run"] for r in listed] == [f"■ {n}" for n in range(2, limits.MAX_RUNS + 2)]
    numbers = {str(n) for n in range(2, limits.MAX_RUNS + 2)}  # overlaid, by number
    assert plot_series(answer[RUNS_LOSS]) == numbers and answer[RUNS_LOSS]["color_map"].keys() == numbers
    assert listed[-1]["name"] == "Seed 5 → 99 (current)"
    # a checkpoint loaded is a run too: the oldest goes, and the load says so
    loaded = c.predict(handle_file(train(client(app_url), steps=3, hidden_dim=16)[-1][CHECKPOINT]), api_name="/load")
    assert loaded.startswith("Loaded seq2seq-reverse-step3.zip") and \
        loaded.endswith(f"This session keeps {limits.MAX_RUNS} runs: dropped the oldest, “2: Seed 0 → 1”.")
    assert [r["run"] for r in rows(c.predict(api_name="/runs"))][-1] == f"■ {limits.MAX_RUNS + 2}"


def trained_weights(zip_path):
    checkpoint = load_checkpoint_zip(zip_path, max_weights_bytes=10**8)
    return TrainState.from_bytes(checkpoint.state, checkpoint.model).trained_weights(checkpoint.model)


def step_losses(metrics_csv) -> list[tuple[str, str]]:
    with open(metrics_csv) as f:
        return [(r["step"], r["train_loss"]) for r in csv.DictReader(f) if r["train_loss"]]


def test_pause_then_continue_trains_exactly_as_an_unpaused_run(app_url):
    settings = dict(steps=150, hidden_dim=32, seed=7, dropout=0.2, n_layers=2, teacher_forcing=0.5)
    unpaused = train(client(app_url), **settings)
    c = client(app_url)
    job = c.submit(**settings, api_name="/train")
    wait_for_status(job, r"Training: step")
    paused = c.predict(api_name="/pause")
    held_at = int(re.match(r"Paused after step ([\d,]+)\.", paused)[1].replace(",", ""))
    assert held_at < 150
    # a decoding meanwhile uses the weights it is held with, not a snapshot from up to 2 s before
    wait_until(lambda: f"still training (step {held_at:,})" in c.predict("3 1 4", api_name="/decode")[MODEL_INFO],
               f"a decoding with the weights of step {held_at}", 10)
    time.sleep(1.0)  # held: nothing moves
    assert c.predict(api_name="/resume") == f"Continuing from step {held_at:,}."
    resumed = outputs(job)
    assert resumed[-1][STATUS].startswith("Done: finished 150 steps")
    assert step_losses(resumed[-1][METRICS]) == step_losses(unpaused[-1][METRICS])  # every step's loss, exactly
    a, b = trained_weights(resumed[-1][CHECKPOINT]), trained_weights(unpaused[-1][CHECKPOINT])
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max().item() <= 1e-6 for k in a)


def test_one_step_is_one_update_with_its_loss_gradient_norm_and_learning_rate(app_url):
    c = client(app_url)
    with pytest.raises(AppError, match="Nothing is training: press Train first"):
        c.predict(api_name="/one_step")
    job = c.submit(steps=2000, hidden_dim=32, lr=0.004, lr_decay=False, api_name="/train")
    wait_for_status(job, r"Training: step")
    held_at = int(re.match(r"Paused after step ([\d,]+)", c.predict(api_name="/pause"))[1].replace(",", ""))
    with pytest.raises(AppError, match="Learning rate must be a number between 1e-06 and 0.1"):
        c.predict(0.5, None, api_name="/change")
    for n in (1, 2):
        report = c.predict(api_name="/one_step")
        found = STEP_REPORT.match(report)
        assert found, report
        assert int(found[1].replace(",", "")) == held_at + n  # exactly one more step each time
        assert float(found[2]) > 0 and float(found[3]) > 0 and float(found[4]) == 0.004
        assert "Preview:" in report or "(No sources are watched" in report
    assert c.predict(0.001, None, api_name="/change") == \
        f"From step {held_at + 3:,}: learning rate 0.001 (marked on the loss curve)."
    report = c.predict(api_name="/one_step")
    assert int(STEP_REPORT.match(report)[1].replace(",", "")) == held_at + 3 and "learning rate 0.001." in report
    # the change is marked on the loss curve the stream draws
    wait_until(lambda: any(isinstance(u[LOSS_PLOT], dict) and "changed" in plot_series(u[LOSS_PLOT])
                           for u in job.outputs()), "the loss plot's 'changed' mark")
    assert c.predict(True, api_name="/slow").startswith("Slow: about 3 steps a second")
    assert c.predict(api_name="/resume").startswith("Continuing from step")
    assert c.predict(False, api_name="/slow").startswith("Full speed")
    with pytest.raises(AppError, match="Pause first"):
        c.predict(0.002, None, api_name="/change")
    c.predict(api_name="/stop")
    ended = outputs(job)
    assert ended[-1][STATUS].startswith("Stopped: stopped by request") and "The model is kept" in ended[-1][STATUS]
