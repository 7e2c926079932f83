"""What the app shows, as plain data and HTML: step tables, probability heatmaps, playback, plot frames.

No gradio and no model math here: these functions only format a decoding Trace or a training History,
so they are easy to test and app.py stays wiring.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import pandas as pd

from seq2seq.decode import BeamSearch, Trace
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
    forced: int | None = None   # the step (from 1) a "what if" forced, None for the model's own choices
    itos: list[str] | None = None  # the model's vocabulary by id: reads each step's whole distribution

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


def esc(token: str) -> str:
    return html.escape(token)


def _shade(p: float) -> str:
    r, g, b = ACCENT
    text = "color:#fff;" if p > 0.55 else ""
    return f"background:rgba({r},{g},{b},{p:.3f});{text}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


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
            cells.append(f'<td data-token="{esc(tok)}" style="{style}" title="{esc(tok)}: {p:.4f}">{label}</td>')
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1}</th>{"".join(cells)}</tr>')
    return (f'<table class="heatmap" id="distribution-table"><thead><tr><th>step</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            '<p class="legend">Darker = more probable. Outlined: the token chosen. '
            'Underlined in green: the right token, where the choice was wrong. '
            '<b>Click any cell</b> to see what the model does next if it had chosen that token there.</p>')


AVERAGE = "average"


def head_choices(decoded: Decoded) -> list[tuple[str, str]]:
    """The attention maps a Transformer's decoding offers: the average, then each layer's heads ([] for RNNs)."""
    steps = decoded.trace.steps
    if not steps or not steps[0].heads:
        return []
    heads = steps[0].heads
    return [("Average over layers and heads", AVERAGE)] + [
        (f"Layer {l + 1}, head {h + 1}", f"{l}:{h}") for l in range(len(heads)) for h in range(len(heads[l]))]


def attention_html(decoded: Decoded, head: str = AVERAGE) -> str:
    """Heatmap of attention: one row per output step, one column per source token ('' without attention). For a
    Transformer, `head` picks one layer's head ("layer:head", from 0) instead of the average of all of them."""
    steps = decoded.trace.steps
    if not steps or steps[0].attention is None:
        return ('<p class="legend" id="attention-none">This model has no attention: the decoder sees the source '
                'only through the encoder\'s final state. Turn on Attention on the Train tab (or pick the bundled '
                'copy or addition model) to see where it looks.</p>')
    layer = index = None
    if head != AVERAGE and steps[0].heads:
        layer, index = (int(x) for x in head.split(":"))
        if not (0 <= layer < len(steps[0].heads) and 0 <= index < len(steps[0].heads[layer])):
            layer = index = None
    source = decoded.trace.source.split()
    columns = "".join(f"<th>{esc(tok)}</th>" for tok in source)
    body = []
    for t, step in enumerate(steps):
        weights = step.attention if layer is None else step.heads[layer][index]
        cells = "".join(f'<td style="{_shade(w)}" title="{w:.3f}">{w:.2f}</td>' for w in weights or [])
        body.append(f'<tr data-step="{t + 1}"><th>{t + 1} → {esc(step.token)}</th>{cells}</tr>')
    which = ("" if not steps[0].heads else " (average over every layer and head)" if layer is None
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
        bars.append(f'<div class="bar" data-token="{esc(tok)}" data-step="{t}" role="button" '
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


BEST = "#f59e0b"  # amber: the best beam, as the current step elsewhere


def beam_tree_html(search: BeamSearch, expected: list[str] | None = None, pruned_per_parent: int = 1,
                   max_steps: int = 30) -> str:
    """The beam search as a tree, steps left to right: every hypothesis it kept (solid) and the `pruned_per_parent`
    most probable of the ones it dropped under each (faded), the final beams' paths drawn thick, the best in amber.
    Each node shows its token and the probability of that token after its parent."""
    nodes = search.nodes
    children: dict[int, list] = {}
    for node in nodes[1:]:
        children.setdefault(node.parent, []).append(node)
    final = {b.node: rank for rank, b in enumerate(search.beams)}
    on_path: dict[int, int] = {}  # node id -> rank of the best final beam through it
    for node_id, rank in sorted(final.items(), key=lambda kv: -kv[1]):
        while node_id is not None:
            on_path[node_id] = min(rank, on_path.get(node_id, rank))
            node_id = nodes[node_id].parent
    col_w, row_h, box_w, box_h, pad = 76, 25, 68, 20, 6
    columns: list[list] = [[nodes[0]]]  # the nodes drawn at each step
    while len(columns) <= max_steps:
        column = []
        for parent in columns[-1]:
            if not parent.survived or parent.finished:
                continue
            kids = sorted(children.get(parent.id, []), key=lambda n: -n.logp)
            kept = [n for n in kids if n.survived or n.id in on_path]
            dropped = [n for n in kids if n not in kept]
            column += kept + dropped[:pruned_per_parent]
        if not column:
            break
        columns.append(column)
    where: dict[int, tuple[float, float]] = {}
    parts, edges = [], []
    for step, column in enumerate(columns):
        x = pad + step * col_w
        for row, node in enumerate(column):
            y = pad + 18 + row * row_h
            where[node.id] = (x, y)
            prob = math.exp(node.token_logp)
            rank = on_path.get(node.id)
            cls = "kept" if node.survived else "pruned"
            stroke = (f'stroke="{BEST}" stroke-width="3"' if rank == 0 else
                      f'stroke="rgb{ACCENT}" stroke-width="2"' if rank is not None else "")
            label = esc(node.token) if step == 0 else f"{esc(node.token)} {prob:.0%}"
            title = (f"{esc(' '.join(search.path(node.id)) or node.token)}: log-probability {node.logp:.3f}"
                     f"{'' if node.survived else ' (dropped)'}")
            parts.append(f'<g class="node {cls}" data-node="{node.id}" data-step="{node.step}"'
                         f'{" data-final=" + chr(34) + str(rank) + chr(34) if node.id in final else ""}>'
                         f'<title>{title}</title>'
                         f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" {stroke}/>'
                         f'<text x="{x + box_w / 2}" y="{y + 14}">{label}</text></g>')
            if node.parent is not None and node.parent in where:
                px, py = where[node.parent]
                edge_rank = on_path.get(node.id)
                colour = BEST if edge_rank == 0 else f"rgb{ACCENT}" if edge_rank is not None else "#94a3b8"
                width = 3 if edge_rank is not None else 1
                faded = "" if node.survived else ' opacity="0.45"'
                edges.append(f'<line x1="{px + box_w}" y1="{py + box_h / 2}" x2="{x}" y2="{y + box_h / 2}" '
                             f'stroke="{colour}" stroke-width="{width}"{faded}/>')
    heads = "".join(f'<text x="{pad + s * col_w + box_w / 2}" y="{pad + 8}" class="head">'
                    f'{"start" if s == 0 else f"step {s}"}</text>' for s in range(len(columns)))
    width = pad * 2 + (len(columns) - 1) * col_w + box_w
    height = pad * 2 + 18 + max(len(c) for c in columns) * row_h
    svg = (f'<svg class="beam-tree" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="beam search tree">{heads}{"".join(edges)}{"".join(parts)}</svg>')
    rows = []
    for rank, beam in enumerate(search.beams):
        ok = "" if expected is None else _mark(beam.tokens == expected and beam.finished)
        colour = BEST if rank == 0 else f"rgb{ACCENT}"
        rows.append(f'<tr data-beam="{rank}"><td style="color:{colour};font-weight:700">{rank + 1}</td>'
                    f'<td><code>{esc(" ".join(beam.tokens)) or "(nothing)"}</code> {ok}</td>'
                    f'<td>{round(beam.score, 3) + 0.0:.3f}</td><td>{round(beam.logp, 3) + 0.0:.3f}'
                    f'{"" if beam.finished else " (no " + esc(EOS) + ": length limit)"}</td></tr>')
    kept = sum(n.survived for n in nodes[1:])
    steps = max(n.step for n in nodes)
    cut = f" The tree is drawn for the first {max_steps} of its {steps} steps." if steps > max_steps else ""
    return (f'<div id="beam-tree-body"><div class="scroll-x">{svg}</div>'
            '<table class="preview" id="beam-list"><thead><tr><th>#</th>'
            '<th>final beam</th><th>score</th><th>log-prob</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            f'<p class="legend">Width {search.width}: at each step every kept hypothesis (solid) is extended by its '
            f'{search.width} most probable next tokens, and only the {search.width} most probable sequences are kept; '
            f'the rest are dropped (faded: the most probable dropped one under each kept one is shown). '
            f'{len(nodes) - 1} hypotheses expanded, {kept} kept. Thick lines: the final beams; amber: the best, which '
            f'the step views follow. Hover a node for its whole sequence. Score = log-probability ÷ length, so '
            f'longer outputs are not punished just for having more tokens.{cut}</p></div>')


def what_if_html(original: Decoded, changed: Decoded) -> str:
    """The original decoding and the forced one side by side: the same steps until the forced one (marked),
    then whatever the model did from there."""
    t = changed.forced or 1
    forced = changed.trace.steps[t - 1]

    def line(decoded: Decoded, label: str) -> str:
        spans = []
        for i, step in enumerate(decoded.trace.steps):
            ok = decoded.correct(i)
            colour = "" if ok is None else f"color:{RIGHT if ok else WRONG};"
            mark = f"outline:2px solid {BEST};outline-offset:1px;" if decoded is changed and i == t - 1 else ""
            spans.append(f'<span class="tok" style="{colour}{mark}font-weight:600">{esc(step.token)}</span>')
        ok = ("" if decoded.expected is None else
              f' <span style="color:{RIGHT}">✓ correct</span>' if decoded.trace.output.split() == decoded.expected
              and decoded.trace.finished else f' <span style="color:{WRONG}">✗ wrong</span>')
        return f'<tr><th>{label}</th><td class="so-far">{" ".join(spans)}{ok}</td></tr>'

    was = original.trace.steps[t - 1] if t - 1 < len(original.trace.steps) else None
    said = (f"The model chose <code>{esc(was.token)}</code> ({was.prob:.1%}) at step {t}; "
            if was is not None else "")
    return (f'<div id="what-if-body"><p>{said}forced <code>{esc(forced.token)}</code> ({forced.prob:.1%} to the '
            f'model) instead, then let it go on greedily.</p>'
            f'<table class="preview" id="what-if-table">{line(original, "as decoded")}'
            f'{line(changed, f"what if: {esc(forced.token)} at step {t}")}</table>'
            '<p class="legend">The forced token is outlined in amber. Everything after it is the model’s own choice '
            'given that token. Click another token in the step views to try again.</p></div>')


def compare_html(name: str, decoded: Decoded, which: str) -> str:
    """One model's answer for the comparison: its output marked, and its attention ('' ids made unique)."""
    attention = attention_html(decoded).replace('id="attention-table"', f'id="attention-table-{which}"')
    attention = attention.replace('id="attention-none"', f'id="attention-none-{which}"')
    return (f'<div class="compare" id="compare-{which}-body"><h4>{esc(name)}</h4>'
            f'{verdict_html(decoded).replace("decode-verdict-body", f"compare-verdict-{which}")}{attention}</div>')


BY_LENGTH_COLUMNS = ["source length", "exact match (%)", "model"]


def by_length_frame(results: dict[str, list], longest_trained: int | None = None) -> pd.DataFrame:
    """Long-format frame for the accuracy-by-length plot: one line per model (rows: seq2seq.lengths.LengthRow),
    and a vertical grey line half a length past `longest_trained`, where "longer than any it saw" begins."""
    rows = [(r.length, round(100 * r.exact_match, 1), name) for name, length_rows in results.items()
            for r in length_rows]
    if longest_trained is not None:
        rows += [(longest_trained + 0.5, 0.0, TRAINED_EDGE), (longest_trained + 0.5, 100.0, TRAINED_EDGE)]
    return pd.DataFrame(rows, columns=BY_LENGTH_COLUMNS)


TRAINED_EDGE = "longest trained length"
MODEL_COLOURS = ("#4338ca", "#f59e0b")  # model A indigo, model B amber
EDGE_COLOUR = "#94a3b8"


def by_length_note(results: dict[str, tuple]) -> str:
    """Which lengths each model was trained on, and where each stays above 90% exact match."""
    parts = []
    for name, (spec, rows) in results.items():
        good = [r.length for r in rows if r.exact_match >= 0.9]
        beyond = [r for r in rows if r.length > spec.max_len]
        tail = (f"; at {beyond[-1].length} (longer than any it saw) {beyond[-1].exact_match:.0%}"
                if beyond else "")
        reach = f"≥ 90% exact match up to length {max(good)}" if good else "never reaches 90% exact match"
        parts.append(f"**{esc(name)}** was trained on lengths {spec.min_len}–{spec.max_len}; {reach}{tail}")
    return ". ".join(parts) + ". Held-out sources, 100 per length."


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
    return f"{c.describe()}; {parameters:,} parameters"


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
