"""What the Decode tab shows for a trace: marks, heatmaps, playback (no server needed)."""
from seq2seq import greedy_decode, load_checkpoint
from seq2seq.decode import Step, Trace

import views

TOKENS = ["<eos>", "1", "2", "3"]


def body_rows(html: str) -> int:
    return html.split("<tbody>")[1].count("<tr>")


def trace(tokens: list[str], finished: bool = True, attention: bool = False) -> Trace:
    steps, fed = [], "<sos>"
    for i, tok in enumerate(tokens):
        others = [(t, 0.1) for t in TOKENS if t != tok]
        steps.append(Step(fed, tok, 0.7, [(tok, 0.7)] + others,
                          [0.8, 0.1, 0.1] if attention else None))
        fed = tok
    out = [t for t in tokens if t != "<eos>"]
    return Trace("1 2 3", " ".join(out), steps, finished)


def test_right_and_wrong_tokens_are_marked_against_the_answer():
    d = views.Decoded(trace(["3", "1", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    assert [d.correct(t) for t in range(4)] == [True, False, True, True]
    frame = views.steps_frame(d, top_k=2)
    assert list(frame["correct"]) == ["✓", "✗", "✓", "✓"]
    assert list(frame["fed in"]) == ["<sos>", "3", "1", "1"]
    assert frame["top 2"][0] == "3 0.700 · <eos> 0.100"
    html = views.verdict_html(d)
    assert "✗ not quite" in html and "3 of 4 steps right" in html and "Correct answer:</b> 3 2 1" in html
    assert "&lt;eos&gt;" in html and "<eos>" not in html.replace("&lt;eos&gt;", "")  # escaped


def test_an_output_longer_than_the_answer_is_wrong_past_its_end():
    d = views.Decoded(trace(["3", "2", "1", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    assert [d.correct(t) for t in range(5)] == [True, True, True, False, False]
    assert "✗ not quite" in views.verdict_html(d)


def test_unknown_answers_and_unfinished_outputs_are_said_plainly():
    d = views.Decoded(trace(["1", "1"], finished=False), None, TOKENS)
    assert d.correct(0) is None
    html = views.verdict_html(d)
    assert "no correct answer" in html and "length limit" in html
    assert list(views.steps_frame(d)["correct"]) == ["", ""]


def test_heatmap_has_a_row_per_step_and_outlines_the_choice():
    d = views.Decoded(trace(["3", "1", "<eos>"]), ["3", "2", "1"], TOKENS)
    html = views.distribution_html(d)
    assert body_rows(html) == 3 and html.count("outline:2px") == 3
    assert html.count("text-decoration:underline") == 2  # the right token where steps 2 and 3 chose wrong
    assert views.attention_html(d) == ""
    with_attention = views.Decoded(trace(["3", "<eos>"], attention=True), ["3"], TOKENS)
    att = views.attention_html(with_attention)
    assert 'id="attention-table"' in att and att.count(">0.80<") == 2


def test_playback_grows_the_output_one_step_at_a_time_and_clamps():
    d = views.Decoded(trace(["3", "2", "<eos>"]), ["3", "2", "1"], TOKENS)
    assert "Step 2 of 3" in views.playback_html(d, 2) and ">2</span>" in views.playback_html(d, 2)
    assert "Step 3 of 3" in views.playback_html(d, 99) and "Step 1 of 3" in views.playback_html(d, 0)
    assert "Right token here: <b>1</b> ✗" in views.playback_html(d, 3)


def test_attention_model_decodes_with_an_attention_map():
    checkpoint = load_checkpoint("checkpoints/copy")
    t = greedy_decode(checkpoint.model, checkpoint.task.vocab, "4 7 1", top_k=len(checkpoint.task.vocab))
    d = views.Decoded(t, checkpoint.task.expected(["4", "7", "1"]), TOKENS)
    assert t.output == "4 7 1"
    assert body_rows(views.attention_html(d)) == 4  # 3 tokens + <eos>
