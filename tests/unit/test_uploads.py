"""The upload check against every field of the form (issue 16, item 2), the shared upload's deletion (item 6) and
the readers of values people send (item 7), without a server."""
import asyncio
import math
import os
import time
from types import SimpleNamespace

import pytest

from playground import limits, uploads
from playground.uploads import upload_check
from playground.webguard import guard_inputs, inputs_problem
from seq2seq import ModelConfig
from seq2seq.controls import SettingsError, given, in_range
from seq2seq.tasks import TaskSpec, make_spec
from tests.helpers import wait_until

REVERSE = make_spec("reverse", 3, 10)


def model(**changes) -> ModelConfig:
    return ModelConfig(**{"src_vocab_size": 14, "trg_vocab_size": 14, **changes})


@pytest.mark.parametrize("changes, spec, reason", [
    ({"arch": "transformer", "hidden_dim": 64, "n_layers": 4, "heads": 64}, REVERSE,
     "its model has attention heads 64; this app allows 1–8"),
    ({"heads": 16, "hidden_dim": 64}, REVERSE, "its model has attention heads 16; this app allows 1–8"),  # an RNN's too
    ({"hidden_dim": 1024}, REVERSE, "its model has hidden size 1024; this app allows 8–512"),
    ({"hidden_dim": 4}, REVERSE, "its model has hidden size 4; this app allows 8–512"),
    ({"emb_dim": 1}, REVERSE, "its model has embedding size 1; this app allows 2–256"),
    ({"n_layers": 8}, REVERSE, "its model has layers 8; this app allows 1–4"),
    ({"dropout": 0.9}, REVERSE, None),
    ({"arch": "transformer", "hidden_dim": 64, "ff_dim": 16_384}, REVERSE,
     "its model has a feed-forward width of 16384; this app builds 256 (4 × its hidden size 64)"),
    ({"arch": "transformer", "hidden_dim": 64, "ff_dim": 256}, REVERSE, None),  # what the form builds, written out
    ({"arch": "transformer", "hidden_dim": 64, "positions": "learned"}, REVERSE,
     "its model has learned positions; this app trains sinusoidal ones"),
    ({}, TaskSpec("reverse", 3, 60), "its task has max length 60; this app allows 1–50"),
    ({}, TaskSpec("reverse", 0, 10), "its task has min length 0; this app allows 1–50"),
    ({"src_vocab_size": 15, "trg_vocab_size": 15}, REVERSE,
     "its model has a source vocabulary of 15 tokens; task reverse has 14"),
    ({}, make_spec("reverse", 1, 1), "its settings are not ones the form takes (reverse with lengths 1–1 has too few "),
    ({"hidden_dim": 512, "n_layers": 4, "emb_dim": 256, "attention": "additive", "bidirectional": True}, REVERSE,
     "its model would need about"),
])
def test_an_upload_is_checked_against_every_limit_of_the_form(changes, spec, reason):
    if reason is None:
        upload_check(model(**changes), spec)
        return
    with pytest.raises(ValueError) as info:
        upload_check(model(**changes), spec)
    assert str(info.value).startswith(reason), str(info.value)


def test_every_bundled_checkpoint_passes_the_upload_check():
    import json
    from tests.helpers import CHECKPOINTS
    for config in sorted(CHECKPOINTS.glob("*/config.json")):
        data = json.loads(config.read_text())
        upload_check(ModelConfig.from_dict(data["model"]), TaskSpec.from_dict(data["task"]))


def test_each_choice_of_the_form_is_its_own_check():
    for name in ("cell", "attention", "arch"):
        s = limits.SETTINGS[name]
        for _, value in s.choices:
            upload_check(model(**{name: value, "hidden_dim": 64}), REVERSE)


# ---------------------------------------------------------------- the shared upload's deletion


@pytest.fixture
def upload_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "upload_folder", lambda: tmp_path)
    monkeypatch.setattr(uploads, "UPLOAD_GRACE", 0.3)
    return tmp_path


def an_upload(folder, name="ck.zip", age=0.0):
    path = folder / ("ab" * 32) / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"zip")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_an_upload_stays_while_read_and_goes_a_grace_after_its_last_reader(upload_folder):
    path = an_upload(upload_folder, age=10)
    uploads.hold_upload(path)
    uploads.hold_upload(path)  # two loads of the same file at once
    uploads.release_upload(path)
    time.sleep(0.5)  # past the grace: the other load still reads it
    assert path.exists()
    uploads.release_upload(path)
    assert path.exists()  # a third load may be on its way
    wait_until(lambda: not path.parent.exists(), "the upload and its folder deleted", timeout=10)


def test_an_upload_written_again_after_the_last_read_waits_its_own_grace(upload_folder):
    path = an_upload(upload_folder, age=10)
    uploads.hold_upload(path)
    uploads.release_upload(path)
    os.utime(path)  # uploaded again (Gradio writes the file anew) just now
    uploads._last_read[path] = time.monotonic() - 10  # the read long ago
    uploads._sweep(path)
    assert path.exists()
    wait_until(lambda: not path.exists(), "the upload deleted after its own grace", timeout=10)


def test_only_uploads_are_ever_deleted(upload_folder):
    download = upload_folder / "seq2seq-session-x" / "ck.zip"
    download.parent.mkdir()
    download.write_bytes(b"zip")
    uploads.delete_upload(download)
    assert download.exists()
    path = an_upload(upload_folder)
    uploads.delete_upload(path)
    assert not path.exists() and not path.parent.exists()


def test_a_path_outside_the_upload_folder_or_not_a_file_is_refused_in_a_sentence(upload_folder):
    import gradio as gr
    for payload in ("/etc/passwd", str(upload_folder), {"path": "/etc/hosts"}, str(upload_folder / ".." / "x.zip")):
        with pytest.raises(gr.Error) as info:
            uploads.uploaded_path(payload)
        assert info.value.message.startswith("Upload the checkpoint .zip first, then load it"), info.value.message
    for payload in (None, "", 5, {"path": None}):
        with pytest.raises(gr.Error) as info:
            uploads.uploaded_path(payload)
        assert info.value.message == "Choose a checkpoint .zip first.", info.value.message


# ---------------------------------------------------------------- values people send


@pytest.mark.parametrize("value, shown", [
    (math.inf, "infinity"), (-math.inf, "minus infinity"), (math.nan, "NaN"), (None, "nothing"), ("abc", "abc"),
    (1e308, "1e+308"), (10 ** 400, "10000000000000000000…"), ("x" * 10_000, "x" * 20 + "…"), (2.5, "2.5")])
def test_a_value_sent_is_quoted_short_and_in_words(value, shown):
    assert given(value) == shown


def test_a_number_too_long_for_python_to_print_is_still_a_sentence():
    import sys
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no limit on an int's digits in this Python")
    with pytest.raises(SettingsError, match=r"^Step must be a whole number between 1 and 4 \(you gave a number too "
                                            r"long to show\)\.$"):
        in_range("Step", 10 ** 5000, True, 1, 4)


@pytest.mark.parametrize("value", [math.inf, math.nan, "abc", None, 1e308, -1, 2.5, True, [1], {"a": 1}, "1e999"])
def test_a_step_that_is_not_a_whole_number_in_range_is_one_sentence(value):
    with pytest.raises(SettingsError) as info:
        in_range("Step", value, True, 1, 4)
    message = str(info.value)
    assert message.startswith("Step must be a whole number between 1 and 4") and message.endswith(".")
    assert "Error" not in message and "int()" not in message and len(message) < 120, message


# ---------------------------------------------------------------- how many inputs an event was sent


class Error(Exception):
    def __init__(self, message, title=None):
        super().__init__(message)
        self.title = title


def event(n: int, states=(), api_name="decode", visibility="public"):
    blocks = [SimpleNamespace(label=f"Field {i} (hint)", stateful=i in states) for i in range(n)]
    return SimpleNamespace(inputs=blocks, api_name=api_name, api_visibility=visibility, name="fn")


def test_a_wrong_number_of_inputs_is_said_with_the_fields_labels():
    e = event(3, states=(2,))
    assert inputs_problem(e, [1, 2, 3]) is None
    assert inputs_problem(e, [1]) == "/decode takes 2 values (Field 0, Field 1), and was sent fewer."
    assert inputs_problem(e, [1, 2, 3, 4]) == "/decode takes 2 values (Field 0, Field 1), and was sent more."
    assert inputs_problem(e, []) == "/decode takes 2 values (Field 0, Field 1), and was sent none."
    assert inputs_problem(event(0, api_name="stop"), [1]) == "/stop takes no values, and was sent more."
    assert inputs_problem(event(2, visibility="private"), [1]).startswith("This page's event takes 2 values")


def test_the_guard_fills_in_the_session_state_and_turns_the_frameworks_errors_into_sentences():
    seen = []

    async def original(block_fn, inputs, state, *args, **kwargs):
        seen.append(inputs)
        if inputs[0] == "bad":
            raise ValueError("pydantic said something long")
        return inputs

    blocks = SimpleNamespace(preprocess_data=original)
    guard_inputs(blocks, Error)
    e = event(3, states=(1,))
    assert asyncio.run(blocks.preprocess_data(e, ["a", "b"], None)) == ["a", None, "b"]  # without the state's slot
    with pytest.raises(Error, match=r"^/decode takes 2 values \(Field 0, Field 2\), and was sent fewer\.$"):
        asyncio.run(blocks.preprocess_data(e, ["a"], None))
    with pytest.raises(Error, match=r"^/decode could not read the values sent: send values of the kinds the form "
                                    r"shows\.$"):
        asyncio.run(blocks.preprocess_data(e, ["bad", None, "c"], None))
    e.inputs[0] = type("UploadButton", (), {"label": "Load", "stateful": False})()
    with pytest.raises(Error, match=r"^/decode takes a file uploaded to this app"):
        asyncio.run(blocks.preprocess_data(e, ["bad", None, "c"], None))


def test_gradio_still_checks_inputs_where_the_guard_wraps_it():
    """guard_inputs wraps Blocks.preprocess_data(block_fn, inputs, state, ...): noticed here if Gradio renames it."""
    import inspect
    import gradio as gr
    params = list(inspect.signature(gr.Blocks.preprocess_data).parameters)
    assert params[:4] == ["self", "block_fn", "inputs", "state"], params
    assert inspect.iscoroutinefunction(gr.Blocks.preprocess_data)
