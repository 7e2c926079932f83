"""The seed tutorial's LSTM encoder-decoder, kept by name: Encoder, Decoder (one step), Seq2Seq.

Changes from the seed, each for a reason:
- PAD is masked: the encoder packs padded sources, and `sequence_loss` ignores PAD targets.
- the decoder computes one step, but the same code runs a whole target in one RNN call, so with
  teacher forcing 1.0 `Seq2Seq` skips the Python loop (the fast path; same loss as the loop);
- teacher forcing is decided per step with a `torch.Generator`, not Python's global `random`, and
  dropout masks (on the embeddings, and between RNN layers) are drawn from a generator the caller
  passes too, never torch's global one: two runs in one process cannot disturb each other;
- no `self.device`: tensors follow the device of the inputs and parameters;
- GRU is an option beside LSTM. An RNN "state" is what the cell uses: (hidden, cell) for LSTM,
  hidden for GRU; it is passed through untouched;
- attention is an option, of three kinds (config.attention): "dot" (the scaled dot product of the RNN
  output with every encoder output, after the RNN step: Luong-style) and "general" (Luong's h . W k, also
  after the RNN step), whose RNN output and context are mixed by `combine` (Linear + tanh) before `fc_out`;
  and "additive" (Bahdanau: v . tanh(W_q q + W_k k), where the query q is the previous step's top-layer
  hidden state, computed BEFORE the RNN step). The additive decoder feeds its context into the RNN with the
  embedding (input feeding), and `combine` mixes the RNN output, the context and the embedding (Bahdanau's
  "deep output") before `fc_out`. Every kind masks PAD (weight exactly 0) and returns its weights
  instead of keeping them on the module;
- the encoder can be bidirectional: a bridge (Linear + tanh, one for h and one for LSTM's c) maps the
  concatenated final forward and backward states of each layer to the decoder's initial state, and the
  encoder outputs (2 x hidden) are what attention attends to (dot attention projects them to hidden size
  for its scores; general and additive attention take 2 x hidden keys in their own W).

A Transformer with the same interface (encode, one decoder step with a key/value cache, reorder, forward)
is in transformer.py, a subclass of `Seq2Seq`; builder.py's `build_model` builds whichever config.arch names.
This module does not know the Transformer: `Seq2Seq.from_config` builds the LSTM/GRU model only. The dropout
that draws from a caller's generator and the loss are common.py's, shared with the Transformer.
"""
from __future__ import annotations

import torch
import torch.nn as nn

import math
from typing import NamedTuple

from .common import _dropout
from .config import ModelConfig
from .tasks import PAD_ID

_RNN = {"lstm": nn.LSTM, "gru": nn.GRU}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Memory(NamedTuple):
    """What an attention decoder looks at: every encoder output, which of them are real tokens, and their
    keys (what the decoder's attention scores its query against; computed once per source)."""
    outputs: torch.Tensor  # [batch, src_len, enc] the values (enc: hidden, or 2 x hidden when bidirectional)
    mask: torch.Tensor     # [batch, src_len] True for real tokens, False for PAD
    keys: torch.Tensor | None = None  # [batch, src_len, hid] (None: the outputs themselves)


def attention(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, values: torch.Tensor | None = None,
              scale: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(Scaled) dot-product attention. query [batch, steps, hid], keys [batch, src_len, hid],
    mask [batch, src_len], values [batch, src_len, enc] (None: the keys) -> context [batch, steps, enc],
    weights [batch, steps, src_len]: each row sums to 1 and is exactly 0 on PAD."""
    scores = query @ keys.transpose(1, 2)                                 # [batch, steps, src_len]
    if scale:
        scores = scores / math.sqrt(query.shape[-1])
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    weights = scores.softmax(-1)                                          # [batch, steps, src_len]
    return weights @ (keys if values is None else values), weights


class Attention(nn.Module):
    """The decoder's attention of one kind ("dot", "general", "additive") over encoder outputs of size
    key_dim, for queries of size hidden_dim. `keys(outputs)` precomputes what does not depend on the query
    (once per source); `forward(query, memory)` scores every query step against them."""

    def __init__(self, kind: str, hidden_dim: int, key_dim: int):
        super().__init__()
        self.kind = kind
        # dot: no weights (a bidirectional encoder's 2H outputs are projected to H for the scores);
        # general: score = q . W k; additive: score = v . tanh(W_q q + W_k k)
        needs_key = kind != "dot" or key_dim != hidden_dim
        self.key = nn.Linear(key_dim, hidden_dim, bias=False) if needs_key else None
        self.query = nn.Linear(hidden_dim, hidden_dim, bias=False) if kind == "additive" else None
        self.energy = nn.Linear(hidden_dim, 1, bias=False) if kind == "additive" else None

    def keys(self, outputs: torch.Tensor) -> torch.Tensor:
        """Encoder outputs [batch, src_len, key_dim] -> keys [batch, src_len, hidden]."""
        return outputs if self.key is None else self.key(outputs)

    def forward(self, query: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        """query [batch, steps, hidden] -> context [batch, steps, key_dim], weights [batch, steps, src_len]."""
        keys = memory.outputs if memory.keys is None else memory.keys
        if self.kind != "additive":
            return attention(query, keys, memory.mask, memory.outputs, scale=self.kind == "dot")
        energy = torch.tanh(self.query(query).unsqueeze(2) + keys.unsqueeze(1))  # [batch, steps, src_len, hidden]
        scores = self.energy(energy).squeeze(-1)                                 # [batch, steps, src_len]
        weights = scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf")).softmax(-1)
        return weights @ memory.outputs, weights


def _rnn(cell: str, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float,
         bidirectional: bool = False) -> nn.RNNBase:
    # PyTorch applies RNN dropout only between layers, and warns if there is just one layer
    return _RNN[cell](emb_dim, hidden_dim, n_layers, dropout=dropout if n_layers > 1 else 0.0,
                      batch_first=True, bidirectional=bidirectional)


_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _run_rnn(rnn: nn.RNNBase, x: torch.Tensor | nn.utils.rnn.PackedSequence, state: State | None,
             generator: torch.Generator | None) -> tuple[torch.Tensor | nn.utils.rnn.PackedSequence, State]:
    """`rnn(x, state)`, except that while training, the dropout between layers draws from `generator`:
    the layers run one at a time (with the module's own weights, so parameter names do not change).
    x: [batch, steps, in] with a state or None, or a PackedSequence with state None (the encoder's)."""
    if not (rnn.training and rnn.dropout > 0):
        return rnn(x, state)
    packed = isinstance(x, nn.utils.rnn.PackedSequence)
    data = x.data if packed else x
    is_lstm = isinstance(rnn, nn.LSTM)
    dirs = 2 if rnn.bidirectional else 1
    if state is None:
        zeros = data.new_zeros(dirs * rnn.num_layers, int(x.batch_sizes[0]) if packed else x.shape[0],
                               rnn.hidden_size)
        state = (zeros, zeros) if is_lstm else zeros
    hidden, cell = state if is_lstm else (state, None)  # [layers * directions, batch, hid]
    new_hidden, new_cell = [], []
    for layer in range(rnn.num_layers):
        if layer > 0:
            data = _dropout(data, rnn.dropout, True, generator)
        weights = [getattr(rnn, f"{name}_l{layer}{suffix}") for suffix in ("", "_reverse")[:dirs] for name in _WEIGHTS]
        at = slice(dirs * layer, dirs * (layer + 1))
        hx = (hidden[at], cell[at]) if is_lstm else hidden[at]
        op = torch.lstm if is_lstm else torch.gru  # what nn.LSTM / nn.GRU call: biases, 1 layer, no dropout, train
        if packed:
            data, *out = op(data, x.batch_sizes, hx, weights, True, 1, 0.0, True, dirs == 2)
        else:
            data, *out = op(data, hx, weights, True, 1, 0.0, True, dirs == 2, True)
        new_hidden.append(out[0])
        if is_lstm:
            new_cell.append(out[1])
    hidden = torch.cat(new_hidden)  # [layers * directions, batch, hid]
    state = (hidden, torch.cat(new_cell)) if is_lstm else hidden
    if not packed:
        return data, state
    if x.unsorted_indices is not None:  # the packed batch is sorted by length; give the state back in order
        state = tuple(s.index_select(1, x.unsorted_indices) for s in state) if is_lstm \
            else state.index_select(1, x.unsorted_indices)
    return nn.utils.rnn.PackedSequence(data, x.batch_sizes, x.sorted_indices, x.unsorted_indices), state


class Encoder(nn.Module):
    def __init__(self, input_dim: int, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float,
                 cell: str = "lstm", bidirectional: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, emb_dim, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, emb_dim, hidden_dim, n_layers, dropout, bidirectional)
        self.dropout = dropout
        # bidirectional: [forward; backward] final states of each layer -> the decoder's initial state
        self.bridge_h = nn.Linear(2 * hidden_dim, hidden_dim) if bidirectional else None
        self.bridge_c = nn.Linear(2 * hidden_dim, hidden_dim) if bidirectional and cell == "lstm" else None

    @property
    def output_dim(self) -> int:
        return self.rnn.hidden_size * (2 if self.rnn.bidirectional else 1)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, State]:
        """src: [batch, src_len] ids; src_lens: [batch] real lengths (None: no padding); generator: for the
        dropout masks while training. Returns the outputs [batch, src_len, hid] ([batch, src_len, 2 hid] when
        bidirectional) and the final state after each real last token ([layers, batch, hid]: a bidirectional
        encoder's goes through the bridge, so it is the decoder's initial state either way)."""
        embedded = _dropout(self.embedding(src), self.dropout, self.training, generator)  # [batch, src_len, emb]
        if src_lens is None or bool((src_lens == src.shape[1]).all()):
            outputs, state = _run_rnn(self.rnn, embedded, None, generator)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(embedded, src_lens.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            outputs, state = _run_rnn(self.rnn, packed, None, generator)
            outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True,
                                                          total_length=src.shape[1])  # [batch, src_len, hid]
        if self.bridge_h is None:
            return outputs, state
        if isinstance(state, tuple):
            return outputs, (_bridge(self.bridge_h, state[0]), _bridge(self.bridge_c, state[1]))
        return outputs, _bridge(self.bridge_h, state)


def _bridge(linear: nn.Linear, state: torch.Tensor) -> torch.Tensor:
    """[layers * 2, batch, hid] (forward and backward of each layer, interleaved) -> tanh(W [fwd; bwd] + b)
    [layers, batch, hid]."""
    return torch.tanh(linear(torch.cat([state[0::2], state[1::2]], -1)))


def attention_kind(use_attention: bool | str) -> str:
    """"none" | "dot" | "general" | "additive" from a kind or the old bool (True: "dot")."""
    if isinstance(use_attention, bool):
        return "dot" if use_attention else "none"
    if use_attention not in ("none", "dot", "general", "additive"):
        raise ValueError(f"attention must be one of none, dot, general, additive, got {use_attention!r}")
    return str(use_attention)


class Decoder(nn.Module):
    def __init__(self, output_dim: int, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float,
                 cell: str = "lstm", use_attention: bool | str = False, key_dim: int | None = None):
        """use_attention: False/"none", True/"dot", "general" or "additive"; key_dim: the size of the encoder
        outputs attended to (hidden_dim, or 2 x hidden_dim from a bidirectional encoder)."""
        super().__init__()
        kind = attention_kind(use_attention)
        key_dim = key_dim or hidden_dim
        self.kind = kind
        self.output_dim = output_dim
        self.embedding = nn.Embedding(output_dim, emb_dim, padding_idx=PAD_ID)
        # additive attention feeds its context into the RNN beside the embedding (input feeding)
        self.rnn = _rnn(cell, emb_dim + (key_dim if kind == "additive" else 0), hidden_dim, n_layers, dropout)
        # with attention, the RNN output and its context (and for additive attention the embedding too:
        # Bahdanau's deep output) are mixed before predicting (Luong et al. 2015)
        combine_in = hidden_dim + key_dim + (emb_dim if kind == "additive" else 0)
        self.combine = nn.Linear(combine_in, hidden_dim) if kind != "none" else None
        self.fc_out = nn.Linear(hidden_dim, output_dim)
        self.dropout = dropout
        self.attention = Attention(kind, hidden_dim, key_dim) if kind != "none" else None

    @property
    def uses_attention(self) -> bool:
        return self.combine is not None

    def forward(self, input: torch.Tensor, state: State, memory: Memory | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Exactly one step. input: [batch] ids of the previous token -> logits [batch, vocab], the new
        state, and attention weights [batch, src_len] (None without attention). generator: for the
        dropout masks while training."""
        embedded = _dropout(self.embedding(input), self.dropout, self.training, generator)  # [batch, emb]
        if self.kind == "additive":
            return self._additive_step(embedded, state, memory, generator)
        output, state = _rnn_step(self.rnn, embedded, state, generator)                    # [batch, hid]
        logits, weights = self._predict(output.unsqueeze(1), memory)  # [batch, 1, vocab]
        return logits.squeeze(1), state, None if weights is None else weights.squeeze(1)

    def _additive_step(self, embedded: torch.Tensor, state: State, memory: Memory | None,
                       generator: torch.Generator | None) -> tuple[torch.Tensor, State, torch.Tensor]:
        """Bahdanau: attend from the previous top-layer hidden state, then run the RNN on [embedding; context]."""
        output, context, state, weights = self._additive_rnn_step(embedded, state, memory, generator)
        output = torch.tanh(self.combine(torch.cat([output, context, embedded], -1)))             # [batch, hid]
        return self.fc_out(output), state, weights

    def _additive_rnn_step(self, embedded: torch.Tensor, state: State, memory: Memory | None,
                           generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, State, torch.Tensor]:
        """The part of an additive step the next step depends on: the RNN output [batch, hid], the context
        [batch, enc], the new state and the attention weights [batch, src_len]."""
        if memory is None:
            raise ValueError("this decoder uses attention: pass the encoder's memory")
        query = (state[0] if isinstance(state, tuple) else state)[-1]           # [batch, hid]
        context, weights = self.attention(query.unsqueeze(1), memory)           # [batch, 1, enc], [batch, 1, src_len]
        context = context.squeeze(1)                                            # [batch, enc]
        output, state = _rnn_step(self.rnn, torch.cat([embedded, context], -1), state, generator)  # [batch, hid]
        return output, context, state, weights.squeeze(1)

    def forward_sequence(self, inputs: torch.Tensor, state: State, memory: Memory | None = None,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Many steps whose inputs are all known (teacher forcing), in one RNN call. inputs: [batch, steps].
        (Additive attention needs each step's state before the next RNN step: it runs step by step.)"""
        embedded = _dropout(self.embedding(inputs), self.dropout, self.training, generator)  # [batch, steps, emb]
        if self.kind == "additive":  # only the recurrence runs step by step; the output layers run once
            outputs, contexts, weights = [], [], []
            for t in range(inputs.shape[1]):
                output, context, state, step_weights = self._additive_rnn_step(embedded[:, t], state, memory,
                                                                               generator)
                outputs.append(output)
                contexts.append(context)
                weights.append(step_weights)
            mixed = torch.tanh(self.combine(torch.cat([torch.stack(outputs, 1), torch.stack(contexts, 1), embedded],
                                                      -1)))                    # [batch, steps, hid]
            return self.fc_out(mixed), state, torch.stack(weights, 1)
        output, state = _run_rnn(self.rnn, embedded, state, generator)                      # [batch, steps, hid]
        logits, weights = self._predict(output, memory)  # [batch, steps, vocab]
        return logits, state, weights

    def _predict(self, output: torch.Tensor, memory: Memory | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """RNN outputs [batch, steps, hid] -> logits [batch, steps, vocab], attention [batch, steps, src_len]."""
        if self.combine is None:
            return self.fc_out(output), None
        if memory is None:
            raise ValueError("this decoder uses attention: pass the encoder's memory")
        context, weights = self.attention(output, memory)                     # [batch, steps, enc]
        output = torch.tanh(self.combine(torch.cat([output, context], -1)))  # [batch, steps, hid]
        return self.fc_out(output), weights


def _rnn_step(rnn: nn.RNNBase, x: torch.Tensor, state: State,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, State]:
    """One time step of a (multi-layer) nn.LSTM / nn.GRU with its own weights, through the cell kernels:
    the same numbers as `rnn(x.unsqueeze(1), state)` (a test checks), at a quarter of the per-call cost,
    which is most of the time of step-by-step decoding. x: [batch, emb] -> output [batch, hid], state.
    While training, the dropout between layers draws from `generator`."""
    is_lstm = isinstance(rnn, nn.LSTM)
    hidden, cell = state if is_lstm else (state, None)  # [layers, batch, hid]
    new_hidden, new_cell = [], []
    for layer in range(rnn.num_layers):
        weights = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if is_lstm:
            h, c = torch.lstm_cell(x, (hidden[layer], cell[layer]), *weights)  # [batch, hid] each
            new_cell.append(c)
        else:
            h = torch.gru_cell(x, hidden[layer], *weights)                     # [batch, hid]
        new_hidden.append(h)
        x = h if layer == rnn.num_layers - 1 else _dropout(h, rnn.dropout, rnn.training, generator)
    hidden = torch.stack(new_hidden)  # [layers, batch, hid]
    return x, ((hidden, torch.stack(new_cell)) if is_lstm else hidden)


class Seq2Seq(nn.Module):
    def __init__(self, encoder: Encoder, decoder: Decoder, config: ModelConfig | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.config = config

    @classmethod
    def from_config(cls, config: ModelConfig) -> "Seq2Seq":
        """The LSTM/GRU model `config` describes (its own weights initialised from torch's current generator:
        use builder.build_model for seeded ones). A Transformer config is builder.from_config's (or
        Transformer.from_config's) to build: this module does not import the Transformer."""
        config.validate()
        if config.arch != "rnn":
            raise ValueError(f"Seq2Seq.from_config builds the LSTM/GRU model (arch 'rnn'), not arch "
                             f"{config.arch!r}: build any model with seq2seq.build_model or "
                             f"seq2seq.builder.from_config")
        c = config
        encoder = Encoder(c.src_vocab_size, c.emb_dim, c.hidden_dim, c.n_layers, c.dropout, c.cell, c.bidirectional)
        decoder = Decoder(c.trg_vocab_size, c.emb_dim, c.hidden_dim, c.n_layers, c.dropout, c.cell, c.attention,
                          encoder.output_dim)
        return cls(encoder, decoder, config)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor | None,
               generator: torch.Generator | None = None) -> tuple[State, Memory | None]:
        """The decoder's initial state, and the memory it attends to (None without attention)."""
        outputs, state = self.encoder(src, src_lens, generator)  # [batch, src_len, enc]
        if not self.decoder.uses_attention:
            return state, None
        positions = torch.arange(src.shape[1], device=src.device)  # [src_len]
        lens = torch.full((src.shape[0],), src.shape[1], device=src.device) if src_lens is None else src_lens
        mask = positions.unsqueeze(0) < lens.to(src.device).unsqueeze(1)  # [batch, src_len]
        return state, Memory(outputs, mask, self.decoder.attention.keys(outputs))

    @staticmethod
    def reorder(state: State, memory: Memory | None, index: torch.Tensor) -> tuple[State, Memory | None]:
        """The decoder's state and memory for the batch rows `index` [n] (rows may repeat): how a beam search
        keeps each hypothesis's own state as hypotheses are extended, dropped and copied. A memory of one row
        (one source) is kept as it is: every hypothesis attends to it by broadcasting, not copying."""
        if isinstance(state, tuple):
            state = tuple(s.index_select(1, index) for s in state)  # [layers, n, hid] each
        else:
            state = state.index_select(1, index)
        if memory is not None and memory.outputs.shape[0] > 1:
            outputs = memory.outputs.index_select(0, index)
            keys = memory.keys
            keys = outputs if keys is None or keys is memory.outputs else keys.index_select(0, index)
            memory = Memory(outputs, memory.mask.index_select(0, index), keys)
        return state, memory

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor | None, trg: torch.Tensor,
                teacher_forcing_ratio: float = 0.5, generator: torch.Generator | None = None,
                dropout_generator: torch.Generator | None = None) -> torch.Tensor:
        """trg: [batch, trg_len] starting with <sos>. Returns logits for trg[:, 1:]: [batch, trg_len-1, vocab].
        generator decides teacher forcing; dropout_generator draws the dropout masks (needed while
        training a model with dropout)."""
        if teacher_forcing_ratio >= 1.0:
            state, memory = self.encode(src, src_lens, dropout_generator)
            logits, _, _ = self.decoder.forward_sequence(trg[:, :-1], state, memory, dropout_generator)
            return logits
        return self.forward_steps(src, src_lens, trg, teacher_forcing_ratio, generator, dropout_generator)

    def forward_steps(self, src: torch.Tensor, src_lens: torch.Tensor | None, trg: torch.Tensor,
                      teacher_forcing_ratio: float = 0.5, generator: torch.Generator | None = None,
                      dropout_generator: torch.Generator | None = None) -> torch.Tensor:
        """The seed's loop: one decoder step at a time, feeding the truth or the model's own guess."""
        state, memory = self.encode(src, src_lens, dropout_generator)
        input = trg[:, 0]  # [batch] <sos>
        steps = []
        for t in range(1, trg.shape[1]):
            logits, state, _ = self.decoder(input, state, memory, dropout_generator)  # [batch, vocab]
            steps.append(logits)
            if teacher_forcing_ratio >= 1.0:
                input = trg[:, t]
            elif teacher_forcing_ratio <= 0.0:
                input = logits.argmax(1)
            else:
                teacher_force = torch.rand((), generator=generator).item() < teacher_forcing_ratio
                input = trg[:, t] if teacher_force else logits.argmax(1)
        return torch.stack(steps, dim=1)  # [batch, trg_len-1, vocab]
