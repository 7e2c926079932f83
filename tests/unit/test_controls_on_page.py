"""The page and the API read the controls table (seq2seq/controls.py): every Train and Decode field shows the
table's label, range, choices and default, and /train's and /decode's parameters are the table's names. The
expected values come from the table itself, so a change there needs no change here."""
import pytest

from playground import limits
from playground.demo import build_demo
from seq2seq.controls import DECODING, DEFAULT_PRESET, PRESETS


@pytest.fixture(scope="module")
def page():
    demo = build_demo()
    config = demo.get_config_file()
    by_id = {c["props"].get("elem_id"): c for c in config["components"] if c.get("props", {}).get("elem_id")}
    return demo, by_id


def check_field(component, s, default):
    props = component["props"]
    assert props["label"] == s.label
    assert props["value"] == default
    if s.choices:
        assert [tuple(c) for c in props["choices"]] == [(shown, value) for shown, value in s.choices]
    elif s.widget in ("number", "slider"):
        assert (props["minimum"], props["maximum"]) == (s.low, s.high)


@pytest.mark.parametrize("name", list(limits.SETTINGS))
def test_every_train_field_is_its_row_of_the_table(page, name):
    _, by_id = page
    s = limits.SETTINGS[name]
    check_field(by_id[f"setting-{name.replace('_', '-')}"], s, PRESETS[DEFAULT_PRESET][name])


@pytest.mark.parametrize("name", list(DECODING))
def test_every_decode_control_is_its_row_of_the_table(page, name):
    _, by_id = page
    s = DECODING[name]
    elem_id = "decode-topk" if name == "top_k" else f"decode-{name.replace('_', '-')}"
    check_field(by_id[elem_id], s, s.default)


def test_the_api_takes_the_table_s_names_in_its_order(page):
    demo, _ = page
    endpoints = demo.get_api_info()["named_endpoints"]
    names = lambda endpoint: [p["parameter_name"] for p in endpoints[endpoint]["parameters"]]  # noqa: E731
    assert names("/train") == [*limits.SETTINGS, "mode"]
    decoding = [n for n in DECODING if n != "top_k"]
    assert names("/decode") == ["source", "model_choice", "top_k", "train_task", *decoding]
    assert names("/what_if") == ["source", "step", "token", "model_choice", "train_task", *decoding]
    defaults = {p["parameter_name"]: p.get("parameter_default") for p in endpoints["/decode"]["parameters"]}
    assert all(defaults[n] == DECODING[n].default for n in DECODING)
