"""The text-pair generators (seq2seq/generators.py): what they draw, what they answer for typed sources, their
closed symbol sets, and the example files tools/make_examples.py writes from them."""
from __future__ import annotations

import csv
import datetime
import json
import random
import subprocess
import sys
from collections import Counter
from functools import cache

import pytest

from seq2seq.generators import (
    COMMANDS,
    DATE_FORMATS,
    DATES,
    GENERATORS,
    N_COMMANDS,
    NUMBERS,
    Generator,
    all_commands,
    number_words,
    ordinal,
    tokenize,
)
from tests.helpers import ROOT

N_SAMPLES = 20_000


@cache
def samples(name: str, seed: int = 0) -> tuple[tuple[str, str], ...]:
    """N_SAMPLES pairs of the generator `name` drawn from `seed` (shared by the tests that read them)."""
    rng = random.Random(seed)
    return tuple(GENERATORS[name].sample(rng) for _ in range(N_SAMPLES))


def test_the_registry_names_three_generators_with_their_tokenisation():
    assert {name: (g.source_tokens, g.target_tokens) for name, g in GENERATORS.items()} == {
        "dates": ("chars", "chars"), "numbers": ("words", "chars"), "commands": ("words", "words")}
    assert all(g.name == name and g.description for name, g in GENERATORS.items())


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_solve_answers_every_sample(name):
    generator = GENERATORS[name]
    wrong = [(source, target, generator.solve(source)) for source, target in samples(name)
             if generator.solve(source) != target]
    assert wrong == []


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_the_same_seed_draws_the_same_pairs(name):
    generator = GENERATORS[name]
    first, second, other = random.Random(7), random.Random(7), random.Random(8)
    drawn = [generator.sample(first) for _ in range(200)]
    assert drawn == [generator.sample(second) for _ in range(200)]
    assert drawn != [generator.sample(other) for _ in range(200)]


def test_generators_use_only_the_random_generator_they_are_given():
    random.seed(1)
    state = random.getstate()
    for generator in GENERATORS.values():
        generator.sample(random.Random(0))
    assert random.getstate() == state


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_symbol_sets_are_sorted_closed_and_all_used(name):
    generator: Generator = GENERATORS[name]
    pairs = samples(name)
    for symbols, tokens, texts in ((generator.source_symbols(), generator.source_tokens, [s for s, _ in pairs]),
                                   (generator.target_symbols(), generator.target_tokens, [t for _, t in pairs])):
        assert list(symbols) == sorted(set(symbols))
        used = {token for text in texts for token in tokenize(text, tokens)}
        assert used <= set(symbols), used - set(symbols)
        if len(symbols) <= 200:
            assert used == set(symbols), set(symbols) - used


def test_tokenize_splits_characters_or_words():
    assert tokenize("3 Mar", "chars") == ["3", " ", "M", "a", "r"]
    assert tokenize("  forty-two  thousand ", "words") == ["forty-two", "thousand"]
    with pytest.raises(ValueError, match="chars"):
        tokenize("x", "letters")


def test_solve_rejects_what_is_no_sentence_of_any_task_and_never_raises():
    for generator in GENERATORS.values():
        for source in ("", "   ", "banana", "\t\n", "3", "-", "and", "☃ ٣ March", "thousand " * 1000):
            assert generator.solve(source) is None, (generator.name, source)


def test_the_package_does_not_import_torch_for_the_generators():
    code = "import seq2seq.generators, sys; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("source, target", [
    ("3 March 2021", "2021-03-03"), ("03 March 2021", "2021-03-03"), ("March 3, 2021", "2021-03-03"),
    ("March 3rd, 2021", "2021-03-03"), ("3rd of March 2021", "2021-03-03"), ("Mar 3, 2021", "2021-03-03"),
    ("3 Mar 2021", "2021-03-03"), ("Wednesday 3 March 2021", "2021-03-03"), ("Wed, 3 Mar 2021", "2021-03-03"),
    ("Wednesday, March 3, 2021", "2021-03-03"), ("03/03/2021", "2021-03-03"), ("3/3/21", "2021-03-03"),
    ("3/3/99", "1999-03-03"), ("03.03.2021", "2021-03-03"), ("2021-03-03", "2021-03-03"), ("20210303", "2021-03-03"),
    ("3 march 2021", "2021-03-03"), ("MARCH 3 2021", "2021-03-03"), ("  3   march 2021 ", "2021-03-03"),
    ("03/04/2021", "2021-04-03"), ("1/12/49", "2049-12-01"), ("1/12/50", "1950-12-01"), ("29/02/2024", "2024-02-29"),
    ("wed , 3 MAR , 2021", "2021-03-03"), ("3 March 1850", "1850-03-03"), ("21st of January 2000", "2000-01-21"),
    ("22nd December 1999", "1999-12-22"), ("11th of May 2011", "2011-05-11"), ("12TH May 2011", "2011-05-12"),
    # not dates, or not ones that exist: no answer
    ("Thursday 3 March 2021", None), ("31/02/2021", None), ("29/02/2023", None), ("31 April 2021", None),
    ("0 March 2021", None), ("3th March 2021", None), ("11st May 2011", None), ("3 Marchh 2021", None),
    ("13/13/2021", None), ("3/3/021", None), ("03-03/2021", None), ("March 2021", None), ("Wed 3 March 2021x", None),
    ("Wednesday", None), ("2021-02-30", None), ("20210230", None), ("3 of March 2021", None),
])
def test_dates_solve_known_sources(source, target):
    assert DATES.solve(source) == target


def test_every_date_format_is_drawn_and_read():
    rng = random.Random(0)
    drawn = Counter(DATES.draw(rng)[0] for _ in range(N_SAMPLES))
    assert set(drawn) == set(DATE_FORMATS) and len(DATE_FORMATS) >= 12
    assert min(drawn.values()) > 0.8 * N_SAMPLES / len(DATE_FORMATS)  # chosen uniformly
    days = [datetime.date(1950, 1, 1), datetime.date(1999, 12, 31), datetime.date(2000, 2, 29),
            datetime.date(2021, 3, 3), datetime.date(2049, 12, 31)]
    for fmt in DATE_FORMATS:
        for day in days:
            assert DATES.solve(DATES.render(day, fmt)) == day.isoformat(), (fmt, day)


def test_dates_are_drawn_uniformly_from_1950_to_2049():
    rng = random.Random(1)
    days = [DATES.draw(rng)[1] for _ in range(N_SAMPLES)]
    assert datetime.date(1950, 1, 1) <= min(days) and max(days) <= datetime.date(2049, 12, 31)
    decades = Counter(day.year // 10 for day in days)
    assert sorted(decades) == list(range(195, 205))
    assert min(decades.values()) > 0.08 * N_SAMPLES


def test_drawn_weekdays_are_true_and_numeric_forms_day_first():
    wednesday = datetime.date(2021, 3, 3)
    assert DATES.render(wednesday, "weekday d month yyyy") == "Wednesday 3 March 2021"
    assert DATES.render(wednesday, "wkd, d mon yyyy") == "Wed, 3 Mar 2021"
    assert DATES.render(datetime.date(2021, 4, 3), "dd/mm/yyyy") == "03/04/2021"
    assert DATES.render(datetime.date(1999, 4, 3), "d/m/yy") == "3/4/99"


@pytest.mark.parametrize("day, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                       (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (30, "30th"),
                                       (31, "31st")])
def test_ordinal_suffixes(day, text):
    assert ordinal(day) == text


@pytest.mark.parametrize("source, month, weekday", [
    ("3 March 2021", "March", None), ("Wednesday, March 3, 2021", "March", "Wednesday"),
    ("Wed, 3 Mar 2021", "Mar", "Wed"), ("03/04/2021", "04", None), ("3/4/21", "4", None), ("2021-03-03", "03", None),
    ("20210304", "03", None), ("  3rd of march 2021", "march", None),
])
def test_month_and_weekday_spans(source, month, weekday):
    start, end = DATES.month_span(source)
    assert source[start:end] == month
    span = DATES.weekday_span(source)
    assert (source[span[0]:span[1]] if span else None) == weekday


def test_spans_of_no_date_are_none():
    assert DATES.month_span("31/02/2021") is None and DATES.weekday_span("Thursday 3 March 2021") is None


def test_every_drawn_month_span_holds_the_month():
    for source, target in samples("dates")[:2000]:
        start, end = DATES.month_span(source)
        text = source[start:end]
        month = int(text) if text.isdigit() else DATES.solve(f"1 {text} 2000")[5:7]
        assert int(month) == int(target[5:7]), source


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty-two"), (100, "one hundred"),
    (101, "one hundred and one"), (312, "three hundred and twelve"), (1000, "one thousand"),
    (1005, "one thousand and five"), (1100, "one thousand one hundred"), (2000, "two thousand"),
    (12304, "twelve thousand three hundred and four"), (110000, "one hundred and ten thousand"),
    (999999, "nine hundred and ninety-nine thousand nine hundred and ninety-nine"),
])
def test_numbers_are_written_in_british_english(n, words):
    assert number_words(n) == words
    assert NUMBERS.solve(words) == str(n)
    assert NUMBERS.solve(f"  {words.upper().replace(' ', '   ')} ") == str(n)


@pytest.mark.parametrize("source", ["a hundred", "one hundred twelve", "hundred", "one thousand five",
                                    "three hundred and zero", "zero zero", "forty two", "fourty-two", "twenty-ten",
                                    "one million", "one thousand thousand", "ten hundred", "and one", "one and",
                                    "one hundred and", "twelve hundred"])
def test_numbers_solve_is_strict(source):
    assert NUMBERS.solve(source) is None


def test_every_number_has_one_written_form_read_back():
    assert all(NUMBERS.solve(number_words(n)) == str(n) for n in range(0, 1_000_000, 997))
    with pytest.raises(ValueError):
        number_words(1_000_000)


def test_number_lengths_are_drawn_uniformly():
    lengths = Counter(len(target) for _, target in samples("numbers"))
    assert sorted(lengths) == [1, 2, 3, 4, 5, 6]
    assert min(lengths.values()) > 0.9 * N_SAMPLES / 6


# ---------------------------------------------------------------- commands


@pytest.mark.parametrize("source, target", [
    ("jump twice and walk left", "JUMP JUMP LTURN WALK"),
    ("walk around right", "RTURN WALK RTURN WALK RTURN WALK RTURN WALK"),
    ("look after turn opposite left", "LTURN LTURN LOOK"),
    ("turn around left", "LTURN LTURN LTURN LTURN"),
    ("run opposite right thrice", "RTURN RTURN RUN RTURN RTURN RUN RTURN RTURN RUN"),
    ("turn right twice after jump", "JUMP RTURN RTURN"),
    ("  JUMP   Left ", "LTURN JUMP"),
    ("jump thrice twice", None), ("turn", None), ("walk and", None), ("run after jump and look", None),
    ("walk left right", None), ("walk opposite", None), ("turn around", None), ("twice", None),
])
def test_commands_solve_known_sources(source, target):
    assert COMMANDS.solve(source) == target


def test_scan_has_20910_commands_and_solve_reads_them_all():
    commands = all_commands()
    assert len(commands) == len(set(commands)) == N_COMMANDS == 20_910
    assert list(commands) == sorted(commands)
    assert all(COMMANDS.solve(command) for command in commands)
    assert max(len(command.split()) for command in commands) == 9
    assert max(len(COMMANDS.solve(command).split()) for command in commands) == 48


def test_commands_are_drawn_from_the_whole_grammar_uniformly():
    drawn = Counter(source for source, _ in samples("commands"))
    assert set(drawn) <= set(all_commands())
    # about 20,000 draws from 20,910 commands: a uniform draw hits 1 - e^(-20000/20910) ≈ 61.6% of them
    assert 0.59 < len(drawn) / N_COMMANDS < 0.64
    single = sum(count for source, count in drawn.items() if " and " not in source and " after " not in source)
    assert single < 0.02 * N_SAMPLES  # 102 of 20,910 commands have no conjunction


# ---------------------------------------------------------------- the example files


def read_tsv(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


@pytest.mark.parametrize("name, generator, count", [("dates.tsv", DATES, 600), ("numbers.csv", NUMBERS, 400),
                                                    ("commands.jsonl", COMMANDS, 500)])
def test_example_files_hold_distinct_correct_pairs(name, generator, count):
    text = (ROOT / "examples" / name).read_text(encoding="utf-8")
    if name.endswith(".tsv"):
        header, *pairs = read_tsv(text)
        assert header == ["source", "target"]
    elif name.endswith(".csv"):
        header, *pairs = list(csv.reader(text.splitlines()))
        assert header == ["source", "target"]
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        assert all(set(row) == {"source", "target"} for row in rows)
        pairs = [[row["source"], row["target"]] for row in rows]
    assert len(pairs) == count and all(len(pair) == 2 for pair in pairs)
    assert len({source for source, _ in pairs}) == count
    assert all(generator.solve(source) == target for source, target in pairs)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_declared_lengths_are_the_lengths_it_writes(name):
    """min_len / max_len / max_target_len (the task's length range and the cost model's longest target) are
    exactly the extremes of what the generator writes."""
    g = GENERATORS[name]
    rng = random.Random(5)
    pairs = [g.sample(rng) for _ in range(20_000)]
    if name == "commands":
        pairs = [(c, g.solve(c)) for c in all_commands()]
    sources = [len(tokenize(s, g.source_tokens)) for s, _ in pairs]
    targets = [len(tokenize(t, g.target_tokens)) for _, t in pairs]
    assert (min(sources), max(sources), max(targets)) == (g.min_len, g.max_len, g.max_target_len)
