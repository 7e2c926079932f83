import json
import math

import pytest
import torch

from seq2seq import load_checkpoint, validation_set
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.decode import Forced, Sampling, beam_search, exact_and_token_hits, evaluating, greedy_decode, \
    greedy_decode_batch
from seq2seq.builder import build_model
from seq2seq.tasks import EOS_ID, PAD_ID, SOS_ID, Example, make_batch
from tests.helpers import CHECKPOINTS


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
    data = greedy_decode(model, task.vocab, "345", top_k=2).to_dict()
    assert json.loads(json.dumps(data)) == data  # JSON types only: a tuple left in would come back a list
    assert data["source"] == "3 4 5" and data["output"] == "5 4 3" and data["finished"] is True
    assert [s["token"] for s in data["steps"]] == ["5", "4", "3", "<eos>"]
    first = data["steps"][0]
    assert set(first) == {"input", "token", "prob", "top", "dist"}  # no "attention" for a model without attention
    assert len(first["dist"]) == len(task.vocab) and sum(first["dist"]) == pytest.approx(1, abs=1e-4)
    assert first["input"] == "<sos>" and isinstance(first["prob"], float) and 0.5 < first["prob"] <= 1
    assert len(first["top"]) == 2 and first["top"][0][0] == "5"

    attending = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16,
                                        attention=True), seed=1)
    data = greedy_decode(attending, task.vocab, "3 4 5", max_len=2).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert [len(s["attention"]) for s in data["steps"]] == [3, 3]  # one weight per source token
    assert all(sum(s["attention"]) == pytest.approx(1, abs=1e-5) for s in data["steps"])


def test_max_len_stops_an_unfinished_decode(short_reverse):
    model, task = short_reverse
    trace = greedy_decode(model, task.vocab, "3 1 4 1 5", max_len=2)
    assert len(trace.steps) == 2 and not trace.finished
    assert trace.output == "5 1"


def test_decoding_is_in_eval_mode_and_gives_the_model_its_mode_back(short_reverse):
    _, task = short_reverse
    # dropout 0.5 on embeddings and between layers: decoding in training mode would drop units
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16, n_layers=2,
                                    dropout=0.5), seed=1)
    model.eval()
    reference = greedy_decode(model, task.vocab, "1 2 3 4", top_k=len(task.vocab))
    model.train()
    assert greedy_decode(model, task.vocab, "1 2 3 4", top_k=len(task.vocab)) == reference
    assert model.training  # a decode in the middle of training does not switch training's dropout off
    model.eval()
    greedy_decode(model, task.vocab, "1 2 3 4")
    assert not model.training


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
        trace = greedy_decode(model, task.vocab, source, max_len=8)  # alone: no padding, no lengths
        assert trace.output == " ".join(task.vocab.decode(ids[row].tolist()))
        # the same probabilities at every step, not merely the same argmax (which an untrained model
        # may keep whatever its input): padding the shorter sources changed nothing
        probs = logits[row, :len(trace.steps)].softmax(-1)
        chosen = probs.gather(1, ids[row, :len(trace.steps), None]).squeeze(1)
        assert [s.prob for s in trace.steps] == pytest.approx(chosen.tolist(), abs=1e-5)
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


# ---------------------------------------------------------------- policies and beam search

BUNDLED = CHECKPOINTS


def sources(task, n=15):
    return [ex.source for ex in validation_set(task, n, seed=5)]


@pytest.mark.parametrize("name", ["reverse", "sort", "addition"])
def test_beam_of_width_one_is_greedy_and_wider_beams_score_at_least_as_well(name):
    checkpoint = load_checkpoint(BUNDLED / name)
    model, vocab = checkpoint.model, checkpoint.task.vocab
    for source in sources(checkpoint.task):
        greedy = greedy_decode(model, vocab, source)
        one = beam_search(model, vocab, source, width=1)
        assert one.beams[0].tokens == greedy.output.split() and one.beams[0].finished == greedy.finished
        greedy_logp = sum(math.log(step.prob) for step in greedy.steps)
        assert one.beams[0].logp == pytest.approx(greedy_logp, abs=1e-4)
        wide = beam_search(model, vocab, source, width=5)
        assert len(wide.beams) == 5 and wide.beams[0].score >= one.beams[0].score - 1e-6
        assert [b.score for b in wide.beams] == sorted((b.score for b in wide.beams), reverse=True)


def test_the_tree_rebuilds_every_final_beam_and_records_what_was_pruned():
    checkpoint = load_checkpoint(BUNDLED / "addition")
    result = beam_search(checkpoint.model, checkpoint.task.vocab, "4 7 + 5 8", width=3)
    assert result.beams[0].tokens == ["1", "0", "5"]
    nodes = result.nodes
    assert nodes[0].parent is None and all(n.parent < n.id for n in nodes[1:])  # parents come first
    for beam in result.beams:
        assert result.path(beam.node) == beam.tokens + (["<eos>"] if beam.finished else [])
        assert nodes[beam.node].survived and nodes[beam.node].logp == pytest.approx(beam.logp)
    for step in range(1, max(n.step for n in nodes) + 1):
        expanded = [n for n in nodes if n.step == step]
        parents = {n.parent for n in expanded}
        assert all(nodes[p].survived and not nodes[p].finished for p in parents)  # only live ones grow
        assert len(expanded) == 3 * len(parents)  # each into its 3 best next tokens ...
        assert 1 <= sum(n.survived for n in expanded) <= 3  # ... of which at most 3 go on
    assert sum(not n.survived for n in nodes) > 0  # and the pruned ones are in the tree too
    with pytest.raises(ValueError, match="between 1 and 10"):
        beam_search(checkpoint.model, checkpoint.task.vocab, "1 + 2", width=11)


def test_sampling_with_a_seed_repeats_and_its_filters_do_what_they_say():
    checkpoint = load_checkpoint(BUNDLED / "reverse")
    model, vocab = checkpoint.model, checkpoint.task.vocab
    hot = [greedy_decode(model, vocab, "3 1 4 1 5 9", policy=Sampling(temperature=5.0, seed=s)).output
           for s in (1, 1, 2)]
    assert hot[0] == hot[1] and hot[0] != hot[2]  # the same seed draws the same tokens
    greedy = greedy_decode(model, vocab, "3 1 4 1 5 9").output
    assert greedy_decode(model, vocab, "3 1 4 1 5 9", policy=Sampling(5.0, top_k=1, seed=3)).output == greedy
    assert greedy_decode(model, vocab, "3 1 4 1 5 9", policy=Sampling(5.0, top_p=1e-6, seed=3)).output == greedy
    # ids 0, 1, 3 are padding, start and unknown: never drawn, however likely; the rest are 0.61, 0.22, 0.14, 0.03
    logits = torch.tensor([[9.0, 9.0, -1.0, 9.0, 2.0, 1.0, 0.5]])
    drawn = {int(Sampling(1.0, top_p=0.8, seed=s).choose(logits, 0)) for s in range(200)}
    assert drawn == {4, 5}  # 0.61 + 0.22 reach 0.8: the rest are never drawn
    assert {int(Sampling(3.0, seed=s).choose(logits, 0)) for s in range(200)} == {2, 4, 5, 6}
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=0)


def test_forcing_a_token_changes_that_step_and_the_rest_goes_on_from_it():
    checkpoint = load_checkpoint(BUNDLED / "reverse")
    model, vocab = checkpoint.model, checkpoint.task.vocab
    greedy = greedy_decode(model, vocab, "3 1 4 1 5 9")
    forced = greedy_decode(model, vocab, "3 1 4 1 5 9", policy=Forced({2: vocab.stoi["7"]}))
    assert [s.token for s in forced.steps[:2]] == [s.token for s in greedy.steps[:2]]
    assert greedy.steps[2].token == "1" and forced.steps[2].token == "7" and forced.steps[3].input == "7"
    assert forced.steps[2].prob < 0.01  # the model did not want it: the step says so


# ---------------------------------------------------------------- every model variant


def test_each_step_carries_the_whole_distribution(short_reverse):
    model, task = short_reverse
    trace = greedy_decode(model, task.vocab, "3 1 4 1", top_k=2)
    for step in trace.steps:
        assert len(step.dist) == len(task.vocab) and sum(step.dist) == pytest.approx(1, abs=1e-4)
        assert step.dist[task.vocab.stoi[step.token]] == step.prob
        ranked = sorted(range(len(step.dist)), key=lambda i: -step.dist[i])[:2]
        assert [(task.vocab.itos[i], step.dist[i]) for i in ranked] == step.top  # top is the head of dist
        assert step.heads is None
    assert "heads" not in trace.to_dict()["steps"][0]


VARIANTS = {"general": dict(attention="general"), "additive-bi": dict(attention="additive", bidirectional=True),
            "dot-bi-gru": dict(attention="dot", bidirectional=True, cell="gru", n_layers=2),
            "transformer": dict(arch="transformer", heads=4, n_layers=2)}  # d_model: hidden_dim 16


@pytest.fixture(scope="module")
def additive():
    """A bidirectional additive-attention model trained a little on reverse 3-6 (about 0.7 exact match)."""
    from seq2seq.tasks import Task, make_spec
    from seq2seq.training import train
    task = Task(make_spec("reverse", 3, 6))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=64,
                                    attention="additive", bidirectional=True), seed=0)
    for _ in train(model, task, TrainConfig(steps=120, batch_size=64, eval_every=120, val_size=50)):
        pass
    return model, task


@pytest.mark.parametrize("name", [*VARIANTS, "trained-additive-bi"])
def test_beam_search_works_for_every_variant(short_reverse, additive, name):
    """Width 1 is greedy; wider beams score at least as well; every beam's log-probability, found with states
    reordered from step to step, is what the model gives that token sequence in one teacher-forced pass."""
    if name == "trained-additive-bi":
        model, task = additive
    else:
        task = short_reverse[1]
        model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16,
                                        **VARIANTS[name]), seed=2)
    for source in ["3 1 4 1", "9 2 6", "5 3 5 8 9"]:
        greedy = greedy_decode(model, task.vocab, source, max_len=8)
        one = beam_search(model, task.vocab, source, width=1, max_len=8)
        chosen = [s.token for s in greedy.steps][:len(greedy.steps) - greedy.finished]  # never <pad>, <sos>, <unk>
        assert one.beams[0].tokens == chosen and one.beams[0].finished == greedy.finished
        wide = beam_search(model, task.vocab, source, width=5, max_len=8)
        assert wide.beams[0].score >= one.beams[0].score - 1e-6
        for beam in wide.beams + one.beams:
            tokens = ["<sos>", *beam.tokens, *(["<eos>"] if beam.finished else [])]
            trg = torch.tensor([[task.vocab.stoi[t] for t in tokens]])
            src = torch.tensor([task.vocab.encode(task.vocab.parse(source))])
            with evaluating(model):
                logits = model(src, None, trg, 1.0)
            expected = float(logits.log_softmax(-1)[0].gather(1, trg[0, 1:, None]).sum())
            assert beam.logp == pytest.approx(expected, abs=1e-4)
    if name == "trained-additive-bi":
        assert greedy_decode(model, task.vocab, "3 1 4 1").output == "1 4 1 3"  # it did learn


@pytest.mark.parametrize("name", list(VARIANTS))
def test_batched_greedy_matches_one_at_a_time_for_every_variant(short_reverse, name):
    _, task = short_reverse
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16, **VARIANTS[name]),
                        seed=1)
    sources = [["1", "2", "3"], ["9", "8", "7", "6", "5", "4"], ["5"], ["0", "0", "1", "2"]]
    batch = make_batch([Example(s, s) for s in sources], task.vocab)
    with evaluating(model):
        ids, logits, attn = greedy_decode_batch(model, batch.src, batch.src_lens, 6, stop_at_eos=False)
    transformer = name == "transformer"
    assert attn.shape == ((4, 6, 2, 4, 6) if transformer else (4, 6, 6))  # [batch, steps, (layers, heads,) src]
    for row, source in enumerate(sources):
        trace = greedy_decode(model, task.vocab, source, max_len=6)
        probs = logits[row, :len(trace.steps)].softmax(-1)
        assert torch.allclose(torch.tensor([s.dist for s in trace.steps]), probs, atol=1e-5)
        mean = attn[row, 0].mean((0, 1)) if transformer else attn[row, 0]
        assert trace.steps[0].attention == pytest.approx(mean[:len(source)].tolist(), abs=1e-5)
        assert (attn[row, ..., len(source):] == 0).all()


# ---------------------------------------------------------------- compact step records


def test_steps_keep_their_numbers_as_compact_tensors_and_read_as_lists():
    """A Transformer's step keeps its distribution, attention and every head as float32 tensor views of one tensor
    per kind (not Python floats); read as attributes they are the rounded lists the JSON has, and head(l, h) is
    heads[l][h] without building the others."""
    from seq2seq import Task, make_spec
    task = Task(make_spec("reverse", 3, 10))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), arch="transformer", hidden_dim=16, n_layers=2,
                                    heads=4), seed=3)
    trace = greedy_decode(model, task.vocab, "1 2 3 4", max_len=6)
    step = trace.steps[0]
    tensors = step.tensors()
    assert [t.dtype for t in tensors] == [torch.float32] * 3
    assert len({t.untyped_storage().data_ptr() for s in trace.steps for t in s.tensors()}) == 3  # shared
    assert step.head_shape == (2, 4) and step.head(1, 3) == step.heads[1][3]
    assert step.attention == [round(w, 6) for w in tensors[0].tolist()]
    assert all(isinstance(w, float) for w in step.dist) and len(step.dist) == len(task.vocab)
    floats = sum(t.numel() for s in trace.steps for t in s.tensors())
    assert 4 * floats <= trace.nbytes() <= 4 * floats + 20_000  # the tensors once, and the objects around them
    assert trace == greedy_decode(model, task.vocab, "1 2 3 4", max_len=6)  # equal by value
    data = trace.to_dict()
    assert list(data["steps"][0]) == ["input", "token", "prob", "top", "attention", "dist", "heads"]
    assert json.loads(json.dumps(data)) == data


def test_a_step_made_from_lists_reads_them_back():
    from seq2seq.decode import Step
    step = Step("<sos>", "1", 0.7, [("1", 0.7)], [0.8, 0.2], [0.1, 0.7, 0.2])
    assert step.attention == [0.8, 0.2] and step.dist == [0.1, 0.7, 0.2] and step.heads is None
    assert step.head_shape is None and Step("<sos>", "1", 0.7, []).dist == []
    assert step == Step("<sos>", "1", 0.7, [("1", 0.7)], [0.8, 0.2], [0.1, 0.7, 0.2])
    assert step != Step("<sos>", "1", 0.7, [("1", 0.7)], [0.8, 0.2], [0.2, 0.6, 0.2])


def test_a_beam_tree_is_counted_by_its_nodes():
    checkpoint = load_checkpoint(BUNDLED / "reverse")
    search = beam_search(checkpoint.model, checkpoint.task.vocab, "1 2 3 4 5", width=4)
    from seq2seq.decode import NODE_BYTES
    assert search.nbytes() >= NODE_BYTES * len(search.nodes)
    assert not hasattr(search.nodes[0], "__dict__")  # slots: a node is a small object
