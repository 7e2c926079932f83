"""Exposure bias made visible (issue 18, item 2): held-out token accuracy with teacher forcing on beside the
free-running one, and the teacher-forcing schedules (constant, linear, inverse sigmoid) with the ratio each step
trained with: their values, their checks, a run going on exactly, and the ratio and the forced accuracy through the
history, the state, checkpoints, the command line and the accuracy plot's frame."""
import csv
import io
import json
import math
import threading

import pytest
import torch
from safetensors.torch import load, save

from seq2seq.builder import build_model
from seq2seq.checkpoint import load_checkpoint, save_checkpoint, training_summary
from seq2seq.config import TF_SCHEDULES, ModelConfig, TrainConfig
from seq2seq.controls import PRESETS, SETTINGS, SettingsError, TF_SCHEDULE_CHOICES, read, table
from seq2seq.common import sequence_loss
from seq2seq.decode import decode_batch, evaluating, exact_and_token_hits
from seq2seq.history import CSV_COLUMNS, History
from seq2seq.tasks import NEVER_CHOSEN_IDS, PAD_ID, Task, make_batch, make_spec
from seq2seq.training import (DoneEvent, EvalEvent, StepEvent, TrainState, evaluate, sigmoid_k, teacher_forcing_at,
                              train, validation_set)
from tests.helpers import CHECKPOINTS, ROOT, cli, one_line_error, same_weights

TASK = Task(make_spec("reverse", 3, 4))
# dropout between two layers and on the embeddings, so every generator a run owns is drawn from
CONFIG = ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, n_layers=2, dropout=0.5)
SEED = 3


def settings(steps, **kw) -> TrainConfig:
    return TrainConfig(**{"batch_size": 16, "steps": steps, "teacher_forcing": 0.9, "eval_every": 100,
                          "val_size": 50, "seed": SEED, **kw})


def ratios(events) -> list[float]:
    return [e.teacher_forcing for e in events if isinstance(e, StepEvent)]


# --- the schedules ----------------------------------------------------------------------------------------

def test_constant_keeps_the_ratio_whatever_the_progress():
    assert [teacher_forcing_at("constant", 0.7, p, 100) for p in (0, 0.5, 1)] == [0.7, 0.7, 0.7]


def test_linear_falls_in_a_straight_line_from_the_ratio_to_zero():
    assert [teacher_forcing_at("linear", 0.8, p, 100) for p in (0, 0.25, 0.5, 1)] == pytest.approx([0.8, 0.6, 0.4, 0])
    assert teacher_forcing_at("linear", 0.8, 1.5, 100) == 0.0


@pytest.mark.parametrize("length", [1, 10, 500, 3000])
def test_inverse_sigmoid_is_bengios_curve_half_way_at_the_middle_from_exactly_the_ratio_to_exactly_zero(length):
    k = sigmoid_k(length)
    assert k > 1 and k * math.log(k) == pytest.approx(length / 2)  # k/(k + exp(i/k)) is a half at i = k ln k
    assert teacher_forcing_at("inverse_sigmoid", 0.8, 0.0, length) == 0.8
    assert teacher_forcing_at("inverse_sigmoid", 0.8, 0.5, length) == pytest.approx(0.4)
    assert teacher_forcing_at("inverse_sigmoid", 0.8, 1.0, length) == 0.0
    values = [teacher_forcing_at("inverse_sigmoid", 1.0, i / length, length) for i in range(length + 1)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # never rises
    for i in range(length + 1):  # Bengio et al.'s k/(k + exp(i/k)), rescaled to start at 1 and end at 0
        bengio = k / (k + math.exp(i / k))
        assert values[i] == pytest.approx(((k + 1) * bengio - 1) / (k - 1))
        assert abs(values[i] - bengio) <= 1 / (k - 1) + 1e-12


def test_at_500_steps_the_inverse_sigmoid_stays_high_longer_than_the_line_then_falls_faster():
    at = {p: teacher_forcing_at("inverse_sigmoid", 1.0, p, 500) for p in (0.1, 0.25, 0.75, 0.9)}
    assert at[0.1] > 0.97 and at[0.25] > 0.89 and at[0.75] < 0.11 and at[0.9] < 0.03  # the line: 0.9 0.75 0.25 0.1


def test_a_run_trains_each_step_with_its_scheduled_ratio_and_reports_it():
    model = build_model(CONFIG, seed=SEED)
    events = list(train(model, TASK, settings(10, tf_schedule="linear", eval_every=5), eval_at_start=True))
    assert ratios(events) == pytest.approx([0.9 * (1 - k / 10) for k in range(10)])
    evals = [e for e in events if isinstance(e, EvalEvent)]
    # an evaluation reports the ratio training is at: the last step's (before any step, the first one's)
    assert [e.step for e in evals] == [0, 5, 10]
    assert [e.teacher_forcing for e in evals] == pytest.approx([0.9, 0.9 * 0.6, 0.9 * 0.1])
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.teacher_forcing == pytest.approx(0.09)

    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    steps = ratios(train(model, TASK, settings(20, tf_schedule="inverse_sigmoid"), state=state))
    assert steps == pytest.approx([teacher_forcing_at("inverse_sigmoid", 0.9, k / 20, 20) for k in range(20)])
    assert steps[0] == 0.9 and steps[10] == pytest.approx(0.45) and state.tf_progress == 1.0
    assert ratios(train(model, TASK, settings(3, tf_schedule="linear"), state=state, start_step=20)) == [0.0] * 3
    assert ratios(train(model, TASK, settings(3), state=state, start_step=23)) == [0.9] * 3  # constant
    assert state.tf_progress == 0.0  # a constant run sets the schedule back: the next decaying one starts afresh


def test_the_teacher_forcing_coin_follows_the_ratio():
    """The ratio each step reports is the one the model was given (the coin's generator is drawn once per decoder
    step below 1 and above 0, never at 1 or 0)."""
    seen = []
    forward = type(build_model(CONFIG)).forward

    def recording(self, src, src_lens, trg, ratio=0.5, *args, **kwargs):
        if self.training:
            seen.append(ratio)
        return forward(self, src, src_lens, trg, ratio, *args, **kwargs)

    model = build_model(CONFIG, seed=SEED)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(type(model), "forward", recording)
        events = list(train(model, TASK, settings(8, tf_schedule="linear", teacher_forcing=1.0)))
    assert seen == ratios(events) == pytest.approx([1 - k / 8 for k in range(8)])


# --- checks -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (dict(tf_schedule="exponential"),
     "tf_schedule must be one of constant, linear, inverse_sigmoid, got 'exponential'"),
    (dict(tf_schedule="linear", steps=None, time_budget=5.0), "tf_schedule linear needs a number of steps"),
    (dict(tf_schedule="inverse_sigmoid", steps=None, target_accuracy=0.9), "inverse_sigmoid needs a number of steps"),
])
def test_a_bad_schedule_is_refused_before_any_work(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()


def test_the_form_setting_is_the_last_parameter_with_the_configs_choices():
    assert list(table())[-1] == "tf_schedule"  # /train's parameters are positional in table order
    s = SETTINGS["tf_schedule"]
    assert (s.default, s.seed, s.group, s.widget) == ("constant", "constant", "training", "dropdown")
    assert tuple(v for _, v in TF_SCHEDULE_CHOICES) == TF_SCHEDULES
    assert all(preset["tf_schedule"] == "constant" for preset in PRESETS.values())
    assert read({**PRESETS["Tuned default"], "tf_schedule": "inverse_sigmoid"})[2].tf_schedule == "inverse_sigmoid"
    assert read(PRESETS["Tuned default"])[2].tf_schedule == "constant"


@pytest.mark.parametrize("change, message", [
    (dict(tf_schedule="linear", steps=0, lr_decay=False), "A teacher-forcing schedule needs a number of steps to "
                                                          "decay over: set Steps, or choose Constant."),
    (dict(tf_schedule="cosine"), "Teacher-forcing schedule must be one of constant, linear, inverse_sigmoid (you "
                                 "gave 'cosine')."),
])
def test_the_form_says_what_is_wrong_in_one_sentence(change, message):
    with pytest.raises(SettingsError) as info:
        read({**PRESETS["Tuned default"], **change})
    assert str(info.value) == message


# --- the forced accuracy ----------------------------------------------------------------------------------

def forced_in_full(model, task, examples) -> float:
    """The teacher-forced token accuracy with every example through the forced pass (what evaluate() spares)."""
    batch = make_batch(examples, task.vocab)
    with evaluating(model):
        logits = model(batch.src, batch.src_lens, batch.trg, 1.0)
    pred = logits.index_fill(-1, torch.tensor(NEVER_CHOSEN_IDS), float("-inf")).argmax(-1)
    gold = batch.trg[:, 1:]
    mask = gold != PAD_ID
    return int(((pred == gold) & mask).sum()) / int(mask.sum())


@pytest.fixture(scope="module")
def half_trained():
    """The tuned default on reverse 3-10 after 60 of 200 steps (about 40% of its held-out sources exactly right):
    (model, task, its held-out examples)."""
    values = {**PRESETS["Tuned default"], "steps": 200}
    task, model_config, config = read(values)
    model = build_model(model_config, seed=config.seed)
    stop = threading.Event()
    for event in train(model, task, config, stop, stop_within=None):
        if isinstance(event, StepEvent) and event.step == 60:
            stop.set()
    return model, task, validation_set(task, 300)


def test_teacher_forced_token_accuracy_is_above_the_free_running_one_on_a_half_trained_model(half_trained):
    model, task, examples = half_trained
    m = evaluate(model, task, examples)
    assert 0.05 < m.exact_match < 0.9 and 0.4 < m.token_accuracy < 0.95, m  # half-trained
    assert m.forced_accuracy > m.token_accuracy + 0.05, m  # measured: 0.825 against 0.705 (exact match 0.43)
    assert m.forced_accuracy == forced_in_full(model, task, examples)  # the shortcut for exact rows changes nothing


def test_the_forced_pass_draws_no_random_numbers_and_changes_no_other_figure(half_trained):
    model, task, examples = half_trained
    model.train()  # evaluate() switches to eval mode itself, and back
    before = torch.get_rng_state()
    m = evaluate(model, task, examples, batch_size=128)  # batches of every size, the last one short
    assert torch.equal(torch.get_rng_state(), before) and model.training
    batch = make_batch(examples, task.vocab)  # the free-running figures, as evaluate() measured them before
    with evaluating(model):
        pred, logits, _ = decode_batch(model, batch.src, batch.src_lens, batch.trg.shape[1] - 1, stop_at_eos=False)
    exact, correct, total = exact_and_token_hits(pred, batch.trg)
    assert (m.exact_match, m.token_accuracy, m.n) == (int(exact.sum()) / len(examples), int(correct.sum()) /
                                                      int(total.sum()), len(examples))
    assert m.loss == pytest.approx(float(sequence_loss(logits, batch.trg)), rel=1e-5)
    assert m.forced_accuracy == forced_in_full(model, task, examples)
    unasked = evaluate(model, task, examples, batch_size=128, forced=False)  # what Compare's chart needs
    assert math.isnan(unasked.forced_accuracy) and (unasked.exact_match, unasked.loss) == (m.exact_match, m.loss)


def test_a_run_reports_the_forced_accuracy_at_every_evaluation_and_at_its_end():
    model = build_model(CONFIG, seed=SEED)
    events = list(train(model, TASK, settings(40, eval_every=10), eval_at_start=True))
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert [e.step for e in evals] == [0, 10, 20, 30, 40]
    assert all(0 <= e.forced_accuracy <= 1 for e in evals)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.forced_accuracy == evals[-1].forced_accuracy


# --- going on exactly ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", ["linear", "inverse_sigmoid"])
def test_a_run_stopped_part_way_through_its_schedule_and_continued_is_the_run_that_never_stopped(schedule):
    whole = build_model(CONFIG, seed=SEED)
    straight = ratios(train(whole, TASK, settings(30, tf_schedule=schedule), state=TrainState.fresh(SEED)))

    model, state, stop = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED), threading.Event()
    first = []
    for event in train(model, TASK, settings(30, tf_schedule=schedule), stop, state=state):
        if isinstance(event, StepEvent):
            first.append(event.teacher_forcing)
            if event.step == 12:
                stop.set()
    assert len(first) == 12 and state.tf_progress == pytest.approx(12 / 30)
    again = TrainState.from_bytes(state.to_bytes(), model)  # as a checkpoint or a worker's snapshot carries it
    assert again.tf_progress == state.tf_progress
    then = ratios(train(model, TASK, settings(18, tf_schedule=schedule), state=again, start_step=12))
    assert first + then == pytest.approx(straight, abs=1e-12)
    assert same_weights(model.state_dict(), whole.state_dict())  # the same coins: bit for bit
    assert again.tf_progress == 1.0


def test_a_schedule_state_round_trips_and_a_constant_one_is_the_bytes_it_always_was():
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    list(train(model, TASK, settings(5), state=state))
    data = state.to_bytes()
    assert "tf_progress" not in json.loads(load_header(data)["__metadata__"]["state"])
    assert TrainState.from_bytes(data, model).tf_progress == 0.0
    stop = threading.Event()
    for event in train(model, TASK, settings(10, tf_schedule="linear"), stop, state=state, start_step=5):
        if isinstance(event, StepEvent) and event.step == 9:
            stop.set()
    data = state.to_bytes()
    assert json.loads(load_header(data)["__metadata__"]["state"])["tf_progress"] == pytest.approx(0.4)
    assert TrainState.from_bytes(data, model).to_bytes() == data
    assert state.copy().tf_progress == state.tf_progress


def load_header(data: bytes) -> dict:
    return json.loads(data[8:8 + int.from_bytes(data[:8], "little")])


@pytest.mark.parametrize("progress", [-0.1, 1.5, "half", True])
def test_a_damaged_progress_is_refused_with_one_sentence(progress):
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    data = state.to_bytes()
    tensors, info = load(data), json.loads(load_header(data)["__metadata__"]["state"])
    info["tf_progress"] = progress
    with pytest.raises(ValueError, match="tf_progress must be between 0 and 1"):
        TrainState.from_bytes(save(tensors, metadata={"state": json.dumps(info)}), model)


# --- the record: history, CSV, checkpoints -------------------------------------------------------------------

def recorded() -> History:
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.1, 2.5, forced_accuracy=0.12, teacher_forcing=1.0))
    for step in range(1, 21):
        h.record(StepEvent(step, 1.0 / step, 0.01 * step, teacher_forcing=1 - (step - 1) / 20))
        if step % 10 == 0:
            h.record(EvalEvent(step, 0.0, step / 100, 0.5, 1.0 / step, forced_accuracy=0.6,
                               teacher_forcing=1 - (step - 1) / 20))
    h.record(DoneEvent(20, 0.0, "steps", "done", 0.2, 0.5, 0.05, forced_accuracy=0.6, teacher_forcing=0.05))
    return h


def test_the_history_keeps_both_accuracies_and_the_ratio_and_round_trips_through_a_checkpoints_curve():
    h = recorded()
    assert [e.step for e in h.evals] == [0, 10, 20]
    assert [e.forced_accuracy for e in h.evals] == pytest.approx([0.12, 0.6, 0.6])
    assert [e.teacher_forcing for e in h.evals] == pytest.approx([1.0, 0.55, 0.05])
    assert h.ratios[0] == 1.0 and h.ratios[-1] == pytest.approx(0.05)
    back = History.from_training({"steps": 20, "curve": json.loads(json.dumps(h.curve()))})
    def figures(history):
        return [x for e in history.evals for x in (e.step, e.token_accuracy, e.forced_accuracy, e.teacher_forcing)]
    assert figures(back) == pytest.approx(figures(h))
    h.truncate(15)
    assert len(h.ratios) == len(h.steps) == 15


def test_a_curve_from_before_keeps_loading_with_the_new_figures_unknown():
    curve = recorded().curve()
    old = {k: v for k, v in curve.items() if k not in ("forced_accuracy", "teacher_forcing")}
    back = History.from_training({"steps": 20, "curve": old})
    assert [e.step for e in back.evals] == [0, 10, 20]
    assert all(math.isnan(e.forced_accuracy) and math.isnan(e.teacher_forcing) for e in back.evals)
    broken = {**curve, "forced_accuracy": curve["forced_accuracy"][:-1]}  # the wrong length: no curve at all
    assert History.from_training({"curve": broken}).evals == []


def test_the_csv_adds_the_forced_accuracy_and_the_ratio_as_its_last_columns():
    assert CSV_COLUMNS[:6] == ("step", "elapsed_s", "train_loss", "val_loss", "exact_match", "token_accuracy")
    assert CSV_COLUMNS[6:] == ("forced_accuracy", "teacher_forcing")
    rows = list(csv.DictReader(io.StringIO(recorded().to_csv())))
    assert [r["step"] for r in rows] == [str(i) for i in range(21)]
    assert (rows[0]["forced_accuracy"], rows[0]["teacher_forcing"]) == ("0.12", "1")
    assert (rows[5]["forced_accuracy"], rows[5]["teacher_forcing"]) == ("", "0.8")
    assert (rows[10]["forced_accuracy"], rows[10]["teacher_forcing"]) == ("0.6", "0.55")
    old = History()  # events without the new figures: empty cells, not "nan"
    old.record(StepEvent(1, 0.5, 0.1))
    old.record(EvalEvent(1, 0.1, 0.0, 0.3, 0.5))
    assert list(csv.DictReader(io.StringIO(old.to_csv())))[0] == {
        "step": "1", "elapsed_s": "0.100", "train_loss": "0.5", "val_loss": "0.5", "exact_match": "0",
        "token_accuracy": "0.3", "forced_accuracy": "", "teacher_forcing": ""}


def test_a_checkpoint_carries_the_schedule_and_the_curve_and_older_ones_still_load(tmp_path):
    model = build_model(CONFIG, seed=SEED)
    config = settings(10, tf_schedule="inverse_sigmoid")
    save_checkpoint(tmp_path / "new", model, TASK, training_summary(20, 1.0, 0.2, 0.5, train_config=config.to_dict(),
                                                                    curve=recorded().curve()))
    loaded = load_checkpoint(tmp_path / "new")
    assert TrainConfig.from_dict(loaded.training["train_config"]) == config
    history = History.from_training(loaded.training)
    assert [e.forced_accuracy for e in history.evals] == pytest.approx([0.12, 0.6, 0.6])
    old_folders = sorted(p.parent for p in [*CHECKPOINTS.glob("*/config.json"),
                                            *(ROOT / "tests" / "v1_checkpoints").glob("*/config.json")])
    assert len(old_folders) >= 5
    for folder in old_folders:
        training = load_checkpoint(folder).training
        assert TrainConfig.from_dict(training["train_config"]).tf_schedule == "constant", folder
        History.from_training(training)


# --- the command line ---------------------------------------------------------------------------------------

SMALL = ["--task", "reverse", "--min-len", 3, "--max-len", 4, "--hidden", 16, "--emb", 8, "--seed", 1]


def test_the_cli_trains_with_a_schedule_reports_each_steps_ratio_and_resumes_with_it(capsys, tmp_path):
    result = cli(capsys, "train", *SMALL, "--steps", 10, "--eval-every", 5, "--tf-schedule", "linear",
                 "--teacher-forcing", 0.5, "--json", "--out", tmp_path / "first")
    events = [json.loads(line) for line in result.ok().splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    assert [e["teacher_forcing"] for e in steps] == pytest.approx([0.5 * (1 - k / 10) for k in range(10)])
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [5, 10] and all(0 <= e["forced_accuracy"] <= 1 for e in evals)
    done = events[-1]  # (the step and eval lines round to 6 places)
    assert done["event"] == "done" and done["forced_accuracy"] == pytest.approx(evals[-1]["forced_accuracy"], abs=1e-6)
    saved = json.loads((tmp_path / "first" / "config.json").read_text())["training"]["train_config"]
    assert saved["tf_schedule"] == "linear" and saved["teacher_forcing"] == 0.5
    # a resumed run keeps the schedule, where it had got to: decayed, it stays at 0
    result = cli(capsys, "train", "--resume", tmp_path / "first", "--steps", 3, "--json", "--out", tmp_path / "then")
    assert [json.loads(line).get("teacher_forcing") for line in result.ok().splitlines()][:3] == [0.0] * 3
    refused = cli(capsys, "train", "--resume", tmp_path / "first", "--tf-schedule", "constant", "--out", tmp_path / "x")
    assert "--tf-schedule cannot be used with --resume" in one_line_error(refused, code=2)
    refused = cli(capsys, "train", "--resume", tmp_path / "first", "--time-budget", 1, "--out", tmp_path / "x")
    assert "trained with --tf-schedule linear" in one_line_error(refused, code=2)


def test_the_cli_refuses_a_schedule_without_steps_or_an_unknown_one(capsys, tmp_path):
    refused = cli(capsys, "train", *SMALL, "--time-budget", 1, "--tf-schedule", "inverse_sigmoid", "--out",
                  tmp_path / "a")
    assert "--tf-schedule inverse_sigmoid lowers the teacher-forcing ratio over a number of steps: add --steps" in \
        one_line_error(refused, code=2)
    refused = cli(capsys, "train", *SMALL, "--tf-schedule", "cosine", "--out", tmp_path / "b")
    assert "invalid choice: 'cosine'" in one_line_error(refused, code=2)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_cli_help_names_the_schedules(capsys):
    result = cli(capsys, "train", "--help")
    assert "--tf-schedule {constant,linear,inverse_sigmoid}" in result.stdout


def test_cli_eval_reports_the_teacher_forced_accuracy(capsys):
    result = cli(capsys, "eval", "--checkpoint", CHECKPOINTS / "reverse", "--n", 200, "--json")
    metrics = json.loads(result.ok())
    assert metrics["token_accuracy"] <= metrics["forced_accuracy"] <= 1
    text = cli(capsys, "eval", "--checkpoint", CHECKPOINTS / "reverse", "--n", 200).ok()
    assert f"(teacher-forced {metrics['forced_accuracy']:.1%})" in text


# --- the accuracy plot ------------------------------------------------------------------------------------

def test_every_evaluation_draws_every_series_of_the_accuracy_plot_in_percent():
    from playground.views.training import ACCURACY_COLOURS, ACCURACY_SERIES, accuracy_frame
    # one legend row, cut at the plot's edge: on a phone (a 330-px plot) four names fit in 26 characters
    assert len(ACCURACY_SERIES) == 4 and sum(len(name) for name in ACCURACY_SERIES) <= 26
    assert set(ACCURACY_COLOURS) == set(ACCURACY_SERIES)
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.1, 2.5, forced_accuracy=0.12, teacher_forcing=1.0))
    first = accuracy_frame(h)  # the plot's first data already has every series (a LinePlot keeps only those)
    assert list(first["series"]) == list(ACCURACY_SERIES)
    assert list(first["percent"]) == pytest.approx([0, 10, 12, 100])
    frame = accuracy_frame(recorded())
    assert all(list(group["series"]) == list(ACCURACY_SERIES) for _, group in frame.groupby("step"))
    old = History()  # a curve from before: exact match and free token accuracy only
    old.record(EvalEvent(5, 0.0, 0.5, 0.7, 0.3))
    assert list(accuracy_frame(old)["series"]) == list(ACCURACY_SERIES[:2])


# --- found outside this feature's files ----------------------------------------------------------------------

def test_a_loaded_model_puts_its_teacher_forcing_schedule_back_on_the_form():
    from playground.sessions import Session
    from playground.uploads import form_values_of
    task = Task(make_spec("reverse", 3, 10))
    session = Session(model=build_model(ModelConfig(len(task.vocab), len(task.vocab))), task=task,
                      train_config=settings(100, tf_schedule="linear").to_dict())
    values = form_values_of(session)
    assert values["teacher_forcing"] == 0.9  # the other training settings come back as trained ...
    assert values["tf_schedule"] == "linear"  # ... and so should the schedule


def test_accuracy_by_length_spares_the_forced_pass(monkeypatch):
    from seq2seq.lengths import accuracy_by_length
    model = build_model(CONFIG, seed=SEED)
    forward, forced_calls = type(model).forward, []

    def counting(self, src, src_lens, trg, ratio=0.5, *args, **kwargs):
        forced_calls.append(ratio)
        return forward(self, src, src_lens, trg, ratio, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", counting)
    rows = accuracy_by_length(model, "reverse", range(3, 6), TASK.spec, n=20)
    assert len(rows) == 3 and forced_calls == []


def test_the_cost_estimate_counts_a_decaying_schedule_as_the_step_loop():
    from playground.cost import estimate
    task, model_config, config = read({**PRESETS["Tuned default"], "tf_schedule": "linear"})
    constant = estimate(model_config, read(PRESETS["Tuned default"])[2], task.spec)
    loop = estimate(model_config, TrainConfig(teacher_forcing=0.5), task.spec)
    assert estimate(model_config, config, task.spec).step_seconds >= loop.step_seconds > constant.step_seconds
