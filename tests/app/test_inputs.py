"""Every input of every endpoint, and of the page's private handlers, checked in the form's words (issue 16, item
7): infinities, NaN, strings, None, huge numbers, too few or too many inputs. One sentence each, never Python's
text, never Gradio's bare `{"error": null}`. Through gradio_client and raw HTTP against a running `python app.py`."""
import json
import re
import uuid

import httpx
import pytest

from playground import limits
from tests.app.test_safety import assert_clean, call_by_index, private_handler, refused
from tests.helpers import client

DECODE = ["3 1 4", "auto", 3, "reverse", "greedy", 5, 1.0, 0, 1.0, 0]  # /decode's 10 values, as documented
WHAT_IF = ["3 1 4", 1, "5", "auto", "reverse", "greedy", 5, 1.0, 0, 1.0, 0]  # /what_if's 11


def raw_call(url: str, api_name: str, body: str | dict) -> dict:
    """POST /gradio_api/call/<api_name> (JSON text as given, so Infinity and NaN can be sent), then read its event
    stream: {"error": ...} or {"data": [...]}."""
    content = body if isinstance(body, str) else json.dumps(body)
    posted = httpx.post(f"{url}gradio_api/call/{api_name}", content=content, timeout=30,
                        headers={"content-type": "application/json"})
    assert posted.status_code == 200, posted.text
    event, data = None, None
    with httpx.stream("GET", f"{url}gradio_api/call/{api_name}/{posted.json()['event_id']}", timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line[5:])
    assert event in ("complete", "error"), event
    return {"data": data} if event == "complete" else data


def said_error(output: dict, pattern: str) -> str:
    message = output.get("error")
    assert message, output  # {"error": null} is not a sentence
    assert_clean(message)
    assert re.search(pattern, message), message
    assert message.count(". ") == 0 or pattern.endswith(".*"), message  # one sentence
    return message


def test_too_few_or_too_many_inputs_get_a_sentence_over_raw_http(server):
    labels = r"\(Source, Model, Top-k shown, Task, Strategy, Beam width, Temperature, Sample from top k, Top-p, Seed\)"
    for data, sent in [(["3 1 4"], "fewer"), ([], "none"), (DECODE + [None, 7], "more")]:
        said_error(raw_call(server.url, "decode", {"data": data}), rf"^/decode takes 10 values {labels}, and was sent "
                                                                    rf"{sent}\.$")
    assert raw_call(server.url, "decode", {"data": DECODE})["data"][0] == "4 1 3"  # as documented: 10 values
    assert raw_call(server.url, "decode", {"data": DECODE + [None]})["data"][0] == "4 1 3"  # ... or with the state's
    said_error(raw_call(server.url, "compare", {"data": ["3 1 4"]}),
               r"^/compare takes 3 values \(Source, Model A, Model B\), and was sent fewer\.$")
    said_error(raw_call(server.url, "what_if", {"data": WHAT_IF[:3]}), r"^/what_if takes 11 values .*fewer\.$")
    said_error(raw_call(server.url, "stop", {"data": [1]}), r"^/stop takes no values, and was sent more\.$")
    said_error(raw_call(server.url, "load", {"data": []}), r"^/load takes 1 value \(.*\), and was sent none\.$")
    said_error(raw_call(server.url, "train", {"data": [1, 2]}),  # every setting and the mode: too many to list
               rf"^/train takes {len(limits.SETTINGS) + 1} values, and was sent fewer\.$")


def test_too_many_inputs_through_gradio_client_get_a_sentence(server):
    c = client(server.url)
    refused(lambda: c.predict(*DECODE, "extra", api_name="/decode"), r"^/decode takes 10 values .*, and was sent more\.$")
    refused(lambda: c.predict(*WHAT_IF, "x", "y", api_name="/what_if"), r"^/what_if takes 11 values .*more\.$")


def test_the_page_handlers_get_a_sentence_for_a_wrong_number_of_inputs(server):
    for elem_id, event in [("decode-button", "click"), ("setting-task", "input"), ("preset", "input"),
                           ("decode-topk", "change"), ("upload-checkpoint", "upload")]:
        index, inputs = private_handler(server.url, elem_id, event)
        for data in ([], [None] * (len(inputs) + 2)):
            output = call_by_index(server.url, index, data)
            said_error(output, r"^This page's event takes \d+ values? .*, and was sent (none|more)\.$")


@pytest.mark.parametrize("step, pattern", [
    ("Infinity", r"\(you gave infinity\)"), ("-Infinity", r"\(you gave minus infinity\)"),
    ("NaN", r"\(you gave NaN\)"), ('"abc"', r"\(you gave abc\)"), ("null", r"between 1 and 4\.$"),
    ("1e308", r"\(you gave 1e\+308\)"), ("-1", r"\(you gave -1\)"), ("2.5", r"\(you gave 2\.5\)"),
    ("1" + "0" * 400, r"\(you gave 10000000000000000000…\)"), ('"1e999"', r"\(you gave 1e999\)")])
def test_what_if_steps_are_read_in_the_forms_words(server, step, pattern):
    values = json.dumps(WHAT_IF).replace(', 1, "5"', f", {step}, \"5\"", 1)
    assert values != json.dumps(WHAT_IF)
    said_error(raw_call(server.url, "what_if", f'{{"data": {values}}}'),
               rf"^Step must be a whole number between 1 and 4 {pattern}" if "between" not in pattern
               else rf"^Step must be a whole number {pattern}")


def test_what_if_tokens_are_read_in_the_forms_words(server):
    c = client(server.url)
    refused(lambda: c.predict("3 1 4", 1, None, api_name="/what_if"),
            r"^Token must be one of the model's tokens, e\.g\. \d \(you gave nothing\)\.$")
    refused(lambda: c.predict("3 1 4", 1, "x" * 10_000, api_name="/what_if"),
            r"^Cannot force that: unknown token 'x{20}': this model knows only 0 1 2 3 4 5 6 7 8 9\.$")
    assert "forced <code>5</code>" in c.predict("3 1 4", 1, 5, api_name="/what_if")  # the token 5, as a number


BAD_NUMBERS = ["abc", None, 1e308, -1e308, "1e999", True]


def test_every_train_setting_refuses_bad_values_naming_its_field(server):
    c = client(server.url)
    for name, s in limits.SETTINGS.items():
        bad = ["bogus", None, 3, ["a"]] if s.choices else ["maybe", 7, "yes"] if s.widget == "checkbox" else \
            BAD_NUMBERS + ([2.5] if s.whole else [])
        for value in bad:
            message = refused(lambda: c.predict(**{name: value}, api_name="/train"), re.escape(s.short) + " must be")
            assert message.count(". ") == 0, message
    refused(lambda: c.predict(mode="sideways", api_name="/train"), r"When you press Train.* must be one of")


def test_every_decode_control_refuses_bad_values_naming_its_field(server):
    c = client(server.url)
    position = {"top_k": 2, "strategy": 4, "width": 5, "temperature": 6, "sample_k": 7, "top_p": 8, "seed": 9}
    strategy = {"width": "beam", "temperature": "sampling", "sample_k": "sampling", "top_p": "sampling",
                "seed": "sampling"}
    from seq2seq.controls import DECODING
    for name, index in position.items():
        s = DECODING[name]
        for value in (["bogus", None, 3] if s.choices else BAD_NUMBERS):
            args = list(DECODE)
            args[4] = strategy.get(name, args[4])
            args[index] = value
            label = "Strategy" if s.choices else re.escape(s.short)
            refused(lambda: c.predict(*args, api_name="/decode"), rf"^{label} must be")
    refused(lambda: c.predict(None, api_name="/decode"), r"^Type a source sequence")
    refused(lambda: c.predict(12, api_name="/decode"), r"^Type a source sequence")
    refused(lambda: c.predict("3 1 4", "bundled:nope", api_name="/decode"), r"^Model must be one of")
    refused(lambda: c.predict("3 1 4", None, api_name="/decode"), r"^Model must be one of")
    refused(lambda: c.predict("3 1 4", "auto", 3, "nope", api_name="/decode"), r"^Task must be one of")


def test_compare_and_stop_refuse_bad_values_in_sentences(server):
    c = client(server.url)
    refused(lambda: c.predict(None, api_name="/compare"), r"^Type a source")
    refused(lambda: c.predict("3 1 4", "bundled:nope", api_name="/compare"), r"must be one of")
    refused(lambda: c.predict("3 1 4", None, None, api_name="/compare"), r"must be one of")
    assert c.predict(api_name="/stop") == "Nothing is training."


def test_load_refuses_what_is_not_an_uploaded_zip_in_sentences(server, tmp_path):
    c = client(server.url)
    refused(lambda: c.predict(None, api_name="/load"), r"^Choose a checkpoint \.zip first\.$")
    for path in ["/etc/passwd", str(server.temp), "/work/main/checkpoints/reverse.zip", "../../etc/hosts.zip"]:
        for payload in (path, {"path": path, "meta": {"_type": "gradio.FileData"}}, {"path": path}):
            said_error(raw_call(server.url, "load", {"data": [payload]}),
                       r"(takes a file uploaded to this app|Upload the checkpoint \.zip first)")
    from gradio_client import handle_file
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    refused(lambda: c.predict(handle_file(str(text)), api_name="/load"), r"^A checkpoint is a \.zip file")
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK" + bytes(1000))
    refused(lambda: c.predict(handle_file(str(fake)), api_name="/load"),
            r"^Cannot load fake\.zip: that file is not a zip archive\. Your current model is unchanged\.$")
    session = uuid.uuid4().hex  # a folder inside the upload folder: not a file
    said_error(raw_call(server.url, "load", {"data": [str(server.temp / session)]}),
               r"(takes a file uploaded to this app|Upload the checkpoint \.zip first)")
