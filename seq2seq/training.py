"""Training as a generator of events, so the CLI prints them and the app plots them; no printing here.

    state = TrainState.fresh(seed=0)
    for event in train(model, task, TrainConfig(steps=2000), stop=threading.Event(), state=state):
        ...  # StepEvent every step, EvalEvent every `eval_every` steps (or `eval_seconds`), one DoneEvent last

The model is trained in place: whatever stops training (steps, time, target, stop signal, NaN),
the caller's model is the one to keep: with `keep_best` (the default) the weights of the run's best
held-out evaluation (highest exact match, then lowest held-out loss), else its last weights (after a
divergence, those of the last evaluation). When the kept weights are not the last ones, the state
carries the last ones too (`TrainState.last_weights`) and the next run goes on from those.
Every random number a run uses comes from the generators in its `TrainState`, never from a
process-wide one, and the run leaves the state where it stopped: training the same model again with
the same state goes on exactly as one longer run would, and runs in parallel threads do not disturb
each other.
"""
from __future__ import annotations

import json
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors, save as save_safetensors

from .config import TrainConfig
from .decode import Interrupted, decode_batch, default_max_len, evaluating, exact_and_token_hits
from .common import sequence_loss
from .model import Seq2Seq
from .pacing import Pace
from .events import DoneEvent, EvalEvent, Metrics, StepEvent, TrainEvent  # noqa: F401 - also exported here
from .tasks import MAX_SOURCE_TOKENS, NEVER_CHOSEN_IDS, PAD_ID, VALIDATION_SEED, Batch, Example, Task, make_batch, \
    validation_set  # noqa: F401 - also exported here

LR_FLOOR = 0.1                # lr_decay lowers the learning rate linearly to this factor of config.lr
MAX_WATCH = 100               # sources a run may decode at each evaluation for a live preview
STATE_FORMAT = "seq2seq-train-state"
STATE_VERSION = 2              # 2: + the kept evaluation and, when they differ from the model's, the last weights
                               # (and tf_progress, written only when above 0: older states go on from 0)
MAX_STATE_HEADER_BYTES = 200_000  # a real train state's safetensors header: 4 KB + 2.5 KB per RNN layer
_DROPOUT_STREAM = 0x5EED_D809_0F00_0001  # XORed into the seed: dropout masks draw from a stream of their own
_GENERATOR_BYTES = torch.Generator().get_state().numel()  # a CPU generator's state (mt19937 + its position)
_RANDOM_WORDS = 625           # random.Random's state: 624 words of mt19937 and its position
_ADAM_KEYS = ("step", "exp_avg", "exp_avg_sq")


@dataclass
class Kept:
    """The held-out evaluation of the weights a run keeps (with keep_best: its best so far)."""
    step: int
    exact_match: float
    token_accuracy: float
    val_loss: float

    def better_than(self, other: "Kept | None") -> bool:
        """Higher exact match, or the same and a lower held-out loss (ties keep the earlier)."""
        return other is None or self.exact_match > other.exact_match or \
            (self.exact_match == other.exact_match and self.val_loss < other.val_loss)


@dataclass
class TrainState:
    """Where a run stands, besides the weights: what another run needs to go on as if it had not stopped.

    The three generators a run draws from (the examples of each batch, the teacher-forcing coin, the
    dropout masks), Adam's moments per parameter name, and `lr_factor`: the next step's learning rate
    as a factor of config.lr. Learning rate: without lr_decay a run uses config.lr (and leaves the
    factor at 1.0); with lr_decay it lowers the factor from where the state has it (1.0 when fresh) to
    LR_FLOOR (0.1) over its `steps`, linearly or along half a cosine (config.schedule), so continuing a
    decayed run goes on at the low rate instead of jumping back to the full one. config.warmup multiplies
    the rate of the model's first `warmup` steps by 1/warmup, 2/warmup, ...: it counts the model's steps
    (train's start_step), not the run's, so it needs nothing in the state to go on exactly.

    With keep_best: `kept`, the evaluation of the weights the model holds (the best so far, which the next
    run must beat), and `last_weights`, the weights training had reached, per parameter name, when they
    are not the model's (None when the model holds its last weights): a run given this state trains on
    from `last_weights`, so going on is exact whichever weights were kept.

    `tf_progress`: how far a decaying teacher-forcing schedule (config.tf_schedule) has got, from 0 (not begun,
    the ratio is config.teacher_forcing) to 1 (done, the ratio is 0); a run with a decaying schedule takes it from
    there to 1 over its `steps`, as lr_decay does its factor, and a constant one sets it back to 0 (see
    teacher_forcing_at)."""
    batches: random.Random
    teacher_forcing: torch.Generator
    dropout: torch.Generator
    lr_factor: float = 1.0
    adam: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # name -> step, exp_avg, exp_avg_sq
    kept: Kept | None = None
    last_weights: dict[str, torch.Tensor] | None = None
    tf_progress: float = 0.0

    @classmethod
    def fresh(cls, seed: int) -> "TrainState":
        """The state of a new run: every generator seeded from `seed`, no moments yet."""
        return cls(random.Random(seed), torch.Generator().manual_seed(seed),
                   torch.Generator().manual_seed(seed ^ _DROPOUT_STREAM))

    def copy(self) -> "TrainState":
        batches = random.Random()
        batches.setstate(self.batches.getstate())
        return TrainState(batches, _generator(self.teacher_forcing.get_state()), _generator(self.dropout.get_state()),
                          self.lr_factor, {name: {k: v.clone() for k, v in moments.items()}
                                           for name, moments in self.adam.items()},
                          None if self.kept is None else Kept(**asdict(self.kept)),
                          None if self.last_weights is None else {k: v.clone() for k, v in self.last_weights.items()},
                          self.tf_progress)

    def trained_weights(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The parameters training had reached: `last_weights` when the state has them, else the model's."""
        if self.last_weights is not None:
            return dict(self.last_weights)
        return {name: p.detach() for name, p in model.named_parameters()}

    def check(self, model: torch.nn.Module) -> None:
        """Raise ValueError unless the Adam moments are for `model`'s parameters."""
        params = dict(model.named_parameters())
        unknown = sorted(set(self.adam) - set(params))
        if unknown:
            raise ValueError(f"the training state does not fit the model: it has Adam moments for "
                             f"{', '.join(unknown[:3])}, which the model does not have")
        for name, moments in self.adam.items():
            if moments["exp_avg"].shape != params[name].shape:
                raise ValueError(f"the training state does not fit the model: its Adam moments for {name} have "
                                 f"shape {list(moments['exp_avg'].shape)}, the parameter {list(params[name].shape)}")
        if self.last_weights is not None:
            if self.last_weights.keys() != params.keys():
                raise ValueError("the training state does not fit the model: its last weights are for other "
                                 "parameters")
            for name, tensor in self.last_weights.items():
                if tensor.shape != params[name].shape:
                    raise ValueError(f"the training state does not fit the model: its last weights for {name} have "
                                     f"shape {list(tensor.shape)}, the parameter {list(params[name].shape)}")

    def to_bytes(self) -> bytes:
        """The state as safetensors bytes, no pickle: the moments and generator states as tensors, the rest
        as JSON in the metadata."""
        version, words, gauss_next = self.batches.getstate()
        tensors = {"generator.batches": torch.tensor(words, dtype=torch.int64),
                   "generator.teacher_forcing": self.teacher_forcing.get_state(),
                   "generator.dropout": self.dropout.get_state()}
        for name, moments in self.adam.items():
            for key in _ADAM_KEYS:
                tensors[f"adam.{key}.{name}"] = moments[key].detach().float().contiguous()
        for name, tensor in (self.last_weights or {}).items():
            tensors[f"last.{name}"] = tensor.detach().float().contiguous()
        info = {"format": STATE_FORMAT, "version": STATE_VERSION, "lr_factor": self.lr_factor,
                "random_version": version, "gauss_next": gauss_next,
                "kept": None if self.kept is None else asdict(self.kept)}
        if self.tf_progress:  # only when a schedule is under way: other states stay the bytes they always were
            info["tf_progress"] = self.tf_progress
        # one metadata entry: safetensors writes several in any order, and the same state should be the same bytes
        return save_safetensors(tensors, metadata={"state": json.dumps(info)})

    @classmethod
    def from_bytes(cls, data: bytes, model: torch.nn.Module) -> "TrainState":
        """A state from to_bytes, for `model`. Nothing is loaded before the header's names, dtypes and
        shapes are checked against the model; raises ValueError with one sentence if it is damaged or
        does not fit."""
        header = safetensors_header(data, MAX_STATE_HEADER_BYTES, "the training state")
        info = _state_info(header.pop("__metadata__", None))
        params = dict(model.named_parameters())
        layout = _state_layout(params, with_adam=any(name.startswith("adam.") for name in header),
                               with_last=any(name.startswith("last.") for name in header))
        missing, unexpected = sorted(set(layout) - set(header)), sorted(set(header) - set(layout))
        if missing or unexpected:
            parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
                    ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else [])
            raise ValueError(f"the training state does not fit the model: {'; '.join(parts)}")
        for name, (dtype, shape) in layout.items():
            entry = header[name]
            if not isinstance(entry, dict) or entry.get("dtype") != dtype or entry.get("shape") != shape:
                raise ValueError(f"the training state does not fit the model: {name} should be {dtype} of shape "
                                 f"{shape}")
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError) as e:
            raise ValueError(f"the training state is damaged or not a safetensors file ({e})") from None
        state = cls(_random(tensors["generator.batches"], info), _generator(tensors["generator.teacher_forcing"]),
                    _generator(tensors["generator.dropout"]), info["lr_factor"], kept=info["kept"],
                    tf_progress=info["tf_progress"])
        for name in params:
            if "adam.step." + name in tensors:
                state.adam[name] = {key: tensors[f"adam.{key}.{name}"] for key in _ADAM_KEYS}
                _check_moments(name, state.adam[name])
        if any(name.startswith("last.") for name in tensors):
            state.last_weights = {name: tensors["last." + name] for name in params}
            bad = next((name for name, t in state.last_weights.items() if not bool(torch.isfinite(t).all())), None)
            if bad is not None:
                raise ValueError(f"the training state's last weights for {bad} contain NaN or infinite values")
        return state


def _state_layout(params: dict[str, torch.Tensor], with_adam: bool,
                  with_last: bool = False) -> dict[str, tuple[str, list[int]]]:
    """Every tensor of a saved state: name -> (safetensors dtype, shape)."""
    layout = {"generator.batches": ("I64", [_RANDOM_WORDS]), "generator.teacher_forcing": ("U8", [_GENERATOR_BYTES]),
              "generator.dropout": ("U8", [_GENERATOR_BYTES])}
    if with_adam:  # all or none: every parameter gets a gradient, so Adam holds moments for all of them
        for name, p in params.items():
            layout[f"adam.step.{name}"] = ("F32", [])
            layout[f"adam.exp_avg.{name}"] = ("F32", list(p.shape))
            layout[f"adam.exp_avg_sq.{name}"] = ("F32", list(p.shape))
    if with_last:  # all or none: the parameters training had reached, when the model holds earlier ones
        for name, p in params.items():
            layout[f"last.{name}"] = ("F32", list(p.shape))
    return layout


def state_max_bytes(model: torch.nn.Module) -> int:
    """The most bytes a valid saved state of `model` can take (works on a model on the meta device): Adam's two
    moments and step, and the last weights, per parameter."""
    moments = sum(3 * 4 * p.numel() + 4 for p in model.parameters())
    return 8 + MAX_STATE_HEADER_BYTES + moments + 8 * _RANDOM_WORDS + 2 * _GENERATOR_BYTES


def safetensors_header(data: bytes, max_bytes: int, file: str) -> dict[str, Any]:
    """The JSON header at the start of safetensors bytes, read before any tensor is; raises ValueError naming
    `file` when it is not one (too short, a header longer than `max_bytes` or than the data, not a JSON object)."""
    damaged = f"{file} is damaged or not a safetensors file"
    if len(data) < 8:
        raise ValueError(f"{damaged} (too short)")
    n = int.from_bytes(data[:8], "little")
    if n > max_bytes or 8 + n > len(data):
        raise ValueError(f"{damaged} (bad header length)")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError(f"{damaged} (bad header)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{damaged} (bad header)")
    return header


def _state_info(metadata: Any) -> dict[str, Any]:
    """The JSON part of a saved state, checked."""
    try:
        info = json.loads(metadata["state"])
    except (ValueError, TypeError, KeyError, RecursionError):
        info = None
    if not isinstance(info, dict) or info.get("format") != STATE_FORMAT:
        raise ValueError(f"this is not a seq2seq playground training state (no \"format\": \"{STATE_FORMAT}\")")
    if not isinstance(info.get("version"), int):
        raise ValueError("the training state's description is damaged")
    if info["version"] > STATE_VERSION:
        raise ValueError(f"the training state has version {info['version']}; this program reads version "
                         f"{STATE_VERSION} (upgrade seq2seq playground)")
    factor = info.get("lr_factor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 1:
        raise ValueError(f"the training state's lr_factor must be > 0 and <= 1, got {factor!r}")
    gauss = info.get("gauss_next")
    if info.get("random_version") != 3 or not (gauss is None or isinstance(gauss, float) and math.isfinite(gauss)):
        raise ValueError("the training state's batch generator is damaged")
    info["kept"] = _kept(info.get("kept"))
    progress = info.get("tf_progress", 0.0)
    if isinstance(progress, bool) or not isinstance(progress, (int, float)) or not 0 <= progress <= 1:
        raise ValueError(f"the training state's tf_progress must be between 0 and 1, got {progress!r}")
    info["tf_progress"] = float(progress)
    return info


def _kept(data: Any) -> Kept | None:
    """The kept evaluation of a saved state (absent in version 1), checked."""
    if data is None:
        return None
    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    if not (isinstance(data, dict) and set(data) == {"step", "exact_match", "token_accuracy", "val_loss"}
            and isinstance(data["step"], int) and not isinstance(data["step"], bool) and data["step"] >= 0
            and all(number(data[k]) and 0 <= data[k] <= 1 for k in ("exact_match", "token_accuracy"))
            and number(data["val_loss"]) and data["val_loss"] >= 0):
        raise ValueError("the training state's kept evaluation is damaged")
    return Kept(data["step"], float(data["exact_match"]), float(data["token_accuracy"]), float(data["val_loss"]))


def _random(words: torch.Tensor, info: dict[str, Any]) -> random.Random:
    rng = random.Random()
    try:
        rng.setstate((info["random_version"], tuple(words.tolist()), info["gauss_next"]))
    except (ValueError, TypeError, OverflowError):
        raise ValueError("the training state's batch generator is damaged") from None
    return rng


def _generator(state: torch.Tensor) -> torch.Generator:
    generator = torch.Generator()
    try:
        generator.set_state(state)
    except RuntimeError:  # torch checks the size and that it is a valid mt19937 state
        raise ValueError("the training state's generators are damaged") from None
    return generator


def _check_moments(name: str, moments: dict[str, torch.Tensor]) -> None:
    """Moments that cannot come from Adam (NaN, a negative second moment, a fractional step) would send the
    next step anywhere: refuse them."""
    step = float(moments["step"])
    if not (math.isfinite(step) and step >= 0 and step == int(step)):
        raise ValueError(f"the training state's Adam step for {name} is {step}, not a step count")
    if not (bool(torch.isfinite(moments["exp_avg"]).all()) and bool(torch.isfinite(moments["exp_avg_sq"]).all())):
        raise ValueError(f"the training state's Adam moments for {name} contain NaN or infinite values")
    if bool((moments["exp_avg_sq"] < 0).any()):
        raise ValueError(f"the training state's Adam second moments for {name} are negative")


def evaluate(model: Seq2Seq, task: Task, examples: Sequence[Example], batch_size: int = 1000,
             should_stop: Callable[[], bool] | None = None, *, forced: bool = True) -> Metrics:
    """Held-out metrics with teacher forcing off: the model decodes greedily from its own guesses. With `forced`
    (the default; False spares its cost where only the free-running figures are read), also the token accuracy
    with teacher forcing on, on the same examples (`forced_accuracy`, else NaN: every step fed the right
    previous token, as the training loss sees it; no random numbers drawn). An example decoded exactly right
    was fed the right tokens throughout, so teacher forcing would predict what it did: only the others go
    through the forced pass (one parallel forward pass), which costs least once the model is good.
    `should_stop` is asked before every decoder step, and before the forced pass (seq2seq.decode.Interrupted
    when it says yes)."""
    exact = correct = forced_hits = total = 0
    never = torch.tensor(NEVER_CHOSEN_IDS)  # as greedy decoding, the forced pass never predicts these
    loss_sum = 0.0
    with evaluating(model):
        for start in range(0, len(examples), batch_size):
            batch = make_batch(examples[start:start + batch_size], task.vocab)
            pred, logits, _ = decode_batch(model, batch.src, batch.src_lens, batch.trg.shape[1] - 1,
                                           stop_at_eos=False, should_stop=should_stop)
            rows_exact, rows_correct, rows_total = exact_and_token_hits(pred, batch.trg)
            exact += int(rows_exact.sum())
            correct += int(rows_correct.sum())
            total += int(rows_total.sum())
            loss_sum += float(sequence_loss(logits, batch.trg)) * int(rows_total.sum())
            if not forced:
                continue
            forced_hits += int(rows_total[rows_exact].sum())
            wrong = (~rows_exact).nonzero().squeeze(1)                           # [wrong]
            if len(wrong):
                if should_stop is not None and should_stop():
                    raise Interrupted()
                src_lens = batch.src_lens.index_select(0, wrong)                 # [wrong]
                trg = batch.trg.index_select(0, wrong)                           # [wrong, trg_len]
                trg = trg[:, :int((trg != PAD_ID).sum(1).max())]                 # without all-padding columns
                src = batch.src.index_select(0, wrong)[:, :int(src_lens.max())]  # [wrong, src_len]
                logits = model(src, src_lens, trg, 1.0)                          # [wrong, trg_len-1, vocab]
                pred = logits.index_fill(-1, never, float("-inf")).argmax(-1)    # [wrong, trg_len-1]
                forced_hits += int(exact_and_token_hits(pred, trg)[1].sum())
    n = len(examples)
    return Metrics(exact / n, correct / total, loss_sum / total, n, forced_hits / total if forced else math.nan)


TF_SIGMOID_MIDDLE = 0.5  # inverse_sigmoid: the ratio is half its start this far through the schedule


def sigmoid_k(length: float) -> float:
    """Scheduled sampling's k for an inverse-sigmoid schedule `length` steps long: k/(k + exp(i/k)) is a half at
    i = k ln k, so k solves k ln k = TF_SIGMOID_MIDDLE x length (Newton's method; always above 1)."""
    target = TF_SIGMOID_MIDDLE * length
    k = max(2.0, target / math.log(target)) if target > math.e else 2.0
    for _ in range(100):
        step = (k * math.log(k) - target) / (math.log(k) + 1.0)
        k = max(k - step, 1.0 + 1e-9)
        if abs(step) <= 1e-12 * k:
            break
    return k


def teacher_forcing_at(schedule: str, teacher_forcing: float, progress: float, length: float) -> float:
    """The teacher-forcing ratio `progress` (0-1) of the way through a schedule `length` steps long:
    constant: teacher_forcing, whatever the progress;
    linear: teacher_forcing x (1 - progress);
    inverse_sigmoid: teacher_forcing x ((k + 1) s - 1) / (k - 1), where s = k / (k + exp(i / k)) is Bengio et
      al.'s (2015) inverse sigmoid decay at the schedule's step i = progress x length, with k from `length`
      (sigmoid_k: s is a half at the middle); the rescaling (at most 1/(k-1) from s) makes it start at exactly
      teacher_forcing and end at exactly 0, as the linear one does.
    Both decaying ones are 0 from progress 1 on."""
    if schedule == "constant" or progress <= 0.0:
        return teacher_forcing
    if progress >= 1.0:
        return 0.0
    if schedule == "linear":
        return teacher_forcing * (1.0 - progress)
    if schedule == "inverse_sigmoid":
        k = sigmoid_k(length)
        s = k / (k + math.exp(progress * length / k))
        return teacher_forcing * min(1.0, max(0.0, ((k + 1.0) * s - 1.0) / (k - 1.0)))
    raise ValueError(f"unknown teacher-forcing schedule {schedule!r}")


def _watch_batch(task: Task, sources: Sequence[Sequence[str]]) -> Batch | None:
    """The watched sources as one batch (None for none), checked before a run starts."""
    if len(sources) > MAX_WATCH:
        raise ValueError(f"a run can watch at most {MAX_WATCH} sources, got {len(sources)}")
    known = set(task.vocab.tokens)
    for source in sources:
        if isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE_TOKENS:
            raise ValueError(f"a watched source must be a list of 1 to {MAX_SOURCE_TOKENS} tokens, got {source!r:.80}")
        unknown = sorted(set(source) - known)
        if unknown:
            raise ValueError(f"a watched source has unknown token(s) {', '.join(map(repr, unknown[:5]))}: "
                             f"{task.name} knows only {' '.join(task.vocab.tokens)}")
    return make_batch([Example(list(s), []) for s in sources], task.vocab) if sources else None


def _watch_outputs(model: Seq2Seq, task: Task, batch: Batch | None,
                   should_stop: Callable[[], bool] | None = None) -> list[str]:
    """The greedy output of each source of a watch batch, in one batched decode: tokens joined by spaces,
    without <eos>, each as long as greedy_decode would let it run (the default maximum length).
    `should_stop`: as for evaluate (Interrupted before a decoder step when it says yes)."""
    if batch is None:
        return []
    lengths = batch.src_lens.tolist()
    with evaluating(model):
        ids, _, _ = decode_batch(model, batch.src, batch.src_lens, default_max_len(max(lengths)),
                                 should_stop=should_stop)
    return [" ".join(task.vocab.decode(row[:default_max_len(n)].tolist())) for row, n in zip(ids, lengths)]


EVAL_WAIT = 4.0  # evaluations on a time cadence wait at least this many times their own duration
DIVERGENCE_FACTOR = 2.0  # a loss this many times the larger of the run's first loss and a uniform guess's
                         # (ln of the vocabulary size) means training has blown up, not merely wobbled


class _GoodPoint:
    """The parameters and training state at the last point known to be healthy (the run's start, then every
    evaluation), to go back to when training diverges."""

    def __init__(self, model: torch.nn.Module, state: TrainState, step: int):
        self.params = list(model.parameters())
        self.copies = [p.detach().clone() for p in self.params]
        self.state, self.saved = state, state.copy()
        self.step = step

    def save(self, step: int) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self.copies, [p.detach() for p in self.params])
        self.saved = self.state.copy()
        self.step = step

    def restore(self) -> int:
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.copies)
        vars(self.state).update(vars(self.saved))  # the caller's state object, put back in place
        return self.step


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def train(model: Seq2Seq, task: Task, config: TrainConfig, stop: threading.Event | None = None,
          *, start_step: int = 0, eval_at_start: bool = False, state: TrainState | None = None,
          watch: Sequence[Sequence[str]] = (), stop_within: float | None = None,
          clock: Callable[[], float] = time.perf_counter, pace: Pace | None = None) -> Iterator[TrainEvent]:
    """Train `model` in place on `task`, yielding events. Step numbers continue from `start_step`.

    state: the generators, Adam's moments and learning-rate factor to go on from (None: a fresh state
    from config.seed). The run updates it in place at every step: once it ends, `state` is where it left
    off (after a divergence, where its weights went back to), so a later train() with the same model and
    state continues exactly (see TrainState for the learning rate with lr_decay, and for the teacher-forcing
    ratio of config.tf_schedule, teacher_forcing_at; every StepEvent reports the ratio it trained with).
    Evaluation draws from none of the state's generators, so when it happens (or whether one is cut short)
    never changes the training.

    Evaluation happens after a step once `eval_every` steps have passed since the last one, or
    `eval_seconds` of run time since it ended, but never sooner than EVAL_WAIT times as long as it took:
    so on the clock it takes at most about a fifth of the run, however slow a large model's evaluation is. watch: source token lists whose greedy outputs every EvalEvent and the
    DoneEvent carry, in order (a live preview). eval_at_start=True first evaluates the model as it is
    (where a curve starts). The time budget counts from the call, evaluations included: no step starts
    unless it and the final evaluation (as long as the last step and evaluation took) fit in what is
    left. If the loss or the gradients stop being finite, or the loss climbs past DIVERGENCE_FACTOR times
    where it started, training stops (reason "diverged") and training goes back to its weights at the
    last evaluation (or the start of the run).

    stop: when it is set, the run ends after the step under way. With `stop_within` None (the command
    line) it then evaluates its last weights in full. With `stop_within` (seconds; the app) it ends soon
    after the stop instead: an evaluation under way is cut short (between two decoder steps), and the
    last weights are evaluated only if that fits, as long as the last evaluation took, within
    `stop_within` of when the stop could have come at the earliest (the last time it was found unset); an
    evaluation that overruns it is cut short too. A final evaluation that a stop interrupts is given up
    the same way. Otherwise the run ends unevaluated (DoneEvent.evaluated False) with the figures of its
    last evaluation, and says so.

    With config.keep_best, every held-out evaluation (the final one, and the state's `kept` one from
    earlier runs, included) is a candidate, and when the run ends the model holds the best of them
    (Kept.better_than), the state keeps the last weights, and the DoneEvent's figures are the kept
    model's; when it went back, an EvalEvent of the last weights comes first, for the curve. Weights that
    were never evaluated (a run stopped before it could) are no candidate: the model goes back to the
    best evaluated ones, and the state keeps the last weights, so continuing is exact all the same.

    pace: pause, one step and slow, from another thread (seq2seq.pacing). The time it holds the run is left out of
    `clock` (the time budget and the evaluation rhythm count training only), and nothing random is drawn meanwhile,
    so a paused run trains exactly as an unpaused one. A step taken with Pace.one_step() is a StepEvent with
    `single` True and the watched sources' outputs before and after it; settings changed while paused (its learning
    rate, its teacher-forcing ratio) apply from the next step, and that step's StepEvent carries `changed`.
    Every StepEvent reports the gradient norm before clipping and the learning rate it used."""
    config.validate()
    if stop_within is not None and not (math.isfinite(stop_within) and stop_within >= 0):
        raise ValueError(f"stop_within must be a number of seconds >= 0, got {stop_within!r}")
    state = TrainState.fresh(config.seed) if state is None else state
    state.check(model)
    if pace is not None:  # the time the run is held (paused, or slowed) is not the run's
        raw_clock = clock

        def clock() -> float:
            return raw_clock() - pace.held_seconds
    stop_set = stop.is_set if stop is not None else (lambda: False)
    lr_set = config.lr_decay or config.warmup  # the optimizer's rate is set at every step
    watched = _watch_batch(task, watch)
    val_examples = validation_set(task, config.val_size)
    params = dict(model.named_parameters())
    best, best_weights, best_watch = None, None, None  # the best evaluation so far, its weights and outputs
    if config.keep_best and state.kept is not None:  # the model holds the weights of an earlier run's best
        best, best_weights = state.kept, [p.detach().clone() for p in params.values()]
    if state.last_weights is not None:  # ... and training had got further: go on from there
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state.last_weights[name])
    state.kept = state.last_weights = None  # set again when the run ends
    optimizer = torch.optim.Adam(params.values(), lr=config.lr)
    for name, moments in state.adam.items():
        optimizer.state[params[name]] = moments
    start_factor = state.lr_factor
    start_progress = state.tf_progress
    # a decaying schedule's whole length: the run's steps when it begins one; when it goes on with one part-way,
    # the length it would have had for this run to be its rest (so continuing with the steps left is exact)
    tf_length = config.steps / (1.0 - start_progress) if config.tf_schedule != "constant" and start_progress < 1 \
        else float(config.steps or 0)
    good = _GoodPoint(model, state, start_step)
    started = clock()  # after the set-up (a cold process's first torch call can take a second), before any work
    step = start_step
    last_eval: tuple[int, Metrics, list[str]] | None = None
    evaluated_step, evaluated_at = start_step, started  # the last evaluation (or the start), for the cadence
    ceiling: float | None = None  # a loss above this is divergence; set from the run's first loss
    step_seconds = eval_took = 0.0  # how long the last step and the last evaluation took
    quick_stop = stop is not None and stop_within is not None
    interrupt = stop.is_set if quick_stop else None  # evaluations a stop cuts short
    unset_at = started  # when the stop was last found unset: it came after this

    yielded_eval = -1  # the step of the last EvalEvent yielded
    best_forced: dict[int, float] = {}  # the forced accuracy of `best`, when this run evaluated it

    def tf_ratio(steps_done: int) -> float:
        """The teacher-forcing ratio of the run's step `steps_done` (from 0): config.teacher_forcing, or with a
        decaying config.tf_schedule its value at the schedule's progress then (from the state's, in a straight
        line to 1 by the run's last step)."""
        if config.tf_schedule == "constant":
            return config.teacher_forcing
        return teacher_forcing_at(config.tf_schedule, config.teacher_forcing, progress(steps_done), tf_length)

    def progress(steps_done: int) -> float:
        """How far the schedule is after the run's first `steps_done` steps (exactly 1 once they are all done)."""
        if steps_done >= config.steps:
            return 1.0
        return start_progress + (1.0 - start_progress) * steps_done / config.steps

    def ratio_now() -> float:
        """The ratio training is at: the last step's, or before the run's first step that step's."""
        return tf_ratio(max(step - start_step - 1, 0))

    def eval_now(should_stop: Callable[[], bool] | None = None) -> tuple[Metrics, list[str]]:
        """The evaluation of the current weights (once per step); Interrupted when `should_stop` says yes."""
        nonlocal last_eval, eval_took, evaluated_step, evaluated_at, best, best_weights, best_watch, unset_at, \
            best_forced
        if last_eval is None or last_eval[0] != step:
            begun = clock()
            metrics = evaluate(model, task, val_examples, should_stop=should_stop)
            last_eval = (step, metrics, _watch_outputs(model, task, watched, should_stop))
            evaluated_step, evaluated_at = step, clock()
            eval_took = evaluated_at - begun
            if interrupt is not None and should_stop is interrupt:  # it asked to the end: no stop before now
                unset_at = evaluated_at
            m = last_eval[1]
            candidate = Kept(step, m.exact_match, m.token_accuracy, m.loss)
            if config.keep_best and math.isfinite(m.loss) and candidate.better_than(best):
                best, best_watch = candidate, last_eval[2]
                best_forced = {step: m.forced_accuracy}  # (Kept has no room for it: an earlier run's is not known)
                current = [p.detach() for p in params.values()]
                if best_weights is None:
                    best_weights = [p.clone() for p in current]
                else:
                    torch._foreach_copy_(best_weights, current)
        return last_eval[1], last_eval[2]

    def eval_event() -> EvalEvent:
        nonlocal yielded_eval
        m, outputs = eval_now(interrupt)
        yielded_eval = step
        return EvalEvent(step, clock() - started, m.exact_match, m.token_accuracy, m.loss, outputs,
                         forced_accuracy=m.forced_accuracy, teacher_forcing=ratio_now())

    def final_eval() -> bool:
        """Evaluate the last weights for the DoneEvent, unless a stop says there is no time: whether it did."""
        if last_eval is not None and last_eval[0] == step:
            return True
        if not quick_stop:
            eval_now()
            return True
        if not stop.is_set():
            try:  # the run ended by itself: evaluate, unless a stop comes meanwhile
                eval_now(interrupt)
                return True
            except Interrupted:
                pass
        deadline = unset_at + stop_within
        if clock() + eval_took > deadline:  # as long as the last one took, it would not fit
            return False
        try:
            eval_now(lambda: clock() > deadline)
            return True
        except Interrupted:
            return False

    def done(reason: str, message: str) -> Iterator[TrainEvent]:
        if not final_eval():
            yield from unevaluated(reason, message)
            return
        m, outputs = eval_now()
        if best is None or best.step == step:  # the last weights are the ones to keep
            state.kept = best
            yield DoneEvent(step, clock() - started, reason, message, m.exact_match, m.token_accuracy, m.loss,
                            outputs, step, figures_step=step, forced_accuracy=m.forced_accuracy,
                            teacher_forcing=ratio_now())
            return
        if yielded_eval != step:  # the curve's point for the last weights, before the model goes back
            yield eval_event()
        m = last_eval[1]
        go_back()
        kept_watch = best_watch if best_watch is not None else _watch_outputs(model, task, watched)
        message += (f"; kept the model as it was at step {best.step:,}, its best ({best.exact_match:.1%} of "
                    f"held-out sources exactly right, {m.exact_match:.1%} at step {step:,})")
        yield DoneEvent(step, clock() - started, reason, message, best.exact_match, best.token_accuracy,
                        best.val_loss, kept_watch, best.step, figures_step=best.step,
                        forced_accuracy=best_forced.get(best.step, math.nan), teacher_forcing=ratio_now())

    def go_back() -> None:
        """The model to the best evaluation's weights; the state keeps the last ones, to go on from."""
        state.last_weights = {name: p.detach().clone() for name, p in params.items()}
        state.kept = best
        with torch.no_grad():
            torch._foreach_copy_(list(params.values()), best_weights)

    def unevaluated(reason: str, message: str) -> Iterator[TrainEvent]:
        """The end of a run stopped before its last weights were evaluated: the figures are an earlier
        evaluation's, which the message names; with keep_best the model goes back to the best evaluated."""
        nan = float("nan")
        not_this = f"step {step:,} was not evaluated"
        if best is not None and best.step == step:  # an earlier run's evaluation of these very weights
            state.kept = best
            yield DoneEvent(step, clock() - started, reason, message, best.exact_match, best.token_accuracy,
                            best.val_loss, best_watch or [], step, evaluated=False, figures_step=step)
        elif best is not None:
            go_back()
            kept_watch = best_watch
            if kept_watch is None:  # an earlier run's best: what it says now, if there is time for it
                try:
                    kept_watch = _watch_outputs(model, task, watched, lambda: clock() > unset_at + stop_within)
                except Interrupted:
                    kept_watch = []
            message += (f"; kept the model as it was at step {best.step:,}, its best ({best.exact_match:.1%} of held-out "
                        f"sources exactly right; "
                        f"{not_this})")
            yield DoneEvent(step, clock() - started, reason, message, best.exact_match, best.token_accuracy,
                            best.val_loss, kept_watch, best.step, evaluated=False, figures_step=best.step)
        elif last_eval is not None:  # without keep_best: the last weights, and the last figures there are
            state.kept = None
            at, m, outputs = last_eval
            message += f"; held-out figures from step {at:,} ({not_this})"
            yield DoneEvent(step, clock() - started, reason, message, m.exact_match, m.token_accuracy, m.loss,
                            outputs, step, evaluated=False, figures_step=at)
        else:
            state.kept = None
            yield DoneEvent(step, clock() - started, reason, message + "; not evaluated yet", nan, nan, nan, [],
                            step, evaluated=False, figures_step=None)

    def diverged(what: str) -> Iterator[TrainEvent]:
        nonlocal step
        bad_step = step + 1
        step = good.restore()
        yield from done("diverged", f"training diverged at step {bad_step:,} ({what}); went back to the weights "
                                    f"of step {step:,}. Lower the learning rate (it is {config.lr:g}; try "
                                    f"{min(config.lr / 10, 0.005):g})")

    def factor(steps_done: int) -> float:
        """lr_decay's factor of config.lr at the run's step `steps_done` (from 0): from the state's factor down
        to LR_FLOOR by the run's last step, in a straight line or along half a cosine (config.schedule)."""
        if not config.lr_decay:
            return 1.0
        done_part = steps_done / config.steps
        if config.schedule == "cosine":
            return LR_FLOOR + (start_factor - LR_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * done_part))
        return start_factor - (start_factor - LR_FLOOR) * done_part

    def warm(model_step: int) -> float:
        """The warmup's factor for the model's step `model_step` (from 0, counted across runs, so a resumed
        run goes on with the warmup where it stopped): 1/warmup, 2/warmup, ... 1."""
        return 1.0 if model_step >= config.warmup else (model_step + 1) / config.warmup

    def stopped(during_eval: bool = False) -> Iterator[TrainEvent]:
        during = f", during the evaluation of step {step:,}" if during_eval else ""
        yield from done("stopped", f"stopped by request after {step - start_step} steps{during}")

    was_training = model.training
    model.train()
    try:
        if eval_at_start:
            try:
                event = eval_event()
            except Interrupted:
                yield from stopped(during_eval=True)
                return
            yield event
        while True:
            now = clock()
            elapsed = now - started
            if stop is not None and stop.is_set():
                yield from stopped()
                return
            unset_at = now
            if config.steps is not None and step - start_step >= config.steps:
                yield from done("steps", f"finished {config.steps} steps")
                return
            # another step and the final evaluation, as long as the last ones took, must fit in the budget
            if config.time_budget is not None and elapsed + step_seconds + eval_took >= config.time_budget:
                yield from done("time_budget", f"used the time budget of {config.time_budget:g} s")
                return
            single, change = False, None
            if pace is not None:
                single, change = pace.wait(stop_set)
                if stop_set():
                    yield from stopped()
                    return
                unset_at = clock()
                if change is not None:  # from this step on
                    config = replace(config, **{k: v for k, v in (("lr", change.lr),
                                                                  ("teacher_forcing", change.teacher_forcing))
                                                if v is not None})
                    config.validate()
                    lr_set = True
            before = _watch_outputs(model, task, watched) if single else None
            begun = clock()

            examples = task.examples(state.batches, config.batch_size, held_out=False, one_length=True)
            batch = make_batch(examples, task.vocab)
            ratio = tf_ratio(step - start_step)
            logits = model(batch.src, batch.src_lens, batch.trg, ratio, state.teacher_forcing, state.dropout)
            loss = sequence_loss(logits, batch.trg)
            loss_value = float(loss.detach())
            if ceiling is None and math.isfinite(loss_value):
                ceiling = DIVERGENCE_FACTOR * max(loss_value, math.log(logits.shape[-1]))
            if not math.isfinite(loss_value):
                yield from diverged(f"the loss became {loss_value}")
                return
            if loss_value > ceiling:
                start_loss = ceiling / DIVERGENCE_FACTOR
                yield from diverged(f"the loss exploded to {_fmt(loss_value)}, more than {DIVERGENCE_FACTOR:g} × "
                               f"{_fmt(start_loss)}")
                return
            if lr_set:  # polishing at a lower rate often wins the last percent
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * factor(step - start_step) * warm(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params.values(), config.clip))
            if not math.isfinite(grad_norm):
                yield from diverged(f"the gradients became {grad_norm}")
                return
            optimizer.step()
            step += 1
            state.adam = {name: optimizer.state[p] for name, p in params.items() if p in optimizer.state}
            state.lr_factor = factor(step - start_step)
            state.tf_progress = 0.0 if config.tf_schedule == "constant" else progress(step - start_step)
            now = clock()
            step_seconds = now - begun
            yield StepEvent(step, loss_value, now - started, teacher_forcing=ratio, grad_norm=grad_norm,
                            lr=float(optimizer.param_groups[0]["lr"]), single=single,
                            watch_before=before, watch=_watch_outputs(model, task, watched) if single else None,
                            changed=change.describe() if change is not None else None)

            if step - evaluated_step >= config.eval_every or (config.eval_seconds is not None and clock() - evaluated_at
                                                              >= max(config.eval_seconds, EVAL_WAIT * eval_took)):
                try:
                    event = eval_event()
                except Interrupted:
                    yield from stopped(during_eval=True)
                    return
                if math.isfinite(event.val_loss):
                    good.save(step)
                yield event
                if config.target_accuracy is not None and event.exact_match >= config.target_accuracy:
                    yield from done("target_accuracy", f"reached {event.exact_match:.1%} held-out exact match")
                    return
    finally:
        model.train(was_training)


def warm_up() -> None:
    """A few tiny steps of each kind, so lazy initialisation inside torch happens once, here: a process that forks
    its runs afterwards (the app's workers) starts every one warm (a cold process spends its first second on it)."""
    from .builder import build_model
    from .config import ModelConfig
    from .tasks import make_spec

    task = Task(make_spec("reverse", 3, 4))
    for cell in ("lstm", "gru"):
        for attention in (False, True):
            model = build_model(ModelConfig(len(task.vocab), len(task.vocab), cell=cell, emb_dim=8, hidden_dim=8,
                                            attention=attention, n_layers=2, dropout=0.1))
            for teacher_forcing in (1.0, 0.5):
                for _ in train(model, task, TrainConfig(steps=2, batch_size=4, val_size=4, eval_every=1,
                                                        teacher_forcing=teacher_forcing)):
                    pass
