"""A small Transformer encoder-decoder (Vaswani et al. 2017, pre-norm) with exactly the interface decode.py and
training.py use on the RNN `Seq2Seq`:

- `model.encode(src, src_lens, generator) -> (state, memory)`: the state is the decoder's key/value cache
  (empty), the memory the encoder's outputs, the PAD mask and every decoder layer's cross-attention keys and
  values (computed once per source);
- `model.decoder(input_ids [batch], state, memory, generator) -> (logits [batch, vocab], state, weights)`:
  ONE step, appending the step's keys and values to the cache (incremental decoding: the same numbers as
  running the whole prefix again, a test checks to 1e-5); weights is the cross-attention of every layer and
  head, [batch, layers, heads, src_len];
- `model.decoder.forward_sequence(inputs [batch, steps], ...)`: every step at once, causally masked (the
  teacher-forcing fast path), weights [batch, steps, layers, heads, src_len];
- `model.reorder(state, memory, index)` for beam search; `model(src, src_lens, trg, ratio, generator,
  dropout_generator)` as `Seq2Seq.forward` (ratio 1: the parallel path; below 1: the step loop).

Sizes: config.hidden_dim is d_model (divisible by config.heads), config.n_layers the number of encoder
layers and of decoder layers, config.ff_size the feed-forward width, config.dropout applies to the
embeddings, attention weights and every sublayer's output. config.emb_dim and config.cell are not used.
Positions are sinusoidal (any length) or learned (at most MAX_POSITIONS tokens: a longer source or target
is a ValueError). Multi-head attention is written out here, not torch's, so every dropout mask is drawn
from the caller's generator (common._dropout), never torch's global one.

This module imports model.py (the Transformer is a Seq2Seq), never the reverse: builder.py picks one of them
for a config.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import _dropout
from .config import MAX_POSITIONS, ModelConfig
from .model import Seq2Seq
from .tasks import PAD_ID


class TransformerState(NamedTuple):
    """The decoder's self-attention cache: per layer, the keys and values of every step so far."""
    keys: tuple[torch.Tensor, ...]    # per layer [batch, heads, steps, d_head]
    values: tuple[torch.Tensor, ...]  # per layer [batch, heads, steps, d_head]

    @property
    def steps(self) -> int:
        return self.keys[0].shape[2]


class TransformerMemory(NamedTuple):
    """What the decoder attends to: the encoder's outputs, which are real tokens, and per decoder layer the
    cross-attention keys and values of the outputs (they do not change while decoding)."""
    outputs: torch.Tensor             # [batch, src_len, d_model]
    mask: torch.Tensor                # [batch, src_len] True for real tokens, False for PAD
    keys: tuple[torch.Tensor, ...]    # per layer [batch, heads, src_len, d_head]
    values: tuple[torch.Tensor, ...]  # per layer [batch, heads, src_len, d_head]
    bias: torch.Tensor                # [batch, 1, 1, src_len]: 0 for real tokens, -inf for PAD


_SINUSOIDS: dict[int, torch.Tensor] = {}


def sinusoids(length: int, d_model: int) -> torch.Tensor:
    """The sinusoidal position encodings [length, d_model] (Vaswani et al.), from a table grown as needed."""
    table = _SINUSOIDS.get(d_model)
    if table is None or table.shape[0] < length:
        n = max(length, 256, 0 if table is None else 2 * table.shape[0])
        position = torch.arange(n, dtype=torch.float32).unsqueeze(1)                      # [n, 1]
        rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(n, d_model)
        table[:, 0::2] = torch.sin(position * rate)
        table[:, 1::2] = torch.cos(position * rate)[:, :d_model // 2]
        _SINUSOIDS[d_model] = table
    return table[:length]


def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)  # without nn.Module's call overhead: decoding is many small calls


def _norm(layer: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, layer.normalized_shape, layer.weight, layer.bias, layer.eps)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[batch, steps, d_model] -> [batch, heads, steps, d_head]."""
    batch, steps, d = x.shape
    return x.view(batch, steps, heads, d // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """[batch, heads, steps, d_head] -> [batch, steps, d_model]."""
    batch, heads, steps, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, steps, heads * d_head)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)


class CrossAttention(nn.Module):
    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, ff_dim: int):
        super().__init__()
        self.inner = nn.Linear(d_model, ff_dim)
        self.outer = nn.Linear(ff_dim, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _linear(self.outer, torch.relu(_linear(self.inner, x)))


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ff_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = SelfAttention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, ff_dim)


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ff_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = SelfAttention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = CrossAttention(d_model, heads)
        self.norm3 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, ff_dim)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, p: float, training: bool,
            generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention over heads. q [batch, heads, steps, d_head], k and v [batch, heads, keys,
    d_head], bias added to the scores (broadcast to [batch, heads, steps, keys]; -inf hides a key) -> context
    [batch, heads, steps, d_head], weights [batch, heads, steps, keys] (before dropout: they sum to 1)."""
    scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))
    if bias is not None:
        scores = scores + bias
    weights = scores.softmax(-1)
    return _dropout(weights, p, training, generator) @ v, weights


def _self_attention(attn: SelfAttention, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None,
                    bias: torch.Tensor | None, p: float, training: bool, generator: torch.Generator | None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x [batch, steps, d_model] (normalised) -> output [batch, steps, d_model], and the keys and values
    [batch, heads, past + steps, d_head] (the cache, with these steps appended)."""
    batch, steps, d = x.shape
    q, k, v = _linear(attn.qkv, x).view(batch, steps, 3, attn.heads, d // attn.heads).permute(2, 0, 3, 1, 4)
    if past is not None:
        k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
    if training and p > 0:
        context, _ = _attend(q, k, v, bias, p, training, generator)
    else:  # no dropout: torch's fused kernel, fewer calls per decoding step
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    return _linear(attn.out, _merge(context)), k, v


def _causal_bias(steps: int, like: torch.Tensor) -> torch.Tensor | None:
    """[steps, steps]: -inf above the diagonal (a step sees itself and the steps before it), None for one step."""
    if steps == 1:
        return None
    return torch.full((steps, steps), float("-inf"), dtype=like.dtype, device=like.device).triu(1)


class _Embed(nn.Module):
    """Token embeddings x sqrt(d_model) + positions (sinusoidal, or learned up to MAX_POSITIONS), dropout."""

    def __init__(self, vocab: int, d_model: int, positions: str):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab, d_model, padding_idx=PAD_ID)
        nn.init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)  # x sqrt(d_model): unit variance
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.positions = nn.Embedding(MAX_POSITIONS, d_model) if positions == "learned" else None
        if self.positions is not None:
            nn.init.normal_(self.positions.weight, 0.0, d_model ** -0.5)

    def check_length(self, length: int, what: str) -> None:
        if self.positions is not None and length > MAX_POSITIONS:
            raise ValueError(f"this Transformer learned positions for at most {MAX_POSITIONS} tokens; the {what} "
                             f"has {length} (sinusoidal positions have no limit)")

    def forward(self, ids: torch.Tensor, start: int, p: float, training: bool,
                generator: torch.Generator | None) -> torch.Tensor:
        """ids [batch, steps] at positions start, start + 1, ... -> [batch, steps, d_model]."""
        steps = ids.shape[1]
        x = F.embedding(ids, self.embedding.weight, PAD_ID) * math.sqrt(self.d_model)
        if self.positions is None:
            x = x + sinusoids(start + steps, self.d_model)[start:].to(x.device, x.dtype)
        else:
            x = x + self.positions.weight[start:start + steps]
        return _dropout(x, p, training, generator)


class TransformerEncoder(nn.Module):
    def __init__(self, vocab: int, d_model: int, heads: int, ff_dim: int, n_layers: int, dropout: float,
                 positions: str):
        super().__init__()
        self.embed = _Embed(vocab, d_model, positions)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, ff_dim) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.dropout = dropout

    def forward(self, src: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """src [batch, src_len] ids, mask [batch, src_len] (False for PAD) -> outputs [batch, src_len, d_model]."""
        self.embed.check_length(src.shape[1], "source")
        p, training = self.dropout, self.training
        bias = torch.zeros(mask.shape, dtype=torch.float32, device=src.device).masked_fill_(~mask, float("-inf"))
        bias = bias[:, None, None, :]  # [batch, 1, 1, src_len]: no token attends to PAD
        x = self.embed(src, 0, p, training, generator)
        for layer in self.layers:
            out, _, _ = _self_attention(layer.self_attn, _norm(layer.norm1, x), None, bias, p, training, generator)
            x = x + _dropout(out, p, training, generator)
            x = x + _dropout(layer.ff(_norm(layer.norm2, x)), p, training, generator)
        return _norm(self.norm, x)


class TransformerDecoder(nn.Module):
    def __init__(self, vocab: int, d_model: int, heads: int, ff_dim: int, n_layers: int, dropout: float,
                 positions: str):
        super().__init__()
        self.output_dim = vocab
        self.heads = heads
        self.embed = _Embed(vocab, d_model, positions)
        self.layers = nn.ModuleList(DecoderLayer(d_model, heads, ff_dim) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.fc_out = nn.Linear(d_model, vocab)
        self.dropout = dropout

    @property
    def uses_attention(self) -> bool:
        return True

    @property
    def max_steps(self) -> int | None:
        """The most decoder steps (input positions) it can take: None for no limit (sinusoidal positions)."""
        return None if self.embed.positions is None else MAX_POSITIONS

    def forward(self, input: torch.Tensor, state: TransformerState, memory: TransformerMemory,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, TransformerState, torch.Tensor]:
        """Exactly one step. input [batch] ids of the previous token -> logits [batch, vocab], the state with
        this step's keys and values appended, cross-attention weights [batch, layers, heads, src_len]."""
        logits, state, weights = self._run(input.unsqueeze(1), state, memory, generator)
        return logits.squeeze(1), state, weights.squeeze(1)

    def forward_sequence(self, inputs: torch.Tensor, state: TransformerState, memory: TransformerMemory,
                         generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, TransformerState, torch.Tensor]:
        """Every step whose input is known, at once (causal mask). inputs [batch, steps] -> logits [batch, steps,
        vocab], the state after them, cross-attention weights [batch, steps, layers, heads, src_len]."""
        return self._run(inputs, state, memory, generator)

    def _run(self, inputs: torch.Tensor, state: TransformerState, memory: TransformerMemory,
             generator: torch.Generator | None) -> tuple[torch.Tensor, TransformerState, torch.Tensor]:
        start, steps = state.steps, inputs.shape[1]
        self.embed.check_length(start + steps, "target")
        p, training = self.dropout, self.training
        x = self.embed(inputs, start, p, training, generator)  # [batch, steps, d_model]
        causal = _causal_bias(steps, x) if start == 0 else None
        if steps > 1 and start > 0:
            raise ValueError("several steps at once only from the start (an empty cache)")
        keys, values, weights = [], [], []
        for i, layer in enumerate(self.layers):
            past = None if start == 0 else (state.keys[i], state.values[i])
            out, k, v = _self_attention(layer.self_attn, _norm(layer.norm1, x), past, causal, p, training, generator)
            keys.append(k)
            values.append(v)
            x = x + _dropout(out, p, training, generator)
            q = _heads(_linear(layer.cross_attn.q, _norm(layer.norm2, x)), self.heads)  # [batch, heads, steps, d_head]
            context, w = _attend(q, memory.keys[i], memory.values[i], memory.bias, p, training, generator)
            weights.append(w)                                                          # [batch, heads, steps, src]
            x = x + _dropout(_linear(layer.cross_attn.out, _merge(context)), p, training, generator)
            x = x + _dropout(layer.ff(_norm(layer.norm3, x)), p, training, generator)
        logits = _linear(self.fc_out, _norm(self.norm, x))                          # [batch, steps, vocab]
        weights = torch.stack(weights, 1).permute(0, 3, 1, 2, 4)                    # [batch, steps, layers, heads, src]
        return logits, TransformerState(tuple(keys), tuple(values)), weights


class Transformer(Seq2Seq):
    """The Transformer encoder-decoder, a Seq2Seq: forward (teacher forcing 1: the parallel causal path; below
    1: the step loop, one `torch.rand((), generator=generator)` per step) and forward_steps are Seq2Seq's."""

    def __init__(self, encoder: TransformerEncoder, decoder: TransformerDecoder, config: ModelConfig | None = None):
        super().__init__(encoder, decoder, config)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: ModelConfig) -> "Transformer":
        config.validate()
        c = config
        encoder = TransformerEncoder(c.src_vocab_size, c.hidden_dim, c.heads, c.ff_size, c.n_layers, c.dropout,
                                     c.positions)
        decoder = TransformerDecoder(c.trg_vocab_size, c.hidden_dim, c.heads, c.ff_size, c.n_layers, c.dropout,
                                     c.positions)
        return cls(encoder, decoder, config)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor | None,
               generator: torch.Generator | None = None) -> tuple[TransformerState, TransformerMemory]:
        """The decoder's empty cache, and the memory it attends to (with each layer's cross-attention keys and
        values)."""
        batch, src_len = src.shape
        if src_lens is None:
            mask = torch.ones(batch, src_len, dtype=torch.bool, device=src.device)
        else:
            mask = torch.arange(src_len, device=src.device).unsqueeze(0) < src_lens.to(src.device).unsqueeze(1)
        outputs = self.encoder(src, mask, generator)  # [batch, src_len, d_model]
        decoder: TransformerDecoder = self.decoder  # type: ignore[assignment]
        heads, d = decoder.heads, outputs.shape[-1]
        keys, values = [], []
        for layer in decoder.layers:
            k, v = _linear(layer.cross_attn.kv, outputs).view(batch, src_len, 2, heads, d // heads).permute(2, 0, 3, 1, 4)
            keys.append(k)      # [batch, heads, src_len, d_head]
            values.append(v)
        bias = torch.zeros(mask.shape, dtype=outputs.dtype, device=src.device).masked_fill_(~mask, float("-inf"))
        empty = outputs.new_zeros(batch, heads, 0, d // heads)
        state = TransformerState((empty,) * len(decoder.layers), (empty,) * len(decoder.layers))
        return state, TransformerMemory(outputs, mask, tuple(keys), tuple(values), bias[:, None, None, :])

    @staticmethod
    def reorder(state: TransformerState, memory: TransformerMemory,
                index: torch.Tensor) -> tuple[TransformerState, TransformerMemory]:
        """The cache and memory for the batch rows `index` [n] (rows may repeat), for beam search. A memory of
        one row (one source) is kept as it is: every hypothesis attends to it by broadcasting, not copying."""
        def pick(tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            return tuple(t.index_select(0, index) for t in tensors)
        state = TransformerState(pick(state.keys), pick(state.values))
        if memory.outputs.shape[0] == 1:
            return state, memory
        memory = TransformerMemory(memory.outputs.index_select(0, index), memory.mask.index_select(0, index),
                                   pick(memory.keys), pick(memory.values), memory.bias.index_select(0, index))
        return state, memory
