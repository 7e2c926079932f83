"""What the page shows, without a server: the Decode tab's marks, heatmaps and playback; the Train tab's plots,
time left and live preview."""
import math
import re

import pytest

from seq2seq import greedy_decode, load_checkpoint
from seq2seq.decode import Step, Trace
from seq2seq.history import History
from seq2seq.training import EvalEvent, StepEvent

from playground import views
from tests.helpers import ROOT

TOKENS = ["<eos>", "1", "2", "3"]


def text(html: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities left as they are."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def body_rows(html: str) -> list[str]:
    """The <tr> rows of a table's body."""
    return re.findall(r"<tr\b.*?</tr>", html.split("<tbody>")[1].split("</tbody>")[0])


def panels(html: str) -> list[str]:
    """The playback's per-step panels, in order."""
    return html.split('<div class="s2s-panel"')[1:]


def trace(tokens: list[str], finished: bool = True, attention: bool = False) -> Trace:
    steps, fed = [], "<sos>"
    for tok in tokens:
        others = [(t, 0.1) for t in TOKENS if t != tok]
        steps.append(Step(fed, tok, 0.7, [(tok, 0.7)] + others,
                          [0.8, 0.1, 0.1] if attention else None))
        fed = tok
    out = [t for t in tokens if t != "<eos>"]
    return Trace("1 2 3", " ".join(out), steps, finished)


def test_right_and_wrong_tokens_are_marked_against_the_answer():
    # chose 3 1 1 <eos> where the answer is 3 2 1 <eos>: only the second step is wrong
    d = views.Decoded(trace(["3", "1", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    frame = views.steps_frame(d, top_k=2)
    assert list(frame["correct"]) == ["✓", "✗", "✓", "✓"]
    assert list(frame["fed in"]) == ["<sos>", "3", "1", "1"]
    assert (frame["#1"][0], frame["#2"][0]) == ("3 70%", "<eos> 10%") and "#3" not in frame
    assert views.alternative_at(list(frame.iloc[0]), 6) == "<eos>" and views.alternative_at(list(frame.iloc[0]), 2) is None
    html = views.verdict_html(d)
    assert re.findall(r'title="(right|wrong)"', html) == ["right", "wrong", "right", "right"]
    assert "✗ not quite" in html and "3 of 4 steps right" in html and "Correct answer:</b> 3 2 1" in html
    assert "&lt;eos&gt;" in html and "<eos>" not in html.replace("&lt;eos&gt;", "")  # escaped

    right = views.verdict_html(views.Decoded(trace(["3", "2", "1", "<eos>"]), ["3", "2", "1"], TOKENS))
    assert "✓ correct" in right and "4 of 4 steps right" in right and 'title="wrong"' not in right


def test_an_output_longer_than_the_answer_is_wrong_past_its_end():
    # 3 2 1 1 <eos> against 3 2 1 <eos>: step 4 should have been <eos>, step 5 should not exist
    d = views.Decoded(trace(["3", "2", "1", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    assert list(views.steps_frame(d)["correct"]) == ["✓", "✓", "✓", "✗", "✗"]
    html = views.verdict_html(d)
    assert "✗ not quite" in html and "3 of 4 steps right" in html
    last = panels(views.playback_html(d))[-1]
    assert "Right token here: <b>(nothing: the answer was already complete)</b> ✗" in last


def test_an_output_that_stops_at_the_length_limit_is_not_correct():
    # the right tokens, but no <eos>: the model never said it was done
    d = views.Decoded(trace(["3", "2", "1"], finished=False), ["3", "2", "1"], TOKENS)
    html = views.verdict_html(d)
    assert "✗ not quite" in html and "3 of 4 steps right" in html and "length limit" in html


def test_unknown_answers_and_unfinished_outputs_are_said_plainly():
    d = views.Decoded(trace(["1", "1"], finished=False), None, TOKENS)
    html = views.verdict_html(d)
    assert "no correct answer" in html and "length limit" in html
    assert "✓" not in html and "✗" not in html and "title=" not in html
    assert list(views.steps_frame(d)["correct"]) == ["", ""]


def test_heatmap_has_a_row_per_step_and_outlines_the_choice():
    d = views.Decoded(trace(["3", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    rows = body_rows(views.distribution_html(d))
    assert len(rows) == 3
    # columns follow TOKENS (<eos> 1 2 3); the chosen token is outlined in its row
    cells = [re.findall(r'<td data-token="[^"]*" style="([^"]*)"', row) for row in rows]
    assert re.findall(r'<td data-token="([^"]*)"', rows[0]) == ["&lt;eos&gt;", "1", "2", "3"]  # clicked: what if
    assert [[i for i, style in enumerate(row) if "outline:2px" in style] for row in cells] == [[3], [1], [0]]
    # where the choice was wrong (steps 2 and 3), the right token (2, then 1) is underlined
    assert [[i for i, style in enumerate(row) if "underline" in style] for row in cells] == [[], [2], [1]]
    assert 'id="attention-none"' in views.attention_html(d) and "<table" not in views.attention_html(d)
    with_attention = views.Decoded(trace(["3", "<eos>"], attention=True), ["3"], TOKENS)
    att = views.attention_html(with_attention)
    assert 'id="attention-table"' in att
    assert [re.findall(r">([\d.]+)</td>", row) for row in body_rows(att)] == [["0.80", "0.10", "0.10"]] * 2


def test_playback_grows_the_output_one_step_at_a_time():
    d = views.Decoded(trace(["3", "2", "<eos>"]), ["3", "2", "1"], TOKENS)
    html = views.playback_html(d)
    steps = panels(html)
    assert len(steps) == 3 and 'max="3"' in html
    assert [re.search(r"Step (\d) of (\d)", s).groups() for s in steps] == [("1", "3"), ("2", "3"), ("3", "3")]
    so_far = [text(re.search(r'<p class="so-far">.*?</p>', s).group()) for s in steps]
    assert so_far == ["Output so far: 3", "Output so far: 3 2", "Output so far: 3 2 &lt;eos&gt;"]
    assert " hidden" not in steps[0].split(">")[0] and all(" hidden" in s.split(">")[0] for s in steps[1:])
    assert "Right token here: <b>1</b> ✗" in steps[2]  # chose <eos> where 1 was due
    assert views.playback_html(views.Decoded(Trace("1", "", [], False), ["1"], TOKENS)) == ""


def test_attention_map_of_the_bundled_copy_model_follows_the_source():
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "copy")
    source = ["9", "2", "2", "5", "0"]
    t = greedy_decode(checkpoint.model, checkpoint.task.vocab, " ".join(source))
    assert t.output == "9 2 2 5 0"
    d = views.Decoded(t, checkpoint.task.expected(source), checkpoint.task.vocab.tokens)
    html = views.attention_html(d)
    assert re.findall(r"<th>(\d)</th>", html.split("</thead>")[0]) == source  # a column per source token
    rows = [[float(w) for w in re.findall(r'title="([\d.]+)"', row)] for row in body_rows(html)]
    assert len(rows) == 6 and all(len(row) == 5 for row in rows)  # a row per output token and <eos>
    assert all(abs(sum(row) - 1) < 0.01 for row in rows)
    # copying, the model looks hardest at the very token it is writing: the map's diagonal
    assert [row.index(max(row)) for row in rows[:5]] == [0, 1, 2, 3, 4]


def test_time_left_appears_once_it_means_something_and_moves_in_steps_of_five_seconds():
    eta = views.Eta(start_step=100, target_step=1100, budget=120, settle=1.5)
    assert eta.left(110, 0.5) is None  # too early to say
    assert eta.left(200, 2.0) == 20   # 100 steps in 2 s: 900 more need 18 s, shown as 20
    assert eta.left(600, 10.0) == 10  # 50 steps/s: 500 more need 10 s
    assert eta.left(700, 100.0) == 20  # the budget's 20 s left comes first
    line = views.progress_line(200, History(), eta, 2.0)
    assert line == "Training: step 200 / 1,100 · 50 steps/s · about 20 s left"
    assert views.progress_line(110, History(), eta, 0.5).endswith("estimating time left…")


def test_loss_plot_has_raw_and_smoothed_loss_a_floor_when_asked_and_a_log_scale():
    h = History()
    h.record(EvalEvent(0, 0.0, 0.0, 0.0, 2.0))
    for step, loss in enumerate([2.0, 1.0, 0.1, 0.01], 1):
        h.record(StepEvent(step, loss, 0.1 * step))
    frame = views.loss_frame(h, floor=0.5)
    by_series = {name: list(zip(g["step"], g["loss"])) for name, g in frame.groupby("series")}
    assert by_series["raw"] == [(1, 2.0), (2, 1.0), (3, 0.1), (4, 0.01)]
    smooth = [v for _, v in by_series["smoothed"]]
    assert smooth[0] == 2.0 and all(a > b for a, b in zip(smooth, smooth[1:])) and smooth[-1] > 0.01
    assert by_series["held-out"] == [(0, 2.0)] and by_series["floor"] == [(0, 0.5), (4, 0.5)]
    logged = views.loss_frame(h, log=True)
    assert list(logged[logged["series"] == "raw"]["loss"]) == pytest.approx([0.30103, 0.0, -1.0, -2.0], abs=1e-5)
    assert "floor" not in set(views.loss_frame(h, floor=0.0)["series"])


def test_preview_marks_each_watched_source_and_counts_the_right_ones():
    html = views.preview_html([("1 2 3", "3 2 1", "3 2 1"), ("4 5", "4 4 4", "5 4")], step=250)
    assert "at step 250: 1 of 2 right" in html
    assert re.findall(r"<td>(.*?)</td>", html)[1].endswith("✓") and re.findall(r"<td>(.*?)</td>", html)[4].endswith("✗")
    assert "press Train" in views.preview_html([("1 2 3", None, "3 2 1")])


# ---------------------------------------------------------------- beam tree, what if, comparison

def small_search():
    """A hand-made width-2 beam search over <sos>: 3 (kept) and 1 (kept) at step 1; under 3: 2 (kept, then
    <eos>: best) and <eos> (finished early, second); under 1: 2 and 3, both dropped."""
    from seq2seq.decode import Beam, BeamSearch, Node
    ln = math.log
    nodes = [Node(0, None, 0, "<sos>", 0.0, 0.0, survived=True),
             Node(1, 0, 1, "3", ln(0.6), ln(0.6), survived=True),
             Node(2, 0, 1, "1", ln(0.3), ln(0.3), survived=True),
             Node(3, 1, 2, "2", ln(0.6 * 0.9), ln(0.9), survived=True),
             Node(4, 1, 2, "<eos>", ln(0.6 * 0.1), ln(0.1), survived=True, finished=True),
             Node(5, 2, 2, "2", ln(0.3 * 0.1), ln(0.1)),
             Node(6, 2, 2, "3", ln(0.3 * 0.05), ln(0.05)),
             Node(7, 3, 3, "<eos>", ln(0.6 * 0.9 * 0.8), ln(0.8), survived=True, finished=True)]
    beams = [Beam(["3", "2"], nodes[7].logp, nodes[7].logp / 3, 7, True),
             Beam(["3"], nodes[4].logp, nodes[4].logp / 2, 4, True)]
    return BeamSearch("1 2 3", 2, nodes, beams)


def test_beam_tree_draws_kept_and_dropped_hypotheses_and_marks_the_best():
    html = views.beam_tree_html(small_search(), expected=["3", "2"])
    nodes = re.findall(r'<g class="node (kept|pruned)" data-node="(\d+)" data-step="(\d)"(?: data-final="(\d)")?>',
                       html)
    by_id = {int(n): (cls, int(step), final) for cls, n, step, final in nodes}
    assert by_id[0] == ("kept", 0, "") and by_id[7] == ("kept", 3, "0") and by_id[4] == ("kept", 2, "1")
    assert by_id[5][0] == "pruned" and 6 not in by_id  # one dropped hypothesis shown under each kept one
    # the best beam's path (<sos> 3 2 <eos>) is amber, the second's last node in the accent colour
    amber = re.findall(rf'data-node="(\d+)"[^>]*><title>[^<]*</title><rect [^>]*stroke="{views.BEST}"', html)
    assert sorted(map(int, amber)) == [0, 1, 3, 7]
    assert re.search(r'data-node="4"[^>]*><title>[^<]*</title><rect [^>]*stroke="rgb\(79, 70, 229\)"', html)
    labels = re.findall(r'<text x="[\d.]+" y="[\d.]+">(.*?)</text>', html)
    assert labels[:3] == ["&lt;sos&gt;", "3 60%", "1 30%"]  # each node: its token and its probability after its parent
    assert "<title>3 2 &lt;eos&gt;: log-probability -0.839</title>" in html  # hover: the whole sequence
    # the final beams, listed best first and marked against the answer
    rows = re.findall(r'<tr data-beam="(\d)">.*?<code>(.*?)</code> (.)</td>', html)
    assert rows == [("0", "3 2", "✓"), ("1", "3", "✗")]
    assert "Width 2" in html and "7 hypotheses expanded, 5 kept" in html
    svg_w = int(re.search(r'<svg class="beam-tree" width="(\d+)"', html)[1])
    assert svg_w == 6 * 2 + 3 * 76 + 68  # four columns: start and three steps


def test_beam_tree_without_an_answer_marks_nothing_and_names_an_unfinished_beam():
    from seq2seq.decode import Beam
    search = small_search()
    search.beams = [Beam(["3", "2"], search.nodes[3].logp, search.nodes[3].logp / 2, 3, False)]
    html = views.beam_tree_html(search)
    assert "✓" not in html and "✗" not in html
    assert "(no &lt;eos&gt;: length limit)" in html


def test_what_if_puts_the_forced_decoding_under_the_original_with_the_forced_token_outlined():
    original = views.Decoded(trace(["3", "2", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    forced = views.Decoded(trace(["3", "1", "2", "<eos>"]), ["3", "2", "1"], TOKENS, forced=2)
    html = views.what_if_html(original, forced)
    rows = re.findall(r"<tr><th>(.*?)</th><td class=\"so-far\">(.*?)</td></tr>", html)
    assert [label for label, _ in rows] == ["as decoded", "what if: 1 at step 2"]
    spans = [re.findall(r'<span class="tok" style="([^"]*)">(.*?)</span>', cells) for _, cells in rows]
    assert [tok for _, tok in spans[0]] == ["3", "2", "1", "&lt;eos&gt;"]
    assert [tok for _, tok in spans[1]] == ["3", "1", "2", "&lt;eos&gt;"]
    assert [tok for style, tok in spans[1] if "outline" in style] == ["1"]
    assert not any("outline" in style for style, _ in spans[0])
    assert [views.RIGHT in s for s, _ in spans[1]] == [True, False, False, True]
    assert "✓ correct" in rows[0][1] and "✗ wrong" in rows[1][1]
    assert "The model chose <code>2</code> (70.0%) at step 2; forced <code>1</code> (70.0% to the model)" in html


def test_what_if_past_the_original_end_says_only_what_was_forced():
    original = views.Decoded(trace(["3", "<eos>"]), None, TOKENS)
    forced = views.Decoded(trace(["3", "<eos>", "1"], finished=False), None, TOKENS, forced=3)
    html = views.what_if_html(original, forced)
    assert html.startswith('<div id="what-if-body"><p>forced <code>1</code>') and "✓" not in html


def test_by_length_frame_and_note_for_two_models():
    from seq2seq.lengths import LengthRow
    from seq2seq.tasks import make_spec
    a = [LengthRow(3, 100, 1.0, 1.0, True), LengthRow(4, 100, 0.95, 0.99, True), LengthRow(5, 100, 0.2, 0.7, False)]
    b = [LengthRow(3, 100, 0.5, 0.8, True), LengthRow(4, 100, 0.123, 0.5, False), LengthRow(5, 100, 0.0, 0.3, False)]
    frame = views.by_length_frame({"A: reverse": a, "B: your model": b})
    assert list(frame.columns) == ["source length", "exact match (%)", "model"]
    assert frame.values.tolist() == [[3, 100.0, "A: reverse"], [4, 95.0, "A: reverse"], [5, 20.0, "A: reverse"],
                                     [3, 50.0, "B: your model"], [4, 12.3, "B: your model"], [5, 0.0, "B: your model"]]
    note = views.by_length_note({"A: reverse": (make_spec("reverse", 3, 4), a),
                                 "B: your model": (make_spec("reverse", 3, 3), b)})
    assert ("**A: reverse** was trained on lengths 3–4; ≥ 90% exact match at every length up to 4; at 5 (longer "
            "than any it saw) 20%") in note
    assert "**B: your model** was trained on lengths 3–3; below 90% exact match from length 3" in note
    wobbly = [LengthRow(6, 12, 0.5, 0.9, True), LengthRow(7, 10, 1.0, 1.0, True), LengthRow(8, 9, 1.0, 1.0, True)]
    steady = [LengthRow(6, 12, 1.0, 1.0, True), LengthRow(7, 10, 0.6, 0.9, True), LengthRow(8, 9, 1.0, 1.0, True)]
    uneven = views.by_length_note({"A: yours": (make_spec("reverse", 6, 8), wobbly),
                                   "B: dates": (make_spec("reverse", 6, 8), steady)})
    assert "**A: yours** was trained on lengths 6–8; below 90% exact match from length 6" in uneven  # not "up to 8"
    assert "≥ 90% exact match at every length up to 6 (then 60% at 7)" in uneven
    assert uneven.endswith("Held-out sources, 9–12 per length.")
    assert "**B: your model** was trained on lengths 3–3" in note and "at 5 (longer than any it saw) 0%" in note
    assert note.endswith("Held-out sources, 100 per length.")


def test_compare_panels_have_ids_of_their_own():
    with_attention = views.Decoded(trace(["3", "<eos>"], attention=True), ["3"], TOKENS)
    without = views.Decoded(trace(["3", "<eos>"]), ["3"], TOKENS)
    a = views.compare_html("A: copy — 1-layer LSTM", with_attention, "a")
    b = views.compare_html("B: <yours>", without, "b")
    assert a.startswith('<div class="compare" id="compare-a-body"><h4>A: copy — 1-layer LSTM</h4>')
    assert "<h4>B: &lt;yours&gt;</h4>" in b  # escaped
    assert 'id="attention-table-a"' in a and 'id="compare-verdict-a"' in a and 'id="attention-none-b"' in b
    ids = re.findall(r'id="([^"]+)"', a + b)
    assert len(ids) == len(set(ids))  # both on one page: no id twice
    assert "✓ correct" in a and "✓ correct" in b


def test_a_beam_tree_draws_a_bounded_number_of_nodes_and_says_what_it_left_out():
    from seq2seq.decode import BeamSearch, Beam, Node
    nodes, alive = [Node(0, None, 0, "<sos>", 0.0, 0.0, survived=True)], [0]
    for step in range(1, 41):  # width 3, 40 steps, never finished
        kids = []
        for parent in alive:
            for k in range(3):
                node = Node(len(nodes), parent, step, str(k + 1), -step - k, -1.0 - k, survived=k == 0)
                nodes.append(node)
                kids.append(node.id)
        alive = kids[:3] if len(kids) == 3 else [kids[0], kids[3], kids[6]]
        for i in alive:
            nodes[i].survived = True
    search = BeamSearch("1 2 3", 3, nodes, [Beam(["1"] * 40, -40.0, -1.0, alive[0], False)])
    html = views.beam_tree_html(search, max_nodes=50)
    assert len(re.findall(r'<g class="node', html)) <= 50
    assert re.search(r"The tree is drawn for the first \d+ of its 40 steps \(\d+ nodes;", html)
    assert "The tree is drawn for the first 30 of its 40 steps." in views.beam_tree_html(search)
    from playground.views.beams import MAX_DRAWN
    assert len(re.findall(r'<g class="node', views.beam_tree_html(search))) <= MAX_DRAWN
