"""Runs own their random numbers, and continuing one is the same as never having stopped: in process,
through a worker, and through a checkpoint and the CLI's --resume. Also TrainState's bytes: round trip,
and every way they can be wrong failing with one sentence before anything is loaded."""
import json
import math
import random
import threading

import pytest
import torch
from safetensors.torch import load, save

from seq2seq.__main__ import main
from seq2seq.checkpoint import load_checkpoint, save_checkpoint
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.builder import build_model
from seq2seq.tasks import Task, make_spec
from seq2seq.training import EvalEvent, StepEvent, TrainState, train
from playground.worker import Finished, Job, model_from_weights, weights_bytes

from seq2seq import training as train_module  # the package's `train` is the function
from tests.helpers import cli, same_weights

TASK = Task(make_spec("reverse", 3, 4))
# everything that draws random numbers: batches, dropout (on embeddings and between the 2 layers), the
# teacher-forcing coin
CONFIG = ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, n_layers=2, dropout=0.5)
SEED = 3  # of the model's weights and of the run's generators, as a worker or the CLI seeds a new run


def settings(steps, **kw) -> TrainConfig:
    return TrainConfig(**{"batch_size": 16, "steps": steps, "teacher_forcing": 0.5, "eval_every": 100,
                          "val_size": 50, "seed": SEED, **kw})


def losses(events) -> list[float]:
    return [e.loss for e in events if isinstance(e, StepEvent)]


@pytest.fixture(scope="module")
def straight():
    """500 steps in one run: (its step losses, its final weights, its weights after step 50)."""
    model = build_model(CONFIG, seed=SEED)
    events, at_50 = [], None
    for event in train(model, TASK, settings(500)):
        events.append(event)
        if event.step == 50 and isinstance(event, StepEvent):
            at_50 = {name: t.clone() for name, t in model.state_dict().items()}
    return losses(events), model.state_dict(), at_50


# --- continuing ------------------------------------------------------------------------------------------

def test_200_steps_then_300_more_with_the_state_are_the_500_steps_of_one_run(straight):
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    first = losses(train(model, TASK, settings(200), state=state))
    then = losses(train(model, TASK, settings(300), state=state, start_step=200))
    assert first + then == straight[0]  # bit for bit: Adam, the generators and the batches went on
    assert same_weights(model.state_dict(), straight[1])


def test_without_the_state_a_continuation_is_a_different_run(straight):
    """The point of the state: what "continue" did before (a fresh Adam, batches replayed from the seed)."""
    model = build_model(CONFIG, seed=SEED)
    first = losses(train(model, TASK, settings(10)))
    then = losses(train(model, TASK, settings(10), start_step=10))
    assert first == straight[0][:10] and then != straight[0][10:20]


def run_job(pool, job: Job) -> tuple[list, Finished]:
    events, finished = [], None
    for message in pool.start(job).messages():
        if isinstance(message, list):
            events += message
        elif isinstance(message, Finished):
            finished = message
    assert finished is not None, events[-1:]
    return events, finished


def test_a_worker_resumes_from_the_state_another_worker_ended_with(pool, straight):
    first, end = run_job(pool, Job(CONFIG.to_dict(), TASK.spec.to_dict(), settings(30).to_dict(),
                                   snapshot_seconds=0))
    then, finished = run_job(pool, Job(CONFIG.to_dict(), TASK.spec.to_dict(), settings(20).to_dict(),
                                       weights=end.weights, state=end.state, start_step=30, snapshot_seconds=0))
    assert [e.step for e in then if isinstance(e, StepEvent)] == list(range(31, 51))
    assert losses(first) + losses(then) == straight[0][:50]  # the first 50 steps of the long run
    assert same_weights(model_from_weights(CONFIG, finished.weights).state_dict(), straight[2])



def test_a_killed_worker_leaves_snapshots_to_go_on_from_exactly(pool, straight):
    """A run killed (it ignored Stop, or ran out of time) leaves its snapshots: a small model's carry its training
    state, and a worker given one goes on as the run that was never killed."""
    from playground.sessions import Session
    from playground.worker import Snapshot
    run = pool.start(Job(CONFIG.to_dict(), TASK.spec.to_dict(), settings(None, time_budget=60).to_dict(),
                         snapshot_seconds=0.01))
    snapshots = []
    for message in run.messages():
        if isinstance(message, Snapshot):
            snapshots.append(message)
            if len([s for s in snapshots if s.state is not None]) == 3:
                run.kill()  # as the server does past its grace
        elif message is not None and not isinstance(message, list):
            break
    session = Session(snapshot=snapshots[-1], exact_snapshot=[s for s in snapshots if s.state is not None][-1])
    assert session.keep_snapshot(CONFIG) and 0 < session.exact_snapshot.step <= 400
    at = session.exact_snapshot.step
    then, _ = run_job(pool, Job(CONFIG.to_dict(), TASK.spec.to_dict(), settings(500 - at).to_dict(),
                                weights=weights_bytes(session.model), state=session.state, start_step=at,
                                snapshot_seconds=0))
    assert losses(then) == straight[0][at:]  # bit for bit: the run that was never killed


def stop_during_evaluation_at(step: int, stop: threading.Event, monkeypatch) -> None:
    """The click lands inside the held-out evaluation of `step`, between two of its decoder steps."""
    real = train_module.evaluate

    def evaluate(model, task, examples, batch_size=1000, should_stop=None):
        asked = 0

        def click_midway() -> bool:
            nonlocal asked
            asked += 1
            if asked == 3 and model_step[0] == step:
                stop.set()
            return should_stop is not None and should_stop()
        return real(model, task, examples, batch_size, click_midway)

    model_step = [0]
    monkeypatch.setattr(train_module, "evaluate", evaluate)
    return model_step


def test_a_stop_during_an_evaluation_ends_the_run_there_and_continuing_is_the_run_that_never_stopped(monkeypatch):
    """Stop pressed inside the evaluation of step 100: the run ends at once, without evaluating step 100 (its
    figures and kept weights are step 50's, and it says so), and its state, through bytes, goes on to step 150
    exactly as 150 steps straight do."""
    whole, whole_state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    straight = losses(train(whole, TASK, settings(150, keep_best=False), state=whole_state))

    stop = threading.Event()
    model_step = stop_during_evaluation_at(100, stop, monkeypatch)
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    events, at = [], {}
    for event in train(model, TASK, settings(1000, eval_every=50), stop, state=state, stop_within=0.0):
        events.append(event)
        if isinstance(event, StepEvent):
            model_step[0] = event.step
            at[event.step] = {name: t.clone() for name, t in model.state_dict().items()}
    done = events[-1]
    assert (done.reason, done.step, done.kept_step, done.figures_step, done.evaluated) == ("stopped", 100, 50, 50,
                                                                                          False)
    assert done.message.startswith("stopped by request after 100 steps, during the evaluation of step 100; kept "
                                   "the model as it was at step 50, its best (") and done.message.endswith("step 100 was not evaluated)")
    [at_50] = [e for e in events if isinstance(e, EvalEvent)]  # no point for the unevaluated step 100
    assert at_50.step == 50 and (done.exact_match, done.val_loss) == (at_50.exact_match, at_50.val_loss)
    assert same_weights(model.state_dict(), at[50]) and same_weights(state.last_weights, at[100])

    monkeypatch.undo()
    again = TrainState.from_bytes(state.to_bytes(), model)  # as the worker hands it over
    then = losses(train(model, TASK, settings(50, keep_best=False), state=again, start_step=100))
    assert losses(events) + then == straight  # bit for bit: Adam, the generators and the batches went on
    assert same_weights(model.state_dict(), whole.state_dict())


LONG_EVAL_TASK = Task(make_spec("reverse", 8, 10))  # with 20,000 held-out sources: an evaluation of a second or so
LONG_EVAL = ModelConfig(len(LONG_EVAL_TASK.vocab), len(LONG_EVAL_TASK.vocab), emb_dim=8, hidden_dim=16, n_layers=2,
                        dropout=0.5)


def test_a_worker_stopped_during_an_evaluation_hands_over_its_state_and_continuing_is_exact(pool):
    """In a worker: Stop sent as soon as step 20 arrives (its evaluation, long, has begun) ends the run there, by
    its own hand (Finished, not a kill), and a worker given its weights and state goes on as one run does."""
    config = settings(None, time_budget=60, eval_every=20, val_size=20_000)
    run = pool.start(Job(LONG_EVAL.to_dict(), LONG_EVAL_TASK.spec.to_dict(), config.to_dict(), eval_at_start=True,
                         snapshot_seconds=0))
    events, others = [], []
    for message in run.messages():
        if isinstance(message, list):
            events += message
            if any(isinstance(e, StepEvent) and e.step == 20 for e in message):
                assert not any(isinstance(e, EvalEvent) and e.step == 20 for e in events)  # sent while it runs
                run.stop()
        elif message is not None:
            others.append(message)
    done, finished = events[-1], others[-1]
    assert isinstance(finished, Finished), others
    assert (done.reason, done.step) == ("stopped", 20) and "during the evaluation of step 20" in done.message, done
    # the cut-short evaluation is done again only if the last one's duration fits in stop_within: how fast the
    # machine is decides, so either way is right, as long as the figures say which weights they are of
    assert done.kept_step == (20 if done.evaluated else 0), done
    assert [e.step for e in events if isinstance(e, EvalEvent)] == [0]

    more = settings(10, val_size=50)
    then, end = run_job(pool, Job(LONG_EVAL.to_dict(), LONG_EVAL_TASK.spec.to_dict(), more.to_dict(),
                                  weights=finished.weights, state=finished.state, start_step=20,
                                  snapshot_seconds=0))
    model, state = build_model(LONG_EVAL, seed=SEED), TrainState.fresh(SEED)
    straight = losses(train(model, LONG_EVAL_TASK, settings(30, val_size=50, keep_best=False), state=state))
    assert losses(events) + losses(then) == straight
    went_on = model_from_weights(LONG_EVAL, end.weights)
    assert same_weights(TrainState.from_bytes(end.state, went_on).trained_weights(went_on), model.state_dict())

# --- every run owns its generators ------------------------------------------------------------------------

def two_runs():
    """Two different runs: (model, config) each."""
    return [(build_model(CONFIG, seed=1), settings(40, seed=5)),
            (build_model(CONFIG, seed=2), settings(40, seed=6, teacher_forcing=0.3))]


def test_two_runs_in_parallel_threads_are_the_runs_done_alone():
    alone = []
    for model, config in two_runs():
        alone.append((losses(train(model, TASK, config)), model.state_dict()))

    together = [None, None]
    start = threading.Barrier(2)

    def run(i, model, config):
        start.wait()
        together[i] = (losses(train(model, TASK, config)), model.state_dict())

    threads = [threading.Thread(target=run, args=(i, *pair)) for i, pair in enumerate(two_runs())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(alone) == 2 and None not in together  # both threads finished their run
    for (a_losses, a_weights), (b_losses, b_weights) in zip(alone, together):
        assert a_losses == b_losses
        assert same_weights(a_weights, b_weights)
    assert alone[0][0] != alone[1][0]


def test_training_leaves_the_process_wide_generators_alone():
    torch_state, python_state = torch.random.get_rng_state(), random.getstate()
    events = list(train(build_model(CONFIG, seed=SEED), TASK, settings(20, eval_every=10)))
    assert events[-1].step == 20
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == python_state


def test_a_state_for_another_model_is_refused_before_any_step():
    state = TrainState.fresh(SEED)
    list(train(build_model(CONFIG, seed=SEED), TASK, settings(3), state=state))
    other = build_model(ModelConfig(**{**CONFIG.to_dict(), "emb_dim": 12}))
    with pytest.raises(ValueError, match=r"does not fit the model: its Adam moments for encoder.embedding.weight "
                                         r"have shape \[14, 8\], the parameter \[14, 12\]"):
        next(train(other, TASK, settings(3), state=state))


# --- the learning rate schedule --------------------------------------------------------------------------

@pytest.fixture
def learning_rates(monkeypatch):
    """The learning rate of every Adam step taken from now on."""
    seen = []
    step = torch.optim.Adam.step

    def recording(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    return seen


def test_lr_decay_goes_on_from_where_the_state_left_it(learning_rates):
    def run(steps, state, lr_decay=True, stop_after=None, start=0):
        stop = threading.Event()
        learning_rates.clear()
        for event in train(model, TASK, settings(steps, lr=0.01, lr_decay=lr_decay, teacher_forcing=1.0), stop,
                           state=state, start_step=start):
            if isinstance(event, StepEvent) and event.step - start == stop_after:
                stop.set()
        return list(learning_rates)

    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(0)
    assert run(10, state) == pytest.approx([0.01 * (1 - 0.9 * k / 10) for k in range(10)])
    assert state.lr_factor == pytest.approx(0.1)
    assert run(5, state, start=10) == pytest.approx([0.001] * 5)  # decayed: it stays at the bottom
    assert run(5, state, lr_decay=False, start=15) == pytest.approx([0.01] * 5) and state.lr_factor == 1.0

    state = TrainState.fresh(0)
    assert run(10, state, stop_after=5) == pytest.approx([0.01 * (1 - 0.9 * k / 10) for k in range(5)])
    assert state.lr_factor == pytest.approx(0.55)  # stopped halfway down
    assert run(10, state, start=5) == pytest.approx([0.01 * (0.55 - 0.45 * k / 10) for k in range(10)])


def test_cosine_decay_follows_half_a_cosine_and_goes_on_from_where_the_state_left_it(learning_rates):
    def run(steps, state, stop_after=None, start=0):
        stop = threading.Event()
        learning_rates.clear()
        for event in train(model, TASK, settings(steps, lr=0.01, lr_decay=True, schedule="cosine",
                                                 teacher_forcing=1.0), stop, state=state, start_step=start):
            if isinstance(event, StepEvent) and event.step - start == stop_after:
                stop.set()
        return list(learning_rates)

    def cosine(start, k, n):
        return 0.01 * (0.1 + (start - 0.1) * 0.5 * (1 + math.cos(math.pi * k / n)))

    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(0)
    lrs = run(10, state)
    assert lrs == pytest.approx([cosine(1.0, k, 10) for k in range(10)])
    assert lrs[0] == pytest.approx(0.01) and lrs[1] > 0.0097  # slow at first, unlike the straight line's 0.0091
    assert state.lr_factor == pytest.approx(0.1)
    state = TrainState.fresh(0)
    assert run(10, state, stop_after=5) == pytest.approx([cosine(1.0, k, 10) for k in range(5)])
    assert state.lr_factor == pytest.approx(0.55)  # halfway down the cosine too
    assert run(10, state, start=5) == pytest.approx([cosine(0.55, k, 10) for k in range(10)])


def test_warmup_counts_the_models_steps_so_a_resumed_run_goes_on_with_it(learning_rates):
    def run(steps, state, start=0, **kw):
        learning_rates.clear()
        model_events = list(train(model, TASK, settings(steps, lr=0.01, warmup=4, **kw), state=state,
                                  start_step=start))
        return list(learning_rates), model_events

    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    assert run(6, state)[0] == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    assert run(2, state)[0] == pytest.approx([0.0025, 0.005])
    assert run(4, state, start=2)[0] == pytest.approx([0.0075, 0.01, 0.01, 0.01])
    # with decay: both factors multiply
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    assert run(4, state, lr_decay=True)[0] == pytest.approx([0.01 * f * (1 - 0.9 * k / 4) for k, f in
                                                             enumerate([0.25, 0.5, 0.75, 1.0])])


def test_a_run_stopped_in_its_warmup_and_resumed_through_bytes_is_the_run_that_never_stopped():
    whole = build_model(CONFIG, seed=SEED)
    list(train(whole, TASK, settings(12, lr=0.01, warmup=10), state=TrainState.fresh(SEED)))
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    list(train(model, TASK, settings(7, lr=0.01, warmup=10), state=state))
    again = TrainState.from_bytes(state.to_bytes(), model)  # as a checkpoint carries it
    list(train(model, TASK, settings(5, lr=0.01, warmup=10), state=again, start_step=7))
    assert same_weights(model.state_dict(), whole.state_dict())


def test_the_cli_resumes_with_the_saved_warmup_and_schedule(tmp_path, capsys):
    args = ["--task", "reverse", "--min-len", "3", "--max-len", "4", "--hidden", "16", "--emb", "8",
            "--eval-every", "5", "--warmup", "6", "--schedule", "cosine", "--seed", "1"]
    assert main(["train", *args, "--steps", "10", "--out", str(tmp_path / "whole")]) == 0
    assert main(["train", *args, "--steps", "4", "--no-lr-decay", "--out", str(tmp_path / "first")]) == 2  # cosine
    assert main(["train", *args, "--steps", "4", "--out", str(tmp_path / "first")]) == 0
    assert main(["train", "--resume", str(tmp_path / "first"), "--steps", "6", "--out", str(tmp_path / "second")]) == 0
    saved = json.loads((tmp_path / "second" / "config.json").read_text())["training"]["train_config"]
    assert saved["warmup"] == 6 and saved["schedule"] == "cosine" and saved["lr_decay"] is True
    assert saved["lr"] == 0.003  # the CLI's default
    capsys.readouterr()


# --- divergence -------------------------------------------------------------------------------------------

def test_after_a_divergence_the_state_goes_back_with_the_weights():
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    at_10 = None
    events = []
    for event in train(model, TASK, settings(100, eval_every=10), state=state):
        events.append(event)
        if isinstance(event, EvalEvent) and event.step == 10:
            at_10 = state.to_bytes()
        if isinstance(event, StepEvent) and event.step == 13:
            with torch.no_grad():
                model.decoder.fc_out.bias.fill_(float("nan"))
    assert events[-1].reason == "diverged" and events[-1].step == 10
    assert state.kept is not None and state.kept.step == 10 and state.last_weights is None  # the only evaluation
    state.kept = None  # a run sets it when it ends
    assert state.to_bytes() == at_10
    state.kept = train_module.Kept(10, events[-1].exact_match, events[-1].token_accuracy, events[-1].val_loss)
    # and it is the real step-10 state: going on from it gives steps 11-13 again, bit for bit
    again = losses(train(model, TASK, settings(3), state=state, start_step=10))
    assert again == [e.loss for e in events if isinstance(e, StepEvent) and 11 <= e.step <= 13]


# --- TrainState bytes ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_state():
    model, state = build_model(CONFIG, seed=SEED), TrainState.fresh(SEED)
    list(train(model, TASK, settings(5, lr_decay=True), state=state))
    return model, state


def test_a_state_with_kept_weights_round_trips_within_its_size_cap(trained_state):
    model, state = trained_state
    with_last = state.copy()
    with_last.kept = train_module.Kept(3, 0.25, 0.5, 1.5)
    with_last.last_weights = {name: p.detach() + 1 for name, p in model.named_parameters()}
    data = with_last.to_bytes()
    assert len(state.to_bytes()) < len(data) <= train_module.state_max_bytes(model)
    back = TrainState.from_bytes(data, model)
    assert back.kept == with_last.kept and back.to_bytes() == data
    assert same_weights(back.last_weights, with_last.last_weights)
    assert same_weights(back.trained_weights(model), with_last.last_weights)
    assert same_weights(TrainState.from_bytes(state.to_bytes(), model).trained_weights(model),
                        dict(model.named_parameters()))


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(kept={"step": -1, "exact_match": 0.5, "token_accuracy": 0.5, "val_loss": 1.0}),
     "kept evaluation is damaged"),
    (lambda i: i.update(kept={"step": 3, "exact_match": 2.0, "token_accuracy": 0.5, "val_loss": 1.0}),
     "kept evaluation is damaged"),
    (lambda i: i.update(kept=[1, 2]), "kept evaluation is damaged"),
], ids=["negative-step", "exact-above-1", "not-an-object"])
def test_a_damaged_kept_evaluation_is_refused(trained_state, change, message):
    model, state = trained_state
    with pytest.raises(ValueError, match=message):
        TrainState.from_bytes(resave(state.to_bytes(), change_info=change), model)


def test_last_weights_that_are_not_finite_or_incomplete_are_refused(trained_state):
    model, state = trained_state
    with_last = state.copy()
    with_last.last_weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    data = with_last.to_bytes()
    with pytest.raises(ValueError, match="last weights for decoder.fc_out.bias contain NaN"):
        TrainState.from_bytes(resave(data, lambda t: t["last.decoder.fc_out.bias"].fill_(float("nan"))), model)
    with pytest.raises(ValueError, match="does not fit the model: missing last.decoder.fc_out.bias"):
        TrainState.from_bytes(resave(data, lambda t: t.pop("last.decoder.fc_out.bias")), model)


def test_state_bytes_round_trip(trained_state):
    model, state = trained_state
    data = state.to_bytes()
    back = TrainState.from_bytes(data, model)
    assert back.batches.getstate() == state.batches.getstate()
    assert torch.equal(back.teacher_forcing.get_state(), state.teacher_forcing.get_state())
    assert torch.equal(back.dropout.get_state(), state.dropout.get_state())
    assert back.lr_factor == state.lr_factor == pytest.approx(1 - 0.9)
    assert back.adam.keys() == state.adam.keys() == dict(model.named_parameters()).keys()
    for name, moments in state.adam.items():
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(back.adam[name][key], moments[key]), (name, key)
    assert back.to_bytes() == data
    fresh = TrainState.fresh(7)
    assert TrainState.from_bytes(fresh.to_bytes(), model).to_bytes() == fresh.to_bytes()  # no moments yet


def resave(data: bytes, change_tensors=None, change_info=None) -> bytes:
    """The state's bytes with its tensors or its JSON description changed."""
    tensors = load(data)
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    info = json.loads(header["__metadata__"]["state"])
    if change_tensors:
        change_tensors(tensors)
    if change_info:
        change_info(info)
    return save(tensors, metadata={"state": json.dumps(info)})


def nan_moment(t):
    t["adam.exp_avg.decoder.fc_out.bias"][0] = float("nan")


def negative_second_moment(t):
    t["adam.exp_avg_sq.decoder.fc_out.bias"][0] = -1.0


def bad_position(t):
    t["generator.batches"][-1] = 1000


# name -> (the bytes, given the good ones; a part of the message; other model config or None)
BREAKAGES = {
    "hidden size": (lambda d: d, "does not fit the model: adam.exp_avg.encoder.rnn.weight_ih_l0 should be F32 of "
                                 "shape [96, 8]", dict(hidden_dim=24)),
    "one layer": (lambda d: d, "does not fit the model: unexpected adam.exp_avg.decoder.rnn.bias_hh_l1",
                  dict(n_layers=1)),
    "pickle": (lambda d: b"\x80\x04\x95" + bytes(100), "damaged or not a safetensors file", None),
    "truncated": (lambda d: d[:-100], "damaged or not a safetensors file", None),
    "model weights": (lambda d: weights_bytes(build_model(CONFIG)), "not a seq2seq playground training state", None),
    "newer version": (lambda d: resave(d, change_info=lambda i: i.update(version=3)), "version 3", None),
    "lr factor": (lambda d: resave(d, change_info=lambda i: i.update(lr_factor=5)), "lr_factor must be", None),
    "NaN moment": (lambda d: resave(d, nan_moment), "moments for decoder.fc_out.bias contain NaN", None),
    "negative moment": (lambda d: resave(d, negative_second_moment), "second moments for decoder.fc_out.bias are "
                                                                     "negative", None),
    "fractional step": (lambda d: resave(d, lambda t: t["adam.step.decoder.fc_out.bias"].fill_(2.5)),
                        "step for decoder.fc_out.bias is 2.5", None),
    "generator": (lambda d: resave(d, lambda t: t["generator.dropout"].zero_()), "generators are damaged", None),
    "batch generator": (lambda d: resave(d, bad_position), "batch generator is damaged", None),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_state_is_refused_with_one_sentence(trained_state, breakage):
    model, state = trained_state
    damage, expected, other = BREAKAGES[breakage]
    if other is not None:
        model = build_model(ModelConfig(**{**CONFIG.to_dict(), **other}))
    with pytest.raises(ValueError) as info:
        TrainState.from_bytes(damage(state.to_bytes()), model)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_state_that_does_not_fit_is_refused_before_it_is_loaded(trained_state, monkeypatch):
    _, state = trained_state
    other = build_model(ModelConfig(**{**CONFIG.to_dict(), "hidden_dim": 24}))
    monkeypatch.setattr(train_module, "load_safetensors", lambda data: pytest.fail("loaded before the check"))
    with pytest.raises(ValueError, match="does not fit the model"):
        TrainState.from_bytes(state.to_bytes(), other)


# --- checkpoints and the CLI --------------------------------------------------------------------------------

CLI_MODEL = ["--task", "reverse", "--min-len", 3, "--max-len", 4, "--emb", 8, "--hidden", 16, "--layers", 2,
             "--dropout", 0.5, "--batch-size", 16, "--eval-every", 100, "--seed", 3,
             "--no-lr-decay"]  # a decaying run decays over the steps it is given: 200 + 300 is not 500


def test_resume_gives_the_model_of_one_uninterrupted_run(capsys, tmp_path):
    assert cli(capsys, "train", *CLI_MODEL, "--steps", 500, "--out", tmp_path / "straight")[0] == 0
    assert cli(capsys, "train", *CLI_MODEL, "--steps", 200, "--out", tmp_path / "first")[0] == 0
    code, out, err = cli(capsys, "train", "--resume", tmp_path / "first", "--steps", 300, "--json",
                         "--out", tmp_path / "then")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(201, 501))
    straight, then = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "then")
    # the same training (where it stands, in the state) and the same model kept (the best of the evaluations at
    # steps 100-500: 200 is one of them, so the first run's final evaluation is one the straight run made too)
    trained = [TrainState.from_bytes(c.state, c.model).trained_weights(c.model) for c in (straight, then)]
    assert same_weights(*trained)
    assert same_weights(then.model.state_dict(), straight.model.state_dict())
    assert then.training["exact_match"] == straight.training["exact_match"] == events[-1]["exact_match"]
    assert then.training["steps"] == straight.training["steps"] == 500 == events[-1]["steps"]
    assert then.training["train_config"] == {**straight.training["train_config"], "steps": 300}
    assert then.state is not None and then.model.config == straight.model.config
    # the resumed checkpoint can itself be resumed, in place
    code, _, err = cli(capsys, "train", "--resume", tmp_path / "then", "--steps", 2, "--out", tmp_path / "then")
    assert code == 0 and load_checkpoint(tmp_path / "then").training["steps"] == 502, err


def test_resume_refuses_a_checkpoint_without_training_state(capsys, tmp_path):
    save_checkpoint(tmp_path / "old", build_model(CONFIG), TASK, {"steps": 10, "train_config": settings(10).to_dict()})
    code, out, err = cli(capsys, "train", "--resume", tmp_path / "old", "--steps", 5, "--out", tmp_path / "new")
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert "has no train_state.safetensors" in err and "cannot resume exactly" in err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args, expected", [
    (["--seed", 4, "--hidden", 32], "--hidden, --seed cannot be used with --resume"),
    (["--task", "reverse"], "--task cannot be used with --resume"),
], ids=["seed-and-model", "task"])
def test_resume_refuses_options_that_would_change_the_run(capsys, tmp_path, args, expected):
    code, out, err = cli(capsys, "train", "--resume", tmp_path / "any", *args, "--out", tmp_path / "new")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and expected in err


def test_train_without_a_task_or_resume_is_an_argument_error(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "--out", tmp_path / "new")
    assert code == 2 and "required: --task or --data (or --resume DIR)" in err and len(err.splitlines()) == 1
