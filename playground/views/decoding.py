"""One decoding, shown: the verdict, the step table, the probability heatmap, attention maps and the player."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from seq2seq.tasks import EOS, join_tokens

from .common import ACCENT, RIGHT, WRONG, _mark, _shade, esc

if TYPE_CHECKING:  # types only: the page is built without torch
    from seq2seq.decode import Trace


@dataclass
class Decoded:
    """A decoded source, with the correct answer when the task knows it (kept in gr.State for playback)."""
    trace: Trace
    expected: list[str] | None  # the right output tokens, without <eos>; None when unknown
    tokens: list[str]           # the vocabulary the model chooses from, in display order
    forced: int | None = None   # the step (from 1) a "what if" forced, None for the model's own choices
    itos: list[str] | None = None  # the model's vocabulary by id: reads each step's whole distribution
    tokenize: tuple[str | None, str | None] = (None, None)  # how its task writes sources and targets (Vocab.tokenize)
    no_answer: str = "This task has no correct answer to compare with."  # said when `expected` is None

    def text(self, tokens: list[str], side: str = "target") -> str:
        """Tokens as the task writes them: "2021-03-03" for characters, words with spaces."""
        return join_tokens(tokens, self.tokenize[0 if side == "source" else 1])

    def nbytes(self) -> int:
        """What keeping this decoding costs (bytes, an upper bound): its trace and the lists beside it."""
        words = len(self.tokens) + len(self.expected or ()) + len(self.itos or ())
        return self.trace.nbytes() + 120 * words + 400

    def probabilities(self, t: int) -> dict[str, float]:
        """Every token's probability at step t (from the step's whole distribution when there is one)."""
        step = self.trace.steps[t]
        if step.dist and self.itos is not None and len(step.dist) == len(self.itos):
            return dict(zip(self.itos, step.dist))
        return dict(step.top)

    @property
    def expected_steps(self) -> list[str] | None:
        return None if self.expected is None else self.expected + [EOS]

    def correct(self, t: int) -> bool | None:
        """Whether step t chose the right token (None when the right answer is unknown)."""
        want = self.expected_steps
        if want is None:
            return None
        return t < len(want) and self.trace.steps[t].token == want[t]


ALTERNATIVE = re.compile(r"^(\S+) \d+%$")  # a cell of a "#k" column: "7 12%"


def steps_frame(decoded: Decoded, top_k: int = 3) -> pd.DataFrame:
    """One row per decoding step: fed-in token, chosen token, right or wrong, its probability, then the k most
    probable tokens, one column each ("#1" is the most probable; clicking one asks "what if"). The mark comes
    before the long columns, so a narrow screen still shows it."""
    rows = []
    for t, step in enumerate(decoded.trace.steps):
        top = [f"{tok} {p:.0%}" for tok, p in step.top[:top_k]]
        rows.append([t + 1, step.input, step.token, _mark(decoded.correct(t)), round(step.prob, 4),
                     *top, *[""] * (top_k - len(top))])
    return pd.DataFrame(rows, columns=["step", "fed in", "chosen", "correct", "probability",
                                       *[f"#{i}" for i in range(1, top_k + 1)]])


def alternative_at(frame_row: list, column: int) -> str | None:
    """The token of the step table's cell at `column` when it is one of the "#k" alternatives, else None."""
    if column < 5 or column >= len(frame_row):
        return None
    match = ALTERNATIVE.match(str(frame_row[column]))
    return match.group(1) if match else None


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
        parts.append(f"<p>{html.escape(decoded.no_answer, quote=False)}</p>")
    else:
        want = decoded.expected_steps
        right = sum(bool(decoded.correct(t)) for t in range(len(out_tokens)))
        exact = trace.output.split() == decoded.expected and trace.finished
        head = (f'<span style="color:{RIGHT}">✓ correct</span>' if exact
                else f'<span style="color:{WRONG}">✗ not quite</span>')
        parts.append(f"<p><b>Correct answer:</b> {esc(decoded.text(decoded.expected))} &nbsp; {head} "
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
        probs = decoded.probabilities(t)
        cells = []
        for tok in decoded.tokens:
            p = probs.get(tok, 0.0)
            style = _shade(p)
            if tok == step.token:
                style += "outline:2px solid #111;outline-offset:-2px;font-weight:700;"
            if want is not None and t < len(want) and tok == want[t] and tok != step.token:
                style += f"text-decoration:underline;text-decoration-color:{RIGHT};text-decoration-thickness:3px;"
            label = f"{p:.0%}" if p >= 0.01 else ""
            said = "chosen" if tok == step.token else "what if it had chosen this?"
            cells.append(f'<td data-token="{esc(tok)}" style="{style}" title="{esc(tok)}: {p:.4f}" tabindex="0" '
                         f'role="button" aria-label="step {t + 1}, {esc(tok)}: {p:.1%}, {said}">{label}</td>')
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1}</th>{"".join(cells)}</tr>')
    return (f'<table class="heatmap" id="distribution-table"><thead><tr><th>step</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            '<p class="legend">Darker = more probable. Outlined: the token chosen. '
            'Underlined in green: the right token, where the choice was wrong. '
            '<b>Click any cell</b> (or Tab to it and press Enter) to see what the model does next if it had chosen '
            'that token there.</p>')


AVERAGE = "average"


def head_choices(decoded: Decoded) -> list[tuple[str, str]]:
    """The attention maps a Transformer's decoding offers: the average, then each layer's heads ([] for RNNs)."""
    shape = _head_shape(decoded)
    if shape is None:
        return []
    layers, heads = shape
    return [("Average over layers and heads", AVERAGE)] + [
        (f"Layer {l + 1}, head {h + 1}", f"{l}:{h}") for l in range(layers) for h in range(heads)]


def _head_shape(decoded: Decoded) -> tuple[int, int] | None:
    """(layers, heads) of a Transformer's decoding, None for an RNN's (or no steps)."""
    steps = decoded.trace.steps
    if not steps:
        return None
    shape = steps[0].head_shape
    return shape if shape and shape[0] and shape[1] else None


def has_attention(decoded: Decoded) -> bool:
    steps = decoded.trace.steps
    return bool(steps) and steps[0].attention is not None


def attention_html(decoded: Decoded, head: str = AVERAGE, with_attention: str | None = None) -> str:
    """Heatmap of attention: one row per output step, one column per source token; for a model without attention,
    a sentence saying so and, when `with_attention` names a bundled model that learns the same task with attention,
    that one. For a Transformer, `head` picks one layer's head ("layer:head", from 0) instead of the average."""
    steps = decoded.trace.steps
    if not has_attention(decoded):
        other = (f"The bundled <b>{esc(with_attention)}</b> model learns the same task with attention: pick it as "
                 f"the model to see where it looks." if with_attention else
                 "Turn on Attention on the Train tab and train a model, or pick a bundled model that has it, to see "
                 "where it looks.")
        return ('<p class="legend" id="attention-none">This model has no attention: the decoder sees the source '
                f"only through the encoder's final state. {other}</p>")
    layer = index = None
    shape = _head_shape(decoded)
    if head != AVERAGE and shape:
        layer, index = (int(x) for x in head.split(":"))
        if not (0 <= layer < shape[0] and 0 <= index < shape[1]):
            layer = index = None
    source = decoded.trace.source.split()
    columns = "".join(f"<th>{esc(tok)}</th>" for tok in source)
    body = []
    for t, step in enumerate(steps):
        weights = step.attention if layer is None else step.head(layer, index)
        cells = "".join(f'<td style="{_shade(w)}" title="{w:.3f}">{w:.2f}</td>' for w in weights or [])
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1} → {esc(step.token)}</th>{cells}</tr>')
    which = ("" if not shape else " (average over every layer and head)" if layer is None
             else f" (layer {layer + 1}, head {index + 1} of the decoder's attention to the source)")
    return (f'<table class="heatmap" id="attention-table"><thead><tr><th>step → chose</th>{columns}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<p class=\"legend\">Where the decoder looked in the source at each step{which} (each row sums to 1): "
            "darker = more weight.</p>")


def _attention_strip(decoded: Decoded, step) -> str:
    """The source tokens, each shaded by the weight this step put on it (nothing without attention)."""
    if step.attention is None:
        return ""
    source = decoded.trace.source.split()
    cells = "".join(f'<span style="{_shade(w)}" title="{w:.3f}">{esc(tok)}</span>'
                    for tok, w in zip(source, step.attention))
    return f'<p class="strip">Looked at: {cells}</p>'


def _step_panel(decoded: Decoded, t: int) -> str:
    """What step t (1-based) did: what it was fed, where it looked, what it chose from (bars; clicking one asks
    "what if"), the output so far."""
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
        chosen = " ← chosen" if tok == step.token else " what if?"
        said = "chosen" if tok == step.token else "what if it had chosen this?"
        bars.append(f'<div class="bar" data-token="{esc(tok)}" data-step="{t}" role="button" tabindex="0" '
                    f'aria-label="step {t}, {esc(tok)}: {p:.1%}, {said}" '
                    f'title="what if it chose {esc(tok)} here?"><span class="bar-label">{esc(tok)}</span>'
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
            f'{_attention_strip(decoded, step)}'
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


