import pytest
import torch

from seq2seq.config import ModelConfig
from seq2seq.decode import exact_and_token_hits, evaluating, greedy_decode, greedy_decode_batch
from seq2seq.model import build_model
from seq2seq.tasks import EOS_ID, PAD_ID, SOS_ID, Example, make_batch


def test_trace_records_every_step_with_top_k(short_reverse):
    model, task = short_reverse
    trace = greedy_decode(model, task.vocab, "3 1 4 1", top_k=4)
    assert trace.source == "3 1 4 1"
    assert trace.output == "1 4 1 3"
    assert trace.finished
    assert [s.token for s in trace.steps] == ["1", "4", "1", "3", "<eos>"]
    assert [s.input for s in trace.steps] == ["<sos>", "1", "4", "1", "3"]
    for step in trace.steps:
        assert len(step.top) == 4
        probs = [p for _, p in step.top]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
        assert step.top[0] == (step.token, step.prob)  # greedy takes the most likely token
        assert step.attention is None  # this model has no attention
    assert trace.steps[0].prob > 0.5


def test_to_dict_is_plain_json_data(short_reverse):
    model, task = short_reverse
    data = greedy_decode(model, task.vocab, "345").to_dict()
    assert data["source"] == "3 4 5" and data["output"] == "5 4 3"
    assert data["steps"][0] == {"input": "<sos>", "token": "5", "prob": data["steps"][0]["prob"],
                                "top": [list(p) for p in data["steps"][0]["top"]]}


def test_max_len_stops_an_unfinished_decode(short_reverse):
    model, task = short_reverse
    trace = greedy_decode(model, task.vocab, "3 1 4 1 5", max_len=2)
    assert len(trace.steps) == 2 and not trace.finished
    assert trace.output == "5 1"


def test_decoding_does_not_change_the_model_mode(short_reverse):
    model, task = short_reverse
    model.train()
    greedy_decode(model, task.vocab, "1 2 3")
    assert model.training
    model.eval()


def test_bad_sources_raise_clear_errors(short_reverse):
    model, task = short_reverse
    with pytest.raises(ValueError, match="empty"):
        greedy_decode(model, task.vocab, "")
    with pytest.raises(ValueError, match="'a'"):
        greedy_decode(model, task.vocab, "1 a 2")


@pytest.mark.parametrize("attention", [False, True])
def test_batched_greedy_matches_one_at_a_time(short_reverse, attention):
    _, task = short_reverse
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16,
                                    attention=attention), seed=1)
    sources = [["1", "2", "3"], ["9", "8", "7", "6", "5", "4"], ["5"], ["0", "0", "1", "2"]]
    batch = make_batch([Example(s, s) for s in sources], task.vocab)
    with evaluating(model):
        ids, logits, attn = greedy_decode_batch(model, batch.src, batch.src_lens, 8, stop_at_eos=False)
    assert ids.shape == (4, 8) and logits.shape == (4, 8, len(task.vocab))
    assert (attn is not None) == attention
    for row, source in enumerate(sources):
        trace = greedy_decode(model, task.vocab, source, max_len=8)
        assert trace.output == " ".join(task.vocab.decode(ids[row].tolist()))
        if attention:
            assert trace.steps[0].attention == pytest.approx(attn[row, 0, :len(source)].tolist(), abs=1e-5)
            assert (attn[row, :, len(source):] == 0).all()


def test_exact_and_token_hits_count_eos_and_length():
    e, a, b, c = EOS_ID, 5, 6, 7
    trg = torch.tensor([[SOS_ID, a, b, e], [SOS_ID, a, b, e], [SOS_ID, a, e, PAD_ID], [SOS_ID, c, e, PAD_ID]])
    pred = torch.tensor([[a, b, e], [a, b, b], [a, e, a], [a, e, e]])
    exact, correct, total = exact_and_token_hits(pred, trg)
    assert exact.tolist() == [True, False, True, False]   # row 2: what follows <eos> does not matter
    assert correct.tolist() == [3, 2, 2, 1]
    assert total.tolist() == [3, 3, 2, 2]
    # decoding that stopped before the target's end counts the missing tokens as wrong
    exact, correct, total = exact_and_token_hits(pred[:, :1], trg)
    assert not exact.any() and correct.tolist() == [1, 1, 1, 0]
