"""The app through its API, as a gradio_client user sees it: the tier's shared `python app.py` (tests/conftest.py).

The server allows one training at a time (SEQ2SEQ_MAX_TRAININGS=1), so the queue can be observed.
"""
import csv
import io
import math
import re
import zipfile

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from seq2seq import load_checkpoint
from tests.helpers import (ACCURACY_PLOT, CHECKPOINT, HEATMAP, LOSS_PLOT, METRICS, MODEL_INFO, NUMBER, OUTPUT,
                           STATUS, STEPS, TREE, VERDICT, AppServer, client, last_status, number, outputs, reported,
                           series, train, wait_for_status, wait_until)

RAW, SMOOTH, HELD_OUT, FLOOR = ("raw", "smoothed", "held-out", "floor")


def test_decode_with_only_a_source_uses_the_bundled_reverse_model(app_url):
    result = client(app_url).predict("3 1 4 1 5 9", api_name="/decode")
    assert result[OUTPUT] == "9 5 1 4 1 3"
    rows = result[STEPS]["data"]
    assert [row[2] for row in rows] == ["9", "5", "1", "4", "1", "3", "<eos>"]  # six steps plus EOS
    assert [row[1] for row in rows][:2] == ["<sos>", "9"]                      # the token fed in
    assert all(row[3] == "✓" for row in rows)                                   # marked right
    assert all(0.5 < row[4] <= 1 for row in rows)                               # chosen with confidence
    assert "Correct answer:</b> 9 5 1 4 1 3" in result[VERDICT] and "✓ correct" in result[VERDICT]
    assert "bundled **reverse**" in result[MODEL_INFO]


def test_decode_with_a_chosen_bundled_model_and_top_k(app_url):
    result = client(app_url).predict("5 3 9 1", "bundled:sort", 5, api_name="/decode")
    assert result[OUTPUT] == "1 3 5 9"
    assert "Correct answer:</b> 1 3 5 9" in result[VERDICT]
    assert result[STEPS]["headers"][5:] == ["#1", "#2", "#3", "#4", "#5"]
    top = result[STEPS]["data"][0][5:]
    assert len(top) == 5 and top[0].startswith("1 ") and top[0].endswith("%")  # top-5 alternatives, best first


def test_bad_input_gives_a_message_and_the_server_still_answers(app_url):
    c = client(app_url)
    with pytest.raises(AppError, match="Unknown token.*'x'.*0 1 2 3 4 5 6 7 8 9"):
        c.predict("3 x 4", api_name="/decode")
    with pytest.raises(AppError, match="Type a source sequence"):
        c.predict("   ", api_name="/decode")
    with pytest.raises(AppError, match="not trained a model in this session"):
        c.predict("1 2 3", "session", api_name="/decode")
    with pytest.raises(AppError, match="no bundled model for random"):
        c.predict("1 2 3", "auto", 3, "random", api_name="/decode")
    with pytest.raises(AppError, match=r"min length and max length must satisfy 1 ≤ min ≤ max ≤ 50 \(you gave 8 and 4\)"):
        c.predict(min_len=8, max_len=4, api_name="/train")
    with pytest.raises(AppError, match="Decaying the learning rate needs a number of steps"):
        c.predict(steps=0, lr_decay=True, api_name="/train")
    assert c.predict("1 2 3", api_name="/decode")[OUTPUT] == "3 2 1"


def test_train_streams_a_falling_loss_and_offers_downloads(app_url, tmp_path):
    c = client(app_url)
    job = c.submit(steps=200, api_name="/train")
    updates = outputs(job)
    statuses = [o[STATUS] for o in updates]
    assert statuses[0].startswith("Starting (new model)")
    assert any(s.startswith("Training: step") and "steps/s" in s for s in statuses)
    assert statuses[-1].startswith("Done: finished 200 steps")
    loss = series(updates[-1][LOSS_PLOT], RAW)
    smooth = series(updates[-1][LOSS_PLOT], SMOOTH)
    val = series(updates[-1][LOSS_PLOT], HELD_OUT)
    assert loss[-1][0] == 200 and val[0][0] == 0 and val[-1][0] == 200
    assert loss[-1][1] < loss[0][1] / 3 and val[-1][1] < val[0][1] / 3  # the loss falls
    assert smooth[0][1] == loss[0][1] and smooth[-1][1] < smooth[0][1] / 3  # and so does its moving average
    assert not series(updates[-1][LOSS_PLOT], FLOOR)  # reverse can be learned to zero: no floor line
    exact = series(updates[-1][ACCURACY_PLOT], "exact match")
    assert exact[0] == (0, 0.0) and exact[-1][1] > 20  # held-out exact match rises from zero
    evaluated = [step for step, _ in exact]  # about every 0.25 s of training (tests/unit/test_train.py, on a set
    assert evaluated[0] == 0 and evaluated[-1] == 200  # clock), and at least every 100 steps: not only at the end
    assert all(0 < b - a <= 100 for a, b in zip(evaluated, evaluated[1:]))

    with zipfile.ZipFile(updates[-1][CHECKPOINT]) as z:
        names = sorted(z.namelist())
        assert names == ["seq2seq-reverse-step200/config.json", "seq2seq-reverse-step200/model.safetensors",
                         "seq2seq-reverse-step200/train_state.safetensors"]
        z.extractall(tmp_path)
    checkpoint = load_checkpoint(tmp_path / "seq2seq-reverse-step200")
    assert checkpoint.task.name == "reverse" and checkpoint.training["steps"] == 200
    assert checkpoint.state is not None  # what continuing exactly needs travels with the model
    curve = checkpoint.training["curve"]  # and so does its training curve
    assert curve["step"][-1] == 200 and curve["eval_step"][0] == 0
    assert curve["exact_match"][-1] == pytest.approx(exact[-1][1] / 100, abs=1e-4)
    with open(updates[-1][METRICS]) as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [str(i) for i in range(201)]
    assert rows[0]["exact_match"] == "0" and rows[200]["train_loss"] and rows[200]["exact_match"]

    # the session's model decodes now, and says so
    result = c.predict("1 2 3", api_name="/decode")
    assert "your model (trained here, step 200)" in result[MODEL_INFO]


def test_stop_keeps_the_model_and_training_continues_from_it(app_url):
    c = client(app_url)
    job = c.submit(steps=0, lr_decay=False, time_budget=60, api_name="/train")
    training = wait_for_status(job, r"Training: step [1-9]")  # it has trained: Stop has steps to keep
    before = number(re.match(rf"Training: step ({NUMBER})", training)[1])
    assert c.predict(api_name="/stop") == "Stopping…"
    final = outputs(job)[-1]
    assert final[STATUS].startswith("Stopped: stopped by request after"), final[STATUS]
    ran, seconds, step = reported(final[STATUS])
    assert step == ran >= before > 0  # what it had when Stop was pressed, and the step it was on
    assert seconds < 60 / 2  # stopped by its own account, not run out of its 60 s
    assert series(final[LOSS_PLOT], RAW)[-1][0] == step   # the curve is kept up to the stop
    assert f"your model (trained here, step {step:,})" in c.predict("3 1 4", api_name="/decode")[MODEL_INFO]

    again = train(c, steps=50, lr_decay=False)
    assert again[0][STATUS].startswith(f"Starting (continuing from step {step:,})")
    assert again[-1][STATUS].startswith("Done: finished 50 steps")
    assert series(again[-1][LOSS_PLOT], RAW)[-1][0] == step + 50
    assert series(again[-1][ACCURACY_PLOT], "exact match")[0][0] == 0  # one history, from the first step

    # another shape cannot continue: Train starts a new model and says why
    other = train(c, hidden_dim=64, steps=10)
    assert other[0][STATUS].startswith("Starting (new model: the model settings changed (Hidden size 96 → 64), so "
                                       "the last model could not continue)"), other[0][STATUS]
    assert series(other[-1][LOSS_PLOT], RAW)[-1][0] == 10
    fresh = train(c, hidden_dim=64, steps=10, mode="new")
    assert fresh[0][STATUS].startswith("Starting (new model)")
    assert series(fresh[-1][LOSS_PLOT], RAW)[-1][0] == 10


def test_stop_with_nothing_training_says_so(app_url):
    assert client(app_url).predict(api_name="/stop") == "Nothing is training."


def test_two_sessions_never_see_each_others_model_or_curve(app_url):
    a, b = client(app_url), client(app_url)
    train(a, steps=30)
    with pytest.raises(AppError, match="not trained a model in this session"):
        b.predict("1 2 3", "session", api_name="/decode")
    b_final = train(b, steps=20, task="sort", seed=3)[-1]
    assert b_final[STATUS].startswith("Done: finished 20 steps")
    assert series(b_final[LOSS_PLOT], RAW)[-1][0] == 20                    # B's own curve, from zero
    assert "sort" in b.predict("3 1 2", "auto", 3, "sort", api_name="/decode")[MODEL_INFO]
    a_info = a.predict("3 1 2", api_name="/decode")[MODEL_INFO]
    assert "reverse" in a_info and "step 30" in a_info                     # A's model is untouched


def test_a_second_training_waits_in_the_queue(app_url):
    a, b = client(app_url), client(app_url)
    first = a.submit(steps=0, lr_decay=False, time_budget=60, api_name="/train")
    wait_for_status(first, "Training: step")
    second = b.submit(steps=20, api_name="/train")
    status = wait_until(lambda: (s := second.status()).code.name == "IN_QUEUE" and s, "the second run queued", 30)
    assert status.rank == 0  # first in line, waiting for the slot ...
    assert last_status(first).startswith("Training") and not first.done()  # ... which the first run holds
    a.predict(api_name="/stop")
    assert outputs(first)[-1][STATUS].startswith("Stopped")
    assert outputs(second)[-1][STATUS].startswith("Done: finished 20 steps")


def test_a_downloaded_checkpoint_loads_back_as_the_sessions_model(app_url, tmp_path):
    trainer = client(app_url)
    zip_path = train(trainer, steps=40, task="copy", seed=1)[-1][CHECKPOINT]
    c = client(app_url)
    message = c.predict(handle_file(zip_path), api_name="/load")
    assert message.startswith("Loaded seq2seq-copy-step40.zip") and "copy" in message
    assert "your model (uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", "auto", 3, "copy", api_name="/decode")[MODEL_INFO]
    with pytest.raises(AppError, match="must hold config.json and model.safetensors"):
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("notes.txt", "hello")
        (tmp_path / "bad.zip").write_bytes(bad.getvalue())
        c.predict(handle_file(str(tmp_path / "bad.zip")), api_name="/load")
    # the uploaded model survived the bad upload
    assert "uploaded seq2seq-copy-step40.zip" in c.predict("1 2 3", "session", api_name="/decode")[MODEL_INFO]


def losses(metrics_csv: str) -> dict[int, float]:
    """Training loss per step, from a run's metrics CSV download."""
    with open(metrics_csv) as f:
        return {int(r["step"]): float(r["train_loss"]) for r in csv.DictReader(f) if r["train_loss"]}


def test_automatic_decodes_with_a_model_for_the_train_tabs_task(app_url):
    c = client(app_url)
    train(c, steps=20)  # this session now has a (barely trained) reverse model
    result = c.predict("12+7", "auto", 3, "addition", api_name="/decode")
    assert result[OUTPUT] == "1 9"  # not "unknown token '+'": the bundled addition model answers
    assert "bundled **addition**" in result[-1] and "your model learns reverse" in result[MODEL_INFO]
    assert "your model (trained here, step 20)" in c.predict("1 2 3", "auto", 3, "reverse", api_name="/decode")[MODEL_INFO]


# every source of randomness a run has (the batches, dropout between 2 layers, the teacher-forcing coin), in a
# model small enough to take a few seconds: exactness does not depend on size
RANDOM_EVERYWHERE = dict(n_layers=2, dropout=0.5, teacher_forcing=0.5, emb_dim=8, hidden_dim=16, batch_size=32,
                         lr_decay=False)


def test_continue_goes_on_exactly_where_the_run_stopped(app_url):
    """60 steps, then Continue for 90, is the same training as 150 steps straight: Adam's state, the batches,
    dropout and the teacher-forcing coin all go on (evaluations on the clock fall elsewhere in each run)."""
    c = client(app_url)
    train(c, steps=60, mode="new", seed=5, **RANDOM_EVERYWHERE)
    final = train(c, steps=90, mode="continue", seed=5, **RANDOM_EVERYWHERE)[-1]
    assert final[STATUS].startswith("Done: finished 90 steps") and "step 150 in all" in final[STATUS]
    resumed = losses(final[METRICS])
    straight = losses(train(client(app_url), steps=150, mode="new", seed=5, **RANDOM_EVERYWHERE)[-1][METRICS])
    assert sorted(resumed) == sorted(straight) == list(range(1, 151))
    assert [resumed[s] for s in range(61, 151)] == pytest.approx([straight[s] for s in range(61, 151)],
                                                                 rel=2e-5, abs=1e-6)


def test_a_loaded_checkpoint_continues_from_its_step_with_its_curve(app_url, tmp_path):
    trainer = client(app_url)
    zip_path = train(trainer, steps=40, task="copy", seed=1)[-1][CHECKPOINT]
    c = client(app_url)
    assert "step 40" in c.predict(handle_file(zip_path), api_name="/load")
    updates = train(c, task="copy", steps=10)
    assert updates[0][STATUS].startswith("Starting (continuing from step 40)")
    loss = series(updates[-1][LOSS_PLOT], RAW)
    assert loss[0][0] <= 2 and loss[-1][0] == 50  # the loaded curve, then ten more steps
    assert series(updates[-1][ACCURACY_PLOT], "exact match")[0][0] == 0

    # a bundled model (no curve, no optimizer state in its folder) goes on from its saved step too
    from seq2seq.checkpoint import write_checkpoint_zip
    bundled = write_checkpoint_zip("checkpoints/sort", tmp_path / "sort.zip")
    message = c.predict(handle_file(str(bundled)), api_name="/load")
    assert "step 2,000" in message and "fresh optimizer" in message
    updates = train(c, task="sort", hidden_dim=128, attention=False, steps=10)
    assert updates[0][STATUS].startswith("Starting (continuing from step 2,000)")
    assert updates[-1][STATUS].startswith("Done: finished 10 steps") and "step 2,010 in all" in updates[-1][STATUS]


def test_random_task_draws_the_best_possible_loss(app_url):
    final = train(client(app_url), task="random", min_len=5, max_len=5, steps=30)[-1]
    floor = series(final[LOSS_PLOT], FLOOR)
    assert [p[1] for p in floor] == pytest.approx([5 * math.log(10) / 6] * 2, abs=1e-6)
    assert floor[-1][0] == 30


def test_two_trainings_at_once_equal_the_same_trainings_alone(tmp_path_factory):
    # a server of its own: two training slots (the shared one has one, so that its queue can be watched)
    server = AppServer(tmp_path_factory.mktemp("two-slots"), SEQ2SEQ_MAX_TRAININGS="2")
    try:
        jobs = [client(server.url).submit(seed=seed, steps=150, **RANDOM_EVERYWHERE, api_name="/train")
                for seed in (1, 2)]

        def both_running():  # each has started its run (its first update) and neither has ended
            return all(job.outputs() and not job.done() for job in jobs)
        wait_until(both_running, "both runs going at the same moment", 60, every=0.02)
        together = [losses(outputs(job)[-1][METRICS]) for job in jobs]
        alone = [losses(train(client(server.url), seed=seed, steps=150, **RANDOM_EVERYWHERE)[-1][METRICS])
                 for seed in (1, 2)]
        assert [sorted(run) for run in together] == [list(range(1, 151))] * 2
        assert together == alone and together[0] != together[1]
    finally:
        server.stop()


# ---------------------------------------------------------------- decoding strategies, "what if", comparing

DECODE_ARGS = ("auto", 3, "reverse")  # model, top-k, Train tab's task: /decode's arguments before the strategy


def beam_rows(tree: str) -> list[str]:
    """The final beams listed under the beam tree, best first (the text of each row's sequence)."""
    return re.findall(r'<tr data-beam="\d+">.*?<code>(.*?)</code>', tree)


def final_nodes(tree: str) -> dict[int, str]:
    """The tree's nodes marked as final beams: rank -> the node's whole sequence (from its hover title)."""
    return {int(rank): title.rsplit(": log-probability", 1)[0]
            for rank, title in re.findall(r'<g class="node kept" data-node="\d+" data-step="\d+" '
                                          r'data-final="(\d+)"><title>(.*?)</title>', tree)}


def what_if_rows(html: str) -> dict[str, list[str]]:
    """The what-if table: row label -> its tokens (HTML entities as they are), and which token is outlined."""
    rows = {}
    for label, cells in re.findall(r"<tr><th>(.*?)</th><td class=\"so-far\">(.*?)</td></tr>", html):
        rows[label] = re.findall(r'<span class="tok" style="[^"]*">(.*?)</span>', cells)
        rows[label + " outlined"] = re.findall(r'<span class="tok" style="[^"]*outline:2px[^"]*">(.*?)</span>',
                                               cells)
    return rows


def test_beam_search_returns_its_tree_and_the_best_beam_is_the_output(app_url):
    c = client(app_url)
    result = c.predict("3 1 4 1 5 9", *DECODE_ARGS, "beam", 5, api_name="/decode")
    assert result[OUTPUT] == "9 5 1 4 1 3"
    tree = result[TREE]
    beams = beam_rows(tree)
    assert 2 <= len(beams) <= 5 and beams[0] == result[OUTPUT]            # at most width beams, the best first
    assert len(set(beams)) == len(beams)                                   # each a different sequence
    assert 'data-final="0"' in tree and final_nodes(tree)[0] == "9 5 1 4 1 3 &lt;eos&gt;"  # the tree ends in it
    assert sorted(final_nodes(tree)) == list(range(len(beams)))            # every final beam is drawn in the tree
    assert '<g class="node pruned"' in tree and 'class="beam-tree"' in tree  # dropped hypotheses are shown too
    scores = [float(s) for s in re.findall(r'<tr data-beam="\d+">(?:<td.*?</td>){2}<td>(-?[\d.]+)</td>', tree)]
    assert scores == sorted(scores, reverse=True) and len(scores) == len(beams)  # ranked by score
    assert [row[2] for row in result[STEPS]["data"]] == ["9", "5", "1", "4", "1", "3", "<eos>"]  # steps: best beam
    assert "beam search (width 5)" in result[MODEL_INFO]
    # greedy leaves the tree empty, saying how to get one
    assert 'id="beam-empty"' in c.predict("3 1 4 1 5 9", api_name="/decode")[TREE]


def test_a_wide_beam_tree_shows_no_padding_start_or_unknown_hypotheses(app_url):
    # width 10 with 11 tokens to choose from: the tree must not keep (or draw) "<unk> 0%" or "<pad> 0%" nodes
    tree = client(app_url).predict("3 1 4 1 5 9", *DECODE_ARGS, "beam", 10, api_name="/decode")[TREE]
    labels = re.findall(r'<text x="[\d.]+" y="[\d.]+">(.*?)</text>', tree)
    assert labels[0] == "&lt;sos&gt;" and len(labels) > 50
    assert not [label for label in labels[1:] if re.match(r"&lt;(pad|sos|unk)&gt;", label)]


@pytest.mark.parametrize("model, source", [("bundled:reverse", "3 1 4 1 5 9"),
                                           ("bundled:copy", "1 2 3 4 5 6 7 8 9 1 2 3 4"),  # longer than trained
                                           ("bundled:sort", "5 3 9 1 1 0"), ("bundled:addition", "12+79")])
def test_beam_width_one_is_greedy(app_url, model, source):
    c = client(app_url)
    greedy = c.predict(source, model, api_name="/decode")
    beam = c.predict(source, model, 3, "reverse", "beam", 1, api_name="/decode")
    assert beam[OUTPUT] == greedy[OUTPUT]
    assert beam_rows(beam[TREE]) == [greedy[OUTPUT]]  # one beam, the greedy one
    assert [r[2] for r in beam[STEPS]["data"]] == [r[2] for r in greedy[STEPS]["data"]]
    assert '<g class="node pruned"' not in beam[TREE] and 'data-final="0"' in beam[TREE]


def test_a_wider_beam_can_find_a_different_answer_than_greedy(app_url):
    # past its trained lengths the copy model's greedy answer goes wrong; width 5 keeps other hypotheses, and
    # the beam the views follow is the one with the best score, whatever greedy chose
    c = client(app_url)
    source = "0 2 2 4 5 5 5 1 5 9 0 0 4"  # 13 tokens: greedy stops at 10, the best beam goes on to 11
    greedy = c.predict(source, "bundled:copy", api_name="/decode")[OUTPUT]
    beam = c.predict(source, "bundled:copy", 3, "reverse", "beam", 5, api_name="/decode")
    assert beam[OUTPUT] != greedy and beam_rows(beam[TREE])[0] == beam[OUTPUT]


def test_top_k_and_the_heatmap_show_every_token_asked_for_whatever_the_strategy(app_url):
    # a barely trained model spreads its probability: the step table's "#1".."#6" and the heatmap's row of every
    # token must show the model's whole distribution, not only its three most probable tokens
    c = client(app_url)
    train(c, steps=20)
    for strategy in (("greedy",), ("beam", 3), ("sampling", 5, 1.0, 0, 1.0, 1)):
        result = c.predict("3 1 4 1 5 9", "session", 6, "reverse", *strategy, api_name="/decode")
        assert result[STEPS]["headers"][5:] == ["#1", "#2", "#3", "#4", "#5", "#6"]
        steps = result[STEPS]["data"]
        assert steps, strategy
        for row in steps:
            assert len(row) == 11 and all(re.fullmatch(r"\S+ \d+%", cell) for cell in row[5:]), (strategy, row)
        heatmap = re.findall(r'<tr data-step="\d+">.*?</tr>', result[HEATMAP])
        assert len(heatmap) == len(steps), (strategy, len(heatmap))  # a row for every step decoded
        for row in heatmap:
            probs = [float(p) for p in re.findall(r'title="[^":]*: ([\d.]+)"', row)]
            assert len(probs) == 11 and sum(probs) > 0.97, (strategy, probs)  # <eos> and ten digits


def test_sampling_is_repeatable_with_a_seed_and_varies_with_it(app_url):
    c = client(app_url)
    source = "3 1 4 1 5 9"

    def sample(temperature: float, seed: int, k: int = 0, top_p: float = 1.0):
        return c.predict(source, *DECODE_ARGS, "sampling", 5, temperature, k, top_p, seed, api_name="/decode")

    first, again = sample(5.0, 3), sample(5.0, 3)
    assert first[OUTPUT] == again[OUTPUT] and first[STEPS] == again[STEPS]  # the same seed, the same draw
    assert "sampling (temperature 5, seed 3)" in first[MODEL_INFO]
    hot = {sample(5.0, seed)[OUTPUT] for seed in range(5)}
    assert len(hot) >= 2  # a flat distribution: different seeds draw different outputs
    greedy = c.predict(source, api_name="/decode")[OUTPUT]
    # keeping only the most probable token (top-k 1, or a tiny top-p) is greedy, whatever the seed or temperature
    for seed in (0, 1, 2):
        assert sample(5.0, seed, k=1)[OUTPUT] == greedy
        assert sample(5.0, seed, top_p=0.01)[OUTPUT] == greedy


def test_sampling_draws_only_tokens_a_model_can_write(app_url):
    # however flat the distribution, a sample is digits and <eos>: never padding, the start token or unknown,
    # which the output string would silently drop (and the heatmap has no column for)
    c = client(app_url)
    for seed in range(10):
        result = c.predict("3 1 4 1 5 9", *DECODE_ARGS, "sampling", 5, 5.0, 0, 1.0, seed, api_name="/decode")
        chosen = [row[2] for row in result[STEPS]["data"]]
        assert set(chosen) <= set("0123456789") | {"<eos>"}, (seed, chosen)
        assert result[OUTPUT].split() == [t for t in chosen if t != "<eos>"], (seed, chosen)


def test_what_if_forces_a_token_at_one_step_and_keeps_the_steps_before(app_url):
    c = client(app_url)
    html = c.predict("3 1 4 1 5 9", 2, "1", api_name="/what_if")
    rows = what_if_rows(html)
    original, forced = rows["as decoded"], rows["what if: 1 at step 2"]
    assert original == ["9", "5", "1", "4", "1", "3", "&lt;eos&gt;"]
    assert forced[0] == original[0] and forced[1] == "1" != original[1]  # before: unchanged; at step 2: the token
    assert rows["what if: 1 at step 2 outlined"] == ["1"] and rows["as decoded outlined"] == []
    assert forced[-1] == "&lt;eos&gt;"                                      # then the model goes on, greedily
    assert "The model chose <code>5</code>" in html and "forced <code>1</code>" in html
    assert "✓ correct" in html and "✗ wrong" in html                      # the original right, the forced one not

    # from a sampled decoding: the steps before the forced one are the sampled ones, not greedy's
    hot = ("sampling", 5, 2.0, 0, 1.0, 4)  # temperature 2, seed 4
    sampled = c.predict("3 1 4 1 5 9", *DECODE_ARGS, *hot, api_name="/decode")[STEPS]["data"]
    assert len(sampled) >= 3
    token = next(t for t in "0123456789" if t != sampled[2][2])  # any other digit than the one drawn at step 3
    html = c.predict("3 1 4 1 5 9", 3, token, "auto", "reverse", *hot, api_name="/what_if")
    rows = what_if_rows(html)
    original, forced = rows["as decoded"], rows[f"what if: {token} at step 3"]
    assert original == [row[2].replace("<", "&lt;").replace(">", "&gt;") for row in sampled]
    assert forced[:2] == original[:2] and forced[2] == token != original[2]
    assert rows[f"what if: {token} at step 3 outlined"] == [token]

    # the last step can be forced too (here: not stopping), and an attention model's what-if works the same
    html = c.predict("3 1 4", 4, "7", api_name="/what_if")
    forced = what_if_rows(html)["what if: 7 at step 4"]
    assert forced[:4] == ["4", "1", "3", "7"]
    html = c.predict("9 2 2 5 0", 3, "9", "bundled:copy", api_name="/what_if")
    rows = what_if_rows(html)
    assert rows["as decoded"][:2] == rows["what if: 9 at step 3"][:2] == ["9", "2"]
    assert rows["what if: 9 at step 3"][2] == "9"


def test_bad_strategy_settings_and_what_ifs_are_one_clear_sentence(app_url):
    c = client(app_url)
    cases = [
        (("3 1 4", *DECODE_ARGS, "topk"), "/decode", r"^Strategy must be one of greedy, beam, sampling \(you gave 'topk'\)\.$"),
        (("3 1 4", *DECODE_ARGS, "beam", 11), "/decode",
         r"^Beam width must be a whole number between 1 and 10 \(you gave 11\)\.$"),
        (("3 1 4", *DECODE_ARGS, "beam", 2.5), "/decode", r"^Beam width must be a whole number between 1 and 10"),
        (("3 1 4", *DECODE_ARGS, "sampling", 5, 0), "/decode",
         r"^Temperature must be a number between 0\.05 and 5 \(you gave 0(\.0)?\)\.$"),
        (("3 1 4", *DECODE_ARGS, "sampling", 5, 1.0, 0, 1.5), "/decode", r"^Top-p must be a number between"),
        (("3 1 4", 9, "1"), "/what_if", r"^Step must be a whole number between 1 and 4 \(you gave 9\)\.$"),
        (("3 1 4", 0, "1"), "/what_if", r"^Step must be a whole number between 1 and 4 \(you gave 0\)\.$"),
        (("3 1 4", 2, "x"), "/what_if",
         r"^Cannot force that: unknown token 'x': this model knows only 0 1 2 3 4 5 6 7 8 9\.$"),
        (("3 1 4", 2, "<sos>"), "/what_if", r"^Cannot force that: unknown token '<sos>'"),
        (("3 1 4", 2, "1", "auto", "reverse", "beam", 11), "/what_if", r"^Beam width must be a whole number"),
        (("3 x 4", 2, "1"), "/what_if", r"^Unknown token\(s\) 'x'"),
    ]
    for args, api, message in cases:
        with pytest.raises(AppError) as error:
            c.predict(*args, api_name=api)
        assert re.search(message, str(error.value)), (args, str(error.value))
    assert c.predict("3 1 4", *DECODE_ARGS, "beam", 10, api_name="/decode")[OUTPUT] == "4 1 3"  # the bounds work


def test_a_bad_seed_says_its_range_in_plain_numbers(app_url):
    with pytest.raises(AppError) as error:
        client(app_url).predict("3 1 4", *DECODE_ARGS, "sampling", 5, 1.0, 0, 1.0, -1, api_name="/decode")
    assert str(error.value) == "Seed must be a whole number between 0 and 2,147,483,647 (you gave -1)."


def compare_series(plot: dict) -> dict[str, dict[int, float]]:
    """The by-length LinePlot's value: model -> {source length: exact match %}."""
    out: dict[str, dict[int, float]] = {}
    for length, exact, model in plot["data"]:
        out.setdefault(model, {})[length] = exact
    return out


def test_compare_shows_both_models_and_their_accuracy_past_the_trained_lengths(app_url):
    c = client(app_url)
    # this session's model learns copy on lengths 3-12 (a little): longer than the bundled copy model (3-10)
    final = train(c, task="copy", min_len=3, max_len=12, steps=60)[-1]
    assert final[STATUS].startswith("Done: finished 60 steps")
    source = "3 1 4 1 5 9 2 6 5 3 5 8"
    a, b, plot, note = c.predict(source, "bundled:copy", "session", api_name="/compare")
    assert 'id="compare-a-body"' in a and 'id="compare-b-body"' in b
    assert "<h4>A: copy — " in a and "<h4>B: your model — " in b
    assert 'id="attention-table-a"' in a and 'id="attention-table-b"' in b   # both have attention
    assert "Correct answer:</b> 3 1 4 1 5 9 2 6 5 3 5 8" in a and "Correct answer:</b> 3 1 4 1 5 9 2 6 5 3 5 8" in b
    assert not set(re.findall(r'id="([^"]+)"', a)) & set(re.findall(r'id="([^"]+)"', b))  # one page: ids unique
    assert plot["columns"] == ["source length", "exact match (%)", "model"]
    lines = compare_series(plot)
    assert sorted(lines) == ["A: copy", "B: your model"]
    # from the shortest trained length to 4 past the longest either model saw (12), for both
    assert sorted(lines["A: copy"]) == sorted(lines["B: your model"]) == list(range(3, 17))
    assert all(0 <= v <= 100 for line in lines.values() for v in line.values())
    assert min(lines["A: copy"][n] for n in range(3, 11)) >= 90   # the bundled model, inside its lengths
    assert lines["A: copy"][16] < 50                              # and far past them
    assert "**A: copy** was trained on lengths 3–10" in note
    assert "**B: your model** was trained on lengths 3–12" in note
    assert note.count("at 16 (longer than any it saw)") == 2 and "100 per length" in note

    # the same comparison again is the same (held-out sets are fixed; a bundled model's rows are cached)
    assert c.predict(source, "bundled:copy", "session", api_name="/compare")[2] == plot


def test_compare_errors_are_one_clear_sentence(app_url):
    c = client(app_url)
    source = "3 1 4 1 5 9"
    cases = [(("bundled:copy", "bundled:copy"), r"^Pick two different models to compare\.$"),
             (("bundled:copy", "bundled:sort"), (r"^Model A learns copy and model B sort: pick two models for the "
                                                 r"same task\.$")),
             (("bundled:reverse", "session"), r"^You have not trained a model in this session yet"),
             (("session", "bundled:copy"), r"^You have not trained a model in this session yet"),
             (("auto", "bundled:copy"), r"^Each model must be one of the menu's choices\.$"),
             (("bundled:copy", "bundled:nope"), r"^Each model must be one of the menu's choices\.$")]
    for models, message in cases:
        with pytest.raises(AppError) as error:
            c.predict(source, *models, api_name="/compare")
        assert re.search(message, str(error.value)), (models, str(error.value))
    with pytest.raises(AppError, match="Type a source sequence"):
        c.predict("  ", "bundled:reverse", "bundled:copy", api_name="/compare")
    train(c, task="sort", steps=20)  # a session model, but for another task
    with pytest.raises(AppError, match="^Model A learns reverse and model B sort: pick two models for the same task"):
        c.predict(source, "bundled:reverse", "session", api_name="/compare")
    with pytest.raises(AppError, match=r"^Unknown token\(s\) 'x'"):
        c.predict("3 x 4", "bundled:sort", "session", api_name="/compare")
