"""What the page shows, without a server: the Decode tab's marks, heatmaps and playback; the Train tab's plots,
time left and live preview."""
import re
from pathlib import Path

import pytest

from seq2seq import greedy_decode, load_checkpoint
from seq2seq.decode import Step, Trace
from seq2seq.history import History
from seq2seq.train import EvalEvent, StepEvent

import views

ROOT = Path(__file__).resolve().parents[1]
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
    assert by_series["each step"] == [(1, 2.0), (2, 1.0), (3, 0.1), (4, 0.01)]
    smooth = [v for _, v in by_series["smoothed"]]
    assert smooth[0] == 2.0 and all(a > b for a, b in zip(smooth, smooth[1:])) and smooth[-1] > 0.01
    assert by_series["held-out"] == [(0, 2.0)] and by_series["best possible"] == [(0, 0.5), (4, 0.5)]
    logged = views.loss_frame(h, log=True)
    assert list(logged[logged["series"] == "each step"]["loss"]) == pytest.approx([0.30103, 0.0, -1.0, -2.0], abs=1e-5)
    assert "best possible" not in set(views.loss_frame(h, floor=0.0)["series"])


def test_preview_marks_each_watched_source_and_counts_the_right_ones():
    html = views.preview_html([("1 2 3", "3 2 1", "3 2 1"), ("4 5", "4 4 4", "5 4")], step=250)
    assert "at step 250: 1 of 2 right" in html
    assert re.findall(r"<td>(.*?)</td>", html)[1].endswith("✓") and re.findall(r"<td>(.*?)</td>", html)[4].endswith("✗")
    assert "press Train" in views.preview_html([("1 2 3", None, "3 2 1")])
