"""What a decode request costs, estimated before any work (playground.cost's decoding section), the sentence that
refuses one over the budget (playground.budget.decode_check), what a kept decoding counts (Trace.nbytes), and the
thread a cancelled request stops (playground.cancel)."""
import asyncio
import json
import re
import threading

import pytest
import torch

from playground import cost
from playground.budget import BudgetError, decode_check
from playground.cancel import in_thread
from seq2seq import ModelConfig, Task, build_model, make_spec
from seq2seq import decode as library
from seq2seq.decode import Interrupted
from seq2seq.strategy import Strategy, run
from seq2seq.tasks import EOS_ID
from tests.helpers import ROOT

V = 14
TRANSFORMER = dict(arch="transformer", hidden_dim=64, n_layers=2, heads=4)
RNN = dict(cell="lstm", emb_dim=32, hidden_dim=64, attention="general", bidirectional=True)


def config(**kw) -> ModelConfig:
    return ModelConfig(V, V, **kw)


@pytest.mark.parametrize("sizes", [TRANSFORMER, RNN, dict(cell="gru", hidden_dim=128, n_layers=2)])
def test_the_estimate_grows_with_width_source_length_and_model(sizes):
    c = config(**sizes)
    by_width = [cost.decode_cost(c, 100, "beam", w) for w in (1, 2, 5, 10)]
    assert all(a.seconds < b.seconds and a.mb < b.mb for a, b in zip(by_width, by_width[1:]))
    by_length = [cost.decode_cost(c, n, "greedy") for n in (1, 10, 50, 200)]
    assert all(a.seconds < b.seconds and a.mb < b.mb for a, b in zip(by_length, by_length[1:]))
    assert cost.decode_cost(c, 100, "greedy").seconds < cost.decode_cost(c, 100, "beam", 5).seconds
    assert cost.decode_cost(c, 100, "beam", 5, what_if=True).seconds > cost.decode_cost(c, 100, "beam", 5).seconds
    assert cost.decode_cost(c, 100, "sampling") == cost.decode_cost(c, 100, "greedy")
    layers = [cost.decode_cost(config(**{**sizes, "n_layers": n}), 100, "beam", 5) for n in (1, 2, 4)]
    assert all(a.seconds < b.seconds for a, b in zip(layers, layers[1:]))


def test_the_transformer_estimate_grows_with_heads_and_feed_forward():
    by_heads = [cost.decode_cost(config(**{**TRANSFORMER, "heads": h}), 100, "beam", 5) for h in (1, 4, 16, 64)]
    assert all(a.seconds < b.seconds and a.mb < b.mb for a, b in zip(by_heads, by_heads[1:]))
    narrow, wide = (cost.decode_cost(config(**TRANSFORMER, ff_dim=f), 100, "greedy") for f in (64, 2048))
    assert narrow.seconds < wide.seconds


def test_steps_follow_the_library_and_learned_positions_cap_them():
    assert cost.decode_steps(config(**RNN), 200) == library.default_max_len(200) == 410
    assert cost.decode_steps(config(**TRANSFORMER), 200) == 410
    assert cost.decode_steps(config(**TRANSFORMER, positions="learned"), 200) == 128
    beam = cost.decode_cost(config(**TRANSFORMER), 100, "beam", 10)
    assert (beam.steps, beam.rows, beam.nodes) == (210, 10, 1 + 210 * 100)  # width x width nodes a step


def test_the_byte_counts_agree_with_the_library():
    assert (cost.STEP_BYTES, cost.TOP_BYTES, cost.TENSOR_BYTES, cost.NODE_BYTES) == \
        (library.STEP_BYTES, library.TOP_BYTES, library.TENSOR_BYTES, library.NODE_BYTES)
    from playground.views.beams import MAX_DRAWN
    from seq2seq.controls import DECODING
    assert cost.TREE_NODES_DRAWN == MAX_DRAWN and cost.TOP_SHOWN == DECODING["top_k"].high


MEASURED = json.loads((ROOT / "tools" / "decode_cost_measurements.json").read_text())["cases"]


@pytest.mark.parametrize("case", MEASURED, ids=[c["name"] for c in MEASURED])
def test_the_estimate_is_above_every_measurement(case):
    """tools/fit_decode_cost.py measured these on this machine (CPU seconds of the request; bytes kept and
    produced): the estimate stays above each, with room to spare for a busier machine."""
    estimate = cost.decode_cost(ModelConfig.from_dict(case["config"]), case["src_len"], case["strategy"],
                                case["width"], case["what_if"])
    measured = case["measured"]
    assert estimate.seconds >= 1.25 * measured["seconds"], (estimate, measured)
    assert estimate.mb >= 1.2 * measured["mb"], (estimate, measured)
    assert estimate.steps >= measured["steps"] and estimate.nodes >= measured["nodes"]


def never_ending(sizes: dict, seed: int = 0):
    task = Task(make_spec("copy"))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **sizes), seed=seed)
    with torch.no_grad():
        model.decoder.fc_out.bias[EOS_ID] = -1e4
    return model, task


@pytest.mark.parametrize("sizes", [TRANSFORMER, RNN, dict(arch="transformer", hidden_dim=16, n_layers=2, heads=16)])
def test_what_a_kept_decoding_counts_stays_within_the_estimate(sizes):
    model, task = never_ending(sizes)
    source = ["1", "2", "3"] * 10
    trace, search = run(model, task.vocab, source, Strategy("beam", width=4), top_k=10)
    assert len(trace.steps) == cost.decode_steps(model.config, len(source)) and not trace.finished
    kept = trace.nbytes() + search.nbytes()
    assert kept <= cost.decode_mb(model.config, len(source), "beam", 4) * 2 ** 20
    floats = sum(t.numel() for step in trace.steps for t in step.tensors())
    assert trace.nbytes() >= 4 * floats  # every recorded float counted (shared storages once)
    assert len(search.nodes) <= cost.decode_cost(model.config, len(source), "beam", 4).nodes


def sentence(c: ModelConfig, n: int, strategy: str, width: int, seconds: float, mb: float, what_if=False) -> str:
    with pytest.raises(BudgetError) as refused:
        decode_check(c, n, strategy, width, seconds, mb, what_if)
    return str(refused.value)


def test_a_decode_over_budget_is_refused_with_what_to_lower_and_to_what():
    c = config(arch="transformer", hidden_dim=64, n_layers=4, heads=64)  # issue 16's upload
    text = sentence(c, 200, "beam", 10, 3.0, 80.0)
    assert text.startswith("Beam width 10 on a 200-token source with this model (Transformer, 4 layers, 64 heads) ")
    assert "this app allows" in text and "per decoding:" in text and text.endswith(".") and "\n" not in text
    n = int(re.search(r"shorten the source \(to (\d+) tokens or less\)", text)[1])
    assert decode_check(c, n, "beam", 10, 3.0, 80.0) and n < 200
    with pytest.raises(BudgetError):
        decode_check(c, n + 1, "beam", 10, 3.0, 80.0)

    # where the width is what costs, lowering it is offered first, with the largest width that fits
    big = config(cell="lstm", emb_dim=32, hidden_dim=512, n_layers=4)
    limit = cost.decode_seconds(big, 60, "beam", 4) + 1e-6
    text = sentence(big, 60, "beam", 10, limit, 1000.0)
    assert re.search(r"lower the beam width \(to 4 or less\) or shorten the source \(to \d+ tokens or less\)\.$", text)
    assert "(LSTM, 4 layers, hidden size 512)" in text and "needs about" not in text  # time only: no memory said

    # what if counts both decodings; greedy names itself
    assert "then its what-if decoding," in sentence(c, 200, "beam", 10, 3.0, 80.0, what_if=True)
    assert sentence(c, 200, "greedy", 1, 3.0, 80.0).startswith("Greedy decoding of a 200-token source")

    # a model too large for even one token
    assert sentence(big, 5, "greedy", 1, 1e-4, 80.0).endswith(": pick a smaller model.")


def test_every_bundled_model_decodes_its_longest_source_within_the_default_budget():
    from playground import limits
    from playground.models import BUNDLED_NAMES, bundled
    for name in BUNDLED_NAMES:
        model = bundled(name).model
        for strategy, width in (("greedy", 1), ("beam", 10)):
            decode_check(model.config, 200, strategy, width, limits.DECODE_SECONDS, limits.DECODE_MB)


def test_a_cancelled_thread_stops_at_its_next_check():
    """in_thread: the work runs in a thread; cancelling the awaiting task sets its should_stop, and the work's next
    check raises Interrupted, which ends it (counted in steps, not seconds)."""
    started, ended = threading.Event(), threading.Event()
    steps_after_cancel = []

    def work(should_stop):
        started.set()
        cancelled_at = None
        try:
            for step in range(10_000_000):
                if cancelled_at is None and cancelled.is_set():  # set before the task is cancelled
                    cancelled_at = step
                if should_stop():
                    raise Interrupted()
                threading.Event().wait(0.001)
        finally:
            steps_after_cancel.append(None if cancelled_at is None else step - cancelled_at)
            ended.set()

    cancelled = threading.Event()

    async def main():
        task = asyncio.create_task(in_thread(work))
        while not started.is_set():
            await asyncio.sleep(0.01)
        cancelled.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(ended.wait, 30)

    asyncio.run(main())
    assert steps_after_cancel and steps_after_cancel[0] is not None and steps_after_cancel[0] <= 2


def test_in_thread_returns_the_result_and_raises_the_work_s_error():
    async def main():
        assert await in_thread(lambda x, should_stop: x + (0 if should_stop() else 1), 41) == 42
        with pytest.raises(ValueError, match="bad"):
            await in_thread(lambda should_stop: (_ for _ in ()).throw(ValueError("bad")))
    asyncio.run(main())
