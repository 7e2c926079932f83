import json
import random

import pytest
import torch
import torch.nn as nn

from seq2seq.config import ModelConfig, TrainConfig
from seq2seq import build_model, sequence_loss
from seq2seq.model import Seq2Seq, _rnn_step, _run_rnn, attention
from seq2seq.tasks import PAD_ID, Task, make_batch, make_spec
from tests.helpers import same_weights

TASK = Task(make_spec("reverse", 2, 7))


def tiny(**kw) -> Seq2Seq:
    return build_model(ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, **kw), seed=3)


def padded_batch(n=16, seed=0):
    batch = make_batch(TASK.examples(random.Random(seed), n, held_out=False), TASK.vocab)
    assert (batch.src == PAD_ID).any()  # the point is to test padding
    return batch


@pytest.mark.parametrize("kw", [dict(cell="lstm", n_layers=2), dict(cell="gru", n_layers=1),
                                dict(cell="lstm", attention=True)])
def test_fast_path_gives_the_same_loss_and_gradients_as_the_step_loop(kw):
    model = tiny(**kw).eval()  # no dropout, so both paths see the same network
    batch = padded_batch()
    fast = sequence_loss(model(batch.src, batch.src_lens, batch.trg, 1.0), batch.trg)
    fast.backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    loop = sequence_loss(model.forward_steps(batch.src, batch.src_lens, batch.trg, 1.0), batch.trg)
    loop.backward()
    assert torch.allclose(fast, loop, atol=1e-6)
    for a, p in zip(fast_grads, model.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)


def test_output_shape_and_pad_positions_do_not_count():
    model = tiny()
    batch = padded_batch()
    logits = model(batch.src, batch.src_lens, batch.trg, 1.0)
    assert logits.shape == (16, batch.trg.shape[1] - 1, len(TASK.vocab))
    loss = sequence_loss(logits, batch.trg)
    noisy = logits.detach().clone()
    noisy[batch.trg[:, 1:] == PAD_ID] = 100.0  # garbage where the target is padding
    assert torch.allclose(sequence_loss(noisy, batch.trg), loss.detach())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padded_source_encodes_like_the_same_source_alone(cell):
    model = tiny(cell=cell, n_layers=2).eval()
    batch = padded_batch()
    _, state = model.encoder(batch.src, batch.src_lens)
    h = state[0] if cell == "lstm" else state
    for row in range(len(batch)):
        alone = batch.src[row:row + 1, :int(batch.src_lens[row])]
        _, state_alone = model.encoder(alone)
        h_alone = state_alone[0] if cell == "lstm" else state_alone
        assert torch.allclose(h[:, row], h_alone[:, 0], atol=1e-6)


def test_teacher_forcing_draws_from_the_given_generator_not_global_random():
    model = tiny().eval()
    batch = padded_batch()
    state = random.getstate()
    a = model(batch.src, batch.src_lens, batch.trg, 0.5, torch.Generator().manual_seed(1))
    b = model(batch.src, batch.src_lens, batch.trg, 0.5, torch.Generator().manual_seed(1))
    assert random.getstate() == state
    assert torch.equal(a, b)
    # ratio 0 feeds the model its own guesses, so the logits differ from teacher forcing
    free = model(batch.src, batch.src_lens, batch.trg, 0.0)
    forced = model(batch.src, batch.src_lens, batch.trg, 1.0)
    assert not torch.allclose(free, forced)


def test_attention_ignores_padding_and_sums_to_one():
    keys = torch.randn(2, 4, 8)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    context, weights = attention(torch.randn(2, 3, 8), keys, mask)
    assert context.shape == (2, 3, 8) and weights.shape == (2, 3, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    assert (weights[1, :, 2:] == 0).all()


def test_build_model_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a, b = tiny(), tiny()
    assert torch.equal(torch.rand(1), expected_next)
    assert same_weights(a, b)


def test_configs_round_trip_through_json_and_reject_bad_values():
    config = ModelConfig(14, 14, cell="gru", emb_dim=16, hidden_dim=32, n_layers=2, dropout=0.5, attention=True)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    train = TrainConfig(steps=None, time_budget=30.0, target_accuracy=0.99, seed=5, eval_seconds=2.5)
    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) == train
    assert TrainConfig.from_dict({"steps": 10}).eval_seconds is None  # configs saved before it existed
    for bad in (0, -1.0, 3601, float("nan")):
        with pytest.raises(ValueError, match="eval_seconds"):
            TrainConfig(eval_seconds=bad).validate()
    with pytest.raises(ValueError, match="cell"):
        ModelConfig(14, 14, cell="transformer").validate()
    with pytest.raises(ValueError, match="hidden_dim"):
        ModelConfig(14, 14, hidden_dim=0).validate()
    with pytest.raises(ValueError, match="unknown field"):
        ModelConfig.from_dict({"src_vocab_size": 14, "trg_vocab_size": 14, "kernel": 8})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1).validate()
    with pytest.raises(ValueError, match="never ends"):
        TrainConfig(steps=None).validate()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_decoder_step_is_the_rnn_modules_own_step_in_eval_mode(cell):
    model = tiny(cell=cell, n_layers=2, dropout=0.5).eval()
    rnn = model.decoder.rnn
    x = torch.randn(4, 8)
    state = (torch.randn(2, 4, 16), torch.randn(2, 4, 16)) if cell == "lstm" else torch.randn(2, 4, 16)
    output, new_state = _rnn_step(rnn, x, state)
    expected, expected_state = rnn(x.unsqueeze(1), state)
    assert torch.allclose(output, expected[:, 0], atol=1e-6)
    if cell == "gru":
        new_state, expected_state = [new_state], [expected_state]
    for a, b in zip(new_state, expected_state):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_layer_by_layer_rnn_is_the_modules_own_computation(cell, packed):
    """While training with dropout the RNN's layers run one at a time (so their dropout uses the run's
    generator); with a vanishing dropout that must be exactly what the module computes."""
    rnn = tiny(cell=cell, n_layers=3, dropout=0.5).encoder.rnn
    x = torch.randn(5, 7, 8, generator=torch.Generator().manual_seed(0))
    if packed:
        x = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([7, 3, 5, 1, 6]), batch_first=True, enforce_sorted=False)
    rnn.dropout = 1e-12  # masks of ones, scaled by 1 + 1e-12: the same numbers as no dropout at all
    output, state = _run_rnn(rnn.train(), x, None, torch.Generator().manual_seed(0))
    expected, expected_state = rnn.eval()(x)
    unpack = (lambda o: o.data) if packed else (lambda o: o)
    assert torch.equal(unpack(output), unpack(expected))
    for a, b in zip(state if cell == "lstm" else [state], expected_state if cell == "lstm" else [expected_state]):
        assert torch.equal(a, b)
    rnn.dropout = 0.5  # ... and a real dropout between the layers changes them
    assert not torch.allclose(unpack(_run_rnn(rnn.train(), x, None, torch.Generator().manual_seed(0))[0]),
                              unpack(expected))


@pytest.mark.parametrize("kw", [dict(n_layers=2, dropout=0.5),
                                dict(attention="additive", bidirectional=True, n_layers=2, dropout=0.5),
                                dict(attention="general", bidirectional=True, cell="gru", n_layers=2, dropout=0.5)],
                         ids=["seed-lstm", "additive-bi", "general-bi-gru"])
@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5], ids=["fast-path", "step-loop"])
def test_dropout_draws_from_the_given_generator_only(kw, teacher_forcing):
    model = tiny(**kw).train()
    batch = padded_batch()

    def logits(seed):
        return model(batch.src, batch.src_lens, batch.trg, teacher_forcing, torch.Generator().manual_seed(1),
                     torch.Generator().manual_seed(seed))

    torch_state, python_state = torch.random.get_rng_state(), random.getstate()
    a, b, other = logits(7), logits(7), logits(8)
    assert torch.equal(torch.random.get_rng_state(), torch_state) and random.getstate() == python_state
    assert torch.equal(a, b) and not torch.allclose(a, other)
    model.eval()  # no dropout in eval mode: the generator makes no difference
    assert torch.equal(logits(7), logits(8))
    with pytest.raises(ValueError, match="needs a torch.Generator"):
        model.train()(batch.src, batch.src_lens, batch.trg, teacher_forcing, torch.Generator())


# ---------------------------------------------------------------- attention kinds and the bidirectional encoder

VARIANTS = [dict(attention="dot"), dict(attention="general"), dict(attention="additive"),
            dict(attention="dot", bidirectional=True), dict(attention="general", bidirectional=True, cell="gru"),
            dict(attention="additive", bidirectional=True, n_layers=2)]
IDS = ["dot", "general", "additive", "dot-bi", "general-bi-gru", "additive-bi-2-layers"]


@pytest.mark.parametrize("kw", VARIANTS, ids=IDS)
def test_every_attention_kind_sums_to_one_per_step_and_is_zero_on_pad(kw):
    model = tiny(**kw).eval()
    batch = padded_batch()
    with torch.no_grad():
        state, memory = model.encode(batch.src, batch.src_lens)
        _, _, weights = model.decoder.forward_sequence(batch.trg[:, :-1], state, memory)
        _, _, step = model.decoder(batch.trg[:, 0], state, memory)
    steps = batch.trg.shape[1] - 1
    assert weights.shape == (16, steps, batch.src.shape[1]) and step.shape == (16, batch.src.shape[1])
    assert torch.allclose(weights.sum(-1), torch.ones(16, steps), atol=1e-5)
    pad = (batch.src == PAD_ID).unsqueeze(1).expand_as(weights)
    assert (weights[pad] == 0).all() and (weights[~pad] > 0).all()
    assert torch.allclose(step, weights[:, 0], atol=1e-6)  # one step is the first of the sequence
    assert weights.std(-1).max() > 1e-3  # real distributions, not merely uniform ones


@pytest.mark.parametrize("kw", VARIANTS, ids=IDS)
def test_fast_path_equals_the_step_loop_for_every_attention_kind(kw):
    model = tiny(**kw).eval()
    batch = padded_batch()
    fast = sequence_loss(model(batch.src, batch.src_lens, batch.trg, 1.0), batch.trg)
    loop = sequence_loss(model.forward_steps(batch.src, batch.src_lens, batch.trg, 1.0), batch.trg)
    assert torch.allclose(fast, loop, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_bidirectional_encoder_bridges_both_directions_into_the_decoders_state(cell):
    model = tiny(cell=cell, n_layers=2, bidirectional=True).eval()
    assert model.encoder.rnn.bidirectional and model.encoder.output_dim == 32
    assert (model.encoder.bridge_c is not None) == (cell == "lstm")
    batch = padded_batch()
    outputs, state = model.encoder(batch.src, batch.src_lens)
    assert outputs.shape[-1] == 32  # [forward; backward] outputs
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 16, 16)  # the decoder's shape: [layers, batch, hidden]
    for row in range(len(batch)):  # padding changes nothing, in either direction
        alone = batch.src[row:row + 1, :int(batch.src_lens[row])]
        out_alone, state_alone = model.encoder(alone)
        h_alone = state_alone[0] if cell == "lstm" else state_alone
        assert torch.allclose(h[:, row], h_alone[:, 0], atol=1e-6)
        assert torch.allclose(outputs[row, :alone.shape[1]], out_alone[0], atol=1e-6)
    # (one layer) the backward direction reads the source from its last real token: its first output has seen
    # the whole source, the forward one only the first token
    model = tiny(cell=cell, bidirectional=True).eval()
    outputs, _ = model.encoder(batch.src, batch.src_lens)
    changed = batch.src.clone()
    last = int(batch.src_lens[0]) - 1
    changed[0, last] = 5 if int(changed[0, last]) != 5 else 6
    changed_outputs, _ = model.encoder(changed, batch.src_lens)
    assert not torch.allclose(changed_outputs[0, 0, 16:], outputs[0, 0, 16:])
    assert torch.allclose(changed_outputs[0, 0, :16], outputs[0, 0, :16])  # the forward one has not seen it yet


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_layer_by_layer_bidirectional_rnn_is_the_modules_own_computation(packed):
    rnn = tiny(n_layers=2, dropout=0.5, bidirectional=True).encoder.rnn
    x = torch.randn(5, 7, 8, generator=torch.Generator().manual_seed(0))
    if packed:
        x = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([7, 3, 5, 1, 6]), batch_first=True, enforce_sorted=False)
    rnn.dropout = 1e-12
    output, state = _run_rnn(rnn.train(), x, None, torch.Generator().manual_seed(0))
    expected, expected_state = rnn.eval()(x)
    unpack = (lambda o: o.data) if packed else (lambda o: o)
    assert torch.allclose(unpack(output), unpack(expected), atol=1e-6)
    for a, b in zip(state, expected_state):
        assert torch.allclose(a, b, atol=1e-6)


def test_attention_was_a_bool_and_still_may_be():
    old = {"src_vocab_size": 14, "trg_vocab_size": 14, "cell": "lstm", "emb_dim": 32, "hidden_dim": 128,
           "n_layers": 1, "dropout": 0.0, "attention": True}  # a version-1 config.json
    config = ModelConfig.from_dict(old)
    assert config.attention == "dot" and config.arch == "rnn" and not config.bidirectional
    assert config == ModelConfig(14, 14, attention="dot")
    assert ModelConfig.from_dict({**old, "attention": False}).attention == "none"
    assert json.loads(json.dumps(config.to_dict()))["attention"] == "dot"
    # code written for the bool still reads it right: "none" is false, every kind true
    assert not ModelConfig(14, 14).attention and not ModelConfig(14, 14, attention=False).attention
    assert all(ModelConfig(14, 14, attention=kind).attention for kind in ("dot", "general", "additive", True))
    for kind in ("general", "additive"):
        config = ModelConfig(14, 14, attention=kind, bidirectional=True)
        assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert "additive attention" in ModelConfig(14, 14, attention="additive", bidirectional=True).describe()
    assert "4 heads" in ModelConfig(14, 14, arch="transformer").describe()


@pytest.mark.parametrize("kw, message", [
    (dict(attention="bahdanau"), "attention must be one of none, dot, general, additive"),
    (dict(attention=1), "attention"),
    (dict(bidirectional="yes"), "bidirectional must be true or false"),
    (dict(arch="cnn"), "arch must be one of rnn, transformer"),
    (dict(heads=100), "heads"),
    (dict(ff_dim=-1), "ff_dim"),
    (dict(positions="none"), "positions must be one of"),
])
def test_new_model_fields_are_validated_in_one_line(kw, message):
    with pytest.raises(ValueError, match=message) as info:
        ModelConfig(14, 14, **kw).validate()
    assert "\n" not in str(info.value)
    ModelConfig(14, 14, hidden_dim=30).validate()  # heads only has to divide a Transformer's d_model


def test_additive_bidirectional_attention_learns_reverse():
    task = Task(make_spec("reverse", 3, 6))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=64, attention="additive",
                                    bidirectional=True), seed=0)
    from seq2seq.training import evaluate, train, validation_set
    examples = validation_set(task, 200)
    before = evaluate(model, task, examples)
    for _ in train(model, task, TrainConfig(steps=120, batch_size=64, eval_every=120, val_size=50)):
        pass
    after = evaluate(model, task, examples)
    # chance is 10^-length; this run reaches 0.73 exact match, 0.94 token accuracy
    assert before.exact_match < 0.02 and after.exact_match > 0.5 and after.token_accuracy > 0.8
