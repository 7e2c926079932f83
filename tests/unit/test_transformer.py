"""seq2seq/transformer.py: the Transformer keeps Seq2Seq's interface (encode, one cached decoder step, reorder,
forward), its cached step-by-step decoding is its full-sequence computation, its cross-attention is a
distribution over the real source tokens in every layer and head, it draws randomness only from the caller's
generators, and it learns."""
import random

import pytest
import torch

from seq2seq.config import MAX_POSITIONS, ModelConfig, TrainConfig
from seq2seq.decode import beam_search, decode_batch, evaluating, greedy_decode
from seq2seq import build_model, sequence_loss
from seq2seq.tasks import PAD_ID, Task, make_batch, make_spec
from seq2seq.training import evaluate, train, validation_set
from seq2seq.transformer import Transformer
from tests.helpers import same_weights

TASK = Task(make_spec("reverse", 2, 7))
V = len(TASK.vocab)


def tiny(**kw) -> Transformer:
    config = dict(arch="transformer", hidden_dim=32, heads=4, n_layers=2, ff_dim=64)
    return build_model(ModelConfig(V, V, **{**config, **kw}), seed=3)


def padded_batch(n=16, seed=0):
    batch = make_batch(TASK.examples(random.Random(seed), n, held_out=False), TASK.vocab)
    assert (batch.src == PAD_ID).any() and len(set(batch.src_lens.tolist())) > 2  # really padded
    return batch


def test_build_model_builds_a_transformer_with_its_config():
    model = tiny()
    assert isinstance(model, Transformer) and model.config.arch == "transformer"
    assert len(model.encoder.layers) == 2 and len(model.decoder.layers) == 2
    assert model.decoder.layers[0].ff.inner.out_features == 64
    # the same seed, the same weights; another seed, others
    assert same_weights(tiny(), model)
    assert not same_weights(build_model(model.config, seed=4), model)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_cached_step_by_step_decoding_equals_the_full_sequence(positions):
    model = tiny(positions=positions).eval()
    batch = padded_batch()
    inputs = batch.trg[:, :-1]
    with torch.no_grad():
        state, memory = model.encode(batch.src, batch.src_lens)
        full, _, full_weights = model.decoder.forward_sequence(inputs, state, memory)  # [batch, steps, vocab]
        steps, weights = [], []
        for t in range(inputs.shape[1]):
            logits, state, w = model.decoder(inputs[:, t], state, memory)
            steps.append(logits)
            weights.append(w)
    assert state.steps == inputs.shape[1]  # the cache grew by one step per call
    cached = torch.stack(steps, 1)
    assert full.shape == cached.shape == (16, inputs.shape[1], V)
    assert (full - cached).abs().max() < 1e-5
    assert (full_weights - torch.stack(weights, 1)).abs().max() < 1e-5
    # and the fast path of forward() is that same computation, as is the step loop at teacher forcing 1
    with torch.no_grad():
        assert (model(batch.src, batch.src_lens, batch.trg, 1.0) - full).abs().max() < 1e-5
        assert (model.forward_steps(batch.src, batch.src_lens, batch.trg, 1.0) - full).abs().max() < 1e-5


def test_a_padded_source_decodes_like_the_same_source_alone():
    model = tiny().eval()
    batch = padded_batch()
    with evaluating(model):
        _, logits, _ = decode_batch(model, batch.src, batch.src_lens, 6, stop_at_eos=False)
        for row in range(4):
            alone = batch.src[row:row + 1, :int(batch.src_lens[row])]
            _, alone_logits, _ = decode_batch(model, alone, None, 6, stop_at_eos=False)
            assert (alone_logits[0] - logits[row]).abs().max() < 1e-5


def test_cross_attention_of_every_layer_and_head_sums_to_one_and_is_zero_on_pad():
    model = tiny(heads=2).eval()
    batch = padded_batch()
    with evaluating(model):
        ids, _, attn = decode_batch(model, batch.src, batch.src_lens, 5, stop_at_eos=False)
    assert attn.shape == (16, 5, 2, 2, batch.src.shape[1])  # [batch, steps, layers, heads, src_len]
    assert torch.allclose(attn.sum(-1), torch.ones(16, 5, 2, 2), atol=1e-5)
    pad = (batch.src == PAD_ID)[:, None, None, None, :].expand_as(attn)
    assert (attn[pad] == 0).all() and (attn[~pad] > 0).all()
    assert attn.std(-1).max() > 1e-3  # not merely uniform: the heads look at different tokens


def test_the_trace_has_the_mean_attention_and_every_heads_row():
    model = tiny().eval()
    trace = greedy_decode(model, TASK.vocab, "1 2 3 4", max_len=3)
    assert len(trace.steps) == 3
    for step in trace.steps:
        heads = torch.tensor(step.heads)
        assert heads.shape == (2, 4, 4)  # layers x heads x source tokens
        assert torch.allclose(heads.sum(-1), torch.ones(2, 4), atol=1e-4)
        assert step.attention == pytest.approx(heads.mean((0, 1)).tolist(), abs=1e-5)
        assert len(step.dist) == V and sum(step.dist) == pytest.approx(1, abs=1e-4)
        assert step.dist[TASK.vocab.stoi[step.token]] == step.prob
    data = trace.to_dict()
    assert len(data["steps"][0]["heads"]) == 2


def test_dropout_and_teacher_forcing_draw_only_from_the_given_generators():
    model = tiny(dropout=0.3).train()
    batch = padded_batch()

    def logits(ratio, seed):
        return model(batch.src, batch.src_lens, batch.trg, ratio, torch.Generator().manual_seed(1),
                     torch.Generator().manual_seed(seed))

    torch_state, python_state = torch.random.get_rng_state(), random.getstate()
    for ratio in (1.0, 0.5):
        a, b, other = logits(ratio, 7), logits(ratio, 7), logits(ratio, 8)
        assert torch.equal(a, b) and not torch.allclose(a, other)
    assert torch.equal(torch.random.get_rng_state(), torch_state) and random.getstate() == python_state
    with pytest.raises(ValueError, match="needs a torch.Generator"):
        model(batch.src, batch.src_lens, batch.trg, 1.0, torch.Generator())
    model.eval()
    assert torch.equal(logits(0.5, 7), logits(0.5, 8))  # no dropout in eval mode


def test_learned_positions_refuse_a_longer_source_and_decoding_stops_at_them():
    model = tiny(positions="learned").eval()
    with pytest.raises(ValueError, match=f"at most {MAX_POSITIONS} tokens; the source has {MAX_POSITIONS + 1}"):
        model.encode(torch.full((1, MAX_POSITIONS + 1), 5), None)
    with evaluating(model):
        ids, _, _ = decode_batch(model, torch.full((1, 3), 5), None, MAX_POSITIONS + 50, stop_at_eos=False)
    assert ids.shape[1] == MAX_POSITIONS  # as many steps as it has positions, not an error
    sinusoidal = tiny().eval()
    with evaluating(sinusoidal):
        ids, _, _ = decode_batch(sinusoidal, torch.full((1, 3), 5), None, MAX_POSITIONS + 50, stop_at_eos=False)
    assert ids.shape[1] == MAX_POSITIONS + 50


@pytest.mark.parametrize("kw, message", [
    (dict(hidden_dim=30, heads=4), "divisible by heads"),
    (dict(heads=0), "heads"),
    (dict(positions="rotary"), "positions"),
    (dict(ff_dim=0), "ff_dim"),
    (dict(arch="lstm"), "arch"),
])
def test_bad_transformer_settings_fail_with_one_line(kw, message):
    config = ModelConfig(V, V, **{**dict(arch="transformer", hidden_dim=32), **kw})
    with pytest.raises(ValueError, match=message) as info:
        config.validate()
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def trained():
    """A Transformer trained a few seconds on reverse 3-6: (model, task, accuracy before, exact match after)."""
    task = Task(make_spec("reverse", 3, 6))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), arch="transformer", hidden_dim=64, heads=4,
                                    n_layers=2, ff_dim=128), seed=0)
    examples = validation_set(task, 200)
    before = evaluate(model, task, examples).exact_match
    for _ in train(model, task, TrainConfig(steps=150, batch_size=64, lr=2e-3, eval_every=150, val_size=50)):
        pass
    return model, task, before, evaluate(model, task, examples)


def test_the_transformer_learns_reverse(trained):
    _, _, before, after = trained
    # chance is 10^-length; this run reaches 0.795 exact match, 0.92 token accuracy
    assert before < 0.02 and after.exact_match > 0.5 and after.token_accuracy > 0.8


def test_beam_of_one_is_greedy_and_wider_beams_score_at_least_as_well(trained):
    model, task, _, _ = trained
    for example in validation_set(task, 10, seed=5):
        greedy = greedy_decode(model, task.vocab, example.source)
        one = beam_search(model, task.vocab, example.source, width=1)
        assert one.beams[0].tokens == greedy.output.split()
        assert one.beams[0].logp == pytest.approx(sum(torch.tensor(s.prob).log().item() for s in greedy.steps),
                                                  abs=1e-4)
        wide = beam_search(model, task.vocab, example.source, width=5)
        assert wide.beams[0].score >= one.beams[0].score - 1e-6
        for beam in wide.beams:  # each beam's log-probability (cache reordered) is the model's without a cache
            assert beam.logp == pytest.approx(_logp(model, task, example.source, beam), abs=1e-4)


def _logp(model, task, source, beam) -> float:
    """log P(beam | source), from the full-sequence (uncached) decoder."""
    tokens = ["<sos>"] + beam.tokens + (["<eos>"] if beam.finished else [])
    trg = torch.tensor([[task.vocab.stoi[t] for t in tokens]])
    src = torch.tensor([task.vocab.encode(list(source))])
    with evaluating(model):
        state, memory = model.encode(src, None)
        logits, _, _ = model.decoder.forward_sequence(trg[:, :-1], state, memory)
    return float(logits.log_softmax(-1)[0].gather(1, trg[0, 1:, None]).sum())


def test_a_training_step_gives_every_parameter_a_gradient():
    """TrainState keeps Adam's moments for all parameters or none: each must get a gradient."""
    model = tiny(positions="learned").train()
    batch = padded_batch()
    sequence_loss(model(batch.src, batch.src_lens, batch.trg, 1.0, None, torch.Generator()), batch.trg).backward()
    assert all(p.grad is not None for p in model.parameters())
