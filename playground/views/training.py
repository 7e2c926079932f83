"""A training, shown: the loss and accuracy plots' data, progress lines, the task and model described, the live
preview and the model's diagram."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from seq2seq.data import DataTask
from seq2seq.tasks import Task, describe

from .common import RIGHT, WRONG, _mark, esc, md

if TYPE_CHECKING:  # types only: the page is built without torch
    from seq2seq.history import History

# Short: a LinePlot's legend is one row, cut at the plot's edge, and four of these fit on a phone (330 px).
# The training loss of each step (faint) and its moving average; the held-out loss; the best any model can do (a
# task with noise); a vertical line where settings were changed while paused
LOSS_SERIES = ("raw", "smoothed", "held-out", "floor", "changed")
# held-out exact match; token accuracy with teacher forcing off ("free": the model's own guesses fed back) and on
# ("forced": the right previous token fed, as the training loss sees it); the teacher-forcing ratio training is at
ACCURACY_SERIES = ("exact match", "free", "forced", "ratio")
LOSS_COLOURS = dict(zip(LOSS_SERIES, ("#c7d2fe", "#4338ca", "#f59e0b", "#64748b", "#dc2626")))
ACCURACY_COLOURS = dict(zip(ACCURACY_SERIES, ("#15803d", "#0ea5e9", "#a855f7", "#94a3b8")))


def loss_frame(history: History, max_points: int = 300, log: bool = False,
               floor: float | None = None) -> pd.DataFrame | None:
    """Long-format frame for the loss plot: step, value, series. The smoothed training loss is the line to
    read; the raw one (faint) shows the noise; `floor` (when above zero) is the best any model can do.
    With `log`, values are log10 of the loss, so the last factors of ten stay visible."""
    rows = []
    for step, raw, smooth in history.loss_points(max_points):
        rows += [(step, raw, LOSS_SERIES[0]), (step, smooth, LOSS_SERIES[1])]
    rows += [(e.step, e.val_loss, LOSS_SERIES[2]) for e in history.eval_points(max_points)]
    if not rows:
        return None
    if floor:
        first, last = min(r[0] for r in rows), max(r[0] for r in rows)
        rows += [(first, floor, LOSS_SERIES[3]), (last, floor, LOSS_SERIES[3])]
    if history.marks:  # a vertical line at each: up from the axis and back (the line runs on along the axis)
        values = [r[1] for r in rows if math.isfinite(r[1]) and r[1] > 0]
        low, high = (min(values) if log else 0.0), max(values)
        for step, _ in sorted(history.marks):
            rows += [(step, low, LOSS_SERIES[4]), (step, high, LOSS_SERIES[4]), (step, low, LOSS_SERIES[4])]
    frame = pd.DataFrame([r for r in rows if math.isfinite(r[1])], columns=["step", "loss", "series"])
    if log:
        frame["loss"] = frame["loss"].clip(lower=1e-6).map(math.log10)
    return frame


def accuracy_frame(history: History, max_points: int = 300) -> pd.DataFrame | None:
    """Long-format frame for the accuracy plot, in percent, at each held-out evaluation: exact match, token accuracy
    with teacher forcing off and on (exposure bias is the gap), and the teacher-forcing ratio training was at. Every
    evaluation gives a row to every series it measured (a LinePlot draws only the series of its first data); an
    evaluation recorded before the forced accuracy and the ratio were (an older checkpoint's curve) has none."""
    rows = []
    for e in history.eval_points(max_points):
        if not (math.isfinite(e.exact_match) and math.isfinite(e.token_accuracy)):
            continue
        values = (e.exact_match, e.token_accuracy, e.forced_accuracy, e.teacher_forcing)
        rows += [(e.step, 100 * x, name) for x, name in zip(values, ACCURACY_SERIES) if math.isfinite(x)]
    return pd.DataFrame(rows, columns=["step", "percent", "series"]) if rows else None


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


class Eta:
    """Time left, steady enough to read: the rate is the run's average so far (evaluations included), no
    estimate is given until the run has gone on for `settle` seconds, and it is shown in 5-second steps."""

    def __init__(self, start_step: int, target_step: int | None, budget: float, settle: float = 1.5):
        self.start_step, self.target_step, self.budget, self.settle = start_step, target_step, budget, settle

    def rate(self, step: int, elapsed: float) -> float:
        return (step - self.start_step) / elapsed if elapsed > 0 else 0.0

    def left(self, step: int, elapsed: float) -> float | None:
        if elapsed < self.settle or step <= self.start_step:
            return None
        left = self.budget - elapsed
        if self.target_step is not None:
            left = min(left, (self.target_step - step) / self.rate(step, elapsed))
        return max(0.0, 5 * math.ceil(left / 5))


def progress_line(step: int, history: History, eta: Eta, elapsed: float) -> str:
    """The status while training: step, smoothed loss, latest held-out accuracy, speed and time left."""
    parts = [f"step {step:,}" + (f" / {eta.target_step:,}" if eta.target_step else "")]
    if history.smoothed:
        parts.append(f"loss {history.smoothed[-1]:.3f}")
    if history.evals:
        e = history.evals[-1]
        parts.append(f"held-out exact match {e.exact_match:.1%}")
    if elapsed > 0 and step > eta.start_step:
        parts.append(f"{eta.rate(step, elapsed):,.0f} steps/s")
    left = eta.left(step, elapsed)
    parts.append("estimating time left…" if left is None else f"about {duration(left)} left")
    return "Training: " + " · ".join(parts)


def done_line(reason: str, message: str, ran: int, elapsed: float, step: int, exact: float, tokens: float,
              val_loss: float, why: str | None = None, figures_step: int | None = None) -> str:
    """How a run ended, in one sentence, with what to do next. `figures_step`: the step whose held-out
    evaluation the figures are, when it is not `step` (None: `step`'s; NaN figures: none)."""
    stopped = reason in ("stopped", "diverged")
    why = f" ({why})" if why and reason == "stopped" else ""
    note = {"stopped": " The model is kept: press Train to continue it, or decode with it.",
            "time_budget": " Press Train to continue."}.get(reason, "")
    if not all(math.isfinite(x) for x in (exact, tokens, val_loss)):
        figures = "not evaluated yet"
    else:
        at = f" (step {figures_step:,})" if figures_step is not None and figures_step != step else ""
        figures = f"held-out{at} exact match {exact:.1%}, token accuracy {tokens:.1%}, loss {val_loss:.3f}"
    return (f"{'Stopped' if stopped else 'Done'}: {message}{why}. {ran:,} steps in {elapsed:.1f} s "
            f"({ran / max(elapsed, 1e-9):,.0f} steps/s); step {step:,} in all · {figures}.{note}")


def describe_config(c, parameters: int) -> str:
    return f"{c.describe()}; {parameters:,} parameters"


def describe_task(task: Task, markdown: bool = True) -> str:
    """One line about a task: its name, lengths and what the target is (your own pairs: their name and size)."""
    s = task.spec
    if isinstance(task, DataTask):
        name = f"**{md(task.title)}**" if markdown else task.title
        if task.data is None:
            pairs = task.info.get("pairs")
            size = f"{pairs:,} pairs" if isinstance(pairs, int) else "pairs"
            return (f"{name}: your own {size} (not loaded here: the model decodes, but its sources have no correct "
                    f"answer until you give the same pairs on the Train tab)")
        return (f"{name} ({s.min_len}–{s.max_len} {s.unit} → up to {s.max_target_len}): your own pairs, "
                f"{task.data.pairs:,} of them, {len(task.data.held_out):,} held out")
    name = f"**{s.name}**" if markdown else s.name
    text = f"{name} ({s.min_len}–{s.max_len} {s.unit}): {describe(s.name)}"
    floor = task.loss_floor()
    if floor:
        text += (f". A model can learn only where `<eos>` goes and how often each digit comes, so the loss can "
                 f"fall only to {floor:.2f} (the grey line)")
    return text


def preview_html(rows: list[tuple[str, str | None, str | None]], step: int | None = None) -> str:
    """The live preview: each watched source, what the model says now, and the right answer, marked."""
    if not rows:
        return '<p class="legend">Type a few sources above to watch the model learn them.</p>'
    body, right = [], 0
    for source, said, want in rows:
        if said is None:
            mark, shown = "", '<span class="legend">press Train</span>'
        else:
            ok = None if want is None else said == want
            right += bool(ok)
            colour = "" if ok is None else f' style="color:{RIGHT if ok else WRONG}"'
            mark, shown = _mark(ok), f"<code{colour}>{esc(said) or '(nothing)'}</code>"
        body.append(f"<tr><td><code>{esc(source)}</code></td><td>{shown} {mark}</td>"
                    f"<td><code>{esc(want or '—')}</code></td></tr>")
    when = "" if step is None else f" at step {step:,}: {right} of {len(rows)} right"
    return (f'<table class="preview" id="preview-table"><caption>The model’s answers{when}</caption>'
            "<thead><tr><th>source</th><th>model says</th><th>right answer</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


ATTENTION_WORDS = {"dot": "dot-product attention", "general": "general attention",
                   "additive": "additive attention, before each step"}


def diagram_html(c, vocab_size: int) -> str:
    """The encoder–decoder with the current sizes, as boxes and arrows."""
    layers = f"{c.n_layers} × " if c.n_layers > 1 else ""
    if getattr(c, "arch", "rnn") == "transformer":
        boxes = [("source tokens", "e.g. 3 1 4"), ("embedding + position", f"{c.hidden_dim} numbers per token"),
                 ("encoder", f"{layers}self-attention ({c.heads} heads) + feed-forward {c.ff_size}"),
                 ("every position", "handed to the decoder"),
                 ("decoder", f"{layers}masked self-attention + attention to the source + feed-forward"),
                 ("softmax", f"over {vocab_size} tokens, one per step")]
    else:
        cell = c.cell.upper()
        attention = str(c.attention) if c.attention else ""
        both = "bidirectional " if c.bidirectional else ""
        boxes = [("source tokens", "e.g. 3 1 4"), ("embedding", f"{c.emb_dim} numbers per token"),
                 (f"{both}{cell} encoder", f"{layers}{c.hidden_dim} hidden" + (" each way" if both else "")),
                 ("state" + (" + every output" if attention else ""),
                  "through a bridge to the decoder" if both else "handed to the decoder"),
                 (f"{cell} decoder", f"{layers}{c.hidden_dim} hidden"
                  + (f", {ATTENTION_WORDS[attention]}" if attention else "")),
                 ("softmax", f"over {vocab_size} tokens, one per step")]
    parts = [f'<div class="box"><b>{esc(a)}</b><br><span>{esc(b)}</span></div>' for a, b in boxes]
    return f'<div class="diagram" id="model-diagram">{"<span class=arrow>→</span>".join(parts)}</div>'

