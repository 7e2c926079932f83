import json
import random

import pytest
import torch

from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.model import Seq2Seq, attention, build_model, sequence_loss
from seq2seq.tasks import PAD_ID, Task, make_batch, make_spec

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
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_configs_round_trip_through_json_and_reject_bad_values():
    config = ModelConfig(14, 14, cell="gru", emb_dim=16, hidden_dim=32, n_layers=2, dropout=0.5, attention=True)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    train = TrainConfig(steps=None, time_budget=30.0, target_accuracy=0.99, seed=5)
    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) == train
    with pytest.raises(ValueError, match="cell"):
        ModelConfig(14, 14, cell="transformer").validate()
    with pytest.raises(ValueError, match="hidden_dim"):
        ModelConfig(14, 14, hidden_dim=0).validate()
    with pytest.raises(ValueError, match="unknown field"):
        ModelConfig.from_dict({"src_vocab_size": 14, "trg_vocab_size": 14, "heads": 8})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1).validate()
    with pytest.raises(ValueError, match="never ends"):
        TrainConfig(steps=None).validate()
