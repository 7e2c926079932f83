"""Compare's cost (playground.comparing): each chart is sized to its time budget before any work, or refused with
a sentence saying what to pick instead."""
import pytest
import gradio as gr

from playground import comparing, limits
from seq2seq import ModelConfig, build_model


def model(hidden: int, layers: int):
    return build_model(ModelConfig(14, 14, emb_dim=32, hidden_dim=hidden, n_layers=layers))


def test_a_small_model_is_measured_on_every_source():
    n, seconds = comparing.sources_per_length(model(32, 1), "reverse", range(3, 15))
    assert n == limits.BY_LENGTH_N and 0 < seconds <= limits.COMPARE_SECONDS


def test_a_slow_model_is_measured_on_fewer_sources_then_refused(monkeypatch):
    big = model(512, 4)
    full = comparing.sources_per_length(big, "reverse", range(3, 15))
    monkeypatch.setattr(limits, "COMPARE_SECONDS", full[1] / 3)
    n, seconds = comparing.sources_per_length(big, "reverse", range(3, 15))
    assert limits.BY_LENGTH_FLOOR <= n < limits.BY_LENGTH_N and seconds <= limits.COMPARE_SECONDS
    monkeypatch.setattr(limits, "COMPARE_SECONDS", 0.01)
    with pytest.raises(gr.Error) as info:
        comparing.sources_per_length(big, "reverse", range(3, 15))
    message = info.value.message
    assert message.startswith("Evaluating LSTM") and "12 source lengths 3–14" in message, message
    assert f"even on {limits.BY_LENGTH_FLOOR} sources each" in message and "allows 0.01 s" in message, message
    assert message.endswith("compare a smaller model, or one trained on shorter sources."), message
