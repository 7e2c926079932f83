"""The context-vector map: where a trained encoder puts held-out sources, in two dimensions.

An RNN encoder-decoder without attention hands its decoder one thing: the encoder's final state (after a
bidirectional encoder's bridge), the "context vector". `context_map` encodes a few hundred held-out sources,
projects those states onto their first two principal components (PCA: centred, then an SVD) and reports how
much of the states' variance each axis explains, beside what a person would colour the points by: the source's
length, its first and last token, and the first token of its correct answer (for your pairs: the target's
first symbol), and the model's greedy output for each source.

Which state: the decoder's initial state, every layer's hidden state (and an LSTM's cell state too),
concatenated. A Transformer has no such state: its decoder reads every encoder output at every step, so the
map shows the mean of the encoder's outputs over each source's tokens instead. A model with attention also
reads every encoder output at every step: for it, and for the Transformer, the map is only part of the story
(`reads_every_state`).

Deterministic: the sources come from the task's held-out part through a seeded `random.Random` of their own
(never a process-wide generator), the model runs in eval mode without gradients, and each axis's sign is fixed
(its largest loading is positive).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .decode import Interrupted, decode_batch, default_max_len, evaluating
from .model import Seq2Seq
from .tasks import Example, Task, make_batch, validation_set
from .transformer import Transformer

MAP_SEED = 11      # which held-out sources the map shows, unless asked otherwise
BATCH = 500        # sources encoded and decoded at once
COLOURINGS = ("length", "first", "last", "answer")  # what a point can be coloured by (ContextMap.colour)


@dataclass
class ContextMap:
    """Held-out sources' context vectors projected onto their two principal components, one point per source."""
    points: list[tuple[float, float]]   # [n] (PC1, PC2)
    explained: tuple[float, float]      # the share of the states' total variance along PC1 and along PC2 (0-1)
    sources: list[str]                  # [n] each source as a person writes it
    outputs: list[str]                  # [n] the model's greedy output, as the Decode tab shows it
    answers: list[str]                  # [n] the correct answer
    lengths: list[int]                  # [n] source tokens
    first: list[str]                    # [n] the source's first token
    last: list[str]                     # [n] the source's last token
    answer_first: list[str]             # [n] the correct answer's first token (your pairs: the target's first symbol)
    what: str                           # a sentence naming the state projected
    reads_every_state: bool             # the decoder also reads every encoder output (attention, the Transformer)
    dims: int                           # numbers per state (before the projection)
    token_order: list[str] = field(default_factory=list)  # the vocabulary's order, to sort tokens by

    @property
    def n(self) -> int:
        return len(self.points)

    @property
    def right(self) -> list[bool]:
        """[n] whether the output is the correct answer."""
        return [o == a for o, a in zip(self.outputs, self.answers)]

    def colour(self, by: str) -> list[str]:
        """[n] each point's category when coloured `by` one of COLOURINGS, as text."""
        if by == "length":
            return [str(n) for n in self.lengths]
        values = {"first": self.first, "last": self.last, "answer": self.answer_first}.get(by)
        if values is None:
            raise ValueError(f"colour by one of {', '.join(COLOURINGS)}, not {by!r}")
        return list(values)

    def order(self, by: str) -> list[str]:
        """The categories of `colour(by)` in a sensible order: lengths as numbers, tokens as the vocabulary has them
        (digits 0-9, letters in order)."""
        present = set(self.colour(by))
        if by == "length":
            return sorted(present, key=int)
        rank = {t: i for i, t in enumerate(self.token_order)}
        return sorted(present, key=lambda t: (rank.get(t, len(rank)), t))


def held_out_sources(task: Task, n: int, seed: int = MAP_SEED) -> list[Example]:
    """Up to n distinct held-out examples of `task`, seeded (your pairs: their held-out pairs; ValueError when the
    pairs are not loaded)."""
    return validation_set(task, n, seed=seed)


def context_vectors(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor) -> torch.Tensor:
    """src [batch, src_len], src_lens [batch] -> [batch, dims]: the decoder's initial state (every layer's h, and an
    LSTM's c, concatenated), or for the Transformer the mean of the encoder outputs over each source's tokens. Call
    inside `evaluating(model)`."""
    state, memory = model.encode(src, src_lens)
    if isinstance(model, Transformer):
        mask = memory.mask.unsqueeze(-1).to(memory.outputs.dtype)               # [batch, src_len, 1]
        return (memory.outputs * mask).sum(1) / mask.sum(1).clamp(min=1.0)     # [batch, d_model]
    parts = state if isinstance(state, tuple) else (state,)                     # [layers, batch, hid] each
    return torch.cat([p.permute(1, 0, 2).reshape(p.shape[1], -1) for p in parts], -1)  # [batch, parts*layers*hid]


def describe_state(model: Seq2Seq, dims: int) -> str:
    """One sentence naming what the map projects."""
    if isinstance(model, Transformer):
        return (f"the mean of the Transformer encoder's outputs over each source's tokens ({dims} numbers per "
                f"source), as a Transformer has no single state to hand its decoder")
    rnn = model.encoder.rnn
    cell = "LSTM" if isinstance(rnn, torch.nn.LSTM) else "GRU"
    parts = "hidden and cell states" if cell == "LSTM" else "hidden state"
    layers = f"its {rnn.num_layers} layers" if rnn.num_layers > 1 else "its one layer"
    bridge = ", through the bridge from the bidirectional encoder" if rnn.bidirectional else ""
    return (f"the decoder's initial state, the {cell} encoder's final {parts} of {layers}{bridge}, concatenated "
            f"({dims} numbers per source)")


def project(states: torch.Tensor) -> tuple[torch.Tensor, tuple[float, float]]:
    """states [n, dims] -> their coordinates on the first two principal components [n, 2] and the share of the total
    variance each explains. Each component's sign makes its largest loading positive (the same map every time)."""
    x = states.to(torch.float64)
    x = x - x.mean(0, keepdim=True)                                          # [n, dims]
    total = float((x ** 2).sum())
    if total <= 0.0:  # every source encoded the same: nothing to spread out
        return torch.zeros(x.shape[0], 2, dtype=torch.float64), (0.0, 0.0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)                     # s [k], vh [k, dims]
    components = vh[:2]                                                      # [<=2, dims]
    top = components.abs().argmax(1)                                         # [<=2]
    signs = torch.sign(components.gather(1, top.unsqueeze(1)))               # [<=2, 1]
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
    points = x @ components.T                                                # [n, <=2]
    shares = [float(v) / total for v in (s[:2] ** 2)]
    if points.shape[1] < 2:  # a single component (one state size, or two sources): the second axis is flat
        points = torch.cat([points, points.new_zeros(points.shape[0], 2 - points.shape[1])], 1)
        shares += [0.0] * (2 - len(shares))
    return points, (min(1.0, shares[0]), min(1.0, shares[1]))


def context_map(model: Seq2Seq, task: Task, n: int = 300, seed: int = MAP_SEED, *,
                examples: Sequence[Example] | None = None,
                should_stop: Callable[[], bool] | None = None) -> ContextMap:
    """The map of up to `n` held-out sources of `task` (or the `examples` given), encoded by `model` and decoded
    greedily. ValueError when there are fewer than two sources; seq2seq.Interrupted when `should_stop` says yes
    (asked before each batch's encoder and every decoder step)."""
    chosen = list(examples) if examples is not None else held_out_sources(task, n, seed)
    if len(chosen) < 2:
        raise ValueError(f"a map needs at least two held-out sources; {task.title} has {len(chosen)}")
    vocab = task.vocab
    states, outputs = [], []
    with evaluating(model):
        for start in range(0, len(chosen), BATCH):
            if should_stop is not None and should_stop():
                raise Interrupted()
            batch = make_batch(chosen[start:start + BATCH], vocab)
            states.append(context_vectors(model, batch.src, batch.src_lens).to(torch.float64))
            lengths = batch.src_lens.tolist()
            ids, _, _ = decode_batch(model, batch.src, batch.src_lens, default_max_len(max(lengths)),
                                     should_stop=should_stop)
            # each row as long as a decoding of that source alone may run (what the Decode tab shows)
            outputs += [vocab.text(vocab.decode(row[:default_max_len(k)].tolist())) for row, k in zip(ids, lengths)]
    stacked = torch.cat(states)                                                # [n, dims]
    points, explained = project(stacked)
    return ContextMap(
        points=[(float(a), float(b)) for a, b in points.tolist()], explained=explained,
        sources=[vocab.text(ex.source, "source") for ex in chosen], outputs=outputs,
        answers=[vocab.text(ex.target) for ex in chosen], lengths=[len(ex.source) for ex in chosen],
        first=[ex.source[0] for ex in chosen], last=[ex.source[-1] for ex in chosen],
        answer_first=[ex.target[0] if ex.target else "(empty)" for ex in chosen],
        what=describe_state(model, stacked.shape[1]), reads_every_state=bool(model.decoder.uses_attention),
        dims=stacked.shape[1], token_order=list(vocab.itos))
