"""Choosing the output (seq2seq.strategy: greedy, beam search, seeded sampling, "what if") and accuracy by source
length (seq2seq.lengths), on the bundled checkpoints: no server, deterministic."""
import math
from functools import cache

import pytest

from seq2seq import greedy_decode, load_checkpoint
from seq2seq import strategy as strategies
from seq2seq.lengths import LengthRow, accuracy_by_length
from seq2seq.strategy import Strategy
from seq2seq.tasks import PAD, SOS, UNK
from tests.helpers import ROOT

SPECIALS = {PAD, SOS, UNK}  # tokens a model must never write


@cache
def bundled(name: str):
    return load_checkpoint(ROOT / "checkpoints" / name)


def tokens(trace) -> list[str]:
    return [s.token for s in trace.steps]


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "top-k"}, "strategy must be one of greedy, beam, sampling"),
    ({"kind": "beam", "width": 0}, "beam width must be between 1 and 10, got 0"),
    ({"kind": "beam", "width": 11}, "beam width must be between 1 and 10, got 11"),
    ({"kind": "sampling", "temperature": 0}, "temperature must be > 0"),
    ({"kind": "sampling", "top_k": 0}, "top-k must be at least 1"),
    ({"kind": "sampling", "top_p": 0}, "top-p must be > 0 and <= 1"),
    ({"kind": "sampling", "top_p": 1.5}, "top-p must be > 0 and <= 1"),
])
def test_a_strategy_refuses_values_it_cannot_use(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Strategy(**kwargs)


def test_a_strategy_describes_itself_in_words():
    assert Strategy().describe() == "greedy (the most probable token at every step)"
    assert Strategy("beam", width=3).describe().startswith("beam search (width 3)")
    assert Strategy("sampling", temperature=0.5, seed=7).describe() == "sampling (temperature 0.5, seed 7)"
    assert Strategy("sampling", top_k=5, top_p=0.9).describe() == "sampling (temperature 1, top-k 5, top-p 0.9, seed 0)"
    assert Strategy("beam", width=10, temperature=0).kind == "beam"  # other kinds' settings are not checked


def test_greedy_is_the_plain_greedy_decoding_and_has_no_tree():
    c = bundled("reverse")
    trace, search = strategies.run(c.model, c.task.vocab, "3 1 4 1 5 9", Strategy())
    assert search is None and trace == greedy_decode(c.model, c.task.vocab, "3 1 4 1 5 9")
    assert trace.output == "9 5 1 4 1 3"


@pytest.mark.parametrize("name, source", [("reverse", "3 1 4 1 5 9"), ("copy", "1 2 3 4 5 6 7 8 9 1 2 3 4"),
                                          ("sort", "5 3 9 1 1 0"), ("addition", "12+79")])
def test_beam_search_follows_its_best_beam_and_width_one_is_greedy(name, source):
    c = bundled(name)
    greedy = greedy_decode(c.model, c.task.vocab, source)
    one, tree = strategies.run(c.model, c.task.vocab, source, Strategy("beam", width=1))
    assert tokens(one) == tokens(greedy) and [b.tokens for b in tree.beams] == [greedy.output.split()]
    assert all(n.survived for n in tree.nodes)  # one candidate per step, kept: nothing dropped

    trace, search = strategies.run(c.model, c.task.vocab, source, Strategy("beam", width=5))
    best = search.beams[0]
    assert trace.output.split() == best.tokens and trace.finished == best.finished
    assert tokens(trace) == best.tokens + (["<eos>"] if best.finished else [])
    assert [s.input for s in trace.steps] == ["<sos>"] + tokens(trace)[:-1]
    assert all(s.top[0][1] >= s.prob for s in trace.steps)  # each step still shows what the model preferred
    assert 1 <= len(search.beams) <= 5
    assert [b.score for b in search.beams] == sorted((b.score for b in search.beams), reverse=True)
    assert search.path(best.node) == best.tokens + (["<eos>"] if best.finished else [])


def test_beam_width_one_expands_only_the_greedy_path():
    c = bundled("reverse")
    _, tree = strategies.run(c.model, c.task.vocab, "3 1 4 1 5 9", Strategy("beam", width=1))
    assert [n.token for n in tree.nodes] == ["<sos>", "9", "5", "1", "4", "1", "3", "<eos>"]


def test_a_wider_beam_can_beat_greedy_past_the_trained_lengths():
    c = bundled("copy")
    source = "0 2 2 4 5 5 5 1 5 9 0 0 4"  # 13 tokens: the copy model was trained on 3-10
    greedy = greedy_decode(c.model, c.task.vocab, source)
    trace, search = strategies.run(c.model, c.task.vocab, source, Strategy("beam", width=5))
    assert trace.output != greedy.output
    greedy_logp = sum(math.log(s.prob) for s in greedy.steps)
    # the beam it found scores better than greedy's answer: log-probability per token, <eos> counted
    assert search.beams[0].score > greedy_logp / len(greedy.steps)


@pytest.mark.parametrize("name, source", [("reverse", "3 1 4 1 5 9"), ("copy", "1 2 3 4 5 6 7 8 9 1 2 3 4"),
                                          ("addition", "12+79")])
def test_beam_search_never_expands_padding_start_or_unknown(name, source):
    # the model's softmax covers the specials too, with tiny probabilities: a wide beam must not keep
    # "<unk>" or "<pad>" as a hypothesis, nor draw them in its tree
    c = bundled(name)
    _, search = strategies.run(c.model, c.task.vocab, source, Strategy("beam", width=10))
    assert not [(n.step, n.token) for n in search.nodes[1:] if n.token in SPECIALS]
    assert not [b.tokens for b in search.beams if SPECIALS & set(b.tokens)]


def test_sampling_repeats_with_its_seed_and_top_k_one_is_greedy():
    c = bundled("reverse")
    vocab, source = c.task.vocab, "3 1 4 1 5 9"
    greedy = greedy_decode(c.model, vocab, source)

    def sample(**kw):
        return strategies.run(c.model, vocab, source, Strategy("sampling", **kw))[0]

    assert sample(temperature=3, seed=5) == sample(temperature=3, seed=5)
    assert len({sample(temperature=5, seed=s).output for s in range(6)}) >= 2
    for seed in range(3):
        assert tokens(sample(temperature=5, top_k=1, seed=seed)) == tokens(greedy)
        assert tokens(sample(temperature=5, top_p=0.01, seed=seed)) == tokens(greedy)
    # a sampled step records the model's own probability of the drawn token (not the tempered one)
    hot = sample(temperature=5, seed=1)
    assert all(0 <= s.prob <= 1 and s.top[0][1] >= s.prob for s in hot.steps)


def test_sampling_never_draws_padding_start_or_unknown():
    # at temperature 5 the distribution is flat enough to draw anything the softmax covers; a sample must still
    # be digits and <eos> (vocab.decode drops <pad> and <sos> from the output, hiding the draw)
    c = bundled("reverse")
    drawn = {}
    for seed in range(12):
        trace, _ = strategies.run(c.model, c.task.vocab, "3 1 4 1 5 9", Strategy("sampling", temperature=5, seed=seed))
        if SPECIALS & set(tokens(trace)):
            drawn[seed] = tokens(trace)
    assert not drawn


def test_what_if_keeps_the_steps_before_forces_one_and_goes_on_greedily():
    c = bundled("reverse")
    vocab = c.task.vocab
    trace = greedy_decode(c.model, vocab, "3 1 4 1 5 9")
    changed = strategies.what_if(c.model, vocab, trace, 3, "4")
    assert tokens(changed)[:2] == ["9", "5"] and tokens(changed)[2] == "4"
    assert changed.steps[2].input == "5" and changed.steps[3].input == "4"
    assert changed.steps[:2] == trace.steps[:2]                      # the same steps, distributions and all
    assert changed.steps[2].prob < 0.5 and changed.steps[2].top[0][0] == "1"  # the model wanted 1 there
    for step in changed.steps[3:]:                                    # after it: the model's own choice
        assert step.token == step.top[0][0]
    assert changed.finished and tokens(changed)[-1] == "<eos>"

    # forcing the token it chose anyway changes nothing; forcing at the last step can make it go on
    assert tokens(strategies.what_if(c.model, vocab, trace, 3, "1")) == tokens(trace)
    longer = strategies.what_if(c.model, vocab, trace, len(trace.steps), "7")
    assert tokens(longer)[:7] == tokens(trace)[:6] + ["7"] and len(longer.steps) > len(trace.steps)


def test_what_if_from_a_sample_keeps_the_sampled_steps():
    c = bundled("reverse")
    vocab = c.task.vocab
    sampled, _ = strategies.run(c.model, vocab, "3 1 4 1 5 9", Strategy("sampling", temperature=2, seed=4))
    other = next(t for t in vocab.tokens if t != sampled.steps[1].token)
    changed = strategies.what_if(c.model, vocab, sampled, 2, other)
    assert tokens(changed)[:2] == [sampled.steps[0].token, other]


@pytest.mark.parametrize("step, token, message", [
    (0, "1", "step must be between 1 and 7, got 0"), (8, "1", "step must be between 1 and 7, got 8"),
    (2, "x", "unknown token 'x': this model knows only 0 1 2 3 4 5 6 7 8 9"),
    (2, PAD, "unknown token '<pad>'"), (2, SOS, "unknown token '<sos>'"), (2, UNK, "unknown token '<unk>'"),
])
def test_what_if_refuses_a_step_or_token_that_is_not_there(step, token, message):
    c = bundled("reverse")
    trace = greedy_decode(c.model, c.task.vocab, "3 1 4 1 5 9")
    with pytest.raises(ValueError, match=message):
        strategies.what_if(c.model, c.task.vocab, trace, step, token)


def test_accuracy_by_length_marks_the_trained_lengths_and_falls_past_them():
    c = bundled("reverse")  # trained on 3-10, no attention
    rows = accuracy_by_length(c.model, "reverse", range(3, 15), c.task.spec, n=50)
    assert [r.length for r in rows] == list(range(3, 15)) and all(r.n == 50 for r in rows)
    assert [r.trained for r in rows] == [True] * 8 + [False] * 4
    assert all(r.exact_match >= 0.9 for r in rows if r.trained)
    assert rows[-1].exact_match < rows[0].exact_match and rows[-1].exact_match < 0.8  # past them, it falls
    assert all(0 <= r.exact_match <= r.token_accuracy <= 1 for r in rows)
    assert rows == accuracy_by_length(c.model, "reverse", range(3, 15), c.task.spec, n=50)  # held-out sets fixed
    assert rows[0].to_dict() == {"length": 3, "n": 50, "exact_match": rows[0].exact_match,
                                 "token_accuracy": rows[0].token_accuracy, "trained": True}
    assert isinstance(rows[0], LengthRow)


def test_accuracy_by_length_evaluates_fewer_where_a_length_has_fewer_sources():
    c = bundled("addition")  # lengths are digits per operand: 1-digit sums have only 100 sources
    rows = accuracy_by_length(c.model, "addition", [1, 2], c.task.spec, n=200)
    assert rows[0].n <= 100 and rows[1].n == 200
    with pytest.raises(ValueError, match="lengths must satisfy"):
        accuracy_by_length(c.model, "addition", [0], c.task.spec, n=10)
