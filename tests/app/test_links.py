"""Links and the settings file against a running `python app.py` (docs/links.md): the page's own private events,
found in its config and called over the queue's HTTP API as the page calls them (a link's query rides on the
request, as the page's does), so what is checked is what the server answers a browser, or a script posing as one.
The browser tier (tests/browser/test_links_browser.py) checks the same in Chromium.
"""
import json
import re
import uuid

import httpx

from playground import links, settings
from playground.uploads import UPLOAD_GRACE
from tests.helpers import wait_until

DEFAULT = settings.PRESETS[settings.DEFAULT_PRESET]
SKIP = {"__type__": "update"}


def dependency(url: str, event: str, *, trigger: str | None = None, output: str | None = None) -> dict:
    """The page's event `event` on the component `trigger` (or whose outputs include `output`), from its config:
    its index, and the elem_ids of its inputs and outputs (None for a gr.State)."""
    config = httpx.get(f"{url}config", timeout=30).json()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for dep in config["dependencies"]:
        triggered = [(ids.get(t[0]), t[1]) for t in dep["targets"]]
        outputs = [ids.get(i) for i in dep["outputs"]]
        if any(e == event and (trigger is None or t == trigger) for t, e in triggered) and \
                (output is None or output in outputs):
            return {"index": dep["id"], "inputs": [ids.get(i) for i in dep["inputs"]], "outputs": outputs}
    raise KeyError((event, trigger, output))


def call(url: str, dep: dict, data: list, query: str = "") -> dict:
    """The event called as the page calls it (its page's query on the request): its outputs by elem_id, or
    {"error": ...}."""
    session = uuid.uuid4().hex
    joined = httpx.post(f"{url}gradio_api/queue/join{query}", timeout=30,
                        json={"data": data, "fn_index": dep["index"], "session_hash": session, "event_data": None,
                              "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message["output"]
                    if "error" in output:
                        return output
                    return {elem: value for elem, value in zip(dep["outputs"], output["data"]) if elem}
    raise AssertionError("no result")


def value(update):
    """What an output shows: its value (an update's, if it carries one); SKIP when it changes nothing."""
    if isinstance(update, dict) and update.get("__type__") == "update":
        return update.get("value", SKIP)
    return update


def field(name: str) -> str:
    return f"setting-{name.replace('_', '-')}"


def open_link(url: str, query: str) -> dict:
    return call(url, dependency(url, "load", output="link-notice"), [], query)


# ---------------------------------------------------------------- a link, as the page opens it


def test_a_link_sets_the_form_over_its_preset_and_names_nothing(server):
    shown = open_link(server.url, "?preset=Transformer&steps=300&task=sort")
    transformer = settings.PRESETS["Transformer"]
    assert value(shown["preset"]) == "Transformer"
    assert {n: value(shown[field(n)]) for n in ("task", "steps", "hidden_dim", "arch", "warmup", "min_len")} == \
        {"task": "sort", "steps": 300, "hidden_dim": transformer["hidden_dim"], "arch": "transformer",
         "warmup": transformer["warmup"], "min_len": 3}
    assert shown[field("heads")]["visible"] is True and shown[field("cell")]["visible"] is False
    assert "sort" in value(shown["task-note"]) and shown["link-notice"]["visible"] is False
    assert "Transformer" in value(shown["preset-note"]) and "64" in value(shown["model-diagram-box"])


def test_bad_parameters_are_one_notice_as_text_and_the_rest_applies(server):
    shown = open_link(server.url, "?hidden_dim=99999&cell=%3Cscript%3Ealert(1)%3C/script%3E&foo=1&steps=321")
    notice = shown["link-notice"]
    assert notice["visible"] is True and notice["value"].count('class="s2s-message') == 1
    assert "cell=&lt;script&gt;alert(1)&lt;/sc… (" in notice["value"] and "<script>" not in notice["value"]
    for name in ("hidden_dim=99999", "foo=1", "(not a setting)", "hidden size must be a whole number"):
        assert name in notice["value"], notice["value"]
    assert value(shown[field("steps")]) == 321 and value(shown[field("hidden_dim")]) == DEFAULT["hidden_dim"]
    assert value(shown[field("cell")]) == DEFAULT["cell"] and value(shown["preset"]) == settings.DEFAULT_PRESET


def test_a_link_opens_the_decode_tab_with_its_source_model_and_strategy(server):
    shown = open_link(server.url, "?tab=decode&source=5+3+9+1&model=bundled%3Asort&strategy=sampling"
                                  "&temperature=0.5&sample_seed=7")
    assert shown["tabs"]["selected"] == "decode" and shown["link-notice"]["visible"] is False
    assert {k: value(shown[k]) for k in ("decode-input", "decode-model", "decode-strategy", "decode-temperature",
                                          "decode-seed")} == \
        {"decode-input": "5 3 9 1", "decode-model": "bundled:sort", "decode-strategy": "sampling",
         "decode-temperature": 0.5, "decode-seed": 7}
    assert value(shown[field("task")]) is SKIP  # the Train tab as it was


def test_lengths_a_task_cannot_take_are_shown_as_given_for_train_to_refuse(server):
    shown = open_link(server.url, "?preset=Transformer&task=addition&min_len=9&max_len=9")
    assert value(shown["preset"]) == "Transformer" and value(shown[field("arch")]) == "transformer"
    assert (value(shown[field("task")]), value(shown[field("min_len")])) == ("addition", 9)
    assert shown["link-notice"]["visible"] is False


def test_a_link_too_long_is_not_read_and_a_plain_page_changes_nothing(server):
    shown = open_link(server.url, "?steps=10&source=" + "1+" * 1200)
    assert "This link was not read" in shown["link-notice"]["value"] and value(shown[field("steps")]) is SKIP
    assert all(value(v) is SKIP for v in open_link(server.url, "").values())
    quiet = open_link(server.url, "?tour=1&presenter=1&__theme=dark")
    assert quiet["link-notice"]["visible"] is False and value(quiet[field("task")]) is SKIP


# ---------------------------------------------------------------- Copy link and the settings file


def form_data(dep: dict, **changes) -> list:
    """The inputs of a Train-tab event as the page sends them: the default form, the Decode tab's defaults."""
    decode = {"decode-input": "3 1 4 1 5 9", "decode-model": "auto", "decode-topk": 3, "decode-strategy": "greedy",
              "decode-width": 5, "decode-temperature": 1.0, "decode-sample-k": 0, "decode-top-p": 1.0,
              "decode-seed": 0, "share-link": "http://127.0.0.1:7860/"}
    values = {**{field(n): v for n, v in DEFAULT.items()}, **decode, **changes}
    return [values.get(elem) for elem in dep["inputs"]]


def test_copy_link_writes_the_changed_values_and_refuses_a_bad_one(server):
    dep = dependency(server.url, "click", trigger="copy-link")
    made = call(server.url, dep, form_data(dep, **{field("task"): "sort", field("steps"): 800,
                                                   "decode-strategy": "beam", "decode-width": 3}))
    assert value(made["share-link"]) == "http://127.0.0.1:7860/?task=sort&steps=800&strategy=beam&width=3"
    assert made["share-link"]["visible"] is True and "ready to train" in value(made["share-message"])
    # opened, the link's query sets what it says
    shown = open_link(server.url, "?task=sort&steps=800&strategy=beam&width=3")
    assert value(shown[field("steps")]) == 800 and value(shown["decode-width"]) == 3
    bad = call(server.url, dep, form_data(dep, **{field("hidden_dim"): 99999, "share-link": "javascript:alert(1)"}))
    assert bad["share-link"] == {"__type__": "update", "value": "", "visible": False}
    assert value(bad["share-message"]).count("s2s-message") == 1 and "No link: hidden size must be a whole number " \
        "between 8 and 512 (you gave 99999)." in value(bad["share-message"])
    own = call(server.url, dep, form_data(dep, **{field("task"): "data", field("min_len"): 6, field("steps"): 90}))
    assert value(own["share-link"]) == "http://127.0.0.1:7860/?steps=90"  # the pairs cannot travel in a link
    assert "Your pairs are not in it" in value(own["share-message"])
    forged = call(server.url, dep, form_data(dep, **{"share-link": "javascript:alert(1)"}))
    assert value(forged["share-link"]) == "?"  # an address that is not the page's is left out


def test_the_settings_file_is_written_from_the_page_leaving_nothing_on_the_server(server):
    before = sorted(p for p in server.temp.rglob("*") if p.is_file() and "seq2seq-session-" not in str(p))
    dep = dependency(server.url, "click", trigger="download-settings")
    made = call(server.url, dep, form_data(dep, **{field("task"): "copy", field("lr"): 0.003}))
    carried = json.loads(value(made["settings-file-text"]))
    assert carried["name"] == "seq2seq-settings-copy.json"
    assert links.read_settings_text(carried["text"]) == ({**DEFAULT, "task": "copy", "lr": 0.003}, [])
    after = sorted(p for p in server.temp.rglob("*") if p.is_file() and "seq2seq-session-" not in str(p))
    assert after == before
    bad = call(server.url, dep, form_data(dep, **{field("lr_decay"): "yes"}))
    assert value(bad["settings-file-text"]) == "" and "No file: decay learning rate must be on or off" in \
        value(bad["share-message"])


def upload(url: str, path) -> dict:
    with open(path, "rb") as f:
        r = httpx.post(f"{url}gradio_api/upload", files={"files": (path.name, f)}, timeout=30)
    assert r.status_code == 200, r.text
    return {"path": r.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


HOSTILE = {  # file name -> (content, what the one sentence says)
    "not-json.json": (b"{'format': nope", r"Cannot load not-json\.json: it is not JSON\. The form is unchanged\."),
    "deep.json": (b"[" * 2000 + b"]" * 2000, r"Cannot load deep\.json: it is not JSON\."),
    "big.json": (b" " * 5000 + b"{}", r"Cannot load big\.json: it is larger than 4,096 bytes"),
    "types.json": (json.dumps({"format": links.FORMAT, "version": 1, "settings": {"steps": "800"}}).encode(),
                   r"Cannot load types\.json: its steps is text, where a settings file has a number\."),
    "other.json": (b'{"format": "something else"}', r"Cannot load other\.json: it is not a settings file of this"),
    "binary.json": (bytes(range(256)), r"Cannot load binary\.json: it is not text \(UTF-8\)\."),
    "settings.txt": (b"{}", r"^Settings come as a \.json file"),
}


def test_a_hostile_settings_file_is_one_sentence_changes_nothing_and_is_deleted(server, tmp_path):
    dep = dependency(server.url, "upload", trigger="upload-settings")
    uploads = lambda: {p for p in server.temp.rglob("*") if p.is_file() and "seq2seq-session-" not in str(p)}  # noqa: E731
    before = uploads()
    for name, (content, sentence) in HOSTILE.items():
        path = tmp_path / name
        path.write_bytes(content)
        shown = call(server.url, dep, [upload(server.url, path), *form_data(dep)[1:]])
        message = value(shown.pop("share-message"))
        assert message.count("s2s-message") == 1
        assert re.search(sentence, re.sub(r"<[^>]+>", "", message)), (name, message)
        assert all(v == SKIP for v in shown.values()), (name, shown)  # the form as it was
    outside = call(server.url, dep, [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
                                     *form_data(dep)[1:]])
    assert "takes a file uploaded to this app: upload it first" in outside["error"]  # the page's guard
    wait_until(lambda: uploads() <= before, f"the uploads deleted (left: {sorted(uploads() - before)})",
               timeout=UPLOAD_GRACE + 30, every=0.5)


def test_a_settings_file_loads_into_the_form_naming_what_it_left_out(server, tmp_path):
    dep = dependency(server.url, "upload", trigger="upload-settings")
    path = tmp_path / "mine.json"
    path.write_text(links.settings_text({**settings.PRESETS["Transformer"], "task": "dates", "min_len": 8,
                                         "hidden_dim": 99999}))
    shown = call(server.url, dep, [upload(server.url, path), *form_data(dep)[1:]])
    assert {n: value(shown[field(n)]) for n in ("task", "min_len", "arch", "steps", "hidden_dim")} == \
        {"task": "dates", "min_len": 8, "arch": "transformer",
         "steps": settings.PRESETS["Transformer"]["steps"], "hidden_dim": SKIP}
    assert shown[field("cell")]["visible"] is False and "dates" in value(shown["task-note"])
    assert "Ignored in mine.json (the other" in value(shown["share-message"]) and "hidden_dim=99999" in \
        value(shown["share-message"])
