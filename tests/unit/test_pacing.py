"""The lab bench's pace (issue 19, item 2), in the library and through a worker: a paused run trains exactly as an
unpaused one; One step is one update, reported with its loss, gradient norm before clipping and learning rate, and
the watched sources' answers before and after it; settings changed while paused apply from the next step and are
marked in the history; the time held is not the run's (its time budget and its worker's deadline leave it out)."""
import math
import threading
import time

import pytest
import torch

from playground.worker import Job
from seq2seq.builder import build_model
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.history import History
from seq2seq.pacing import Held, Pace
from seq2seq.tasks import Task, make_spec
from seq2seq.training import DoneEvent, StepEvent, TrainState, train
from tests.helpers import wait_until

TASK = Task(make_spec("reverse", 3, 5))
CONFIG = ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, n_layers=2, dropout=0.3)
WATCH = [["1", "2", "3"], ["4", "5", "6", "7"]]


def settings(steps=40, **kw) -> TrainConfig:
    return TrainConfig(**{"batch_size": 16, "steps": steps, "teacher_forcing": 0.5, "eval_every": 10,
                          "val_size": 40, "seed": 5, "lr": 0.01, **kw})


def run(config: TrainConfig, pace: Pace | None = None, on_event=None):
    """A run from the same seed: (model, state, events); `on_event(event)` is called with each event as it comes."""
    model = build_model(CONFIG, seed=5)
    state = TrainState.fresh(config.seed)
    events = []
    for event in train(model, TASK, config, state=state, pace=pace, watch=WATCH):
        events.append(event)
        if on_event:
            on_event(event)
    return model, state, events


def steps(events) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent)]


def trained(model, state) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in state.trained_weights(model).items()}


def close(a: dict, b: dict, tolerance: float = 1e-6) -> bool:
    return a.keys() == b.keys() and all((a[k] - b[k]).abs().max().item() <= tolerance for k in a)


@pytest.fixture(scope="module")
def unpaused():
    return run(settings())


def test_a_paused_run_resumed_trains_exactly_as_one_never_paused(unpaused):
    pace = Pace()

    def hold_at_12(event):
        if isinstance(event, StepEvent) and event.step == 12:
            pace.pause()
            threading.Timer(0.3, pace.resume).start()  # the other thread: a person pressing Continue

    model, state, events = run(settings(), pace, hold_at_12)
    assert pace.held_seconds >= 0.25  # it really was held
    assert [e.loss for e in steps(events)] == [e.loss for e in steps(unpaused[2])]  # every step's loss, bit for bit
    assert close(trained(model, state), trained(unpaused[0], unpaused[1]))
    # the time held is not the run's: its own clock says it took about as long as the unpaused one
    assert events[-1].elapsed < unpaused[2][-1].elapsed + 0.25


def test_each_hold_is_announced_between_two_steps_with_the_weights_it_holds():
    def weights_at(steps: tuple[int, ...], pace: Pace | None = None) -> dict[int, dict]:
        """Train from the same seed (pausing after `steps` when paced); the weights after each of `steps`."""
        model, state = build_model(CONFIG, seed=5), TrainState.fresh(5)
        kept = {}
        if pace is not None:  # in train()'s thread, between two steps: the weights are the last step's
            pace.on_hold = lambda: held.append((step[0], trained(model, state)))
        for event in train(model, TASK, settings(), state=state, pace=pace):
            if isinstance(event, StepEvent):
                step[0] = event.step
                if event.step in steps:
                    kept[event.step] = trained(model, state)
                    if pace is not None:
                        pace.pause()
        return kept

    def person() -> None:  # on another thread: One step at the first hold, Continue at the next two
        for n, press in ((1, pace.one_step), (2, pace.resume), (3, pace.resume)):
            wait_until(lambda: len(held) == n, f"hold {n}", 10)
            press()

    pace, step, held = Pace(), [0], []
    threading.Thread(target=person, daemon=True).start()
    weights_at((12, 20), pace)
    assert [s for s, _ in held] == [12, 13, 20]  # a pause; held again after its single step; a second pause
    unpaced = weights_at((12, 13, 20))
    assert all(close(w, unpaced[s]) for s, w in held)  # exactly the weights it was held with


def test_single_steps_while_paused_are_the_same_updates_and_each_is_reported(unpaused):
    pace = Pace()
    singles = []

    def step_by_step(event):
        if isinstance(event, StepEvent) and event.step == 5:
            pace.pause()
            threading.Thread(target=lambda: [pace.one_step(), time.sleep(0.05), pace.one_step(), time.sleep(0.05),
                                             pace.one_step()]).start()
        if isinstance(event, StepEvent) and event.single:
            singles.append(event)
            if len(singles) == 3:
                pace.resume()

    model, state, events = run(settings(), pace, step_by_step)
    assert [e.step for e in singles] == [6, 7, 8]  # one update each, no more
    for e in singles:
        assert math.isfinite(e.loss) and e.grad_norm > 0 and e.lr == pytest.approx(0.01)
        assert len(e.watch_before) == len(e.watch) == len(WATCH)
    assert singles[1].watch_before == singles[0].watch  # what the preview showed is what the next step started from
    assert not any(e.single for e in steps(events) if e.step not in (6, 7, 8))
    assert [e.loss for e in steps(events)] == [e.loss for e in steps(unpaused[2])]
    assert close(trained(model, state), trained(unpaused[0], unpaused[1]))


def test_every_step_reports_its_gradient_norm_before_clipping_and_its_learning_rate():
    _, _, events = run(settings(steps=30, clip=0.01, lr_decay=True, warmup=5))
    reported = steps(events)
    assert all(e.grad_norm > 0.01 for e in reported)  # above the clip: the norm before clipping, not after
    rates = [e.lr for e in reported]
    assert rates[0] == pytest.approx(0.01 / 5)  # warm-up: 1/5 of the rate at the first step
    assert rates[4] == pytest.approx(0.01 * (1 - 0.9 * 4 / 30))  # then the decay's factor with the warm-up's 5/5
    assert rates[-1] < rates[5]


def test_settings_changed_while_paused_apply_from_the_next_step_and_are_marked():
    pace = Pace()

    def change_at_10(event):
        if isinstance(event, StepEvent) and event.step == 10:
            pace.pause()
            pace.change(lr=0.001)
            pace.change(teacher_forcing=0.0)  # a second change while paused adds to the first
            pace.resume()

    _, _, events = run(settings(steps=20), pace, change_at_10)
    reported = steps(events)
    assert all(e.lr == pytest.approx(0.01) and e.teacher_forcing == 0.5 for e in reported[:10])
    assert all(e.lr == pytest.approx(0.001) and e.teacher_forcing == 0.0 for e in reported[10:])
    assert reported[10].changed == "learning rate 0.001, teacher forcing 0" and reported[11].changed is None
    history = History()
    for e in events:
        history.record(e)
    assert history.marks == [(10, "learning rate 0.001, teacher forcing 0")]
    history.truncate(10)
    assert history.marks == []  # a curve cut back before a mark loses it


def test_settings_change_only_while_paused_and_slow_is_bounded():
    pace = Pace()
    with pytest.raises(ValueError, match="only while the run is paused"):
        pace.change(lr=0.001)
    for bad in (0, 100, -1):
        with pytest.raises(ValueError, match="steps a second"):
            pace.slow(bad)
    pace.apply(("slow", 1000))  # from another process: a bad value is ignored, never raised in the listener
    pace.apply(("change", {"lr": 0.1}))
    pace.apply("nonsense")
    assert pace.steps_per_second is None and not pace.paused


def test_slow_runs_at_about_its_pace_and_its_waits_are_not_the_runs_time():
    pace = Pace()
    pace.slow(10)  # 10 steps a second: 8 steps take at least 0.7 s of waiting
    begun = time.monotonic()
    _, _, events = run(settings(steps=8, eval_every=100), pace)
    took = time.monotonic() - begun
    assert took >= 0.65 and pace.held_seconds >= 0.5
    assert events[-1].elapsed < took - 0.4  # the run's own clock left the waits out


def test_a_stop_while_paused_ends_the_run_with_its_model():
    pace, stop = Pace(), threading.Event()

    def pause_then_stop(event):
        if isinstance(event, StepEvent) and event.step == 3:
            pace.pause()
            threading.Timer(0.2, stop.set).start()

    model = build_model(CONFIG, seed=5)
    events = []
    for event in train(model, TASK, settings(steps=1000), stop, pace=pace):
        events.append(event)
        pause_then_stop(event)
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "stopped" and events[-1].step == 3


def test_the_time_held_is_counted_for_the_callers_deadline():
    held = Held()
    held.set(True, now=10.0)
    assert held.seconds(now=12.5) == 2.5
    held.set(True, now=11.0)  # already held: still since 10
    held.set(False, now=13.0)
    held.set(False, now=20.0)
    assert held.seconds(now=30.0) == 3.0


def test_pause_and_one_step_through_a_worker_are_exact(pool):
    """As the app drives it: messages to the worker process; the losses and the final weights equal an unpaused
    run's in the same process kind."""
    from playground.worker import Finished, model_from_weights

    def losses_and_weights(run, act=None):
        losses, weights = [], None
        for message in run.messages():
            if isinstance(message, list):
                for event in message:
                    if isinstance(event, StepEvent):
                        losses.append(event.loss)
                        if act:
                            act(run, event)
            elif isinstance(message, Finished):
                weights = message.weights
        return losses, weights

    from seq2seq.data import task_to_dict
    plain = Job(CONFIG.to_dict(), task_to_dict(TASK), settings().to_dict(), watch=WATCH)
    base_losses, base_weights = losses_and_weights(pool.start(plain))
    singles = []

    def act(run, event):
        if event.step == 8 and not run.paused:
            run.pace("pause")
            run.pace("step")
        if event.single:
            singles.append(event)
            run.pace("resume")

    paused = pool.start(Job(CONFIG.to_dict(), task_to_dict(TASK), settings().to_dict(), watch=WATCH))
    losses, weights = losses_and_weights(paused, act)
    # the worker runs ahead of what the caller has read: it holds wherever the pause finds it, then one step
    assert len(singles) == 1 and 8 < singles[0].step < 30 and singles[0].grad_norm > 0
    assert losses == base_losses
    a, b = model_from_weights(CONFIG, weights), model_from_weights(CONFIG, base_weights)
    assert close(dict(a.state_dict()), dict(b.state_dict()))
