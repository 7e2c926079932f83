"""What a training run will cost, from its settings alone: estimated before anything is built.

The app (a free Hugging Face Space: 2 vCPU, 16 GB, two trainings at once) refuses settings that would
exhaust it (playground.budget), and sizes its evaluations:

    budget = Budget.from_env()
    val_size = val_size_within(model_config, spec, budget.eval_seconds)    # held-out examples per evaluation
    cost = check(model_config, replace(train_config, val_size=val_size), spec, budget)  # or BudgetError

This module is arithmetic only: it imports no torch, builds no model, allocates no tensor.

What is modelled, at the task's LONGEST length (each batch has one length; the longest costs most):

- memory_mb: the peak RSS of a training worker above an idle one (a fresh process with torch and seq2seq
  imported and one torch thread): the model, its first evaluation, training steps (Adam, clipping, the
  good-weights copy) and the evaluations between them;
- step_seconds: the CPU time of one training step on one torch thread: drawing the batch, forward,
  backward, clipping, Adam;
- eval_seconds: the CPU time of one `seq2seq.training.evaluate` of n held-out examples (greedy decoding, no
  gradients, batches of 1000);
- parameters: exact, by arithmetic.

Sizes: B batch, E embedding, H hidden, n layers, G gates (4 LSTM, 3 GRU), V target vocabulary (14; 15
for addition), S source tokens (max length; 2 x max length + 1 for addition), T decoder steps (max length
+ 1; max length + 2 for addition), I = E + H(2n - 1) the inputs of one timestep's gates over all layers,
P parameters, N = min(val_size, 1000). "Fused" timesteps F are run by nn.LSTM / nn.GRU over a whole
sequence: the encoder's S, plus the decoder's T on the teacher-forcing fast path (ratio >= 1). Below 1
the decoder loops over its T steps in Python, one cell call per layer ("loop"). Costs differ by cell:
nn.LSTM runs a sequence through oneDNN, nn.GRU through ATen's per-timestep loop (so [LSTM | GRU] below).

Fitted formulae (coefficients as of the fit below; playground/cost_fitted.py holds the exact ones):

    memory_mb = 1.25 x (102 MB + 24.5 B x P                              params, grads, Adam, copies
                        + [6.3 | 13.3] B x BHnG x F + [10.7 | 15.2] B x BHnG x T (loop only)
                        + 7.5 B x B(S + T)(E + H(n - 1) if dropout)      embeddings, dropout masks
                        + 204 B x BTV + 27 B x BT(S + H) (attention)     logits and loss, attention
                        + 0.88 B x N(S + T)Hn + 2.0 B x NSHG)            evaluation
                + 32 MB
    step_seconds = 1.30 x (1.5 ms + 0.52 us x B(S + T) + 5.4 ns x P
                        + [67 | 61] ps x BGHI x F + [6.4 | 6.8] ns x BGHn x F + [13 | 228] us x nF
                        + 57 ps x GHI x F (LSTM)                         weight gradients per timestep
                        + loop only: [77 | 81] ps x BGHI x T + 4.7 ns x BGHn x T + 128 us x T(n + 1, or
                          n + 3 with attention) + 0.93 ns x T(GHI + HV + 2H^2 with attention)
                        + 9.6 ps x BTH(V + 2S + 2H with attention)       output layer, attention
                        + 9.9 ns x B(S + T)(E + H(n - 1)) (dropout)
                        + attention: [40 ns fast path | 105 ns loop] x BT(S + H))
                + 5 ms
    eval_seconds = 1.40 x sum over batches of <= 1000 examples (0.60 ms + 0.35 us x N(S + T)
                        + [5.9 | 35] ps x NGHI x S + 48 us x nS (GRU) + [37 | 17] ps x NGHI x T
                        + 2.0 ns x NGHn(S + T) + 37 us x T(n + 1, or n + 3 with attention)
                        + 12 ps x (S + T)GHI + 40 ps x NTH(V + 2S + 2H with attention)
                        + 19 ns x NT(S + H) (attention))
                + 5 ms

How they were fitted: `tools/fit_cost.py` (run it again on the machine whose limits matter) measured 108
configurations on 2026-11-27 on this development machine (AMD EPYC Zen 4, 2 vCPUs under KVM, Python
3.11, torch 2.13.0+cpu), each in a fresh process: presets, one-setting-at-a-time sweeps on both paths
(teacher forcing 1 and 0), both cells, attention, dropout, addition, the form's largest setting and a
seeded random sample of the form's space; it took 17 minutes. Each cost is a non-negative least-squares
fit (relative error) to the features below, so a larger size never lowers an estimate.

Safety margin: each fit is multiplied by a margin, then a fixed slack (32 MB, 5 ms, 5 ms) is added. The
margin is the larger of 1.25 and the smallest factor that puts every measured configuration below its
estimate: 1.25 for memory (measured/fitted: median 1.00, worst 1.23), 1.30 for step time (median 1.02;
the worst ratios, 1.47 and 1.37, are 15 ms and 7 ms steps of small settings, which the slack covers)
and 1.40 for evaluation (median 1.01, worst 1.40). Estimates are so typically 1.3-1.5x the measurement,
and more for tiny settings, where the slack dominates. Caveats:

- times are CPU times of one core of this machine. A Space's vCPU may be slower, and wall time under load
  (two trainings and the server on 2 vCPUs, a nice'd worker) is longer: leave room in the Budget;
- the measured worker is a cold process: about 100 MB of the constant is torch's lazy initialisation
  during the first evaluation and training step (the first step also takes 1-2 s more). A worker forked
  from a warmed-up parent grows less, so the estimate stays an upper bound for it;
- validation lengths vary, so an evaluation pads every batch to the longest: costing it at the longest
  length is the worst case (checked by `tools/fit_cost.py --check`).

Model variants the fit above did not measure get conservative adjustments (by hand, checked against a few
measurements; see `transformer_*` below):

- a bidirectional encoder runs the source twice (and its upper layers read 2H inputs): the RNN features
  count 2 x S encoder timesteps (3 x S with more than one layer), attention's too;
- additive attention has no fast path (its decoder always loops, as with teacher forcing < 1), and its
  energy tanh(W_q q + W_k k) costs about as much again as dot attention: attention features count 2 x S;
- the Transformer has its own estimate (`_transformer_*`): parameters exactly; memory from the activations
  kept for backward per token and layer and the attention maps; time from its multiply-adds at a
  pessimistic 0.1 ns each (forward + backward), an overhead per operator call and per element, and the RNN
  fit's constant, token and parameter terms; then the same margins and slack.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # only for annotations: this module allocates nothing and imports no torch itself
    from seq2seq.config import ModelConfig, TrainConfig
    from seq2seq.tasks import TaskSpec

from .cost_fitted import MB, EVAL_SECONDS, MARGIN, MEMORY_MB, SLACK, STEP_SECONDS
EVAL_BATCH = 1000  # seq2seq.training.evaluate decodes the held-out set in batches of this many
EVAL_FLOOR = 50    # val_size_within never goes below this many held-out examples


# ------------------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Shapes:
    """The sizes that cost depends on, at the task's longest length."""
    cell: str
    gates: int      # 4 for LSTM, 3 for GRU
    emb: int
    hidden: int
    layers: int
    vocab: int      # target vocabulary (the logits' width)
    src_len: int    # source tokens
    trg_steps: int  # decoder steps: target tokens + <eos>
    attention: bool
    dropout: bool
    attn_len: int = 0  # source positions attention's features count (0: src_len); additive attention counts 2 x
    extra_calls: int = 0  # operator calls per decoder step beyond the fitted ones (additive attention's 4)

    @property
    def attn_src(self) -> int:
        return self.attn_len or self.src_len

    @property
    def rnn_in(self) -> int:
        """Inputs + recurrent inputs of one timestep over all layers: E + H for the first, 2H for the rest."""
        return self.emb + self.hidden * (2 * self.layers - 1)


def shapes(model: "ModelConfig", spec: "TaskSpec") -> Shapes:
    """Sizes at the longest length of `spec`: copy-like tasks have max_len source tokens and max_len target
    tokens; addition has 2*max_len+1 source tokens and up to max_len+1 target digits."""
    src, trg = spec.max_source_len, spec.max_target_len
    attention = _attention(model)
    if getattr(model, "bidirectional", False):  # the source is read both ways (upper layers read 2H inputs)
        src *= 2 if model.n_layers == 1 else 3
    additive = attention == "additive"
    return Shapes(model.cell, 4 if model.cell == "lstm" else 3, model.emb_dim, model.hidden_dim, model.n_layers,
                  model.trg_vocab_size, src, trg + 1, attention != "none", model.dropout > 0,
                  2 * src if additive else 0, 4 if additive else 0)


def _attention(model: "ModelConfig") -> str:
    """The attention kind of a config ("none" | "dot" | "general" | "additive"), from a bool too."""
    kind = model.attention
    if isinstance(kind, bool):
        return "dot" if kind else "none"
    return str(kind)


def _is_transformer(model: "ModelConfig") -> bool:
    return getattr(model, "arch", "rnn") == "transformer"


# additive attention's energy tanh(W_q q + W_k k) has batch x target steps x source x hidden elements, which the
# fitted features (made for dot attention's batch x steps x (source + hidden)) do not see: s per element
# (training: forward and backward; decoding) and bytes per element kept for backward
ADDITIVE = {"train": 12e-9, "eval": 4e-9, "bytes": 40}  # bytes: measured peaks, allocator slack included


def _additive_elements(model: "ModelConfig", spec: "TaskSpec", batch: int) -> float:
    if _is_transformer(model) or _attention(model) != "additive":
        return 0.0
    src, trg = spec.max_source_len, spec.max_target_len
    return batch * (trg + 1) * src * model.hidden_dim


def _loops(model: "ModelConfig", teacher_forcing: float) -> bool:
    """Whether training runs the decoder step by step (teacher forcing < 1, or additive attention)."""
    return teacher_forcing < 1.0 or (not _is_transformer(model) and _attention(model) == "additive")


def count_parameters(model: "ModelConfig") -> int:
    """Exactly `seq2seq.count_parameters(build_model(model))`, by arithmetic."""
    if _is_transformer(model):
        return _transformer_parameters(model)
    g = 4 if model.cell == "lstm" else 3
    e, h, n = model.emb_dim, model.hidden_dim, model.n_layers
    kind = _attention(model)
    d = 2 if getattr(model, "bidirectional", False) else 1
    k = d * h  # what the decoder attends to: the encoder's outputs
    # weight_ih, weight_hh, bias_ih, bias_hh per layer (and direction)
    encoder = model.src_vocab_size * e + d * (g * h * (e + h + 2) + (n - 1) * g * h * (d * h + h + 2))
    if d == 2:
        encoder += (2 * h * h + h) * (2 if model.cell == "lstm" else 1)  # the bridge: Linear(2h -> h) for h (and c)
    dec_in = e + (k if kind == "additive" else 0)  # additive attention feeds its context into the RNN
    decoder = (model.trg_vocab_size * e + g * h * (dec_in + h + 2) + (n - 1) * g * h * (2 * h + 2)
               + h * model.trg_vocab_size + model.trg_vocab_size)
    if kind != "none":
        decoder += (h + k + (e if kind == "additive" else 0)) * h + h  # combine
        if kind != "dot" or k != h:
            decoder += k * h  # the key projection
        if kind == "additive":
            decoder += h * h + h  # query projection and energy
    return encoder + decoder


def _transformer_parameters(model: "ModelConfig") -> int:
    d, f, n = model.hidden_dim, _ff(model), model.n_layers
    positions = _max_positions() * d if getattr(model, "positions", "sinusoidal") == "learned" else 0
    attention = 4 * d * d + 4 * d     # qkv and out
    ff = 2 * d * f + f + d
    encoder = model.src_vocab_size * d + positions + n * (attention + ff + 4 * d) + 2 * d
    decoder = (model.trg_vocab_size * d + positions + n * (2 * attention + ff + 6 * d) + 2 * d
               + d * model.trg_vocab_size + model.trg_vocab_size)
    return encoder + decoder


def _ff(model: "ModelConfig") -> int:
    ff = getattr(model, "ff_dim", None)
    return 4 * model.hidden_dim if ff is None else ff


def _max_positions() -> int:
    from seq2seq.config import MAX_POSITIONS  # config.py imports no torch
    return MAX_POSITIONS


# ------------------------------------------------------------------------------------------ features
# Each cost is a non-negative combination of these features, so growing any size never lowers it.


def memory_features(s: Shapes, params: int, batch: int, fast: bool, n_eval: int) -> dict[str, float]:
    """Peak memory: parameters and their copies, activations kept for backward, evaluation's tensors."""
    b, h, g, n, t = batch, s.hidden, s.gates, s.layers, s.trg_steps
    fused = b * h * n * g * (s.src_len + (t if fast else 0))  # nn.LSTM / nn.GRU over whole sequences
    loop = 0 if fast else b * h * n * g * t                   # one cell call per layer and target step
    n_eval = min(n_eval, EVAL_BATCH)
    return {
        "const": 1.0,
        "params": params,
        **_by_cell(s, {"rnn_fused": fused, "rnn_loop": loop}),
        # embeddings, and with dropout the masks on them and between layers
        "embeddings": b * (s.src_len + t) * (s.emb + (h * (n - 1) if s.dropout else 0)),
        "logits": b * t * s.vocab,
        "attention": b * t * (s.attn_src + h) if s.attention else 0,
        "eval": n_eval * (s.src_len + t) * h * n,
        "eval_gates": n_eval * s.src_len * h * g,  # nn.LSTM / nn.GRU project every input timestep at once
    }


def _by_cell(s: Shapes, features: dict[str, float]) -> dict[str, float]:
    """The same features twice, once per cell, zero for the other one: nn.LSTM runs whole sequences
    through oneDNN, nn.GRU through ATen's loop over timesteps, so their costs differ in kind."""
    out = {}
    for cell in ("lstm", "gru"):
        for name, value in features.items():
            out[f"{name}_{cell}"] = value if s.cell == cell else 0
    return out


def step_features(s: Shapes, params: int, batch: int, fast: bool) -> dict[str, float]:
    """One training step: drawing the batch, forward, backward, clipping, Adam."""
    b, h, g, n, t = batch, s.hidden, s.gates, s.layers, s.trg_steps
    steps_fused = s.src_len + (t if fast else 0)  # timesteps run by nn.LSTM / nn.GRU
    steps_loop = 0 if fast else t                 # decoder steps run one cell call at a time
    return {
        "const": 1.0,
        "tokens": b * (s.src_len + t),
        "params": params,
        **_by_cell(s, {
            "fused_macs": b * g * h * s.rnn_in * steps_fused,
            "fused_elems": b * g * h * n * steps_fused,
            "fused_calls": steps_fused * n,
            # per timestep, whatever the batch: the weights' gradient, an outer product as big as the weights
            "fused_weights": steps_fused * g * h * s.rnn_in,
            "loop_macs": b * g * h * s.rnn_in * steps_loop,
        }),
        "loop_elems": b * g * h * n * steps_loop,
        "loop_calls": steps_loop * (n + (3 if s.attention else 1) + s.extra_calls),
        "loop_weights": steps_loop * (g * h * s.rnn_in + h * s.vocab + (2 * h * h if s.attention else 0)),
        # the output layer (and attention's scores, context and Linear(2h->h)): one call over all target
        # steps on the fast path, one per step in the loop
        "head_macs": b * t * h * (s.vocab + ((2 * s.attn_src + 2 * h) if s.attention else 0)),
        "dropout": b * (s.src_len + t) * (s.emb + h * (n - 1)) if s.dropout else 0,  # drawing and applying masks
        "attention_fast": b * t * (s.attn_src + h) if s.attention and fast else 0,
        "attention_loop": b * t * (s.attn_src + h) if s.attention and not fast else 0,
    }


def eval_features(s: Shapes, n: int) -> dict[str, float]:
    """One greedy evaluation batch of n examples (no gradients; nn.LSTM / nn.GRU over the source, then a
    Python loop over target steps, one cell call per layer)."""
    h, g, t = s.hidden, s.gates, s.trg_steps
    return {
        "const": 1.0,
        "tokens": n * (s.src_len + t),
        **_by_cell(s, {
            "enc_macs": n * g * h * s.rnn_in * s.src_len,
            "enc_calls": s.src_len * s.layers,
            "dec_macs": n * g * h * s.rnn_in * t,
        }),
        "elems": n * g * h * s.layers * (s.src_len + t),
        "calls": t * (s.layers + (3 if s.attention else 1) + s.extra_calls),
        "weights": (s.src_len + t) * g * h * s.rnn_in,  # each timestep reads every weight, whatever n
        "head_macs": n * t * h * (s.vocab + ((2 * s.attn_src + 2 * h) if s.attention else 0)),
        "attention": n * t * (s.attn_src + h) if s.attention else 0,
    }




def _combine(coefficients: Mapping[str, float], features: Mapping[str, float]) -> float:
    return sum(coefficients.get(k, 0.0) * v for k, v in features.items())


def _bound(which: str, fitted: float) -> float:
    return fitted * MARGIN[which] + SLACK[which]


# ------------------------------------------------------------------------------------------ estimates


@dataclass(frozen=True)
class Cost:
    memory_mb: float     # peak RSS of the training worker ABOVE an idle one (torch + seq2seq imported), MB, upper bound
    step_seconds: float  # one training step at the longest length, one torch thread, upper bound
    eval_seconds: float  # one evaluation of train_config.val_size held-out examples at the longest length
    parameters: int      # exact parameter count


def memory_mb(model: "ModelConfig", batch_size: int, teacher_forcing: float, spec: "TaskSpec",
              val_size: int) -> float:
    if _is_transformer(model):
        return _bound("memory", _transformer_memory(model, batch_size, spec, val_size))
    s = shapes(model, spec)
    features = memory_features(s, count_parameters(model), batch_size, not _loops(model, teacher_forcing), val_size)
    additive = ADDITIVE["bytes"] * _additive_elements(model, spec, batch_size) / MB
    return _bound("memory", _combine(MEMORY_MB, features) + additive)


def step_seconds(model: "ModelConfig", batch_size: int, teacher_forcing: float, spec: "TaskSpec") -> float:
    if _is_transformer(model):
        return _bound("step", _transformer_step(model, batch_size, teacher_forcing, spec))
    s = shapes(model, spec)
    features = step_features(s, count_parameters(model), batch_size, not _loops(model, teacher_forcing))
    additive = ADDITIVE["train"] * _additive_elements(model, spec, batch_size)
    return _bound("step", _combine(STEP_SECONDS, features) + additive)


def eval_seconds(model: "ModelConfig", spec: "TaskSpec", n: int) -> float:
    """Upper bound of one `seq2seq.training.evaluate` of n held-out examples at the longest length
    (it decodes them in batches of 1000)."""
    if n <= 0:
        return 0.0
    if _is_transformer(model):
        full, rest = divmod(n, EVAL_BATCH)
        fitted = full * _transformer_eval(model, spec, EVAL_BATCH) + (_transformer_eval(model, spec, rest) if rest else 0)
        return _bound("eval", fitted)
    s = shapes(model, spec)
    full, rest = divmod(n, EVAL_BATCH)
    fitted = full * _combine(EVAL_SECONDS, eval_features(s, EVAL_BATCH)) \
        + ADDITIVE["eval"] * _additive_elements(model, spec, n)
    if rest:
        fitted += _combine(EVAL_SECONDS, eval_features(s, rest))
    return _bound("eval", fitted)


def estimate(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec") -> Cost:
    """What training `model` with `train` on `spec` costs at the longest length, before building anything. (A
    decaying teacher-forcing schedule trains below a ratio of 1 after its first step: the step loop's cost.)"""
    ratio = train.teacher_forcing if getattr(train, "tf_schedule", "constant") == "constant" else \
        min(train.teacher_forcing, 0.5)
    return Cost(memory_mb=memory_mb(model, train.batch_size, ratio, spec, train.val_size),
                step_seconds=step_seconds(model, train.batch_size, ratio, spec),
                eval_seconds=eval_seconds(model, spec, train.val_size),
                parameters=count_parameters(model))


def val_size_within(model: "ModelConfig", spec: "TaskSpec", seconds: float, cap: int = 500,
                    floor: int = EVAL_FLOOR) -> int:
    """The largest n <= cap whose evaluation fits in `seconds`, but at least `floor` (and at most cap)."""
    if cap <= floor or eval_seconds(model, spec, cap) <= seconds:
        return cap
    low, high = floor, cap  # eval_seconds grows with n: find the last n that fits
    if eval_seconds(model, spec, low) > seconds:
        return floor
    while high - low > 1:
        mid = (low + high) // 2
        if eval_seconds(model, spec, mid) <= seconds:
            low = mid
        else:
            high = mid
    return low


# ------------------------------------------------------------------------------------------ the Transformer
# Not fitted: a pessimistic hand-made estimate (checked against measurements of a few configurations: it is
# above every one; see tests/unit/test_cost.py). Per operator call, per element and per multiply-add costs are
# those of this machine's slowest measured small-matrix work.

TRANSFORMER = {
    "mac_train": 5.0e-11,   # s per forward multiply-add of a training step (forward + backward + Adam's share)
    "mac_eval": 4.0e-11,    # s per multiply-add while decoding
    "call_train": 30e-6,    # s per operator call in a training step (forward + backward)
    "call_eval": 20e-6,     # s per operator call while decoding
    "elem": 2.0e-9,         # s per activation element touched
    "act_bytes": 4 * 30,    # bytes kept for backward per token, layer and d_model unit (attention, ff, norms)
    "map_bytes": 4 * 6,     # bytes per attention-map entry kept for backward (scores, softmax, dropout mask)
}
_ENC_CALLS, _DEC_CALLS = 30, 45  # operator calls per encoder / decoder layer


def _transformer_sizes(model: "ModelConfig", spec: "TaskSpec") -> tuple[int, int, int, int, int, int, int]:
    s = shapes(model, spec)  # its src_len / trg_steps (never bidirectional: the Transformer ignores it)
    src = spec.max_source_len
    return model.hidden_dim, _ff(model), model.n_layers, model.heads, model.trg_vocab_size, src, s.trg_steps


def _transformer_macs(model: "ModelConfig", spec: "TaskSpec", batch: int) -> float:
    """Forward multiply-adds of one batch through encoder and decoder (all target steps)."""
    d, f, n, _, v, src, t = _transformer_sizes(model, spec)
    encoder = src * n * (4 * d * d + 2 * d * f + 2 * src * d)
    decoder = t * n * (4 * d * d + 2 * d * d + 2 * d * f + 2 * t * d + 2 * src * d) + src * n * 2 * d * d + t * d * v
    return batch * (encoder + decoder)


def _transformer_step(model: "ModelConfig", batch: int, teacher_forcing: float, spec: "TaskSpec") -> float:
    d, f, n, h, v, src, t = _transformer_sizes(model, spec)
    c = TRANSFORMER
    calls = n * (_ENC_CALLS + _DEC_CALLS) + 20
    if teacher_forcing < 1.0:  # the step loop: every decoder layer's calls once per target step
        calls += t * (n * _DEC_CALLS + 10)
    elems = batch * n * ((src + t) * (10 * d + 2 * f) + h * (src * src + t * t + t * src))
    return (STEP_SECONDS["const"] + STEP_SECONDS["tokens"] * batch * (src + t)
            + STEP_SECONDS["params"] * _transformer_parameters(model)
            + c["mac_train"] * _transformer_macs(model, spec, batch) + c["call_train"] * calls + c["elem"] * elems)


def _transformer_eval(model: "ModelConfig", spec: "TaskSpec", examples: int) -> float:
    """One evaluation batch: the encoder once, then one cached decoder step per target step."""
    d, f, n, h, v, src, t = _transformer_sizes(model, spec)
    c = TRANSFORMER
    calls = n * _ENC_CALLS + t * (n * _DEC_CALLS + 10) + 20
    elems = examples * n * ((src + t) * (10 * d + 2 * f) + h * (src * src + t * t + t * src))
    return (EVAL_SECONDS["const"] + EVAL_SECONDS["tokens"] * examples * (src + t)
            + c["mac_eval"] * _transformer_macs(model, spec, examples) + c["call_eval"] * calls + c["elem"] * elems)


def _transformer_memory(model: "ModelConfig", batch: int, spec: "TaskSpec", val_size: int) -> float:
    """MB: the constant and per-parameter bytes of the RNN fit, activations and attention maps kept for
    backward, the logits, and an evaluation's encoder outputs, caches and maps."""
    d, f, n, h, v, src, t = _transformer_sizes(model, spec)
    c = TRANSFORMER
    acts = batch * n * ((src + t) * d * c["act_bytes"] + (src + t) * f * 8)
    maps = batch * n * h * (src * src + t * t + t * src) * c["map_bytes"]
    logits = batch * t * v * MEMORY_MB["logits"] * MB
    e = min(val_size, EVAL_BATCH)
    evaluation = e * n * ((src + t) * d * 4 * 8 + h * src * t * 4) + e * t * v * 8
    return (MEMORY_MB["const"] + MEMORY_MB["params"] * _transformer_parameters(model)
            + (acts + maps + logits + evaluation) / MB)


# ------------------------------------------------------------------------------------------ decoding
# What one decode request costs (the Decode tab, /decode, /what_if, Compare's answers), from the model's real shape,
# the source's length and the strategy, before anything runs. Every decode is costed at its longest: the model
# never says <eos>, so it runs `seq2seq.decode.default_max_len(src)` = 2 x src + 10 steps (at most a Transformer's
# learned positions). Parts, each an upper bound (constants in DECODE, checked by tools/fit_decode_cost.py):
#
# - the model's passes: the encoder once, then one decoder step per output step for R rows (1 for greedy and
#   sampling, the width for beam search), costed as an evaluation batch of R examples (eval_features /
#   _transformer_eval, the training-side formulae) times a factor, plus every parameter read once per step (one
#   row at a time is memory-bound, unlike the batches of 1000 the evaluation was fitted on);
# - beam search's bookkeeping: width x width tree nodes per step made and sorted in Python, and the decoder's state
#   (a Transformer's growing cache, an RNN's memory) reordered every step; then its best beam replayed as a greedy
#   pass to record its steps;
# - the step records kept (seq2seq.decode.Step): the whole distribution, the attention and, for the Transformer,
#   every layer's head over every source token, as float32 tensors, and the Python objects around them;
# - the HTML the views produce: the heatmaps (steps x vocabulary, steps x source), the player (one panel per step,
#   each with its attention strip and the output so far: quadratic in the steps), the tree (bounded), measured
#   in characters, costed in time per character and in memory at 2 bytes per character (the arrows and marks make
#   Python keep them as UCS-2);
# - what if (`what_if=True`): one more greedy pass of the same source, its records and its side-by-side view.

DECODE = {
    "pass_factor": 1.2,        # x the evaluation estimate of R rows, RNN (one-row decoding's per-call overheads)
    "pass_factor_transformer": 0.6,  # x the Transformer's (its hand-made evaluation estimate is pessimistic)
    "weight": 1.5e-10,         # s per parameter read per step (one row's matrix-vector products are memory-bound)
    "pass_const": 0.004,       # s per pass (encode, tensors set up)
    "node": 2.5e-6,            # s per beam tree node (made, scored, sorted)
    "copy": 1.0e-9,            # s per element copied by a beam's reorder
    "record": 2.0e-9,          # s per recorded float (stack, mean, softmax, top-k)
    "step": 12e-6,             # s per recorded step (its Python objects)
    "char": 25e-9,             # s per character of HTML produced
    "slack": 0.01,             # s
    "mb_slack": 0.25,          # MB
}
# characters of HTML per element (measured on the views' output, rounded up; tools/fit_decode_cost.py checks them)
HTML_CHARS = {"per_step": 3000, "dist_cell": 110, "attention_cell": 80, "strip_cell": 100, "so_far": 80,
              "tree_node": 700, "beam_row": 400, "what_if_step": 160, "fixed": 4000}
TREE_NODES_DRAWN = 1000     # playground.views.beams.beam_tree_html's cap on the nodes it draws
TOP_SHOWN = 10              # top-k tokens each recorded step keeps (controls.DECODING["top_k"]'s highest)
# bytes (seq2seq.decode's own: STEP_BYTES, TOP_BYTES, TENSOR_BYTES, NODE_BYTES; kept here so that this module
# needs no torch; tests/unit/test_decode_cost.py checks they agree)
STEP_BYTES, TOP_BYTES, TENSOR_BYTES, NODE_BYTES = 250, 130, 350, 250


@dataclass(frozen=True)
class DecodeCost:
    seconds: float  # CPU seconds of the whole request on one torch thread (upper bound)
    mb: float       # MB of what it keeps and produces: step records, the beam tree, the HTML (upper bound)
    steps: int      # decoder steps at most (the model never saying <eos>)
    rows: int       # hypotheses decoded at once (the beam width; 1 for greedy and sampling)
    nodes: int      # beam tree nodes at most (1 for greedy and sampling)


class _Lengths:
    """The two lengths `_transformer_eval` reads from a TaskSpec, for one source and a number of decoder steps."""

    def __init__(self, src: int, steps: int):
        self.max_source_len, self.max_target_len = src, max(steps - 1, 0)


def decode_steps(model: "ModelConfig", src_len: int) -> int:
    """The most decoder steps a decode of `src_len` tokens runs (seq2seq.decode.default_max_len capped by
    _step_limit: a Transformer with learned positions takes at most MAX_POSITIONS)."""
    steps = 2 * src_len + 10
    if _is_transformer(model) and getattr(model, "positions", "sinusoidal") == "learned":
        steps = min(steps, _max_positions())
    return steps


def _decode_pass(model: "ModelConfig", src_len: int, steps: int, rows: int) -> float:
    """CPU seconds of the encoder and `steps` decoder steps for `rows` hypotheses at once."""
    if _is_transformer(model):
        fitted = _transformer_eval(model, _Lengths(src_len, steps), rows)  # type: ignore[arg-type]
    else:
        kind = _attention(model)
        src = src_len
        if getattr(model, "bidirectional", False):
            src *= 2 if model.n_layers == 1 else 3
        s = Shapes(model.cell, 4 if model.cell == "lstm" else 3, model.emb_dim, model.hidden_dim, model.n_layers,
                   model.trg_vocab_size, src, steps, kind != "none", False, 2 * src if kind == "additive" else 0,
                   4 if kind == "additive" else 0)
        fitted = _combine(EVAL_SECONDS, eval_features(s, rows))
        if kind == "additive":
            fitted += ADDITIVE["eval"] * rows * steps * src_len * model.hidden_dim
    factor = DECODE["pass_factor_transformer"] if _is_transformer(model) else DECODE["pass_factor"]
    return (DECODE["pass_const"] + factor * fitted
            + DECODE["weight"] * (steps + src_len) * count_parameters(model))


def _record_floats(model: "ModelConfig", src_len: int) -> int:
    """Floats one recorded step keeps: the distribution, the attention, a Transformer's every head."""
    floats = model.trg_vocab_size
    if _is_transformer(model):
        floats += src_len + model.n_layers * model.heads * src_len
    elif _attention(model) != "none":
        floats += src_len
    return floats


def _records_bytes(model: "ModelConfig", src_len: int, steps: int) -> float:
    """Bytes of one trace kept (seq2seq.decode.Trace.nbytes at most), and, for the Transformer, the per-step
    copies of its heads that exist while they are stacked."""
    tensors = 3 if _is_transformer(model) else 2
    heads = model.n_layers * model.heads * src_len if _is_transformer(model) else 0
    return (steps * (4 * _record_floats(model, src_len) + 4 * heads + STEP_BYTES + TOP_BYTES * TOP_SHOWN
                     + TENSOR_BYTES * tensors) + 10 * src_len + 1000)


def _html_chars(model: "ModelConfig", src_len: int, steps: int, width: int, nodes: int, what_if: bool) -> float:
    """Characters of HTML a decoding's views produce (verdict, step table, heatmaps, player, tree)."""
    c = HTML_CHARS
    attends = _is_transformer(model) or _attention(model) != "none"
    chars = c["fixed"] + steps * (c["per_step"] + c["dist_cell"] * model.trg_vocab_size)
    chars += c["so_far"] * steps * (steps + 1) / 2  # the player's "output so far", one panel per step
    if attends:
        chars += steps * src_len * (c["attention_cell"] + c["strip_cell"])
    if nodes > 1:
        chars += c["tree_node"] * min(nodes, TREE_NODES_DRAWN) + c["beam_row"] * width
    if what_if:
        chars += c["what_if_step"] * 2 * steps
    return chars


def decode_cost(model: "ModelConfig", src_len: int, strategy: str = "greedy", width: int = 1,
                what_if: bool = False) -> DecodeCost:
    """What decoding a source of `src_len` tokens with `model` costs: greedy or sampling (one row), or beam search
    of `width` (then its best beam replayed); `what_if`: and one more greedy decode of the same source after it
    (/what_if). An upper bound of the CPU time and of the memory of what it keeps and produces."""
    src_len = max(int(src_len), 1)
    steps = decode_steps(model, src_len)
    rows = max(int(width), 1) if strategy == "beam" else 1
    seconds = _decode_pass(model, src_len, steps, rows)
    nodes = 1
    if strategy == "beam":
        nodes = 1 + steps * rows * rows  # each alive hypothesis extended by its `width` best next tokens
        seconds += DECODE["node"] * nodes + _decode_pass(model, src_len, steps, 1)  # the tree, then the replay
        if _is_transformer(model):  # the cache: every layer's keys and values so far, copied every step
            copied = model.n_layers * 2 * rows * model.hidden_dim * steps * (steps + 1) / 2
        else:
            d = 2 if getattr(model, "bidirectional", False) else 1
            copied = steps * rows * (model.n_layers * model.hidden_dim * 2
                                     + (src_len * d * model.hidden_dim * 2 if _attention(model) != "none" else 0))
        seconds += DECODE["copy"] * copied
    passes = 2 if what_if else 1
    floats = steps * _record_floats(model, src_len)
    seconds += passes * (DECODE["record"] * floats + DECODE["step"] * steps)
    if what_if:
        seconds += _decode_pass(model, src_len, steps, 1)
    chars = _html_chars(model, src_len, steps, rows, nodes, what_if)
    seconds += DECODE["char"] * chars + DECODE["slack"]
    memory = passes * _records_bytes(model, src_len, steps) + NODE_BYTES * nodes + 2 * chars
    return DecodeCost(seconds, memory / MB + DECODE["mb_slack"], steps, rows, nodes)


def decode_seconds(model: "ModelConfig", src_len: int, strategy: str = "greedy", width: int = 1,
                   what_if: bool = False) -> float:
    return decode_cost(model, src_len, strategy, width, what_if).seconds


def decode_mb(model: "ModelConfig", src_len: int, strategy: str = "greedy", width: int = 1,
              what_if: bool = False) -> float:
    return decode_cost(model, src_len, strategy, width, what_if).mb
