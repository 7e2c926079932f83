"""How to choose the output, as one value people pick: greedy, beam search or sampling; and "what if".

Every strategy ends in a step-by-step `Trace` (for beam search: the best beam's path, replayed with the
`Forced` policy, so each step still shows the whole distribution the model chose from), so every view of
a decoding works the same whichever strategy made it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .controls import STRATEGY_KINDS
from .decode import BeamSearch, Forced, Greedy, Sampling, Trace, beam_search, check_width, greedy_decode
from .model import Seq2Seq
from .tasks import EOS, NEVER_CHOSEN, Vocab

KINDS = STRATEGY_KINDS  # greedy, beam, sampling: the Decode tab's


@dataclass
class Strategy:
    kind: str = "greedy"
    width: int = 5              # beam search
    temperature: float = 1.0    # sampling
    top_k: int | None = None    # sampling: only the k most probable tokens (None: all)
    top_p: float | None = None  # sampling: only the smallest set reaching this probability (None: all)
    seed: int = 0               # sampling

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"strategy must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "beam":
            check_width(self.width)  # the Decode tab's range (controls.DECODING), as beam_search checks it
        if self.kind == "sampling":
            Sampling(self.temperature, self.top_k, self.top_p, self.seed)  # checks the values

    def describe(self) -> str:
        if self.kind == "beam":
            return f"beam search (width {self.width}); the steps follow the best beam"
        if self.kind == "sampling":
            parts = [f"temperature {self.temperature:g}"]
            if self.top_k:
                parts.append(f"top-k {self.top_k}")
            if self.top_p is not None and self.top_p < 1:
                parts.append(f"top-p {self.top_p:g}")
            return f"sampling ({', '.join(parts)}, seed {self.seed})"
        return "greedy (the most probable token at every step)"


def run(model: Seq2Seq, vocab: Vocab, source: str | Sequence[str], strategy: Strategy,
        top_k: int = 3, should_stop: Callable[[], bool] | None = None) -> tuple[Trace, BeamSearch | None]:
    """Decode `source` with `strategy`: the trace of the chosen path, and the beam search's tree (beam only).
    `should_stop` is asked before every decoder step (Interrupted when it says yes)."""
    if strategy.kind == "beam":
        search = beam_search(model, vocab, source, strategy.width, should_stop=should_stop)
        return best_beam_trace(model, vocab, search, top_k, should_stop), search
    policy = (Sampling(strategy.temperature, strategy.top_k, strategy.top_p, strategy.seed)
              if strategy.kind == "sampling" else Greedy())
    return greedy_decode(model, vocab, source, top_k=top_k, policy=policy, should_stop=should_stop), None


def best_beam_trace(model: Seq2Seq, vocab: Vocab, search: BeamSearch, top_k: int = 3,
                    should_stop: Callable[[], bool] | None = None) -> Trace:
    """The best beam as a step-by-step trace: its tokens forced one by one, each step's distribution recorded."""
    best = search.beams[0]
    tokens = best.tokens + ([EOS] if best.finished else [])
    path = {t: vocab.stoi[token] for t, token in enumerate(tokens)}
    return greedy_decode(model, vocab, search.source.split(), max_len=len(path), top_k=top_k, policy=Forced(path),
                         should_stop=should_stop)


def what_if(model: Seq2Seq, vocab: Vocab, trace: Trace, step: int, token: str, top_k: int = 3,
            should_stop: Callable[[], bool] | None = None) -> Trace:
    """The decoding `trace` again, but with `token` chosen at `step` (from 1): the steps before it as they were,
    then greedy from the forced token on. Raises ValueError for a step or token that is not there."""
    if not 1 <= step <= len(trace.steps):
        raise ValueError(f"step must be between 1 and {len(trace.steps)}, got {step}")
    if token not in vocab.stoi or token in NEVER_CHOSEN:
        raise ValueError(f"unknown token {token[:20]!r}: this model knows only {vocab.known()}")
    forced = {t: vocab.stoi[s.token] for t, s in enumerate(trace.steps[:step - 1])}
    forced[step - 1] = vocab.stoi[token]
    return greedy_decode(model, vocab, trace.source.split(), top_k=top_k, policy=Forced(forced, Greedy()),
                         should_stop=should_stop)
