"""Decoding: greedy search that records every step, for people to look at, and in batches for eval.

Decoding lives apart from the model (JoeyNMT's `search.py` idea): the model computes one decoder
step, and this module decides which token to feed next and records why.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import torch

from .model import Seq2Seq
from .tasks import EOS_ID, PAD_ID, SOS_ID, SOS, Vocab


@dataclass
class Step:
    input: str                     # the token fed into the decoder at this step
    token: str                     # the token chosen
    prob: float                    # its probability
    top: list[tuple[str, float]]   # the k most likely tokens, best first
    attention: list[float] | None = None  # weight on each source token (models with attention)


@dataclass
class Trace:
    source: str
    output: str
    steps: list[Step] = field(default_factory=list)
    finished: bool = True          # False when it hit the length limit before <eos>

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for step in data["steps"]:
            step["top"] = [list(pair) for pair in step["top"]]
            if step["attention"] is None:
                del step["attention"]
        return data


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


def greedy_decode_batch(model: Seq2Seq, src: torch.Tensor, src_lens: torch.Tensor | None, max_len: int,
                        *, stop_at_eos: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Greedy search for a batch. Returns the chosen ids [batch, steps], their logits
    [batch, steps, vocab] and attention weights [batch, steps, src_len] (None without attention);
    steps <= max_len, fewer when every row has produced <eos> (if stop_at_eos).
    Call inside `evaluating(model)` (or with gradients if you need them)."""
    state, memory = model.encode(src, src_lens)
    input = torch.full((src.shape[0],), SOS_ID, dtype=torch.long, device=src.device)  # [batch]
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)            # [batch]
    ids, logits_per_step, weights_per_step = [], [], []
    for _ in range(max_len):
        logits, state, weights = model.decoder(input, state, memory)  # [batch, vocab], [batch, src_len]
        input = logits.argmax(1)                                      # [batch]
        ids.append(input)
        logits_per_step.append(logits)
        weights_per_step.append(weights)
        done |= input == EOS_ID
        if stop_at_eos and bool(done.all()):
            break
    attn = None if memory is None else torch.stack(weights_per_step, 1)
    return torch.stack(ids, 1), torch.stack(logits_per_step, 1), attn


def greedy_decode(model: Seq2Seq, vocab: Vocab, source: str | Sequence[str], *, max_len: int | None = None,
                  top_k: int = 3) -> Trace:
    """Decode one source (a string, parsed with the vocabulary, or a token list) step by step."""
    tokens = vocab.parse(source) if isinstance(source, str) else list(source)
    src = torch.tensor([vocab.encode(tokens)], dtype=torch.long)  # [1, src_len]
    k = max(1, min(top_k, len(vocab)))
    with evaluating(model):
        ids, logits, attn = greedy_decode_batch(model, src, None, max_len or default_max_len(len(tokens)))
    probs = logits[0].softmax(-1)          # [steps, vocab]
    top_p, top_i = probs.topk(k, dim=-1)   # [steps, k]
    steps, fed = [], SOS
    for t, chosen in enumerate(ids[0].tolist()):
        token = vocab.itos[chosen]
        top = [(vocab.itos[i], round(p, 6)) for i, p in zip(top_i[t].tolist(), top_p[t].tolist())]
        weights = None if attn is None else [round(w, 6) for w in attn[0, t].tolist()]
        steps.append(Step(input=fed, token=token, prob=round(float(probs[t, chosen]), 6), top=top,
                          attention=weights))
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
