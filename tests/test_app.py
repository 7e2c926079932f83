"""The app through its API, as a gradio_client user sees it: `python app.py` runs in a subprocess.

The server allows one training at a time (SEQ2SEQ_MAX_TRAININGS=1), so the queue can be observed.
"""
import csv
import io
import math
import time
import zipfile

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from seq2seq import load_checkpoint

OUTPUT, VERDICT, STEPS, TREE, MODEL_INFO = 0, 1, 2, 6, -1    # /decode returns the output string first, which model last
LOSS_PLOT, ACCURACY_PLOT, STATUS, CHECKPOINT, METRICS = range(5)  # /train yields these
RAW, SMOOTH, HELD_OUT, FLOOR = ("each step", "smoothed", "held-out", "best possible")


def client(url: str) -> Client:
    return Client(url, analytics_enabled=False, verbose=False)  # a new client is a new browser session


def series(plot: dict, name: str) -> list[tuple[float, float]]:
    """(step, value) points of one colour series of a LinePlot value."""
    return [(row[0], row[1]) for row in plot["data"] if row[2] == name]


def wait_for_status(job, prefix: str, timeout: float = 30.0) -> str:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        outputs = job.outputs()
        if outputs and outputs[-1][STATUS].startswith(prefix):
            return outputs[-1][STATUS]
        if job.done():
            job.result()  # raises the app's error, if that is why it ended
            break
        time.sleep(0.1)
    raise AssertionError(f"no status starting {prefix!r} within {timeout} s; got {job.outputs()[-1:]}")


def test_decode_with_only_a_source_uses_the_bundled_reverse_model(app_url):
    result = client(app_url).predict("3 1 4 1 5 9", api_name="/decode")
    assert result[OUTPUT] == "9 5 1 4 1 3"
    rows = result[STEPS]["data"]
    assert [row[2] for row in rows] == ["9", "5", "1", "4", "1", "3", "<eos>"]  # six steps plus EOS
    assert [row[1] for row in rows][:2] == ["<sos>", "9"]                      # the token fed in
    assert all(row[3] == "✓" for row in rows)                                   # marked right
    assert all(0.5 < row[4] <= 1 for row in rows)                               # chosen with confidence
    assert "Correct answer:</b> 9 5 1 4 1 3" in result[VERDICT] and "✓ correct" in result[VERDICT]
    assert "bundled **reverse**" in result[MODEL_INFO]


def test_decode_with_a_chosen_bundled_model_and_top_k(app_url):
    result = client(app_url).predict("5 3 9 1", "bundled:sort", 5, api_name="/decode")
    assert result[OUTPUT] == "1 3 5 9"
    assert "Correct answer:</b> 1 3 5 9" in result[VERDICT]
    assert result[STEPS]["headers"][5:] == ["#1", "#2", "#3", "#4", "#5"]
    top = result[STEPS]["data"][0][5:]
    assert len(top) == 5 and top[0].startswith("1 ") and top[0].endswith("%")  # top-5 alternatives, best first


def test_bad_input_gives_a_message_and_the_server_still_answers(app_url):
    c = client(app_url)
    with pytest.raises(AppError, match="Unknown token.*'x'.*0 1 2 3 4 5 6 7 8 9"):
        c.predict("3 x 4", api_name="/decode")
    with pytest.raises(AppError, match="Type a source sequence"):
        c.predict("   ", api_name="/decode")
    with pytest.raises(AppError, match="not trained a model in this session"):
        c.predict("1 2 3", "session", api_name="/decode")
    with pytest.raises(AppError, match="no bundled model for random"):
        c.predict("1 2 3", "auto", 3, "random", api_name="/decode")
    with pytest.raises(AppError, match=r"min length and max length must satisfy 1 ≤ min ≤ max ≤ 50 \(you gave 8 and 4\)"):
        c.predict(min_len=8, max_len=4, api_name="/train")
    with pytest.raises(AppError, match="Decaying the learning rate needs a number of steps"):
        c.predict(steps=0, lr_decay=True, api_name="/train")
    assert c.predict("1 2 3", api_name="/decode")[OUTPUT] == "3 2 1"


def test_train_streams_a_falling_loss_and_offers_downloads(app_url, tmp_path):
    c = client(app_url)
    job = c.submit(steps=300, api_name="/train")
    outputs = list(job)
    statuses = [o[STATUS] for o in outputs]
    assert statuses[0].startswith("Starting (new model)")
    assert any(s.startswith("Training: step") and "steps/s" in s for s in statuses)
    assert statuses[-1].startswith("Done: finished 300 steps")
    loss = series(outputs[-1][LOSS_PLOT], RAW)
    smooth = series(outputs[-1][LOSS_PLOT], SMOOTH)
    val = series(outputs[-1][LOSS_PLOT], HELD_OUT)
    assert loss[-1][0] == 300 and val[0][0] == 0 and val[-1][0] == 300
    assert loss[-1][1] < loss[0][1] / 3 and val[-1][1] < val[0][1] / 3  # the loss falls
    assert smooth[0][1] == loss[0][1] and smooth[-1][1] < smooth[0][1] / 3  # and so does its moving average
    assert not series(outputs[-1][LOSS_PLOT], FLOOR)  # reverse can be learned to zero: no floor line
    exact = series(outputs[-1][ACCURACY_PLOT], "exact match")
    assert exact[0] == (0, 0.0) and exact[-1][1] > 20  # held-out exact match rises from zero
    assert len(exact) >= 5  # evaluated on a time cadence, not only at the end

    with zipfile.ZipFile(outputs[-1][CHECKPOINT]) as z:
        names = sorted(z.namelist())
        assert names == ["seq2seq-reverse-step300/config.json", "seq2seq-reverse-step300/model.safetensors",
                         "seq2seq-reverse-step300/train_state.safetensors"]
        z.extractall(tmp_path)
    checkpoint = load_checkpoint(tmp_path / "seq2seq-reverse-step300")
    assert checkpoint.task.name == "reverse" and checkpoint.training["steps"] == 300
    assert checkpoint.state is not None  # what continuing exactly needs travels with the model
    curve = checkpoint.training["curve"]  # and so does its training curve
    assert curve["step"][-1] == 300 and curve["eval_step"][0] == 0
    assert curve["exact_match"][-1] == pytest.approx(exact[-1][1] / 100, abs=1e-4)
    with open(outputs[-1][METRICS]) as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [str(i) for i in range(301)]
    assert rows[0]["exact_match"] == "0" and rows[300]["train_loss"] and rows[300]["exact_match"]

    # the session's model decodes now, and says so
    result = c.predict("1 2 3", api_name="/decode")
    assert "your model (trained here, step 300)" in result[MODEL_INFO]


def test_stop_keeps_the_model_and_training_continues_from_it(app_url):
    c = client(app_url)
    job = c.submit(steps=0, lr_decay=False, time_budget=60, api_name="/train")
    wait_for_status(job, "Training: step")
    stopped_at = time.perf_counter()
    assert c.predict(api_name="/stop") == "Stopping…"
    final = list(job)[-1]
    assert time.perf_counter() - stopped_at < 3
    assert final[STATUS].startswith("Stopped: stopped by request after")
    step = int(final[STATUS].split("step ")[1].split(" in all")[0].replace(",", ""))
    assert step > 0
    assert series(final[LOSS_PLOT], RAW)[-1][0] == step   # the curve is kept up to the stop
    assert "your model (trained here, step" in c.predict("3 1 4", api_name="/decode")[MODEL_INFO]

    again = list(c.submit(steps=50, lr_decay=False, api_name="/train"))
    assert again[0][STATUS].startswith(f"Starting (continuing from step {step:,})")
    assert again[-1][STATUS].startswith("Done: finished 50 steps")
    assert series(again[-1][LOSS_PLOT], RAW)[-1][0] == step + 50
    assert series(again[-1][ACCURACY_PLOT], "exact match")[0][0] == 0  # one history, from the first step

    with pytest.raises(AppError, match=r"model settings changed \(Hidden size 96 → 64\)"):
        c.predict(hidden_dim=64, steps=10, api_name="/train")
    fresh = list(c.submit(hidden_dim=64, steps=10, mode="new", api_name="/train"))
    assert fresh[0][STATUS].startswith("Starting (new model)")
    assert series(fresh[-1][LOSS_PLOT], RAW)[-1][0] == 10


def test_stop_with_nothing_training_says_so(app_url):
    assert client(app_url).predict(api_name="/stop") == "Nothing is training."


def test_two_sessions_never_see_each_others_model_or_curve(app_url):
    a, b = client(app_url), client(app_url)
    list(a.submit(steps=30, api_name="/train"))
    with pytest.raises(AppError, match="not trained a model in this session"):
        b.predict("1 2 3", "session", api_name="/decode")
    b_final = list(b.submit(steps=20, task="sort", seed=3, api_name="/train"))[-1]
    assert b_final[STATUS].startswith("Done: finished 20 steps")
    assert series(b_final[LOSS_PLOT], RAW)[-1][0] == 20                    # B's own curve, from zero
    assert "sort" in b.predict("3 1 2", "auto", 3, "sort", api_name="/decode")[MODEL_INFO]
    a_info = a.predict("3 1 2", api_name="/decode")[MODEL_INFO]
    assert "reverse" in a_info and "step 30" in a_info                     # A's model is untouched


def test_a_second_training_waits_in_the_queue(app_url):
    a, b = client(app_url), client(app_url)
    first = a.submit(steps=0, lr_decay=False, time_budget=60, api_name="/train")
    wait_for_status(first, "Training: step")
    second = b.submit(steps=20, api_name="/train")
    time.sleep(1.5)
    status = second.status()
    assert status.code.name == "IN_QUEUE" and status.rank == 0  # first in line, waiting for the slot
    a.predict(api_name="/stop")
    assert list(first)[-1][STATUS].startswith("Stopped")
    assert list(second)[-1][STATUS].startswith("Done: finished 20 steps")


def test_a_downloaded_checkpoint_loads_back_as_the_sessions_model(app_url, tmp_path):
    trainer = client(app_url)
    zip_path = list(trainer.submit(steps=40, task="copy", seed=1, api_name="/train"))[-1][CHECKPOINT]
    c = client(app_url)
    message = c.predict(handle_file(zip_path), api_name="/load")
    assert message.startswith("Loaded seq2seq-copy-step40.zip") and "copy" in message
    assert "your model (uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", "auto", 3, "copy", api_name="/decode")[MODEL_INFO]
    with pytest.raises(AppError, match="must hold config.json and model.safetensors"):
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("notes.txt", "hello")
        (tmp_path / "bad.zip").write_bytes(bad.getvalue())
        c.predict(handle_file(str(tmp_path / "bad.zip")), api_name="/load")
    # the uploaded model survived the bad upload
    assert "uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", "session", api_name="/decode")[MODEL_INFO]


def losses(metrics_csv: str) -> dict[int, float]:
    """Training loss per step, from a run's metrics CSV download."""
    with open(metrics_csv) as f:
        return {int(r["step"]): float(r["train_loss"]) for r in csv.DictReader(f) if r["train_loss"]}


def test_automatic_decodes_with_a_model_for_the_train_tabs_task(app_url):
    c = client(app_url)
    list(c.submit(steps=20, api_name="/train"))  # this session now has a (barely trained) reverse model
    result = c.predict("12+7", "auto", 3, "addition", api_name="/decode")
    assert result[OUTPUT] == "1 9"  # not "unknown token '+'": the bundled addition model answers
    assert "bundled **addition**" in result[-1] and "your model learns reverse" in result[MODEL_INFO]
    assert "your model (trained here, step 20)" in c.predict("1 2 3", "auto", 3, "reverse", api_name="/decode")[MODEL_INFO]


def test_continue_goes_on_exactly_where_the_run_stopped(app_url):
    """200 steps, then Continue for 300, is the same training as 500 steps straight: Adam's state, the batches,
    dropout and the teacher-forcing coin all go on (2 layers, dropout 0.5, teacher forcing 0.5)."""
    settings = dict(n_layers=2, dropout=0.5, teacher_forcing=0.5, lr_decay=False, seed=5)
    c = client(app_url)
    list(c.submit(steps=200, mode="new", **settings, api_name="/train"))
    final = list(c.submit(steps=300, mode="continue", **settings, api_name="/train"))[-1]
    assert final[STATUS].startswith("Done: finished 300 steps") and "step 500 in all" in final[STATUS]
    resumed = losses(final[METRICS])
    straight = losses(list(client(app_url).submit(steps=500, mode="new", **settings, api_name="/train"))[-1][METRICS])
    assert sorted(resumed) == sorted(straight) == list(range(1, 501))
    assert [resumed[s] for s in range(201, 501)] == pytest.approx([straight[s] for s in range(201, 501)],
                                                                  rel=2e-5, abs=1e-6)


def test_a_loaded_checkpoint_continues_from_its_step_with_its_curve(app_url, tmp_path):
    trainer = client(app_url)
    zip_path = list(trainer.submit(steps=40, task="copy", seed=1, api_name="/train"))[-1][CHECKPOINT]
    c = client(app_url)
    assert "step 40" in c.predict(handle_file(zip_path), api_name="/load")
    outputs = list(c.submit(task="copy", steps=10, api_name="/train"))
    assert outputs[0][STATUS].startswith("Starting (continuing from step 40)")
    loss = series(outputs[-1][LOSS_PLOT], RAW)
    assert loss[0][0] <= 2 and loss[-1][0] == 50  # the loaded curve, then ten more steps
    assert series(outputs[-1][ACCURACY_PLOT], "exact match")[0][0] == 0

    # a bundled model (no curve, no optimizer state in its folder) goes on from its saved step too
    from seq2seq.checkpoint import write_checkpoint_zip
    bundled = write_checkpoint_zip("checkpoints/sort", tmp_path / "sort.zip")
    message = c.predict(handle_file(str(bundled)), api_name="/load")
    assert "step 2,000" in message and "fresh optimizer" in message
    outputs = list(c.submit(task="sort", hidden_dim=128, attention=False, steps=10, api_name="/train"))
    assert outputs[0][STATUS].startswith("Starting (continuing from step 2,000)")
    assert outputs[-1][STATUS].startswith("Done: finished 10 steps") and "step 2,010 in all" in outputs[-1][STATUS]


def test_random_task_draws_the_best_possible_loss(app_url):
    final = list(client(app_url).submit(task="random", min_len=5, max_len=5, steps=30, api_name="/train"))[-1]
    floor = series(final[LOSS_PLOT], FLOOR)
    assert [p[1] for p in floor] == pytest.approx([5 * math.log(10) / 6] * 2, abs=1e-6)
    assert floor[-1][0] == 30


def test_two_trainings_at_once_equal_the_same_trainings_alone(tmp_path_factory):
    from conftest import AppServer
    server = AppServer(tmp_path_factory.mktemp("two-slots"), SEQ2SEQ_MAX_TRAININGS="2")
    try:
        settings = dict(n_layers=2, dropout=0.5, teacher_forcing=0.5, steps=150, lr_decay=False)
        jobs = [client(server.url).submit(seed=seed, **settings, api_name="/train") for seed in (1, 2)]
        for job in jobs:
            wait_for_status(job, "Training: step")  # both are training at the same time
        together = [losses(list(job)[-1][METRICS]) for job in jobs]
        alone = [losses(list(client(server.url).submit(seed=seed, **settings, api_name="/train"))[-1][METRICS])
                 for seed in (1, 2)]
        assert together == alone and together[0] != together[1]
    finally:
        server.stop()
