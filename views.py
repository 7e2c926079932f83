"""What the app shows, as plain data and HTML: step tables, probability heatmaps, playback, plot frames.

No gradio and no model math here: these functions only format a decoding Trace or a training History,
so they are easy to test and app.py stays wiring.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from seq2seq.decode import Trace
from seq2seq.history import History
from seq2seq.tasks import EOS, Task, describe

ACCENT = (79, 70, 229)  # indigo, as the Space's colours
RIGHT, WRONG = "#15803d", "#b91c1c"
LOSS_SERIES = ("each step", "smoothed", "held-out", "best possible")
ACCURACY_SERIES = ("exact match", "token accuracy")
LOSS_COLOURS = dict(zip(LOSS_SERIES, ("#c7d2fe", "#4338ca", "#f59e0b", "#64748b")))
ACCURACY_COLOURS = dict(zip(ACCURACY_SERIES, ("#15803d", "#0ea5e9")))


@dataclass
class Decoded:
    """A decoded source, with the correct answer when the task knows it (kept in gr.State for playback)."""
    trace: Trace
    expected: list[str] | None  # the right output tokens, without <eos>; None when unknown
    tokens: list[str]           # the vocabulary the model chooses from, in display order

    @property
    def expected_steps(self) -> list[str] | None:
        return None if self.expected is None else self.expected + [EOS]

    def correct(self, t: int) -> bool | None:
        """Whether step t chose the right token (None when the right answer is unknown)."""
        want = self.expected_steps
        if want is None:
            return None
        return t < len(want) and self.trace.steps[t].token == want[t]


def esc(token: str) -> str:
    return html.escape(token)


def _shade(p: float) -> str:
    r, g, b = ACCENT
    text = "color:#fff;" if p > 0.55 else ""
    return f"background:rgba({r},{g},{b},{p:.3f});{text}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def steps_frame(decoded: Decoded, top_k: int = 3) -> pd.DataFrame:
    """One row per decoding step: fed-in token, chosen token, right or wrong, its probability, the top k (the
    mark comes before the long columns, so a narrow screen still shows it)."""
    rows = []
    for t, step in enumerate(decoded.trace.steps):
        top = " · ".join(f"{tok} {p:.0%}" for tok, p in step.top[:top_k])
        rows.append([t + 1, step.input, step.token, _mark(decoded.correct(t)), round(step.prob, 4), top])
    return pd.DataFrame(rows, columns=["step", "fed in", "chosen", "correct", "probability", f"top {top_k}"])


def verdict_html(decoded: Decoded) -> str:
    """The output with each token marked right or wrong, and the correct answer when it is known."""
    trace = decoded.trace
    out_tokens = [s.token for s in trace.steps]
    spans = []
    for t, token in enumerate(out_tokens):
        ok = decoded.correct(t)
        colour = "" if ok is None else f"color:{RIGHT if ok else WRONG};"
        title = "" if ok is None else (' title="right"' if ok else ' title="wrong"')
        spans.append(f'<span class="tok" style="{colour}font-weight:600"{title}>{esc(token)}{_mark(ok)}</span>')
    parts = [f'<div id="decode-verdict-body"><p><b>Output:</b> {" ".join(spans) or "(nothing)"}</p>']
    if decoded.expected is None:
        parts.append("<p>This task has no correct answer to compare with.</p>")
    else:
        want = decoded.expected_steps
        right = sum(bool(decoded.correct(t)) for t in range(len(out_tokens)))
        exact = trace.output.split() == decoded.expected and trace.finished
        head = (f'<span style="color:{RIGHT}">✓ correct</span>' if exact
                else f'<span style="color:{WRONG}">✗ not quite</span>')
        parts.append(f"<p><b>Correct answer:</b> {esc(' '.join(decoded.expected))} &nbsp; {head} "
                     f"({right} of {len(want)} steps right, counting {esc(EOS)}, the token that ends an output)</p>")
    if not trace.finished:
        parts.append(f"<p>Stopped at the length limit before the model chose {esc(EOS)}.</p>")
    return "".join(parts) + "</div>"


def distribution_html(decoded: Decoded, upto: int | None = None) -> str:
    """Heatmap: one row per step, one column per output token, shaded by probability.
    The chosen token is outlined; where the choice was wrong, the right token is underlined."""
    steps = decoded.trace.steps if upto is None else decoded.trace.steps[:upto]
    want = decoded.expected_steps
    head = "".join(f"<th>{esc(tok)}</th>" for tok in decoded.tokens)
    body = []
    for t, step in enumerate(steps):
        probs = dict(step.top)
        cells = []
        for tok in decoded.tokens:
            p = probs.get(tok, 0.0)
            style = _shade(p)
            if tok == step.token:
                style += "outline:2px solid #111;outline-offset:-2px;font-weight:700;"
            if want is not None and t < len(want) and tok == want[t] and tok != step.token:
                style += f"text-decoration:underline;text-decoration-color:{RIGHT};text-decoration-thickness:3px;"
            label = f"{p:.0%}" if p >= 0.01 else ""
            cells.append(f'<td style="{style}" title="{esc(tok)}: {p:.4f}">{label}</td>')
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1}</th>{"".join(cells)}</tr>')
    return (f'<table class="heatmap" id="distribution-table"><thead><tr><th>step</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            '<p class="legend">Darker = more probable. Outlined: the token chosen. '
            f'Underlined in green: the right token, where the choice was wrong.</p>')


def attention_html(decoded: Decoded) -> str:
    """Heatmap of attention: one row per output step, one column per source token ('' without attention)."""
    steps = decoded.trace.steps
    if not steps or steps[0].attention is None:
        return ('<p class="legend" id="attention-none">This model has no attention: the decoder sees the source '
                'only through the encoder\'s final state. Turn on Attention on the Train tab (or pick the bundled '
                'copy or addition model) to see where it looks.</p>')
    source = decoded.trace.source.split()
    head = "".join(f"<th>{esc(tok)}</th>" for tok in source)
    body = []
    for t, step in enumerate(steps):
        cells = "".join(f'<td style="{_shade(w)}" title="{w:.3f}">{w:.2f}</td>' for w in step.attention or [])
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1} → {esc(step.token)}</th>{cells}</tr>')
    return (f'<table class="heatmap" id="attention-table"><thead><tr><th>step → chose</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            "<p class=\"legend\">Where the decoder looked in the source at each step (each row sums to 1): "
            "darker = more weight.</p>")


def _step_panel(decoded: Decoded, t: int) -> str:
    """What step t (1-based) did: what it was fed, what it chose from (bars), the output so far."""
    steps = decoded.trace.steps
    step = steps[t - 1]
    so_far = []
    for i in range(t):
        ok = decoded.correct(i)
        colour = "" if ok is None else f"color:{RIGHT if ok else WRONG};"
        current = "border-bottom:3px solid rgb(%d,%d,%d);" % ACCENT if i == t - 1 else ""
        so_far.append(f'<span style="{colour}{current}font-weight:600">{esc(steps[i].token)}</span>')
    bars = []
    r, g, b = ACCENT
    for tok, p in step.top[:5]:
        chosen = " ← chosen" if tok == step.token else ""
        bars.append(f'<div class="bar"><span class="bar-label">{esc(tok)}</span>'
                    f'<span class="bar-fill" style="width:{max(p * 100, 0.5):.1f}%;'
                    f'background:rgb({r},{g},{b})"></span><span>{p:.1%}{chosen}</span></div>')
    want = decoded.expected_steps
    hint = ""
    if want is not None:
        right = want[t - 1] if t - 1 < len(want) else "(nothing: the answer was already complete)"
        hint = f"<p>Right token here: <b>{esc(right)}</b> {_mark(decoded.correct(t - 1))}</p>"
    hidden = "" if t == 1 else " hidden"
    return (f'<div class="s2s-panel" data-step="{t}"{hidden}><p><b>Step {t} of {len(steps)}</b>: fed in '
            f"<code>{esc(step.input)}</code>, chose <code>{esc(step.token)}</code></p>"
            f'<p class="so-far">Output so far: {" ".join(so_far)}</p>{hint}'
            f'<div class="bars">{"".join(bars)}</div></div>')


def playback_html(decoded: Decoded) -> str:
    """Every step's panel at once, with controls the page's script drives (no server round trip per step, so
    quick clicks cannot race): the current step is also highlighted in the step table and the heatmaps."""
    n = len(decoded.trace.steps)
    if not n:
        return ""
    panels = "".join(_step_panel(decoded, t) for t in range(1, n + 1))
    return (f'<div id="playback-body" data-steps="{n}">'
            '<div class="s2s-controls">'
            '<button type="button" data-s2s="prev" id="playback-prev" aria-label="previous step">◀</button>'
            '<button type="button" data-s2s="play" id="playback-play">Play</button>'
            '<button type="button" data-s2s="next" id="playback-next" aria-label="next step">▶</button>'
            f'<input type="range" id="playback-step" min="1" max="{n}" value="1" step="1" aria-label="step">'
            f'<span id="playback-at">1 / {n}</span></div>{panels}</div>')


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
    frame = pd.DataFrame([r for r in rows if math.isfinite(r[1])], columns=["step", "loss", "series"])
    if log:
        frame["loss"] = frame["loss"].clip(lower=1e-6).map(math.log10)
    return frame


def accuracy_frame(history: History, max_points: int = 300) -> pd.DataFrame | None:
    """Long-format frame for the accuracy plot: held-out exact match and token accuracy, in percent."""
    rows = []
    for e in history.eval_points(max_points):
        if math.isfinite(e.exact_match) and math.isfinite(e.token_accuracy):
            rows.append((e.step, 100 * e.exact_match, ACCURACY_SERIES[0]))
            rows.append((e.step, 100 * e.token_accuracy, ACCURACY_SERIES[1]))
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
              val_loss: float, why: str | None = None) -> str:
    """How a run ended, in one sentence, with what to do next."""
    stopped = reason in ("stopped", "diverged")
    why = f" ({why})" if why and reason == "stopped" else ""
    note = {"stopped": " The model is kept: press Train to continue it, or decode with it.",
            "time_budget": " Press Train to continue."}.get(reason, "")
    return (f"{'Stopped' if stopped else 'Done'}: {message}{why}. {ran:,} steps in {elapsed:.1f} s "
            f"({ran / max(elapsed, 1e-9):,.0f} steps/s); step {step:,} in all · held-out exact match {exact:.1%}, "
            f"token accuracy {tokens:.1%}, loss {val_loss:.3f}.{note}")


def describe_config(c, parameters: int) -> str:
    return (f"{c.n_layers}-layer {c.cell.upper()}, embedding {c.emb_dim}, hidden {c.hidden_dim}"
            f"{', attention' if c.attention else ''}; {parameters:,} parameters")


def describe_task(task: Task, markdown: bool = True) -> str:
    s = task.spec
    unit = "digits per number" if s.name == "addition" else "tokens"
    name = f"**{s.name}**" if markdown else s.name
    text = f"{name} ({s.min_len}–{s.max_len} {unit}): {describe(s.name)}"
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


def diagram_html(c, vocab_size: int) -> str:
    """The encoder–decoder with the current sizes, as boxes and arrows."""
    cell = c.cell.upper()
    layers = f"{c.n_layers} × " if c.n_layers > 1 else ""
    boxes = [("source tokens", "e.g. 3 1 4"), ("embedding", f"{c.emb_dim} numbers per token"),
             (f"{cell} encoder", f"{layers}{c.hidden_dim} hidden"),
             ("state" + (" + every output" if c.attention else ""), "handed to the decoder"),
             (f"{cell} decoder", f"{layers}{c.hidden_dim} hidden" + (", attention" if c.attention else "")),
             ("softmax", f"over {vocab_size} tokens, one per step")]
    parts = [f'<div class="box"><b>{esc(a)}</b><br><span>{esc(b)}</span></div>' for a, b in boxes]
    return f'<div class="diagram" id="model-diagram">{"<span class=arrow>→</span>".join(parts)}</div>'
