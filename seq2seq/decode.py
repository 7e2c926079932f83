"""Decoding: one step-by-step loop whose policy picks each next token (greedy, sampling, forced "what if"),
recording every step for people to look at, in batches for eval; and beam search, which returns its whole
tree of hypotheses.

Decoding lives apart from the model (JoeyNMT's `search.py` idea): the model computes one decoder
step (and reorders its state for beams), and this module decides which token to feed next and records why.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch

from .controls import DECODING, plain
from .model import Seq2Seq
from .tasks import EOS_ID, NEVER_CHOSEN_IDS, PAD_ID, SOS_ID, SOS, Vocab


def _compact(values: Any) -> torch.Tensor | None:
    """Per-step numbers as a float32 tensor (a view, not a copy, of a float32 tensor given), None for None."""
    if values is None:
        return None
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.float32)
    return torch.tensor(values, dtype=torch.float32)


def _rounded(t: torch.Tensor) -> list:
    """A tensor as (nested) lists of floats rounded to 6 places, as the JSON and the views read them."""
    if t.dim() == 1:
        return [round(w, 6) for w in t.tolist()]
    return [_rounded(row) for row in t]


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.equal(a, b))


class Step:
    """One decoding step: the token fed in, the token chosen, its probability, the `top` k most likely tokens
    (best first), and the numbers the views draw, kept compact (float32 tensors, usually views of the trace's
    one tensor per kind, not Python floats):

    - `dist`: the probability of every vocabulary id (index = id; [] when not recorded);
    - `attention`: the weight on each source token (models with attention; for the Transformer the mean of its
      cross-attention over layers and heads), None without attention;
    - `heads`: the Transformer's cross-attention per layer, head and source token, None for an RNN.

    Read as attributes they are lists of floats rounded to 6 places (what `Trace.to_dict` writes); `head(l, h)`
    reads one layer's head without building the others. Constructed from lists or tensors alike."""

    __slots__ = ("input", "token", "prob", "top", "_attention", "_dist", "_heads")

    def __init__(self, input: str, token: str, prob: float, top: list[tuple[str, float]],
                 attention: Any = None, dist: Any = None, heads: Any = None):
        self.input = input
        self.token = token
        self.prob = prob
        self.top = top
        self._attention = _compact(attention)
        self._dist = None if dist is None or len(dist) == 0 else _compact(dist)
        self._heads = None if heads is None or len(heads) == 0 else _compact(heads)

    @property
    def attention(self) -> list[float] | None:
        return None if self._attention is None else _rounded(self._attention)

    @property
    def dist(self) -> list[float]:
        return [] if self._dist is None else _rounded(self._dist)

    @property
    def heads(self) -> list[list[list[float]]] | None:
        return None if self._heads is None else _rounded(self._heads)

    @property
    def head_shape(self) -> tuple[int, int] | None:
        """(layers, heads) of the Transformer's recorded cross-attention; None for an RNN."""
        return None if self._heads is None else (int(self._heads.shape[0]), int(self._heads.shape[1]))

    def head(self, layer: int, index: int) -> list[float]:
        """One layer's head's weights on each source token (both from 0), as `heads[layer][index]`."""
        if self._heads is None:
            raise IndexError("this step has no attention heads (not a Transformer)")
        return _rounded(self._heads[layer, index])

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (self._attention, self._dist, self._heads) if t is not None]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return ((self.input, self.token, self.prob, self.top) == (other.input, other.token, other.prob, other.top)
                and _same(self._attention, other._attention) and _same(self._dist, other._dist)
                and _same(self._heads, other._heads))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Step(input={self.input!r}, token={self.token!r}, prob={self.prob!r}, top={self.top!r})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; "attention" and "heads" are left out when the model has none."""
        data: dict[str, Any] = {"input": self.input, "token": self.token, "prob": self.prob,
                                "top": [list(pair) for pair in self.top]}
        if self._attention is not None:
            data["attention"] = self.attention
        data["dist"] = self.dist
        if self._heads is not None:
            data["heads"] = self.heads
        return data


# What a kept Step costs in Python objects beside its tensors (measured with tracemalloc: the object and its slots,
# the top list's tuples and floats; the token strings are the vocabulary's own): bytes per step, per top entry
STEP_BYTES, TOP_BYTES = 250, 130
TENSOR_BYTES = 350  # a torch.Tensor object (a view of a shared storage), beside its storage's bytes


def tensor_bytes(tensors: Iterator[torch.Tensor] | Sequence[torch.Tensor]) -> int:
    """The bytes of the storages under `tensors` (each storage counted once however many views share it), plus
    each tensor object's own."""
    storages: dict[int, int] = {}
    count = 0
    for t in tensors:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        count += 1
    return sum(storages.values()) + count * TENSOR_BYTES


@dataclass(eq=True)
class Trace:
    """A decoding, step by step. `source` and `output` are tokens joined by single spaces (a token holds no
    whitespace, so `.split()` gives them back exactly); Vocab.text writes them as a person would."""
    source: str
    output: str
    steps: list[Step] = field(default_factory=list)
    finished: bool = True          # False when it hit the length limit before <eos>

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; a step's "attention" and "heads" are left out when the model has none."""
        return {"source": self.source, "output": self.output, "steps": [s.to_dict() for s in self.steps],
                "finished": self.finished}

    def nbytes(self) -> int:
        """What keeping this trace costs (bytes, an upper bound): its tensors' storages and the Python objects
        around them."""
        tensors = [t for step in self.steps for t in step.tensors()]
        objects = sum(STEP_BYTES + TOP_BYTES * len(step.top) for step in self.steps)
        return tensor_bytes(tensors) + objects + 2 * (len(self.source) + len(self.output)) + 200


class Interrupted(Exception):
    """A decoding's `should_stop()` said yes: it stopped before its next step (cancelled or stopped)."""


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Interrupted()


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no gradients for the block, then the model's previous mode back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def default_max_len(src_len: int) -> int:
    return 2 * src_len + 10


def _step_limit(model: Seq2Seq, max_len: int) -> int:
    """max_len, or fewer for a model that cannot take more decoder steps (a Transformer's learned positions):
    its output then ends unfinished instead of failing."""
    most = getattr(model.decoder, "max_steps", None)
    return max_len if most is None else min(max_len, most)


class Greedy:
    """Choose the most probable token."""

    def choose(self, logits: torch.Tensor, t: int) -> torch.Tensor:
        return logits.argmax(-1)


@dataclass
class Sampling:
    """Draw the token from the distribution, sharpened or flattened by `temperature`, kept to the `top_k` most
    probable tokens and to the smallest set whose probability reaches `top_p`. The same seed draws the same
    tokens: the policy owns its generator."""
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # Broader on purpose than the Decode tab's sliders (controls.DECODING's temperature, sample_k and top_p,
        # which the command line takes too): those span what is worth looking at on a page, while a program may
        # sample at any value that decodes (a top-p of 1e-6 is greedy, a temperature of 50 all but uniform).
        # These are only the sanity checks.
        if not 0 < self.temperature <= 100:
            raise ValueError(f"temperature must be > 0 and <= 100, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top-p must be > 0 and <= 1, got {self.top_p}")
        self.generator = torch.Generator().manual_seed(self.seed)

    def choose(self, logits: torch.Tensor, t: int) -> torch.Tensor:
        logits = logits / self.temperature                                  # [batch, vocab]
        # never draw padding, the start token or unknown: no output holds them, however flat the distribution
        logits = logits.index_fill(-1, torch.tensor(NEVER_CHOSEN_IDS, device=logits.device), float("-inf"))
        if self.top_k is not None and self.top_k < logits.shape[-1]:
            kth = logits.topk(self.top_k, -1).values[:, -1:]                 # [batch, 1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p is not None:
            probs, order = logits.softmax(-1).sort(-1, descending=True)      # [batch, vocab]
            before = probs.cumsum(-1) - probs  # probability of the tokens ranked above each one
            drop = (before >= self.top_p).scatter(-1, order, before >= self.top_p)
            logits = logits.masked_fill(drop, float("-inf"))
        return torch.multinomial(logits.softmax(-1), 1, generator=self.generator).squeeze(-1)


@dataclass
class Forced:
    """At the steps given, feed the tokens given (step index from 0 -> token id); elsewhere, `then`: "what if
    the model had chosen x here?"."""
    tokens: dict[int, int]
    then: Any = field(default_factory=Greedy)

    def choose(self, logits: torch.Tensor, t: int) -> torch.Tensor:
        if t in self.tokens:
            return torch.full(logits.shape[:1], self.tokens[t], dtype=torch.long, device=logits.device)
        return self.then.choose(logits, t)


def decode_batch(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor | None, max_len: int,
                 policy: Any = None, *, stop_at_eos: bool = True,
                 should_stop: Callable[[], bool] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Decode a batch one step at a time, `policy` choosing each next token (greedy when None). Returns the
    chosen ids [batch, steps], the logits they were chosen from [batch, steps, vocab] and the attention
    weights: [batch, steps, src_len] for an RNN with attention, None without; for the Transformer its
    cross-attention of every layer and head, [batch, steps, layers, heads, src_len] (average dims 2 and 3
    for one weight per source token). Weights on PAD are 0. steps <= max_len (and <= a Transformer's
    learned positions), fewer when every row has produced <eos> (if stop_at_eos). Call inside
    `evaluating(model)` (or with gradients if you need them). `should_stop` is asked before the encoder and
    every decoder step: when it says yes, Interrupted is raised (a cancelled request, a stopped run)."""
    policy = policy or Greedy()
    _check(should_stop)
    never = torch.tensor(NEVER_CHOSEN_IDS, device=src.device)
    state, memory = model.encode(src, src_lens)
    input = torch.full((src.shape[0],), SOS_ID, dtype=torch.long, device=src.device)  # [batch]
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)            # [batch]
    ids, logits_per_step, weights_per_step = [], [], []
    for t in range(_step_limit(model, max_len)):
        _check(should_stop)
        logits, state, weights = model.decoder(input, state, memory)  # [batch, vocab], [batch, (layers, heads,) src_len]
        input = policy.choose(logits.index_fill(-1, never, float("-inf")), t)  # never padding, start, unknown                              # [batch]
        ids.append(input)
        logits_per_step.append(logits)
        weights_per_step.append(weights)
        done |= input == EOS_ID
        if stop_at_eos and bool(done.all()):
            break
    attn = None if memory is None else torch.stack(weights_per_step, 1)
    return torch.stack(ids, 1), torch.stack(logits_per_step, 1), attn


def greedy_decode_batch(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor | None, max_len: int,
                        *, stop_at_eos: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Greedy search for a batch (see decode_batch)."""
    return decode_batch(model, src, src_lens, max_len, Greedy(), stop_at_eos=stop_at_eos)


def greedy_decode(model: Seq2Seq, vocab: Vocab, source: str | Sequence[str], *, max_len: int | None = None,
                  top_k: int = 3, policy: Any = None, should_stop: Callable[[], bool] | None = None) -> Trace:
    """Decode one source (a string, parsed with the vocabulary, or a token list) step by step, greedily or as
    `policy` (Sampling, Forced) chooses. Each Step holds the `top_k` most likely tokens and the whole
    distribution (`dist`), and for the Transformer its cross-attention per layer and head (`heads`) beside
    their mean (`attention`)."""
    tokens = vocab.parse(source) if isinstance(source, str) else list(source)
    src = torch.tensor([vocab.encode(tokens)], dtype=torch.long)  # [1, src_len]
    k = max(1, min(top_k, len(vocab)))
    with evaluating(model):
        ids, logits, attn = decode_batch(model, src, None, max_len or default_max_len(len(tokens)), policy,
                                         should_stop=should_stop)
    probs = logits[0].softmax(-1).contiguous()  # [steps, vocab]
    top_p, top_i = probs.topk(k, dim=-1)        # [steps, k]
    heads = None
    if attn is not None and attn.dim() == 5:  # the Transformer: [1, steps, layers, heads, src_len]
        heads = attn[0].contiguous()          # [steps, layers, heads, src_len]: one float32 tensor, kept
        attn = attn.mean((2, 3))              # [1, steps, src_len]
    weights = None if attn is None else attn[0].contiguous()  # [steps, src_len]
    chosen_p = probs.gather(1, ids[0].unsqueeze(1)).squeeze(1).tolist()  # [steps]
    top_i, top_p = top_i.tolist(), top_p.tolist()
    steps, fed = [], SOS
    for t, chosen in enumerate(ids[0].tolist()):
        token = vocab.itos[chosen]
        top = [(vocab.itos[i], round(p, 6)) for i, p in zip(top_i[t], top_p[t])]
        steps.append(Step(input=fed, token=token, prob=round(chosen_p[t], 6), top=top,
                          attention=None if weights is None else weights[t], dist=probs[t],
                          heads=None if heads is None else heads[t]))
        fed = token
    finished = bool(ids[0, -1] == EOS_ID)
    return Trace(source=" ".join(tokens), output=" ".join(vocab.decode(ids[0].tolist())), steps=steps,
                 finished=finished)


def exact_and_token_hits(pred: torch.Tensor, trg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred: [batch, steps] ids from free decoding; trg: [batch, trg_len] with <sos> first.
    Returns per-row exact match [batch] (bool), correct tokens [batch] and target tokens [batch],
    counting <eos>, so stopping too early or too late is an error."""
    gold = trg[:, 1:]                                              # [batch, trg_len-1]
    width = gold.shape[1]
    if pred.shape[1] < width:  # decoding stopped early everywhere: pad with a never-correct id
        pred = torch.cat([pred, pred.new_full((pred.shape[0], width - pred.shape[1]), PAD_ID)], 1)
    pred = pred[:, :width]                                         # [batch, trg_len-1]
    mask = gold != PAD_ID
    hits = (pred == gold) & mask
    return (hits | ~mask).all(1), hits.sum(1), mask.sum(1)


@dataclass(slots=True)
class Node:
    """One hypothesis a beam search expanded: its token after its parent's, and the log-probabilities."""
    id: int
    parent: int | None   # None for the start (<sos>)
    step: int            # how many tokens it holds
    token: str
    logp: float          # log-probability of its whole token sequence
    token_logp: float    # of its last token, given its parent
    survived: bool = False  # kept in the beam for the next step (or, for <eos>, kept as a finished beam)
    finished: bool = False  # ends with <eos>


@dataclass
class Beam:
    tokens: list[str]    # without <eos>
    logp: float
    score: float         # logp / length ** alpha (length counts <eos>)
    node: int            # its last node in the tree
    finished: bool


@dataclass
class BeamSearch:
    source: str
    width: int
    nodes: list[Node]    # the tree: nodes[0] is the start; every other node's parent comes before it
    beams: list[Beam]    # the final hypotheses, best score first

    def path(self, node: int) -> list[str]:
        """The tokens from the start to `node` (its parent links followed back)."""
        return _path(self.nodes, node)

    def nbytes(self) -> int:
        """What keeping this search costs (bytes, an upper bound): its tree's nodes and its final beams."""
        return NODE_BYTES * len(self.nodes) + sum(BEAM_BYTES + 60 * len(b.tokens) for b in self.beams) + 200


# a Node kept in a BeamSearch's tree (slots; its float and int objects; measured with tracemalloc), and a Beam
NODE_BYTES, BEAM_BYTES = 250, 400


def check_width(width: int) -> int:
    """`width` if it is a beam width the Decode tab's table allows (controls.DECODING["width"]), else a
    ValueError naming that range."""
    setting = DECODING["width"]
    if not setting.low <= width <= setting.high:
        raise ValueError(f"beam width must be between {plain(setting.low)} and {plain(setting.high)}, got {width}")
    return width


def beam_search(model: Seq2Seq, vocab: Vocab, source: str | Sequence[str], width: int = 5, *,
                max_len: int | None = None, alpha: float = 1.0,
                should_stop: Callable[[], bool] | None = None) -> BeamSearch:
    """Keep the `width` most probable hypotheses at each step; each alive one is expanded into its `width` best
    next tokens (all recorded in the tree, with whether they survived). A hypothesis ending in <eos> is a
    finished beam; the search stops when `width` have finished or at the length limit. Beams are ranked by
    log-probability / length ** alpha (alpha 0: no length normalisation). Width 1 is greedy search.
    `should_stop`: as for decode_batch (Interrupted before a step when it says yes)."""
    check_width(width)
    tokens = vocab.parse(source) if isinstance(source, str) else list(source)
    src = torch.tensor([vocab.encode(tokens)], dtype=torch.long)  # [1, src_len]
    limit = _step_limit(model, max_len or default_max_len(len(tokens)))
    nodes = [Node(0, None, 0, SOS, 0.0, 0.0, survived=True)]
    alive = [0]  # node ids of the hypotheses in the beam
    finished: list[Beam] = []

    def score(logp: float, length: int) -> float:
        return logp / length ** alpha

    never = torch.tensor(NEVER_CHOSEN_IDS)
    with evaluating(model):
        state, memory = model.encode(src, None)
        input = torch.tensor([SOS_ID])
        for step in range(1, limit + 1):
            _check(should_stop)
            logits, state, _ = model.decoder(input, state, memory)         # [alive, vocab]
            logp = logits.log_softmax(-1)                                  # [alive, vocab]
            # padding, start and unknown are never a hypothesis's next token (no output holds them)
            logp = logp.index_fill(-1, never, float("-inf"))
            top_lp, top_id = logp.topk(min(width, logp.shape[-1] - len(NEVER_CHOSEN_IDS)), -1)  # [alive, width]
            candidates = []
            for row, parent in enumerate(alive):
                for lp, i in zip(top_lp[row].tolist(), top_id[row].tolist()):
                    node = Node(len(nodes), parent, step, vocab.itos[i], nodes[parent].logp + lp, lp,
                                finished=i == EOS_ID)
                    nodes.append(node)
                    candidates.append((node.logp, row, i, node))
            candidates.sort(key=lambda c: -c[0])
            keep_rows, keep_ids, next_alive = [], [], []
            for total, row, i, node in candidates[:width - len(finished)]:
                node.survived = True
                if node.finished:
                    finished.append(Beam(_path(nodes, node.id)[:-1], total, score(total, step), node.id, True))
                else:
                    keep_rows.append(row)
                    keep_ids.append(i)
                    next_alive.append(node.id)
            if len(finished) >= width or not next_alive:
                break
            index = torch.tensor(keep_rows)
            state, memory = model.reorder(state, memory, index)
            input, alive = torch.tensor(keep_ids), next_alive
        else:  # the length limit: the hypotheses still alive are the unfinished beams
            for node_id in alive:
                node = nodes[node_id]
                finished.append(Beam(_path(nodes, node_id), node.logp, score(node.logp, node.step), node_id, False))
    finished.sort(key=lambda b: -b.score)
    return BeamSearch(" ".join(tokens), width, nodes, finished[:width])


def _path(nodes: list[Node], node: int) -> list[str]:
    """The tokens from the start to `node`, following its parent links back."""
    tokens = []
    while nodes[node].parent is not None:
        tokens.append(nodes[node].token)
        node = nodes[node].parent
    return tokens[::-1]
