"""What the app shows, as plain data and HTML: step tables, probability heatmaps, playback, plot frames.

No gradio and no model math here: these functions only format a decoding Trace or a training History,
so they are easy to test and app.py stays wiring.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from seq2seq.decode import Trace
from seq2seq.history import History
from seq2seq.tasks import EOS

ACCENT = (79, 70, 229)  # indigo, as the Space's colours
RIGHT, WRONG = "#15803d", "#b91c1c"
LOSS_SERIES = ("train loss", "val loss")
ACCURACY_SERIES = ("exact match", "token accuracy")


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


def _esc(token: str) -> str:
    return html.escape(token)


def _shade(p: float) -> str:
    r, g, b = ACCENT
    text = "color:#fff;" if p > 0.55 else ""
    return f"background:rgba({r},{g},{b},{p:.3f});{text}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def steps_frame(decoded: Decoded, top_k: int = 3) -> pd.DataFrame:
    """One row per decoding step: fed-in token, chosen token, its probability, top-k, right or wrong."""
    rows = []
    for t, step in enumerate(decoded.trace.steps):
        top = " · ".join(f"{tok} {p:.3f}" for tok, p in step.top[:top_k])
        rows.append([t + 1, step.input, step.token, round(step.prob, 4), top, _mark(decoded.correct(t))])
    return pd.DataFrame(rows, columns=["step", "fed in", "chosen", "probability", f"top {top_k}", "correct"])


def verdict_html(decoded: Decoded) -> str:
    """The output with each token marked right or wrong, and the correct answer when it is known."""
    trace = decoded.trace
    out_tokens = [s.token for s in trace.steps]
    spans = []
    for t, token in enumerate(out_tokens):
        ok = decoded.correct(t)
        colour = "" if ok is None else f"color:{RIGHT if ok else WRONG};"
        title = "" if ok is None else (' title="right"' if ok else ' title="wrong"')
        spans.append(f'<span class="tok" style="{colour}font-weight:600"{title}>{_esc(token)}{_mark(ok)}</span>')
    parts = [f'<div id="decode-verdict-body"><p><b>Output:</b> {" ".join(spans) or "(nothing)"}</p>']
    if decoded.expected is None:
        parts.append("<p>This task has no correct answer to compare with.</p>")
    else:
        want = decoded.expected_steps
        right = sum(bool(decoded.correct(t)) for t in range(len(out_tokens)))
        exact = trace.output.split() == decoded.expected and trace.finished
        head = (f'<span style="color:{RIGHT}">✓ correct</span>' if exact
                else f'<span style="color:{WRONG}">✗ not quite</span>')
        parts.append(f"<p><b>Correct answer:</b> {_esc(' '.join(decoded.expected))} &nbsp; {head} "
                     f"({right} of {len(want)} steps right, counting {_esc(EOS)})</p>")
    if not trace.finished:
        parts.append(f"<p>Stopped at the length limit before the model chose {_esc(EOS)}.</p>")
    return "".join(parts) + "</div>"


def distribution_html(decoded: Decoded, upto: int | None = None) -> str:
    """Heatmap: one row per step, one column per output token, shaded by probability.
    The chosen token is outlined; where the choice was wrong, the right token is underlined."""
    steps = decoded.trace.steps if upto is None else decoded.trace.steps[:upto]
    want = decoded.expected_steps
    head = "".join(f"<th>{_esc(tok)}</th>" for tok in decoded.tokens)
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
            cells.append(f'<td style="{style}" title="{_esc(tok)}: {p:.4f}">{label}</td>')
        body.append(f"<tr><th>{t + 1}</th>{''.join(cells)}</tr>")
    return (f'<table class="heatmap" id="distribution-table"><thead><tr><th>step</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            '<p class="legend">Darker = more probable. Outlined: the token chosen. '
            f'Underlined in green: the right token, where the choice was wrong.</p>')


def attention_html(decoded: Decoded) -> str:
    """Heatmap of attention: one row per output step, one column per source token ('' without attention)."""
    steps = decoded.trace.steps
    if not steps or steps[0].attention is None:
        return ""
    source = decoded.trace.source.split()
    head = "".join(f"<th>{_esc(tok)}</th>" for tok in source)
    body = []
    for t, step in enumerate(steps):
        cells = "".join(f'<td style="{_shade(w)}" title="{w:.3f}">{w:.2f}</td>' for w in step.attention or [])
        body.append(f"<tr><th>{t + 1} → {_esc(step.token)}</th>{cells}</tr>")
    return (f'<table class="heatmap" id="attention-table"><thead><tr><th>step → chose</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            "<p class=\"legend\">Where the decoder looked in the source at each step (rows sum to 1).</p>")


def playback_html(decoded: Decoded, t: int) -> str:
    """The output as it stood after step t (1-based), and the distribution step t chose from, as bars."""
    steps = decoded.trace.steps
    if not steps:
        return ""
    t = max(1, min(int(t), len(steps)))
    step = steps[t - 1]
    so_far = []
    for i in range(t):
        ok = decoded.correct(i)
        colour = "" if ok is None else f"color:{RIGHT if ok else WRONG};"
        current = "border-bottom:3px solid rgb(%d,%d,%d);" % ACCENT if i == t - 1 else ""
        so_far.append(f'<span style="{colour}{current}font-weight:600">{_esc(steps[i].token)}</span>')
    bars = []
    for tok, p in step.top[:5]:
        chosen = " ← chosen" if tok == step.token else ""
        r, g, b = ACCENT
        bars.append(f'<div class="bar"><span class="bar-label">{_esc(tok)}</span>'
                    f'<span class="bar-fill" style="width:{max(p * 100, 0.5):.1f}%;'
                    f'background:rgb({r},{g},{b})"></span><span>{p:.1%}{chosen}</span></div>')
    want = decoded.expected_steps
    hint = ""
    if want is not None:
        right = want[t - 1] if t - 1 < len(want) else "(nothing: the answer was already complete)"
        hint = f"<p>Right token here: <b>{_esc(right)}</b> {_mark(decoded.correct(t - 1))}</p>"
    return (f'<div id="playback-body"><p><b>Step {t} of {len(steps)}</b>: fed in <code>{_esc(step.input)}</code>, '
            f"chose <code>{_esc(step.token)}</code></p>"
            f'<p class="so-far">Output so far: {" ".join(so_far)}</p>{hint}'
            f'<div class="bars">{"".join(bars)}</div></div>')


def loss_frame(history: History, max_points: int = 300) -> pd.DataFrame | None:
    """Long-format frame for the loss plot: step, value, series ('train loss' / 'val loss')."""
    rows = [(s, v, LOSS_SERIES[0]) for s, v in history.loss_points(max_points)]
    rows += [(e.step, e.val_loss, LOSS_SERIES[1]) for e in history.eval_points(max_points)]
    return pd.DataFrame(rows, columns=["step", "loss", "series"]) if rows else None


def accuracy_frame(history: History, max_points: int = 300) -> pd.DataFrame | None:
    """Long-format frame for the accuracy plot: held-out exact match and token accuracy, in percent."""
    rows = []
    for e in history.eval_points(max_points):
        rows.append((e.step, 100 * e.exact_match, ACCURACY_SERIES[0]))
        rows.append((e.step, 100 * e.token_accuracy, ACCURACY_SERIES[1]))
    return pd.DataFrame(rows, columns=["step", "percent", "series"]) if rows else None


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


def progress_line(step: int, loss: float | None, history: History, steps_per_s: float,
                  seconds_left: float | None, target_steps: int | None) -> str:
    """The status line while training: step, loss, latest held-out accuracy, speed and time left."""
    parts = [f"step {step:,}" + (f" / {target_steps:,}" if target_steps else "")]
    if loss is not None:
        parts.append(f"loss {loss:.3f}")
    if history.evals:
        e = history.evals[-1]
        parts.append(f"held-out exact match {e.exact_match:.1%}, token accuracy {e.token_accuracy:.1%} "
                     f"(step {e.step:,})")
    parts.append(f"{steps_per_s:,.0f} steps/s")
    if seconds_left is not None:
        parts.append(f"about {duration(seconds_left)} left")
    return "Training: " + " · ".join(parts)
