"""The controls table (seq2seq/controls.py) is the one place a control's range is written: the command line's
--help and its range errors, beam search, strategies and the Transformer's heads rule all read it. Every
expectation below is computed from the table, never written out, so a range changed there is checked here.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from seq2seq import __main__ as cli_module
from seq2seq import controls
from seq2seq.config import ModelConfig, heads_problem
from seq2seq.controls import DECODING, SETTINGS, SettingsError, plain, span
from seq2seq.tasks import NEVER_CHOSEN, NEVER_CHOSEN_IDS, TASK_NAMES, Vocab, length_cap, length_floor, make_spec
from tests.helpers import ROOT, cli

REVERSE = ROOT / "checkpoints" / "reverse"


def squeeze(text: str) -> str:
    """Without whitespace: argparse wraps help lines wherever it likes."""
    return "".join(text.split())


def table_sentence(setting, value) -> str:
    """The table's own sentence for `value`, out of the command line's range of `setting`."""
    with pytest.raises(SettingsError) as info:
        controls.cli_number(setting, value)
    return str(info.value)


def beyond(setting) -> float:
    """A value just above the setting's command-line range (or below it, when it has no upper bound)."""
    low, high = setting.cli_range
    if high == float("inf"):
        return low - 1
    return high + 1 if setting.whole else high * 2 + 1


NUMBER_OPTIONS = [option for option, name in cli_module.TRAIN_CONTROLS.items()
                  if SETTINGS[name].low is not None and option not in cli_module.OWN_CHECKS]


# ---------------------------------------------------------------- --help


def test_train_help_gives_each_controls_range_and_choices_from_the_table(capsys):
    code, out, _ = cli(capsys, "train", "--help")
    assert code == 0
    text = squeeze(out)
    for option, name in cli_module.TRAIN_CONTROLS.items():
        setting = SETTINGS[name]
        if setting.choices:
            assert squeeze("{" + ",".join(v for _, v in setting.choices) + "}") in text or \
                all(v in text for _, v in setting.choices), option
        elif setting.low is not None:
            assert squeeze(span(*setting.cli_range)) in text, (option, span(*setting.cli_range))
    for name in TASK_NAMES:  # and each task's own length cap (addition counts digits per number)
        assert squeeze(span(max(SETTINGS["max_len"].low, length_floor(name)), length_cap(name))) in text


def test_decode_help_gives_each_decode_controls_range_from_the_table(capsys):
    code, out, _ = cli(capsys, "decode", "--help")
    assert code == 0
    for option, name in cli_module.DECODE_CONTROLS.items():
        assert squeeze(span(*DECODING[name].cli_range)) in squeeze(out), option


def test_the_command_lines_range_is_the_forms_unless_the_table_names_a_wider_one():
    for setting in [*SETTINGS.values(), *DECODING.values()]:
        if setting.cli_low is None and setting.cli_high is None:
            assert setting.cli_range == (setting.low, setting.high)
        else:
            low, high = setting.cli_range
            assert high >= setting.high, setting.name  # wider, never narrower ...
            assert low <= setting.low or setting.name == "steps"  # ... but the form's 0 steps is --time-budget
    assert SETTINGS["hidden_dim"].cli_range[1] > SETTINGS["hidden_dim"].high  # your machine, not the server's


# ---------------------------------------------------------------- out-of-range values


def test_an_out_of_range_hidden_size_is_the_tables_sentence_and_an_argument_error(capsys, tmp_path):
    setting = SETTINGS["hidden_dim"]
    for value in (setting.cli_range[1] + 1, setting.cli_range[0] - 1):
        code, out, err = cli(capsys, "train", "--task", "reverse", "--hidden", value, "--out", tmp_path / "never")
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert table_sentence(setting, value).rstrip(".") in err and "--hidden" in err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("option", NUMBER_OPTIONS)
def test_every_train_control_out_of_range_gets_the_tables_sentence(capsys, tmp_path, option):
    setting = SETTINGS[cli_module.TRAIN_CONTROLS[option]]
    value = beyond(setting)
    code, _, err = cli(capsys, "train", "--task", "reverse", f"--{option.replace('_', '-')}", value,
                       "--out", tmp_path / "never")
    assert code == 2 and table_sentence(setting, value).rstrip(".") in err, err


def test_a_range_error_answers_without_importing_torch():
    code = ("import contextlib, io, sys\nfrom seq2seq.__main__ import main\n"
            "with contextlib.redirect_stderr(io.StringIO()):\n"
            "    rc = main(['train', '--task', 'reverse', '--hidden', '100000', '--out', 'x'])\n"
            "print(rc, 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["2", "False"], result.stderr


@pytest.mark.parametrize("option", ["top_k", "temperature", "top_p", "seed"])
def test_decode_controls_out_of_range_get_the_tables_sentence(capsys, option):
    setting = DECODING[cli_module.DECODE_CONTROLS[option]]
    value = beyond(setting) if setting.whole else float(beyond(setting))  # as argparse reads it
    code, out, err = cli(capsys, "decode", "--checkpoint", REVERSE, "--sample", f"--{option.replace('_', '-')}",
                         value, "3 1 4")
    assert code == 1 and out == "" and table_sentence(setting, value).rstrip(".") in err, err


def test_the_beam_width_range_is_the_tables_in_the_command_line_beam_search_and_strategy(capsys):
    from seq2seq import Strategy, beam_search, load_checkpoint
    low, high = DECODING["width"].low, DECODING["width"].high
    words = f"between {plain(low)} and {plain(high)}"
    code, _, err = cli(capsys, "decode", "--checkpoint", REVERSE, "--beam", int(high) + 1, "3 1 4")
    assert code == 1 and words in err
    checkpoint = load_checkpoint(REVERSE)
    for width in (int(low) - 1, int(high) + 1):
        with pytest.raises(ValueError, match=words):
            beam_search(checkpoint.model, checkpoint.task.vocab, "3 1 4", width)
        with pytest.raises(ValueError, match=words):
            Strategy("beam", width=width)
    assert len(beam_search(checkpoint.model, checkpoint.task.vocab, "3 1 4", int(high)).beams) == int(high)
    from seq2seq.strategy import KINDS
    assert list(KINDS) == [value for _, value in DECODING["strategy"].choices]


# ---------------------------------------------------------------- rules written once


def test_the_heads_rule_is_one_sentence_from_config_validate_the_form_and_the_command_line(capsys, tmp_path):
    sentence = "A Transformer's hidden size must be a multiple of its attention heads (you gave 30 and 4)."
    assert heads_problem(30, 4) == sentence and heads_problem(32, 4) is None
    with pytest.raises(ValueError) as info:
        ModelConfig(14, 14, arch="transformer", hidden_dim=30, heads=4).validate()
    assert str(info.value).startswith(sentence[:-1])
    ModelConfig(14, 14, hidden_dim=30, heads=4).validate()  # an RNN has no heads to divide by
    with pytest.raises(SettingsError) as info:
        controls.read({**controls.PRESETS["Transformer"], "hidden_dim": 30, "heads": 4})
    assert str(info.value) == sentence
    code, _, err = cli(capsys, "train", "--task", "reverse", "--arch", "transformer", "--hidden", 30, "--heads", 4,
                       "--out", tmp_path / "never")
    assert code == 2 and "must be divisible by --heads (4)" in err


def test_length_caps_and_the_tokens_never_chosen_come_from_the_tasks_module():
    for name in TASK_NAMES:
        cap, floor = length_cap(name), length_floor(name)
        assert make_spec(name, floor, cap).max_len_cap == cap
        with pytest.raises(ValueError, match=f"<= {cap}"):
            make_spec(name, floor, cap + 1)
        if floor > 1:  # a real-looking task's shortest source: below it, the task's own sentence
            with pytest.raises(SettingsError, match=f"{floor} ≤ min"):
                controls.read({**controls.PRESETS["Tuned default"], "task": name, "min_len": 1, "max_len": cap})
        if cap < SETTINGS["max_len"].high:  # within the table's range, beyond the task's: the task's sentence
            with pytest.raises(SettingsError, match=f"≤ {cap} "):
                controls.read({**controls.PRESETS["Tuned default"], "task": name, "min_len": floor,
                               "max_len": cap + 1})
    assert max(length_cap(name) for name in TASK_NAMES) == SETTINGS["max_len"].high
    vocab = Vocab(list("0123456789"))
    assert [vocab.stoi[token] for token in NEVER_CHOSEN] == list(NEVER_CHOSEN_IDS)
    spec = make_spec("addition", 1, 3)
    assert (spec.max_source_len, spec.max_target_len) == (7, 4)  # "123+456" and a carry: "1 0 0 0"
