"""The app through its API, as a gradio_client user sees it: `python app.py` runs in a subprocess.

The server allows one training at a time (SEQ2SEQ_MAX_TRAININGS=1), so the queue can be observed.
"""
import csv
import io
import time
import zipfile

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from seq2seq import load_checkpoint

OUTPUT, VERDICT, STEPS = 0, 1, 2                            # /decode returns the output string first
LOSS_PLOT, ACCURACY_PLOT, STATUS, CHECKPOINT, METRICS = range(5)  # /train yields these


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
    assert all(row[-1] == "✓" for row in rows)                                  # marked right
    assert all(0.5 < row[3] <= 1 for row in rows)                               # chosen with confidence
    assert "Correct answer:</b> 9 5 1 4 1 3" in result[VERDICT] and "✓ correct" in result[VERDICT]
    assert "bundled **reverse**" in result[-1]


def test_decode_with_a_chosen_bundled_model_and_top_k(app_url):
    result = client(app_url).predict("5 3 9 1", "bundled:sort", 5, api_name="/decode")
    assert result[OUTPUT] == "1 3 5 9"
    assert "Correct answer:</b> 1 3 5 9" in result[VERDICT]
    top = result[STEPS]["data"][0][4].split(" · ")
    assert len(top) == 5 and top[0].startswith("1 ")  # top-5 alternatives, best first


def test_bad_input_gives_a_message_and_the_server_still_answers(app_url):
    c = client(app_url)
    with pytest.raises(AppError, match="unknown token.*'x'.*0 1 2 3 4 5 6 7 8 9"):
        c.predict("3 x 4", api_name="/decode")
    with pytest.raises(AppError, match="Type a source sequence"):
        c.predict("   ", api_name="/decode")
    with pytest.raises(AppError, match="not trained a model in this session"):
        c.predict("1 2 3", "session", api_name="/decode")
    with pytest.raises(AppError, match="no bundled model for random"):
        c.predict("1 2 3", "auto", 3, "random", api_name="/decode")
    with pytest.raises(AppError, match=r"min length and max length must satisfy 1 ≤ min ≤ max ≤ 50 \(got 8 and 4\)"):
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
    loss = series(outputs[-1][LOSS_PLOT], "train loss")
    val = series(outputs[-1][LOSS_PLOT], "val loss")
    assert loss[-1][0] == 300 and val[0][0] == 0 and val[-1][0] == 300
    assert loss[-1][1] < loss[0][1] / 3 and val[-1][1] < val[0][1] / 3  # the loss falls
    exact = series(outputs[-1][ACCURACY_PLOT], "exact match")
    assert exact[0] == (0, 0.0) and exact[-1][1] > 20  # held-out exact match rises from zero

    with zipfile.ZipFile(outputs[-1][CHECKPOINT]) as z:
        names = sorted(z.namelist())
        assert names == ["seq2seq-reverse-step300/config.json", "seq2seq-reverse-step300/model.safetensors"]
        z.extractall(tmp_path)
    checkpoint = load_checkpoint(tmp_path / "seq2seq-reverse-step300")
    assert checkpoint.task.name == "reverse" and checkpoint.training["steps"] == 300
    with open(outputs[-1][METRICS]) as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [str(i) for i in range(301)]
    assert rows[0]["exact_match"] == "0" and rows[300]["train_loss"] and rows[300]["exact_match"]

    # the session's model decodes now, and says so
    result = c.predict("1 2 3", api_name="/decode")
    assert "your model (trained here, step 300)" in result[-1]


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
    assert series(final[LOSS_PLOT], "train loss")[-1][0] == step   # the curve is kept up to the stop
    assert "your model (trained here, step" in c.predict("3 1 4", api_name="/decode")[-1]

    again = list(c.submit(steps=50, lr_decay=False, api_name="/train"))
    assert again[0][STATUS].startswith(f"Starting (continuing from step {step:,})")
    assert again[-1][STATUS].startswith("Done: finished 50 steps")
    assert series(again[-1][LOSS_PLOT], "train loss")[-1][0] == step + 50
    assert series(again[-1][ACCURACY_PLOT], "exact match")[0][0] == 0  # one history, from the first step

    with pytest.raises(AppError, match=r"model settings changed \(Hidden size 128 → 64\)"):
        c.predict(hidden_dim=64, steps=10, api_name="/train")
    fresh = list(c.submit(hidden_dim=64, steps=10, mode="new", api_name="/train"))
    assert fresh[0][STATUS].startswith("Starting (new model)")
    assert series(fresh[-1][LOSS_PLOT], "train loss")[-1][0] == 10


def test_stop_with_nothing_training_says_so(app_url):
    assert client(app_url).predict(api_name="/stop") == "Nothing is training."


def test_two_sessions_never_see_each_others_model_or_curve(app_url):
    a, b = client(app_url), client(app_url)
    list(a.submit(steps=30, api_name="/train"))
    with pytest.raises(AppError, match="not trained a model in this session"):
        b.predict("1 2 3", "session", api_name="/decode")
    b_final = list(b.submit(steps=20, task="sort", seed=3, api_name="/train"))[-1]
    assert b_final[STATUS].startswith("Done: finished 20 steps")
    assert series(b_final[LOSS_PLOT], "train loss")[-1][0] == 20          # B's own curve, from zero
    assert "sort" in b.predict("3 1 2", api_name="/decode")[-1]
    a_info = a.predict("3 1 2", api_name="/decode")[-1]
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
    assert "your model (uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", api_name="/decode")[-1]
    with pytest.raises(AppError, match="must hold config.json and model.safetensors"):
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("notes.txt", "hello")
        (tmp_path / "bad.zip").write_bytes(bad.getvalue())
        c.predict(handle_file(str(tmp_path / "bad.zip")), api_name="/load")
    # the uploaded model survived the bad upload
    assert "uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", api_name="/decode")[-1]
