import itertools
import math
import threading

import pytest
import torch

from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.decode import greedy_decode
from seq2seq.history import History
from seq2seq.builder import build_model
from seq2seq.tasks import Task, make_spec
from seq2seq.training import DoneEvent, EvalEvent, StepEvent, TrainState, evaluate, train, validation_set

from seq2seq import training as train_module  # the package's `train` is the function
from tests.helpers import same_weights


def setup(name="reverse", lo=3, hi=4, hidden=32, **model_kw):
    task = Task(make_spec(name, lo, hi))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=hidden, **model_kw))
    return model, task


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


def small(**kw):
    return TrainConfig(**{"batch_size": 64, "eval_every": 10, "val_size": 100, **kw})


def test_events_come_in_order_and_end_with_done():
    model, task = setup()
    events = list(train(model, task, small(steps=25)))
    steps = [e for e in events if isinstance(e, StepEvent)]
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert [e.step for e in steps] == list(range(1, 26))
    assert [e.step for e in evals] == [10, 20]
    assert all(b.elapsed >= a.elapsed for a, b in itertools.pairwise(steps))
    assert isinstance(events[-1], DoneEvent) and sum(isinstance(e, DoneEvent) for e in events) == 1
    done = events[-1]
    assert (done.reason, done.step) == ("steps", 25)
    assert 0.0 <= done.exact_match <= done.token_accuracy <= 1.0 and math.isfinite(done.val_loss)


def test_learns_reverse_but_not_random():
    model, task = setup(hidden=64)
    done = list(train(model, task, small(steps=300, eval_every=100)))[-1]
    assert done.exact_match > 0.8
    # the seed's random data: the same budget learns nothing beyond chance
    model, task = setup("random", 5, 5, hidden=64)
    events = list(train(model, task, small(steps=300, eval_every=100)))
    done = events[-1]
    assert done.exact_match < 0.02
    # only <eos> (always after 5 tokens) is predictable: 1 of 6 tokens, plus a tenth of the digits
    assert done.token_accuracy < 0.3
    assert done.val_loss > 1.8  # 5/6 of ln(10): no better than guessing each digit


def test_same_seed_same_run_and_teacher_forcing_below_one_also_trains():
    runs = []
    for _ in range(2):
        model, task = setup()
        runs.append([e.loss for e in train(model, task, small(steps=15, teacher_forcing=0.5, seed=4))
                     if isinstance(e, StepEvent)])
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0]


def test_stop_signal_ends_training_and_keeps_the_model():
    model, task = setup()
    stop = threading.Event()
    kept = None
    events = []
    for event in train(model, task, small(steps=1000), stop):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 7:
            kept = weights(model)
            stop.set()
    done = events[-1]
    assert (done.reason, done.step) == ("stopped", 7)
    assert events[-2].step == 7  # checked before the very next step
    assert same_weights(weights(model), kept)


def test_nan_loss_stops_with_a_reason_and_goes_back_to_the_last_evaluated_weights():
    model, task = setup()
    history = {}
    events = []
    for event in train(model, task, small(steps=100), None):
        events.append(event)
        if isinstance(event, StepEvent):
            history[event.step] = weights(model)
            if event.step == 13:  # something blows up the weights, as a far too high learning rate would
                with torch.no_grad():
                    model.decoder.fc_out.bias.fill_(float("nan"))
    done = events[-1]
    assert done.reason == "diverged" and "loss became nan" in done.message and "learning rate" in done.message
    assert done.step == 10                    # the last evaluation before it broke
    assert same_weights(weights(model), history[10])  # ... and its weights
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    assert math.isfinite(done.val_loss)


def test_an_exploding_loss_is_divergence_even_when_it_stays_finite():
    model, task = setup()
    *_, first = train(model, task, small(steps=200))
    good = weights(model)
    events = list(train(model, task, small(steps=100, lr=5.0), start_step=200))
    done = events[-1]
    assert done.reason == "diverged" and "exploded" in done.message and "Lower the learning rate" in done.message
    assert done.step == 200 and same_weights(weights(model), good)  # back to the model it started from
    assert done.exact_match == first.exact_match
    assert max(e.loss for e in events if isinstance(e, StepEvent)) < 10  # the first loss was the good model's


def test_a_high_but_sane_learning_rate_is_not_called_divergence():
    model, task = setup()
    done = list(train(model, task, small(steps=60, lr=0.02)))[-1]
    assert done.reason == "steps"


def test_the_largest_learning_rate_is_caught_as_an_exploding_loss_at_once():
    model, task = setup()
    start = weights(model)
    done = list(train(model, task, small(steps=30, lr=10, clip=1e6)))[-1]
    # one step at lr 10 moves every weight by about 10: the next loss is far past twice the first
    assert done.reason == "diverged" and "diverged at step 2 (the loss exploded" in done.message
    assert done.step == 0 and same_weights(weights(model), start)


def test_non_finite_gradients_stop_training_before_the_optimizer_uses_them():
    model, task = setup()
    history = {}
    events = []
    for event in train(model, task, small(steps=100)):
        events.append(event)
        if isinstance(event, StepEvent):
            history[event.step] = weights(model)
            if event.step == 13:  # from now on a gradient overflows while the loss stays finite
                model.decoder.fc_out.weight.register_hook(lambda grad: grad * float("inf"))
    done = events[-1]
    assert done.reason == "diverged" and "diverged at step 14 (the gradients became" in done.message
    assert max(e.step for e in events if isinstance(e, StepEvent)) == 13  # step 14 never reached Adam
    assert done.step == 10 and same_weights(weights(model), history[10])
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_eval_at_start_measures_the_model_before_any_step():
    model, task = setup()
    events = list(train(model, task, small(steps=5), eval_at_start=True, start_step=7))
    assert isinstance(events[0], EvalEvent) and events[0].step == 7 and events[0].exact_match == 0
    assert isinstance(events[1], StepEvent) and events[1].step == 8


def test_time_budget_and_target_accuracy_stop_training():
    ticks = itertools.count()
    model, task = setup()
    done = list(train(model, task, small(steps=None, time_budget=5.0), clock=lambda: float(next(ticks))))[-1]
    assert done.reason == "time_budget" and 0 < done.step < 10

    model, task = setup(hidden=64)
    events = list(train(model, task, small(steps=2000, target_accuracy=0.5)))
    done = events[-1]
    assert done.reason == "target_accuracy" and done.exact_match >= 0.5 and done.step < 2000
    assert events[-2].step == done.step and events[-2].exact_match == done.exact_match


def test_step_numbers_continue_from_start_step():
    model, task = setup()
    events = list(train(model, task, small(steps=5), start_step=40))
    assert [e.step for e in events if isinstance(e, StepEvent)] == [41, 42, 43, 44, 45]
    assert events[-1].step == 45


def test_evaluate_uses_held_out_examples_without_teacher_forcing(short_reverse):
    model, task = short_reverse
    examples = validation_set(task, 200)
    assert all(task.is_held_out(ex.source) for ex in examples)
    m = evaluate(model, task, examples)
    assert m.n == 200 and 0.9 < m.exact_match <= 1.0 and m.token_accuracy >= m.exact_match


def test_bad_config_fails_before_training():
    model, task = setup()
    with pytest.raises(ValueError, match="batch_size"):
        next(train(model, task, TrainConfig(batch_size=0)))


@pytest.mark.parametrize("field, value, message", [
    ("warmup", -1, "warmup must be between 0 and"),
    ("warmup", 2.5, "warmup must be a whole number"),
    ("schedule", "exponential", "schedule must be one of linear, cosine"),
])
def test_bad_schedule_settings_fail_before_training(field, value, message):
    model, task = setup()
    with pytest.raises(ValueError, match=message):
        next(train(model, task, small(steps=5, **{field: value})))


def test_schedule_settings_round_trip_and_old_configs_get_the_defaults():
    config = small(steps=50, lr_decay=True, schedule="cosine", warmup=7)
    assert TrainConfig.from_dict(config.to_dict()) == config
    old = {k: v for k, v in config.to_dict().items() if k not in ("warmup", "schedule")}  # saved before they existed
    assert TrainConfig.from_dict(old).warmup == 0 and TrainConfig.from_dict(old).schedule == "linear"


@pytest.mark.parametrize("eval_took, steps, expected", [
    (0.01, 8, [2, 4, 6, 8]),  # quick evaluations: every 0.25 s of run time, counted from when the last ended
    (1.0, 40, [2, 34]),       # slow ones wait 4 × their own second (32 steps): at most about a fifth of the run
])
def test_evaluation_also_follows_the_clock_counting_from_when_the_last_one_ended(monkeypatch, eval_took, steps,
                                                                                 expected):
    now = [0.0]
    real_evaluate = train_module.evaluate

    def slow_evaluate(*args, **kwargs):
        now[0] += eval_took
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", slow_evaluate)
    model, task = setup()
    evals = []
    for event in train(model, task, small(steps=steps, eval_every=100, eval_seconds=0.25), clock=lambda: now[0]):
        if isinstance(event, StepEvent):
            now[0] += 0.125  # every step takes an eighth of a second
        elif isinstance(event, EvalEvent):
            evals.append(event.step)
    assert evals == expected


def test_when_evaluations_happen_never_changes_the_training():
    """... only which weights are kept, at most (with keep_best, the best of the evaluations there were)."""
    runs = []
    for eval_seconds in (None, 0.01):
        model, task = setup(n_layers=2, dropout=0.5)
        state = TrainState.fresh(0)
        events = list(train(model, task, small(steps=40, teacher_forcing=0.5, eval_seconds=eval_seconds),
                            state=state))
        runs.append(([e.loss for e in events if isinstance(e, StepEvent)], list(state.trained_weights(model).values()),
                     sum(isinstance(e, EvalEvent) for e in events)))
    (losses, final, n_evals), (timed_losses, timed_final, timed_evals) = runs
    assert n_evals == 4 and timed_evals > 4  # many more evaluations ...
    assert timed_losses == losses and same_weights(timed_final, final)  # ... and not a bit of difference


def test_evaluations_carry_the_greedy_outputs_of_the_watched_sources():
    watch = [["3", "1", "4"], ["4", "4", "3", "3"], ["1", "2", "3"]]
    model, task = setup()
    seen = []
    for event in train(model, task, small(steps=30), watch=watch, eval_at_start=True):
        if isinstance(event, (EvalEvent, DoneEvent)):
            # what greedy_decode says for each, one at a time, with its default maximum length
            assert event.watch == [greedy_decode(model, task.vocab, source).output for source in watch]
            seen.append(event.watch)
    assert len(seen) == 5 and seen[0] != seen[-1]  # steps 0, 10, 20, 30 and the DoneEvent
    assert len(seen[0][0].split()) == 16  # the untrained model never says <eos>: cut at 2 x 3 + 10

    model, task = setup()
    events = list(train(model, task, small(steps=30), eval_at_start=True))
    assert all(e.watch == [] for e in events if isinstance(e, (EvalEvent, DoneEvent)))
    watched = list(train(*setup(), small(steps=30), watch=watch, eval_at_start=True))
    assert [e.loss for e in watched if isinstance(e, StepEvent)] == [e.loss for e in events if isinstance(e, StepEvent)]


@pytest.mark.parametrize("watch, message", [
    ([["3", "x"]], "unknown token(s) 'x': reverse knows only 0 1 2"),
    ([[]], "a list of 1 to 200 tokens"),
    (["3 1 4"], "a list of 1 to 200 tokens"),
    ([["1"]] * 101, "at most 100 sources"),
], ids=["unknown-token", "empty", "a-string", "too-many"])
def test_bad_watched_sources_fail_before_training(watch, message):
    model, task = setup()
    with pytest.raises(ValueError) as info:
        next(train(model, task, small(steps=5), watch=watch))
    assert message in str(info.value)


# --- keeping the best weights ------------------------------------------------------------------------------

def scripted(monkeypatch, exacts, losses=None):
    """Held-out evaluations that say what the test wants, in order: a run whose later evaluation is worse."""
    results = iter(zip(exacts, losses or [1.0] * len(exacts)))

    def fake_evaluate(model, task, examples, batch_size=1000, should_stop=None):
        exact, loss = next(results)
        return train_module.Metrics(exact, exact, loss, len(examples))

    monkeypatch.setattr(train_module, "evaluate", fake_evaluate)


def run_recording(model, task, config, **kw):
    """The events of a run and the weights after each of its steps."""
    events, at = [], {}
    for event in train(model, task, config, **kw):
        events.append(event)
        if isinstance(event, StepEvent):
            at[event.step] = weights(model)
    return events, at


def test_the_model_ends_with_the_weights_of_its_best_evaluation(monkeypatch):
    scripted(monkeypatch, [0.5, 0.9, 0.7])  # steps 10, 20, 30: the last evaluation is worse
    model, task = setup()
    state = TrainState.fresh(0)
    watch = [["3", "1", "4"]]
    events, at = run_recording(model, task, small(steps=30), state=state, watch=watch)
    done = events[-1]
    assert (done.reason, done.step, done.kept_step) == ("steps", 30, 20)
    assert same_weights(weights(model), at[20])  # the model is step 20's ...
    assert same_weights(list(state.last_weights.values()), at[30])  # ... and training stands at step 30
    assert (state.kept.step, state.kept.exact_match) == (20, 0.9)
    assert done.exact_match == 0.9 and done.token_accuracy == 0.9  # the kept model's figures
    assert done.message == "finished 30 steps; kept the model as it was at step 20, its best (90.0% of held-out " \
                           "sources exactly right, 70.0% at step 30)"
    assert done.watch == [greedy_decode(model, task.vocab, ["3", "1", "4"]).output]  # what the kept model says
    evals = [(e.step, e.exact_match) for e in events if isinstance(e, EvalEvent)]
    assert evals == [(10, 0.5), (20, 0.9), (30, 0.7)]  # the curve has the last weights' point, once


def test_ties_in_exact_match_go_to_the_lower_held_out_loss_and_then_to_the_earlier(monkeypatch):
    scripted(monkeypatch, [0.9, 0.9, 0.9, 0.9], [0.5, 0.3, 0.3, 0.4])
    model, task = setup()
    events, at = run_recording(model, task, small(steps=40))
    assert events[-1].kept_step == 20 and events[-1].val_loss == 0.3 and same_weights(weights(model), at[20])


def test_a_final_evaluation_off_the_cadence_is_a_point_of_the_curve_when_the_model_goes_back(monkeypatch):
    scripted(monkeypatch, [0.5, 0.9, 0.6])  # steps 10, 20 and the final one at 25
    model, task = setup()
    events, at = run_recording(model, task, small(steps=25))
    assert [(type(e).__name__, e.step) for e in events[-2:]] == [("EvalEvent", 25), ("DoneEvent", 25)]
    assert events[-2].exact_match == 0.6 and events[-1].exact_match == 0.9 and events[-1].kept_step == 20
    history = History()
    for event in events:
        history.record(event)
    assert [(e.step, e.exact_match) for e in history.evals] == [(10, 0.5), (20, 0.9), (25, 0.6)]
    assert history.last_step == 25  # continuing counts on from 25


def test_without_keep_best_the_model_ends_with_its_last_weights(monkeypatch):
    scripted(monkeypatch, [0.5, 0.9, 0.7])
    model, task = setup()
    state = TrainState.fresh(0)
    events, at = run_recording(model, task, small(steps=30, keep_best=False), state=state)
    assert events[-1].kept_step == 30 and events[-1].exact_match == 0.7 and "kept" not in events[-1].message
    assert same_weights(weights(model), at[30]) and state.kept is None and state.last_weights is None


def test_a_diverged_run_keeps_its_best_evaluation_and_goes_on_from_its_last_good_one(monkeypatch):
    scripted(monkeypatch, [0.9, 0.5])  # steps 10 and 20; then the weights blow up at step 23
    model, task = setup()
    state = TrainState.fresh(0)
    events, at = [], {}
    for event in train(model, task, small(steps=100), state=state):
        events.append(event)
        if isinstance(event, StepEvent):
            at[event.step] = weights(model)
            if event.step == 23:
                with torch.no_grad():
                    model.decoder.fc_out.bias.fill_(float("nan"))
    done = events[-1]
    assert (done.reason, done.step, done.kept_step, done.exact_match) == ("diverged", 20, 10, 0.9)
    assert same_weights(weights(model), at[10]) and same_weights(list(state.last_weights.values()), at[20])


@pytest.mark.parametrize("exacts, kept", [([0.5, 0.9, 0.7, 0.8], 20), ([0.5, 0.9, 0.7, 0.95], 40)],
                         ids=["the-first-run-s-best", "a-better-one-later"])
def test_continuing_from_kept_weights_is_the_run_that_never_stopped(monkeypatch, exacts, kept):
    """30 steps then 10 more: training goes on from step 30's weights (not the kept step 20's), and the model
    kept at the end is the one the 40 steps straight keep (same evaluations: every 10 steps)."""
    scripted(monkeypatch, exacts)
    model, task = setup(n_layers=2, dropout=0.5)
    straight, at = run_recording(model, task, small(steps=40, teacher_forcing=0.5), state=TrainState.fresh(0))
    straight_kept = weights(model)
    assert straight[-1].kept_step == kept and same_weights(straight_kept, at[kept])

    scripted(monkeypatch, exacts)
    model, task = setup(n_layers=2, dropout=0.5)
    state = TrainState.fresh(0)
    first = list(train(model, task, small(steps=30, teacher_forcing=0.5), state=state))
    assert first[-1].kept_step == 20 and state.last_weights is not None
    state = TrainState.from_bytes(state.to_bytes(), model)  # as a checkpoint or the app carries it
    then = list(train(model, task, small(steps=10, teacher_forcing=0.5), state=state, start_step=30))
    losses = [e.loss for e in first + then if isinstance(e, StepEvent)]
    assert losses == [e.loss for e in straight if isinstance(e, StepEvent)]  # bit for bit
    assert then[-1].kept_step == kept and then[-1].exact_match == straight[-1].exact_match
    assert same_weights(weights(model), straight_kept)
    assert (state.last_weights is None) == (kept == 40)


# --- a quick stop (the app's: stop_within) -----------------------------------------------------------------

def stop_at_step(model, task, config, at, **kw):
    """The events of a run whose stop is set as step `at` ends, and the model's weights after each step."""
    stop = threading.Event()
    events, at_step = [], {}
    for event in train(model, task, config, stop, **kw):
        events.append(event)
        if isinstance(event, StepEvent):
            at_step[event.step] = weights(model)
            if event.step == at:
                stop.set()
    return events, at_step


def test_a_quick_stop_evaluates_the_last_weights_only_if_that_fits():
    model, task = setup()
    events, _ = stop_at_step(model, task, small(steps=1000), 7, stop_within=60.0)  # room: as before
    done = events[-1]
    assert (done.reason, done.step, done.evaluated, done.figures_step) == ("stopped", 7, True, 7)

    model, task = setup()
    state = TrainState.fresh(0)
    events, at = stop_at_step(model, task, small(steps=1000, eval_every=5), 7, stop_within=0.0, state=state)
    done = events[-1]
    [at_5] = [e for e in events if isinstance(e, EvalEvent)]
    assert (done.reason, done.step, done.kept_step, done.figures_step, done.evaluated) == ("stopped", 7, 5, 5, False)
    assert done.message == (f"stopped by request after 7 steps; kept the model as it was at step 5, its best "
                            f"({at_5.exact_match:.1%} of held-out sources exactly right; step 7 was not evaluated)")
    assert (done.exact_match, done.token_accuracy, done.val_loss, done.watch) == \
        (at_5.exact_match, at_5.token_accuracy, at_5.val_loss, at_5.watch)
    assert same_weights(weights(model), at[5]) and same_weights(list(state.last_weights.values()), at[7])
    assert state.kept.step == 5
    history = History()
    for event in events:
        history.record(event)
    assert [e.step for e in history.evals] == [5] and history.last_step == 7  # no point for step 7, which goes on


def test_a_quick_stop_without_keep_best_keeps_the_last_weights_and_names_the_step_of_its_figures():
    model, task = setup()
    state = TrainState.fresh(0)
    events, at = stop_at_step(model, task, small(steps=1000, eval_every=5, keep_best=False), 7, stop_within=0.0,
                              state=state)
    done = events[-1]
    assert (done.step, done.kept_step, done.figures_step, done.evaluated) == (7, 7, 5, False)
    assert done.message == "stopped by request after 7 steps; held-out figures from step 5 (step 7 was not evaluated)"
    assert same_weights(weights(model), at[7]) and state.kept is None and state.last_weights is None

    model, task = setup()  # stopped before any evaluation: no figures at all, and it says so
    events, at = stop_at_step(model, task, small(steps=1000, eval_every=5, keep_best=False), 3, stop_within=0.0)
    done = events[-1]
    assert done.message == "stopped by request after 3 steps; not evaluated yet" and done.figures_step is None
    assert math.isnan(done.exact_match) and done.watch == [] and same_weights(weights(model), at[3])


def test_a_stop_during_an_evaluation_cuts_it_short(monkeypatch):
    """The evaluation of step 10 is stopped between two decoder steps: it is given up (no EvalEvent, no cadence
    change), and the run ends at step 10 with step 0's figures."""
    stop = threading.Event()
    real, calls = train_module.evaluate, []  # per evaluation: how often it asked

    def evaluate(model, task, examples, batch_size=1000, should_stop=None):
        calls.append(0)

        def click_at_the_third_step() -> bool:
            calls[-1] += 1
            if calls[-1] == 3 and len(calls) == 2:
                stop.set()
            return should_stop()
        return real(model, task, examples, batch_size, click_at_the_third_step)

    monkeypatch.setattr(train_module, "evaluate", evaluate)
    model, task = setup()
    events = list(train(model, task, small(steps=1000), stop, eval_at_start=True, stop_within=0.0))
    done = events[-1]
    assert stop.is_set() and len(calls) == 2 and calls[0] > 3 and calls[1] == 3  # asked before each decoder step
    assert [e.step for e in events if isinstance(e, EvalEvent)] == [0]
    assert (done.reason, done.step, done.kept_step, done.evaluated) == ("stopped", 10, 0, False)
    assert done.message.startswith("stopped by request after 10 steps, during the evaluation of step 10; kept the "
                                   "model as it was at step 0")


def test_a_stop_during_the_final_evaluation_of_a_finished_run_ends_it_unevaluated(monkeypatch):
    stop = threading.Event()
    real, calls = train_module.evaluate, []

    def evaluate(model, task, examples, batch_size=1000, should_stop=None):
        calls.append(1)
        if len(calls) == 3:  # the final evaluation, of step 25
            stop.set()
        return real(model, task, examples, batch_size, should_stop)

    monkeypatch.setattr(train_module, "evaluate", evaluate)
    model, task = setup()
    done = list(train(model, task, small(steps=25), stop, stop_within=0.0))[-1]
    assert (done.reason, done.step, done.evaluated) == ("steps", 25, False) and len(calls) == 3
    assert done.message.startswith("finished 25 steps; kept the model as it was at step ")
    assert done.message.endswith("step 25 was not evaluated)")


def test_without_stop_within_a_stop_during_an_evaluation_waits_for_it_as_the_command_line_does(monkeypatch):
    stop = threading.Event()
    model, task = setup()
    events = []
    for event in train(model, task, small(steps=1000), stop):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 10:
            stop.set()  # before the evaluation of step 10, which is not cut short
    assert [(type(e).__name__, e.step) for e in events[-2:]] == [("EvalEvent", 10), ("DoneEvent", 10)]
    assert events[-1].evaluated and events[-1].reason == "stopped"


def test_stop_within_must_be_a_number_of_seconds():
    model, task = setup()
    with pytest.raises(ValueError, match="stop_within must be a number of seconds >= 0, got -1"):
        list(train(model, task, small(steps=1), stop_within=-1))
