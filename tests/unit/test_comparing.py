"""Compare's cost (playground.comparing): each chart is sized to its time budget before any work, or refused with
a sentence saying what to pick instead."""
import pytest
import gradio as gr

from playground import comparing, limits
from seq2seq import ModelConfig, Task, build_model, make_spec

REVERSE = Task(make_spec("reverse"))


def model(hidden: int, layers: int):
    return build_model(ModelConfig(14, 14, emb_dim=32, hidden_dim=hidden, n_layers=layers))


def test_a_small_model_is_measured_on_every_source():
    n, seconds = comparing.sources_per_length(model(32, 1), REVERSE, range(3, 15))
    assert n == limits.BY_LENGTH_N and 0 < seconds <= limits.COMPARE_SECONDS


def test_a_slow_model_is_measured_on_fewer_sources_then_refused(monkeypatch):
    big = model(512, 4)
    full = comparing.sources_per_length(big, REVERSE, range(3, 15))
    monkeypatch.setattr(limits, "COMPARE_SECONDS", full[1] / 3)
    n, seconds = comparing.sources_per_length(big, REVERSE, range(3, 15))
    assert limits.BY_LENGTH_FLOOR <= n < limits.BY_LENGTH_N and seconds <= limits.COMPARE_SECONDS
    monkeypatch.setattr(limits, "COMPARE_SECONDS", 0.01)
    with pytest.raises(gr.Error) as info:
        comparing.sources_per_length(big, REVERSE, range(3, 15))
    message = info.value.message
    assert message.startswith("Evaluating LSTM") and "12 source lengths 3–14" in message, message
    assert f"even on {limits.BY_LENGTH_FLOOR} sources each" in message and "allows 0.01 s" in message, message
    assert message.endswith("compare a smaller model, or one trained on shorter sources."), message


def test_compare_measures_a_model_of_another_task_on_your_pairs_with_its_own_tokens():
    """Your pairs and a built-in task that reads them the same way (characters both sides): both models are
    measured on your held-out pairs, each through its own vocabulary (a symbol it lacks is <unk>: never right);
    two tasks that split text differently, or two built-in tasks, are refused with a sentence."""
    from seq2seq.data import DataTask, read_pairs
    from playground.registry import problem  # noqa: F401 - the gr.Error the sentence comes as
    pairs = DataTask(read_pairs("examples/dates.tsv"))
    dates = Task(make_spec("dates"))
    assert comparing.common_task(dates, pairs) is pairs and comparing.common_task(pairs, dates) is pairs
    assert comparing.common_task(dates, Task(make_spec("dates"))).name == "dates"
    seen = pairs.through(dates.vocab)
    assert seen.vocab == dates.vocab and seen.data is pairs.data and pairs.vocab != dates.vocab
    assert comparing.chart_lengths(pairs, dates) == range(pairs.spec.min_len, pairs.spec.max_len + 1)
    for other in (Task(make_spec("numbers")), REVERSE):
        with pytest.raises(gr.Error, match="pick two models for the same task"):
            comparing.common_task(other, pairs)
    with pytest.raises(gr.Error, match="Model A learns reverse and model B dates"):
        comparing.common_task(REVERSE, dates)
