"""Beam search's tree, "what if", and two models compared (their answers and accuracy by source length)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import pandas as pd

from seq2seq.tasks import EOS

from .common import ACCENT, RIGHT, WRONG, _mark, esc
from .decoding import Decoded, attention_html, verdict_html

if TYPE_CHECKING:  # types only: the page is built without torch
    from seq2seq.decode import BeamSearch


BEST = "#f59e0b"  # amber: the best beam, as the current step elsewhere


MAX_DRAWN = 1000  # nodes the tree draws at most (playground.cost.TREE_NODES_DRAWN counts them)


LABEL_CHARS = 5  # a node's box shows this much of a long token (a word of your pairs); its title has it all


def beam_tree_html(search: BeamSearch, expected: list[str] | None = None, pruned_per_parent: int = 1,
                   max_steps: int = 30, max_nodes: int = MAX_DRAWN,
                   text: Callable[[list[str]], str] = " ".join) -> str:
    """The beam search as a tree, steps left to right: every hypothesis it kept (solid) and the `pruned_per_parent`
    most probable of the ones it dropped under each (faded), the final beams' paths drawn thick, the best in amber,
    bold and starred. Each node shows its token and the probability of that token after its parent; tapping one
    shows its whole sequence (page.js), and a visually hidden list says the same tree to a screen reader. At most
    `max_steps` steps and `max_nodes` nodes are drawn (whole steps: the first ones), and the legend says what was
    left out."""
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
    drawn, full = 1, False
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
        if drawn + len(column) > max_nodes:
            full = True
            break
        drawn += len(column)
        columns.append(column)
    where: dict[int, tuple[float, float]] = {}
    parts, edges, stars = [], [], []
    for step, column in enumerate(columns):
        x = pad + step * col_w
        for row, node in enumerate(column):
            y = pad + 18 + row * row_h
            where[node.id] = (x, y)
            prob = math.exp(node.token_logp)
            rank = on_path.get(node.id)
            cls = "kept" if node.survived else "pruned"
            stroke = (f'class="best" stroke="{BEST}" stroke-width="3"' if rank == 0 else  # bold too (style.css)
                      f'stroke="rgb{ACCENT}" stroke-width="2"' if rank is not None else "")
            shown = node.token if len(node.token) <= LABEL_CHARS else node.token[:LABEL_CHARS - 1] + "…"
            label = esc(shown) if step == 0 else f"{esc(shown)} {prob:.0%}"  # the whole token: in the title
            if final.get(node.id) == 0:  # the best beam's end: starred on its box's corner (not colour alone)
                stars.append(f'<text class="star" x="{x + 1}" y="{y + 6}" aria-hidden="true">★</text>')
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
    best = (f"; the best beam: {esc(text(search.beams[0].tokens)) or '(nothing)'}" if search.beams else "")
    svg = (f'<svg class="beam-tree" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="Beam search tree, width {search.width}, {len(columns) - 1} steps drawn{best}. '
           f'The same tree as a list follows.">{heads}{"".join(edges)}{"".join(parts)}{"".join(stars)}</svg>')
    rows = []
    for rank, beam in enumerate(search.beams):
        ok = "" if expected is None else _mark(beam.tokens == expected and beam.finished)
        colour = BEST if rank == 0 else f"rgb{ACCENT}"
        rows.append(f'<tr data-beam="{rank}"><td style="color:{colour};font-weight:700">{rank + 1}'
                    f'{" ★ best" if rank == 0 else ""}</td>'
                    f'<td><code>{esc(text(beam.tokens)) or "(nothing)"}</code> {ok}</td>'
                    f'<td>{round(beam.score, 3) + 0.0:.3f}</td><td>{round(beam.logp, 3) + 0.0:.3f}'
                    f'{"" if beam.finished else " (no " + esc(EOS) + ": length limit)"}</td></tr>')
    kept = sum(n.survived for n in nodes[1:])
    steps = max(n.step for n in nodes)
    shown = len(columns) - 1
    cut = (f" The tree is drawn for the first {shown} of its {steps} steps ({drawn:,} nodes; a larger drawing would "
           f"not help the eye)." if full and shown < steps else
           f" The tree is drawn for the first {max_steps} of its {steps} steps." if steps > max_steps else "")
    return (f'<div id="beam-tree-body"><div class="scroll-x" id="beam-tree-drawing">{svg}</div>'
            '<p class="legend" id="beam-node-info" aria-live="polite">Tap or hover a node: its whole sequence shows '
            f'here.</p>{tree_as_list(search, columns, final)}'
            '<div class="scroll-x"><table class="preview" id="beam-list"><thead><tr><th>#</th>'
            '<th>final beam</th><th>score</th><th>log-prob</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            f'<p class="legend">Width {search.width}: at each step every kept hypothesis (solid) is extended by its '
            f'{search.width} most probable next tokens, and only the {search.width} most probable sequences are kept; '
            f'the rest are dropped (faded: the most probable dropped one under each kept one is shown). '
            f'{len(nodes) - 1} hypotheses expanded, {kept} kept. Thick lines: the final beams; amber, bold and ★: '
            f'the best, which the step views follow. Tap or hover a node for its whole sequence. Score = '
            f'log-probability ÷ length, so longer outputs are not punished just for having more tokens.{cut}'
            '</p></div>')


def tree_as_list(search: BeamSearch, columns: list[list], final: dict[int, int]) -> str:
    """The drawn tree as nested lists, for screen readers (visually hidden): each node's token, its probability after
    its parent, whether it was dropped, and which final beam it ends."""
    children: dict[int, list] = {}
    for column in columns[1:]:
        for node in column:
            children.setdefault(node.parent, []).append(node)

    def item(node) -> str:
        said = [esc(node.token) if node.parent is None else f"{esc(node.token)} ({math.exp(node.token_logp):.0%})"]
        if not node.survived:
            said.append("dropped")
        if node.id in final:
            said.append("the best final beam" if final[node.id] == 0 else f"final beam {final[node.id] + 1}")
        kids = children.get(node.id, [])
        inner = f'<ul>{"".join(item(k) for k in kids)}</ul>' if kids else ""
        return f'<li>{", ".join(said)}{inner}</li>'
    return f'<ul class="sr-only" id="beam-tree-text" aria-label="The beam search tree">{item(columns[0][0])}</ul>'


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
            f'<div class="scroll-x"><table class="preview" id="what-if-table">{line(original, "as decoded")}'
            f'{line(changed, f"what if: {esc(forced.token)} at step {t}")}</table></div>'
            '<p class="legend">The forced token is outlined in amber. Everything after it is the model’s own choice '
            'given that token. Click another token in the step views to try again.</p></div>')


def compare_html(name: str, decoded: Decoded, which: str, with_attention: str | None = None) -> str:
    """One model's answer for the comparison: its output marked, and its attention (ids made unique);
    `with_attention`: a bundled model with attention for the same task, named when this one has none."""
    attention = attention_html(decoded, with_attention=with_attention)
    attention = attention.replace('id="attention-table"', f'id="attention-table-{which}"')
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
        below = [r for r in rows if r.exact_match < 0.9]
        good = [r.length for r in rows if r.exact_match >= 0.9 and (not below or r.length < below[0].length)]
        beyond = [r for r in rows if r.length > spec.max_len]
        tail = (f"; at {beyond[-1].length} (longer than any it saw) {beyond[-1].exact_match:.0%}"
                if beyond else "")
        dip = (f" (then {below[0].exact_match:.0%} at {below[0].length})"
               if good and below and any(r.length > below[0].length and r.exact_match >= 0.9 for r in rows) else "")
        reach = (f"≥ 90% exact match at every length up to {max(good)}{dip}" if good
                 else f"below 90% exact match from length {rows[0].length}" if rows else "no lengths measured")
        parts.append(f"**{esc(name)}** was trained on lengths {spec.min_len}–{spec.max_len}; {reach}{tail}")
    counts = sorted({r.n for _, rows in results.values() for r in rows})
    per = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return ". ".join(parts) + f". Held-out sources, {per} per length."


