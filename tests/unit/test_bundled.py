"""The models shipped in checkpoints/ do what README promises, driven through the CLI's main() as a user would
(in-process: tests/unit/test_cli.py checks that `python -m seq2seq` is this same main())."""
import json

import pytest

from seq2seq.checkpoint import load_checkpoint
from seq2seq.decode import greedy_decode
from seq2seq.lengths import accuracy_by_length
from tests.helpers import ROOT, cli


# every bundled model: its task, a held-out source and what it must decode it to, and its architecture
BUNDLED = {
    "reverse": ("reverse", "9 6 4 0 2 3 5 9", "9 5 3 2 0 4 6 9", "LSTM, 2 layers, emb 32, hidden 128, no attention"),
    "reverse-attention": ("reverse", "9 6 4 0 2 3 5 9", "9 5 3 2 0 4 6 9",
                          "LSTM, 1 layer, emb 32, hidden 64, bidirectional, additive attention"),
    "reverse-transformer": ("reverse", "9 6 4 0 2 3 5 9", "9 5 3 2 0 4 6 9", "Transformer, 2 layers, d_model 64, 4 heads"),
    "copy": ("copy", "2 5 8 5 1 7 8 1 2", "2 5 8 5 1 7 8 1 2", None),
    "addition": ("addition", "3 7 + 5 3 2", "5 6 9", None),
    "sort": ("sort", "7 6 1 3 9 6 3 4", "1 3 3 4 6 6 7 9", "LSTM, 1 layer, emb 32, hidden 128, no attention"),
    # the real-looking tasks: a source as a person types it, the output as tokens separated by spaces
    "dates": ("dates", "Saturday, November 14, 1953", "1 9 5 3 - 1 1 - 1 4",
              "LSTM, 1 layer, emb 32, hidden 64, bidirectional, additive attention"),
    "numbers": ("numbers", "forty-two thousand six hundred and eighty", "4 2 6 8 0", None),
    "commands": ("commands", "look opposite left twice and turn right", "LTURN LTURN LOOK LTURN LTURN LOOK RTURN",
                 None),
}
ATTENTION = ["reverse-attention", "reverse-transformer", "copy", "addition", "dates", "numbers", "commands"]


@pytest.fixture(autouse=True)
def in_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)  # where README's commands are run


def test_every_bundled_folder_is_one_of_these():
    assert sorted(p.name for p in (ROOT / "checkpoints").iterdir() if p.is_dir()) == sorted(BUNDLED)


def test_bundled_reverse_decodes_the_readme_example(capsys):
    assert cli(capsys, "decode", "--checkpoint", "checkpoints/reverse", "3 1 4 1 5 9").ok() == "9 5 1 4 1 3\n"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_load_and_decode_a_held_out_source(capsys, name):
    task, source, output, described = BUNDLED[name]
    folder = ROOT / "checkpoints" / name
    assert json.loads((folder / "config.json").read_text())["version"] in (1, 2)
    checkpoint = load_checkpoint(folder)
    assert checkpoint.task.name == task and checkpoint.state is None  # saved with --no-train-state
    assert checkpoint.task.is_held_out(checkpoint.task.vocab.parse(source))
    if described:
        assert checkpoint.model.config.describe().startswith(described)
    trace = json.loads(cli(capsys, "decode", "--checkpoint", f"checkpoints/{name}", "--json", source).ok())
    assert trace["output"] == output and trace["finished"]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_reach_99_percent_on_held_out_examples(capsys, name):
    metrics = json.loads(cli(capsys, "eval", "--checkpoint", f"checkpoints/{name}", "--json").ok())
    assert metrics["n"] == 1000
    assert metrics["exact_match"] >= 0.99 and metrics["token_accuracy"] >= 0.99


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_are_small_and_report_their_figures(name):
    folder = ROOT / "checkpoints" / name
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert (folder / "model.safetensors").stat().st_size < 2_000_000
    training = load_checkpoint(folder).training
    assert training["exact_match"] >= 0.99 and training["token_accuracy"] >= 0.99
    assert training["steps"] == training["train_config"]["steps"] and training["train_config"]["seed"] == 0
    if name == "reverse":  # the seed's architecture: LSTM, no attention (the Compare tab's contrast)
        config = load_checkpoint(folder).model.config
        assert config.cell == "lstm" and not config.attention and config.arch == "rnn"


@pytest.mark.parametrize("name", ATTENTION)
def test_attention_rows_sum_to_one(name):
    checkpoint = load_checkpoint(ROOT / "checkpoints" / name)
    _, source, _, _ = BUNDLED[name]
    trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, source)
    n = len(checkpoint.task.vocab.parse(source))
    for step in trace.steps:
        assert len(step.attention) == n and abs(sum(step.attention) - 1) < 1e-4
        for layer in step.heads or []:
            for row in layer:
                assert abs(sum(row) - 1) < 1e-4


def test_bundled_dates_decodes_dates_as_people_write_them(capsys):
    """The README's and docs' example, and the same date in other forms: the output as text."""
    for source in ("3 March 2021", "March 3rd, 2021", "Wed, 3 Mar 2021", "03/03/21", "2021-03-03"):
        assert cli(capsys, "decode", "--checkpoint", "checkpoints/dates", source).ok() == "2021-03-03\n", source


def test_dates_attention_reads_the_month_for_the_month_digits():
    """docs/checkpoints.md: for the month's two digits, most of the row's weight is on the characters that write
    the month in the source ("March", "Mar", "03"), measured over held-out dates (tools/attention_stats.py)."""
    from seq2seq.generators import DATES
    shares, tops = [], []
    for source, target, rows in rows_and_sources("dates", 60):
        text = "".join(" " if c == "\u2423" else c for c in source)
        start, end = DATES.month_span(text)
        for t in (5, 6):  # YYYY-MM-DD: the month's digits
            shares.append(sum(rows[t][start:end]))
            tops.append(start <= rows[t].index(max(rows[t])) < end)
    assert sorted(shares)[len(shares) // 2] > 0.7 and sum(tops) / len(tops) > 0.8, (shares, tops)


def test_bundled_addition_adds(capsys):
    trace = json.loads(cli(capsys, "decode", "--checkpoint", "checkpoints/addition", "--json", "1 2 3 + 4 5").ok())
    assert trace["output"] == "1 6 8" and trace["finished"]  # 123 + 45 = 168


def test_reverse_attention_looks_at_the_token_it_writes_and_the_one_just_written():
    # its map is a band two tokens wide: the weight is on the token being written and its right neighbour
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "reverse-attention")
    trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, "3 1 4 1 5 9 2 6")
    assert trace.output == "6 2 9 5 1 4 1 3"
    for t, step in enumerate(trace.steps[:-1]):
        written = 7 - t
        assert abs(step.attention.index(max(step.attention)) - written) <= 1
        assert sum(step.attention[written:written + 2]) > 0.8, (t, step.attention)


def test_reverse_attention_generalises_past_its_lengths_better_than_reverse():
    # 100 held-out sources per length (seeded): measured 12: 99% vs 82%, 13: 94% vs 59% (README's table, n=200)
    rows = {name: accuracy_by_length(load_checkpoint(ROOT / "checkpoints" / name).model, "reverse", [12, 13],
                                     load_checkpoint(ROOT / "checkpoints" / name).task.spec, n=100)
            for name in ("reverse", "reverse-attention")}
    for plain, attention in zip(rows["reverse"], rows["reverse-attention"]):
        assert not plain.trained and attention.exact_match >= plain.exact_match + 0.1, (plain, attention)


def rows_and_sources(name: str, n: int = 30):
    """(source, target, attention rows but the <eos> step's) for n held-out examples of a bundled model."""
    from seq2seq.training import validation_set
    checkpoint = load_checkpoint(ROOT / "checkpoints" / name)
    for example in validation_set(checkpoint.task, n, seed=3):
        trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, example.source)
        assert trace.output.split() == example.target
        yield example.source, example.target, [step.attention for step in trace.steps[:-1]]


def test_copy_attention_is_sharp_on_the_token_it_copies():
    # README: largest weight per row median 0.92 over 200 sources; on the copied digit (itself or an equal one)
    maxima = []
    for source, target, rows in rows_and_sources("copy"):
        for t, row in enumerate(rows):
            maxima.append(max(row))
            assert source[row.index(max(row))] == target[t]
    assert sorted(maxima)[len(maxima) // 2] > 0.8


def test_addition_attention_is_on_the_two_digits_of_the_place_it_writes():
    # README: 0.99 of each row's weight (median) on the operand digits of the same place (ones with ones, ...)
    aligned = []
    for source, target, rows in rows_and_sources("addition"):
        plus = source.index("+")
        for t, row in enumerate(rows):
            place = len(target) - 1 - t
            digits = ([plus - 1 - place] if place < plus else []) + \
                ([len(source) - 1 - place] if place < len(source) - plus - 1 else [])
            if digits:
                aligned.append(sum(row[d] for d in digits))
    assert sorted(aligned)[len(aligned) // 2] > 0.9


def test_bundled_addition_is_right_on_sums_as_people_type_them():
    """docs/checkpoints.md: 99.85% on held-out sums of two operands uniform in 0-999 (most have three digits,
    which the task's own split, a digit count uniform in 1-3, sees a ninth of the time)."""
    import random
    from seq2seq.tasks import Example
    from seq2seq.training import evaluate
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "addition")
    rng, sums = random.Random(0), {}
    while len(sums) < 1000:
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        source = list(f"{a}+{b}")
        if checkpoint.task.is_held_out(source):
            sums[(a, b)] = Example(source, list(str(a + b)))
    assert sum(a >= 100 and b >= 100 for a, b in sums) > 750  # what a person types: mostly three digits each
    assert evaluate(checkpoint.model, checkpoint.task, list(sums.values())).exact_match >= 0.99
