"""Links that open a chosen setup, and the settings file (playground/links.py, docs/links.md), without a server:
each value checked alone by the controls table's own rules; a link read into settings over its preset, with what
it could not use named in one sentence; the shortest link to any settings reads back as exactly those settings;
and a settings file round-trips, while one that is not a settings file is a clause, never an exception."""
import json
import random
import re
from urllib.parse import parse_qsl

import pytest

from playground import limits, links, settings
from seq2seq.controls import DATA_TASK, DECODING
from seq2seq.tasks import MAX_SOURCE_CHARS, make_spec

DEFAULT = settings.PRESETS[settings.DEFAULT_PRESET]


def read(query: str) -> links.Link:
    """A link's query as the page's request carries it."""
    return links.read_link(parse_qsl(query.lstrip("?"), keep_blank_values=True))


def opened(query: str) -> dict:
    """Every Train setting a fresh page shows after opening the link."""
    link = read(query)
    return links.combined(settings.PRESETS[link.preset or settings.DEFAULT_PRESET], link.train)


# ---------------------------------------------------------------- one value, checked alone


@pytest.mark.parametrize("name", list(limits.SETTINGS))
def test_every_setting_reads_its_own_values_written_as_a_link_writes_them(name):
    s = limits.SETTINGS[name]
    values = [v for _, v in s.choices if v != DATA_TASK] if s.choices else [True, False] \
        if s.widget == "checkbox" else [s.low, s.high, s.default]
    for value in values:
        assert links.check(name, links.text_of(value), text=True) == value
        assert links.check(name, value) == value


@pytest.mark.parametrize("name, raw", [("hidden_dim", "99999"), ("hidden_dim", "7.5"), ("hidden_dim", "0x10"),
                                       ("lr", "nan"), ("lr", "inf"), ("steps", ""), ("cell", "<script>"),
                                       ("lr_decay", "maybe"), ("task", DATA_TASK), ("width", "11"),
                                       ("model", "bundled:../../etc"), ("source", "1 " * MAX_SOURCE_CHARS),
                                       ("source", "   "), ("preset", "Fastest"), ("tab", "api"), ("foo", "1")])
def test_a_bad_value_is_refused_with_the_tables_own_sentence(name, raw):
    with pytest.raises(settings.SettingsError) as e:
        links.check(name, raw, text=True)
    if name in limits.SETTINGS and name not in ("task", "cell", "lr_decay"):  # the form's sentence, word for word
        with pytest.raises(settings.SettingsError) as form:
            settings.value(limits.SETTINGS[name], raw)
        assert str(e.value) == str(form.value)


def test_on_and_off_are_read_as_words_in_a_link_only():
    for word, value in [("true", True), ("On", True), ("1", True), ("false", False), ("off", False), ("0", False)]:
        assert links.check("lr_decay", word, text=True) is value
    with pytest.raises(settings.SettingsError):
        links.check("lr_decay", "true")  # a settings file says true, not "true"


def test_the_decode_controls_are_the_decoding_table_s_rows_and_the_decode_seed_is_sample_seed():
    assert links.DECODE_ROWS["sample_seed"] == "seed" and "seed" not in links.DECODE_ROWS  # `seed` is Train's
    assert set(links.DECODE_ROWS.values()) == set(DECODING)
    assert links.check("sample_seed", "7", text=True) == 7 and links.check("strategy", "beam", text=True) == "beam"
    assert links.check("model", "bundled:sort") == "bundled:sort"


def test_a_reason_leaves_out_the_value_and_the_full_stop():
    e = settings.SettingsError("Hidden size must be a whole number between 8 and 512 (you gave 99999).")
    assert links.reason(e) == "hidden size must be a whole number between 8 and 512"


# ---------------------------------------------------------------- a link read


def test_a_link_sets_its_preset_first_then_its_own_values_over_it():
    values = opened("?preset=Transformer&steps=300&task=sort")
    assert values == {**settings.PRESETS["Transformer"], "task": "sort", "steps": 300,
                      "min_len": make_spec("sort").min_len, "max_len": make_spec("sort").max_len}
    assert read("?preset=Transformer").preset == "Transformer" and read("?steps=1").preset is None


def test_a_task_without_lengths_takes_its_own_and_given_lengths_win():
    dates = make_spec("dates")
    assert (opened("?task=dates")["min_len"], opened("?task=dates")["max_len"]) == (dates.min_len, dates.max_len)
    assert opened("?task=dates&max_len=20")["max_len"] == 20 and opened("?task=dates&max_len=20")["min_len"] == \
        dates.min_len
    assert opened("?min_len=4")["min_len"] == 4 and opened("?min_len=4")["max_len"] == DEFAULT["max_len"]


def test_the_decode_tab_and_the_tab_to_open_come_from_the_link():
    link = read("?tab=decode&source=1+2+3&model=bundled%3Asort&strategy=beam&width=3&sample_seed=5&top_k=4")
    assert link.tab == "decode" and not link.ignored and not link.train
    assert link.decode == {"source": "1 2 3", "model": "bundled:sort", "strategy": "beam", "width": 3,
                           "sample_seed": 5, "top_k": 4}


def test_bad_and_unknown_parameters_are_named_in_one_sentence_and_the_rest_applies():
    link = read("?hidden_dim=99999&cell=%3Cscript%3E&foo=1&steps=321")
    assert link.train == {"steps": 321}
    notice = link.notice()
    assert notice == ("Ignored in this link (the rest of it is set): hidden_dim=99999 (hidden size must be a whole "
                      "number between 8 and 512); cell=<script> (cell must be one of lstm, gru); foo=1 (not a "
                      "setting).")
    assert notice.count(". ") == 0 and notice.endswith(".")  # one sentence


def test_a_clean_link_has_no_notice_and_the_tour_s_and_gradio_s_parameters_are_not_reported():
    for query in ("", "?steps=10", "?tour=1&presenter=1&__theme=dark&steps=10"):
        assert read(query).notice() == "" and read(query).ignored == []
    assert read("?tour=1&presenter=1").train == {}


def test_a_name_given_twice_is_ignored_once_and_the_notice_names_at_most_a_few():
    link = read("?steps=1&steps=2&steps=3")
    assert link.train == {} and link.ignored == [("steps", None, "given more than once")]
    many = read("&".join(f"?x{i}=1" for i in range(20)))
    assert many.notice().endswith(f"; and {20 - links.MAX_NAMED} more.") and many.notice().count("(not a") == \
        links.MAX_NAMED


def test_values_and_names_are_cut_short_in_the_notice():
    notice = read(f"?{'n' * 300}=1&cell={'<b>' * 100}").notice()
    assert len(notice) < 250 and "…" in notice


def test_a_link_too_long_is_not_read_at_all():
    link = read(f"?steps=10&source={'1+' * 1000}")
    assert link.too_long > links.MAX_QUERY and link.train == {} and link.decode == {}
    assert link.notice().startswith("This link was not read: its settings are 2,0") and "at most 2,000" in \
        link.notice()


def test_your_pairs_cannot_come_in_a_link():
    link = read("?task=data&steps=50")
    assert link.train == {"steps": 50} and "task=data (your own pairs cannot come in a link" in link.notice()


# ---------------------------------------------------------------- a link written


def random_settings(rng: random.Random) -> dict:
    values = dict(rng.choice(list(settings.PRESETS.values())))
    for name, s in limits.SETTINGS.items():
        if rng.random() < 0.3:
            if s.choices:
                values[name] = rng.choice([v for _, v in s.choices if v != DATA_TASK])
            elif s.widget == "checkbox":
                values[name] = rng.random() < 0.5
            elif s.whole:
                values[name] = rng.randint(int(s.low), int(min(s.high, 10_000)))
            else:
                values[name] = min(max(round(rng.uniform(s.low, s.high), rng.randint(1, 6)), s.low), s.high)
    return values


def test_the_shortest_link_to_any_settings_opens_exactly_those_settings():
    rng = random.Random(0)
    for _ in range(300):
        values = random_settings(rng)
        query = links.query_of(*links.shortest(values), {})
        assert read(query).ignored == [], query
        assert opened(query) == values, query


def test_links_are_short_the_default_is_empty_and_a_preset_is_named_when_it_saves_words():
    assert links.query_of(*links.shortest(dict(DEFAULT)), {}) == ""
    assert links.query_of(*links.shortest({**DEFAULT, "task": "sort", "steps": 800}), {}) == "?task=sort&steps=800"
    transformer = {**settings.PRESETS["Transformer"], "steps": 300}
    assert links.query_of(*links.shortest(transformer), {}) == "?preset=Transformer&steps=300"
    assert links.query_of(None, {"lr": 0.0075, "dropout": 0.0, "lr_decay": False}, {"source": "1 2"}) == \
        "?lr=0.0075&dropout=0&lr_decay=false&source=1+2"


def test_the_page_address_is_taken_only_as_an_http_address_without_a_query():
    assert links.page_address("https://x.hf.space/") == "https://x.hf.space/"
    for bad in ("javascript:alert(1)", "http://x/?a=1", 5, None, "https://" + "x" * 600, "/relative"):
        assert links.page_address(bad) == ""


# ---------------------------------------------------------------- the settings file


def test_a_settings_file_round_trips_every_setting():
    values = {**settings.PRESETS["Transformer"], "task": "dates", "min_len": 7, "max_len": 20, "lr": 1e-06}
    text = links.settings_text(values)
    data = json.loads(text)
    assert data["format"] == links.FORMAT and data["version"] == links.VERSION and list(data["settings"]) == \
        list(values)
    assert links.read_settings_text(text) == (values, [])


def file_of(settings_part, **top) -> str:
    return json.dumps({"format": links.FORMAT, "version": links.VERSION, "settings": settings_part, **top})


def test_unknown_keys_and_bad_values_in_a_file_are_left_out_and_named():
    given, ignored = links.read_settings_text(file_of({"steps": 50, "hidden_dim": 99999, "foo": [1]}, extra=1))
    assert given == {"steps": 50}
    assert [name for name, _, _ in ignored] == ["extra", "hidden_dim", "foo"]
    sentence = links.ignored_sentence("s.json", ignored, "")
    assert sentence.startswith("Ignored in s.json: extra (not part of a settings file); hidden_dim=99999 (hidden")


@pytest.mark.parametrize("text, clause", [
    ("not json", r"^it is not JSON$"),
    ("[" * 5000 + "]" * 5000, r"^it is not JSON$"),  # nested past Python's recursion limit: a clause, no crash
    ('{"format": "x", "version": 1, "settings": {}}', r"^it is not a settings file of this app"),
    ("[1, 2]", r"^it is not a settings file of this app"),
    (json.dumps({"format": links.FORMAT, "version": 2, "settings": {}}), r"^it is a version 2 settings file"),
    (json.dumps({"format": links.FORMAT, "version": True, "settings": {}}), r"^it is a version True settings"),
    (json.dumps({"format": links.FORMAT, "version": 1, "settings": [1]}), r'"settings" is not an object'),
    (file_of({"hidden_dim": "128"}), r"^its hidden_dim is text, where a settings file has a number$"),
    (file_of({"lr_decay": 1}), r"^its lr_decay is a number, where a settings file has true or false$"),
    (file_of({"task": ["sort"]}), r"^its task is a list, where a settings file has text$"),
    (file_of({"steps": True}), r"^its steps is true or false, where a settings file has a number$"),
    (file_of({"steps": {"a": {"b": 1}}}), r"^its steps is an object"),
])
def test_a_file_that_is_not_a_settings_file_is_one_clause(text, clause):
    with pytest.raises(settings.SettingsError) as e:
        links.read_settings_text(text)
    assert re.search(clause, str(e.value)), str(e.value)


def test_a_file_too_large_or_not_text_is_refused_before_it_is_parsed(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(file_of({"steps": 1}) + " " * links.MAX_FILE_BYTES)
    with pytest.raises(settings.SettingsError, match=r"^it is larger than 4,096 bytes"):
        links.read_settings_file(big)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(settings.SettingsError, match=r"^it is not text \(UTF-8\)$"):
        links.read_settings_file(binary)
    fine = tmp_path / "ok.json"
    fine.write_text(links.settings_text(dict(DEFAULT)))
    assert links.read_settings_file(fine) == (dict(DEFAULT), [])
    assert len(fine.read_bytes()) < 1000


def test_the_form_s_settings_leave_out_your_pairs_and_name_the_first_bad_value():
    checked, note = links.form_settings({**DEFAULT, "task": DATA_TASK})
    assert "task" not in checked and "min_len" not in checked and "Your pairs are not in it" in note
    assert links.form_settings(dict(DEFAULT)) == (dict(DEFAULT), "")
    with pytest.raises(settings.SettingsError, match=r"^Hidden size must be"):
        links.form_settings({**DEFAULT, "hidden_dim": None})
