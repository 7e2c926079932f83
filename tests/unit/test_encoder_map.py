"""The context-vector map (seq2seq/encoder_map.py): its shapes and explained variance, the same map every time,
every model variant and your own pairs — and, on the bundled reverse model, structure a linear probe on the two
plotted coordinates measures: the source's length is readable from the map far better than chance."""
from __future__ import annotations

from collections import Counter

import pytest
import torch

from seq2seq.builder import build_model
from seq2seq.checkpoint import load_checkpoint
from seq2seq.config import ModelConfig
from seq2seq.data import DataTask, read_pairs
from seq2seq.encoder_map import COLOURINGS, context_map, project
from seq2seq.tasks import Task, make_spec
from tests.helpers import CHECKPOINTS, ROOT

VARIANTS = {"gru": {"cell": "gru", "n_layers": 2}, "lstm": {"cell": "lstm"},
            "lstm-attention": {"attention": "additive", "bidirectional": True},
            "transformer": {"arch": "transformer", "heads": 4, "n_layers": 2}}


def tiny(task: Task, **kw):
    return build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16, **kw), seed=0)


@pytest.fixture(scope="module")
def reverse_map():
    checkpoint = load_checkpoint(CHECKPOINTS / "reverse")
    return context_map(checkpoint.model, checkpoint.task, 300)


# ---------------------------------------------------------------- the probes (least squares on [x, y, 1])


def r_squared(points, values) -> float:
    """How much of `values`' variance a least-squares fit of value ~ a x + b y + c on the 2-D points explains
    (1: perfectly; 0: no better than always guessing the mean, which is chance)."""
    x = torch.tensor([[a, b, 1.0] for a, b in points], dtype=torch.float64)   # [n, 3]
    y = torch.tensor(values, dtype=torch.float64).unsqueeze(1)                 # [n, 1]
    fit = torch.linalg.lstsq(x, y).solution
    residual = float(((y - x @ fit) ** 2).sum())
    return 1.0 - residual / float(((y - y.mean()) ** 2).sum())


def nearest_centroid(points, labels) -> tuple[float, float]:
    """(accuracy of guessing each point's label as the label whose points' centre is nearest in the map, chance: the
    share of the commonest label). A linear classifier too: its boundaries are straight lines between centres."""
    p = torch.tensor(points, dtype=torch.float64)                              # [n, 2]
    names = sorted(set(labels))
    centres = torch.stack([p[[i for i, l in enumerate(labels) if l == name]].mean(0) for name in names])  # [k, 2]
    guess = torch.cdist(p, centres).argmin(1).tolist()
    accuracy = sum(names[g] == l for g, l in zip(guess, labels)) / len(labels)
    return accuracy, Counter(labels).most_common(1)[0][1] / len(labels)


# ---------------------------------------------------------------- the measurement the issue asks for


def test_on_the_bundled_reverse_model_the_map_shows_length(reverse_map):
    m = reverse_map
    assert m.n == 300 and not m.reads_every_state and m.dims == 512  # LSTM, 2 layers, 128: h and c
    # measured (seed 11, 300 held-out sources): PC1 explains 43.5% of the state's variance, PC2 4.8%
    assert m.explained[0] > 0.3 and m.explained[1] > 0.02
    # length from the map: a straight-line fit explains R² = 0.994 of it (chance: 0); asserted with a wide margin
    assert r_squared(m.points, m.lengths) > 0.8
    # ... and nearest centroid names the exact length of 99.7% of the sources, against 16% for always guessing the
    # commonest length: asserted at least 50 points above chance
    accuracy, chance = nearest_centroid(m.points, m.lengths)
    assert accuracy > chance + 0.5, (accuracy, chance)
    # the model is right on held-out sources, and the map's outputs are its answers
    assert sum(m.right) / m.n > 0.95


def test_on_the_bundled_reverse_model_tokens_barely_show_in_two_dimensions(reverse_map):
    """What we found, kept as a fact the docs state: which token a source starts with does not show in the first two
    components (nearest centroid 11% against a chance of 12%), and its last token (the answer's first) only faintly
    (18% against 12%; least squares on one-hot labels 24%): tokens live in the components the map leaves out. Only
    the absence of a strong effect is asserted, as a faint one depends on the sources drawn."""
    m = reverse_map
    for by in ("first", "last"):
        accuracy, chance = nearest_centroid(m.points, m.colour(by))
        assert accuracy < chance + 0.3, (by, accuracy, chance)
    assert m.colour("answer") == m.colour("last")  # reverse: the answer starts with the source's last token


# ---------------------------------------------------------------- the map itself


@pytest.mark.parametrize("name", list(VARIANTS))
def test_shapes_explained_variance_and_every_variant(name):
    task = Task(make_spec("reverse", 3, 6))
    model = tiny(task, **VARIANTS[name])
    m = context_map(model, task, 40, seed=3)
    assert m.n == 40 and len(m.sources) == len(m.outputs) == len(m.lengths) == len(m.answers) == 40
    assert all(len(p) == 2 for p in m.points)
    first, second = m.explained
    assert 0.0 <= second <= first <= 1.0 and first + second <= 1.0 + 1e-9
    assert m.reads_every_state == (name != "lstm" and name != "gru")
    expected_dims = {"gru": 2 * 16, "lstm": 2 * 16, "lstm-attention": 2 * 16, "transformer": 16}[name]
    assert m.dims == expected_dims
    assert ("mean of the Transformer encoder's outputs" in m.what) == (name == "transformer")
    for by in COLOURINGS:
        colours = m.colour(by)
        assert len(colours) == 40 and set(m.order(by)) == set(colours)
    assert m.order("length") == sorted(set(m.order("length")), key=int)
    assert all(s.replace(" ", "").isdigit() for s in m.sources)  # as the Decode tab writes them: "3 1 4"
    with pytest.raises(ValueError, match="colour by one of"):
        m.colour("colour")


def test_the_same_map_every_time_and_no_global_random_numbers_drawn():
    task = Task(make_spec("reverse", 3, 8))
    model = tiny(task, cell="lstm", n_layers=2)
    model.train()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = context_map(model, task, 60, seed=5)
    assert torch.equal(torch.get_rng_state(), before)  # the process-wide generator untouched
    b = context_map(model, task, 60, seed=5)
    assert a == b
    other = context_map(model, task, 60, seed=6)
    assert other.sources != a.sources  # the seed picks the sources
    assert model.training  # evaluated in eval mode, then given its own mode back


def test_principal_components_are_fixed_in_sign_and_explain_what_they_say():
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(100, 6, generator=generator, dtype=torch.float64) * torch.tensor([5.0, 2, 1, 1, 1, 1])
    points, (first, second) = project(states)
    # each axis points where its largest loading is positive: the states negated give the points negated, and the
    # sources shuffled the same points shuffled, whichever signs the SVD happened to return
    flipped, shares = project(-states)
    assert torch.allclose(flipped, -points) and shares == pytest.approx((first, second))
    order = torch.randperm(100, generator=generator)
    shuffled, _ = project(states[order])
    assert torch.allclose(shuffled, points[order])
    centred = states - states.mean(0)
    total = float((centred ** 2).sum())
    assert first == pytest.approx(float((points[:, 0] ** 2).sum()) / total)
    assert second == pytest.approx(float((points[:, 1] ** 2).sum()) / total)
    assert first > 0.5 and first >= second
    flat, shares = project(torch.ones(5, 4))
    assert shares == (0.0, 0.0) and bool((flat == 0).all())


def test_your_pairs_are_mapped_with_the_targets_first_symbol():
    task = DataTask(read_pairs(ROOT / "examples" / "dates.tsv"))
    model = tiny(task, attention="dot")
    m = context_map(model, task, 300)
    assert m.n == len(task.data.held_out) == 60  # every held-out pair, no more
    assert m.reads_every_state
    held = {task.vocab.text(ex.source, "source"): ex.target[0] for ex in task.data.held_out}
    assert all(held[s] == a for s, a in zip(m.sources, m.colour("answer")))
    assert any(" " in s for s in m.sources)  # written as in the file ("3 March 2021"), not as tokens


def test_too_few_sources_is_one_sentence():
    task = Task(make_spec("reverse", 3, 6))
    with pytest.raises(ValueError, match="at least two held-out sources"):
        context_map(tiny(task), task, examples=validation_set_of(task, 1))


def validation_set_of(task: Task, n: int):
    from seq2seq import validation_set
    return validation_set(task, n)
