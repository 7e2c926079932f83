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
- attention (Luong-style, after the RNN) is an option: the decoder then also looks at every encoder
  output, and returns its attention weights instead of keeping them on the module.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

import math
from typing import NamedTuple

from .config import ModelConfig
from .tasks import PAD_ID

_RNN = {"lstm": nn.LSTM, "gru": nn.GRU}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Memory(NamedTuple):
    """What an attention decoder looks at: every encoder output, and which of them are real tokens."""
    outputs: torch.Tensor  # [batch, src_len, hid]
    mask: torch.Tensor     # [batch, src_len] True for real tokens, False for PAD


def attention(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention. query [batch, steps, hid], keys [batch, src_len, hid],
    mask [batch, src_len] -> context [batch, steps, hid], weights [batch, steps, src_len]."""
    scores = query @ keys.transpose(1, 2) / math.sqrt(query.shape[-1])  # [batch, steps, src_len]
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    weights = scores.softmax(-1)                                          # [batch, steps, src_len]
    return weights @ keys, weights


def _rnn(cell: str, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float) -> nn.RNNBase:
    # PyTorch applies RNN dropout only between layers, and warns if there is just one layer
    return _RNN[cell](emb_dim, hidden_dim, n_layers, dropout=dropout if n_layers > 1 else 0.0,
                      batch_first=True)


def _dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    """F.dropout, with the mask drawn from `generator`: torch's global generator is shared by every
    thread of the process, so a run drawing from it is not repeatable while another one trains."""
    if not training or p == 0.0:
        return x
    if generator is None:
        raise ValueError("dropout while training needs a torch.Generator (the run's own) to draw its masks from")
    keep = 1.0 - p
    return x * torch.empty_like(x).bernoulli_(keep, generator=generator).div_(keep)


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
    if state is None:
        zeros = data.new_zeros(rnn.num_layers, int(x.batch_sizes[0]) if packed else x.shape[0], rnn.hidden_size)
        state = (zeros, zeros) if is_lstm else zeros
    hidden, cell = state if is_lstm else (state, None)  # [layers, batch, hid]
    new_hidden, new_cell = [], []
    for layer in range(rnn.num_layers):
        if layer > 0:
            data = _dropout(data, rnn.dropout, True, generator)
        weights = [getattr(rnn, f"{name}_l{layer}") for name in _WEIGHTS]
        hx = (hidden[layer:layer + 1], cell[layer:layer + 1]) if is_lstm else hidden[layer:layer + 1]
        op = torch.lstm if is_lstm else torch.gru  # what nn.LSTM / nn.GRU call: biases, 1 layer, no dropout, train
        if packed:
            data, *out = op(data, x.batch_sizes, hx, weights, True, 1, 0.0, True, False)
        else:
            data, *out = op(data, hx, weights, True, 1, 0.0, True, False, True)
        new_hidden.append(out[0])
        if is_lstm:
            new_cell.append(out[1])
    hidden = torch.cat(new_hidden)  # [layers, batch, hid]
    state = (hidden, torch.cat(new_cell)) if is_lstm else hidden
    if not packed:
        return data, state
    if x.unsorted_indices is not None:  # the packed batch is sorted by length; give the state back in order
        state = tuple(s.index_select(1, x.unsorted_indices) for s in state) if is_lstm \
            else state.index_select(1, x.unsorted_indices)
    return nn.utils.rnn.PackedSequence(data, x.batch_sizes, x.sorted_indices, x.unsorted_indices), state


class Encoder(nn.Module):
    def __init__(self, input_dim: int, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float,
                 cell: str = "lstm"):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, emb_dim, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, emb_dim, hidden_dim, n_layers, dropout)
        self.dropout = dropout

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, State]:
        """src: [batch, src_len] ids; src_lens: [batch] real lengths (None: no padding); generator: for the
        dropout masks while training. Returns the outputs [batch, src_len, hid] and the final state after
        each real last token."""
        embedded = _dropout(self.embedding(src), self.dropout, self.training, generator)  # [batch, src_len, emb]
        if src_lens is None or bool((src_lens == src.shape[1]).all()):
            return _run_rnn(self.rnn, embedded, None, generator)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, src_lens.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        outputs, state = _run_rnn(self.rnn, packed, None, generator)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True,
                                                      total_length=src.shape[1])  # [batch, src_len, hid]
        return outputs, state


class Decoder(nn.Module):
    def __init__(self, output_dim: int, emb_dim: int, hidden_dim: int, n_layers: int, dropout: float,
                 cell: str = "lstm", use_attention: bool = False):
        super().__init__()
        self.output_dim = output_dim
        self.embedding = nn.Embedding(output_dim, emb_dim, padding_idx=PAD_ID)
        self.rnn = _rnn(cell, emb_dim, hidden_dim, n_layers, dropout)
        # with attention, the RNN output and its context are mixed before predicting (Luong et al. 2015)
        self.combine = nn.Linear(2 * hidden_dim, hidden_dim) if use_attention else None
        self.fc_out = nn.Linear(hidden_dim, output_dim)
        self.dropout = dropout

    @property
    def uses_attention(self) -> bool:
        return self.combine is not None

    def forward(self, input: torch.Tensor, state: State, memory: Memory | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Exactly one step. input: [batch] ids of the previous token -> logits [batch, vocab], the new
        state, and attention weights [batch, src_len] (None without attention). generator: for the
        dropout masks while training."""
        embedded = _dropout(self.embedding(input), self.dropout, self.training, generator)  # [batch, emb]
        output, state = _rnn_step(self.rnn, embedded, state, generator)                    # [batch, hid]
        logits, weights = self._predict(output.unsqueeze(1), memory)  # [batch, 1, vocab]
        return logits.squeeze(1), state, None if weights is None else weights.squeeze(1)

    def forward_sequence(self, inputs: torch.Tensor, state: State, memory: Memory | None = None,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Many steps whose inputs are all known (teacher forcing), in one RNN call. inputs: [batch, steps]."""
        embedded = _dropout(self.embedding(inputs), self.dropout, self.training, generator)  # [batch, steps, emb]
        output, state = _run_rnn(self.rnn, embedded, state, generator)                      # [batch, steps, hid]
        logits, weights = self._predict(output, memory)  # [batch, steps, vocab]
        return logits, state, weights

    def _predict(self, output: torch.Tensor, memory: Memory | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """RNN outputs [batch, steps, hid] -> logits [batch, steps, vocab], attention [batch, steps, src_len]."""
        if self.combine is None:
            return self.fc_out(output), None
        if memory is None:
            raise ValueError("this decoder uses attention: pass the encoder's memory")
        context, weights = attention(output, memory.outputs, memory.mask)     # [batch, steps, hid]
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
        config.validate()
        c = config
        encoder = Encoder(c.src_vocab_size, c.emb_dim, c.hidden_dim, c.n_layers, c.dropout, c.cell)
        decoder = Decoder(c.trg_vocab_size, c.emb_dim, c.hidden_dim, c.n_layers, c.dropout, c.cell, c.attention)
        return cls(encoder, decoder, config)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor | None,
               generator: torch.Generator | None = None) -> tuple[State, Memory | None]:
        """The decoder's initial state, and the memory it attends to (None without attention)."""
        outputs, state = self.encoder(src, src_lens, generator)  # [batch, src_len, hid]
        if not self.decoder.uses_attention:
            return state, None
        positions = torch.arange(src.shape[1], device=src.device)  # [src_len]
        lens = torch.full((src.shape[0],), src.shape[1], device=src.device) if src_lens is None else src_lens
        return state, Memory(outputs, positions.unsqueeze(0) < lens.to(src.device).unsqueeze(1))

    @staticmethod
    def reorder(state: State, memory: Memory | None, index: torch.Tensor) -> tuple[State, Memory | None]:
        """The decoder's state and memory for the batch rows `index` [n] (rows may repeat): how a beam search
        keeps each hypothesis's own state as hypotheses are extended, dropped and copied."""
        if isinstance(state, tuple):
            state = tuple(s.index_select(1, index) for s in state)  # [layers, n, hid] each
        else:
            state = state.index_select(1, index)
        if memory is not None:
            memory = Memory(memory.outputs.index_select(0, index), memory.mask.index_select(0, index))
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


def sequence_loss(logits: torch.Tensor, trg: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits [batch, trg_len-1, vocab] against trg[:, 1:], PAD positions left out."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=PAD_ID)


def build_model(config: ModelConfig, seed: int = 0) -> Seq2Seq:
    """A freshly initialised model; the same seed gives the same weights, without touching global RNGs."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2Seq.from_config(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
