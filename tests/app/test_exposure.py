"""Exposure bias made visible, through the API (issue 18, item 2): the accuracy plot's held-out token accuracy with
teacher forcing off ("free") and on ("forced") and the teacher-forcing ratio ("ratio"), and the teacher-forcing
schedules. Runs are seeded and counted in steps: which steps get evaluated depends on the machine's speed (every
0.25 s), so what is asserted holds at any step."""
import csv
import json
import zipfile

import pytest
from gradio_client.exceptions import AppError

from tests.helpers import ACCURACY_PLOT, CHECKPOINT, METRICS, STATUS, client, series, train

SERIES = ("exact match", "free", "forced", "ratio")


def plots(updates) -> list[dict]:
    """Every accuracy plot a run streamed (updates that left it as it was have none)."""
    return [u[ACCURACY_PLOT] for u in updates if isinstance(u[ACCURACY_PLOT], dict) and u[ACCURACY_PLOT].get("data")]


def check_every_frame_draws_every_series(updates) -> dict[str, list[tuple[float, float]]]:
    """A LinePlot draws only the series of its first data: every frame has all four, at the same steps. The last
    frame's series."""
    frames = plots(updates)
    assert frames, "no accuracy plot"
    for plot in frames:
        steps = {name: [s for s, _ in series(plot, name)] for name in SERIES}
        assert steps[SERIES[0]] and all(steps[name] == steps[SERIES[0]] for name in SERIES), steps
    return {name: series(frames[-1], name) for name in SERIES}


def test_teacher_forced_token_accuracy_is_at_least_the_free_running_one_on_a_half_trained_model(app_url):
    updates = train(client(app_url), steps=200)  # the tuned default on reverse: about 86% exact match by step 200
    assert updates[-1][STATUS].startswith("Done: finished 200 steps")
    drawn = check_every_frame_draws_every_series(updates)
    exact, free, forced, ratio = (drawn[name] for name in SERIES)
    assert exact[0] == (0, 0.0) and exact[-1][0] == 200 and 50 < exact[-1][1] < 100  # half-trained, not yet learned
    # from step 14 on, at every step of this seeded run (each one measured with the library), the forced accuracy is
    # above the free one: by 2.2 points at least (2.5 at step 200), by 18 at most (step 36). Before, the model
    # guesses: at steps 0, 1, 12 and 13 the free one is ahead, by 2.1 points at most.
    later = [(step, f, g) for (step, f), (_, g) in zip(free, forced) if step >= 20]
    assert len(later) >= 2
    assert all(g >= f for _, f, g in later), later
    assert max(g - f for _, f, g in later) > 5  # a gap worth a look, not rounding
    assert all(value == 100 for _, value in ratio)  # the default: full teacher forcing at every step

    with open(updates[-1][METRICS]) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[-2:] == ["forced_accuracy", "teacher_forcing"]  # new columns last
    measured = [r for r in rows if r["exact_match"]]  # the evaluations' rows
    assert len(measured) == len(exact) and all(r["forced_accuracy"] for r in measured)
    assert not any(r["forced_accuracy"] for r in rows if not r["exact_match"])
    assert {r["teacher_forcing"] for r in rows[1:]} == {"1"}


def test_a_linear_schedule_lowers_the_ratio_from_its_start_to_zero_and_the_plot_shows_it(app_url, tmp_path):
    updates = train(client(app_url), steps=100, teacher_forcing=0.8, tf_schedule="linear", lr_decay=False)
    assert updates[-1][STATUS].startswith("Done: finished 100 steps")
    ratio = check_every_frame_draws_every_series(updates)["ratio"]
    assert ratio[0] == (0, pytest.approx(80))  # before the first step: the first step's ratio
    assert ratio[-1] == (100, pytest.approx(0.8))  # the last step's: 80% x (1 - 99/100)
    assert all(value == pytest.approx(80 * (1 - (step - 1) / 100)) for step, value in ratio[1:])
    assert all(a[1] >= b[1] for a, b in zip(ratio, ratio[1:])) and len(ratio) >= 3

    with open(updates[-1][METRICS]) as f:
        ratios = [float(r["teacher_forcing"]) for r in csv.DictReader(f)][1:]  # row 0: the evaluation before step 1
    assert ratios == pytest.approx([0.8 * (1 - k / 100) for k in range(100)])
    with zipfile.ZipFile(updates[-1][CHECKPOINT]) as z:
        config = json.loads(z.read(next(n for n in z.namelist() if n.endswith("config.json"))))
    assert config["training"]["train_config"]["tf_schedule"] == "linear"
    assert config["training"]["curve"]["teacher_forcing"][-1] == pytest.approx(0.008)


def test_a_schedule_without_steps_or_an_unknown_one_is_one_sentence(app_url):
    c = client(app_url)
    with pytest.raises(AppError, match="A teacher-forcing schedule needs a number of steps to decay over: set Steps, "
                                       "or choose Constant."):
        c.predict(steps=0, lr_decay=False, tf_schedule="inverse_sigmoid", api_name="/train")
    with pytest.raises(AppError, match=r"Teacher-forcing schedule must be one of constant, linear, inverse_sigmoid "
                                       r"\(you gave 'cosine'\)"):
        c.predict(tf_schedule="cosine", api_name="/train")
