"""Links that open a chosen setup, and the settings file, in Chromium at 1280×720 and 390×844 (docs/links.md): a
link's settings set over its preset (and staying so), the Decode tab opened from a link, "Copy link" opened in a
fresh page, a bad link's one notice shown as text, the settings file saved and loaded back, and a hostile file one
sentence that changes nothing; the share row fits a phone's width.

The page and server as in test_browser.py (its fixtures and helpers, the tier's shared `python app.py`);
screenshots go to runs/screenshots/ (links-*.png).
"""
import json
import re
import time
from urllib.parse import quote, urlsplit

import pytest

from playground import links, settings
from seq2seq import Task, make_spec
from seq2seq.checkpoint import write_checkpoint_zip
from tests.browser import test_browser
from tests.browser.test_browser import (choose, events, open_accordion, open_page, page_fits_its_width, screenshot,
                                        set_steps)
from tests.helpers import wait_until

browser = test_browser.browser  # its Chromium fixture (one per module)
SIZES = ("projector", "phone")
ACCORDIONS = {"settings-model": "setting-arch", "settings-training": "setting-batch-size",
              "settings-stopping": "setting-steps"}  # each with a field always shown in it

# Every Train setting the page shows (hidden fields are not in the page): its elem_id's name -> what it reads
FORM = """() => Object.fromEntries([...document.querySelectorAll('[id^="setting-"]')].map(e => {
    const radio = e.querySelector('input[type=radio]:checked'), box = e.querySelector('input[type=checkbox]');
    const number = e.querySelector('input[type=number]'), text = e.querySelector('input, textarea');
    return [e.id.slice(8), radio ? radio.value : box ? box.checked : number ? number.value : text ? text.value : null];
}))"""
DECODE = """() => ({source: document.querySelector('#decode-input textarea').value,
    model: document.querySelector('#decode-model input').value,
    strategy: document.querySelector('#decode-strategy input').value,
    width: document.querySelector('#decode-width input[type=number]')?.value ?? null,
    tab: document.querySelector('#tabs [role=tab][aria-selected=true]')?.innerText.trim()})"""


def settle(page, quiet: float = 0.6) -> None:
    """Every event the page sent has been answered, and nothing more was sent for `quiet` s (a link's preset sets
    off its own events, and theirs)."""
    def still():
        before = events(page)
        if before["done"] < before["sent"]:
            return False
        time.sleep(quiet)
        return events(page) == before
    wait_until(still, "the page's events all answered", 30, every=0.05)


def form(page) -> dict:
    for accordion, field in ACCORDIONS.items():
        open_accordion(page, accordion)
        page.wait_for_selector(f"#{field} input")
    return page.evaluate(FORM)


def type_into(page, selector: str, text: str) -> None:
    """Type into a field until it keeps what was typed (as set_steps: a page starting up may put a value back)."""
    for _ in range(3):
        page.fill(selector, text)
        page.press(selector, "Tab")
        settle(page, 0.3)
        if page.input_value(selector) == text:
            return
    raise AssertionError(f"{selector} would not take {text!r}")


def opened(browser, url: str, size: str):
    """A fresh page (a new browser session) opened at `url`, once it has answered everything it asked."""
    page = test_browser.open_page(browser, url, size, ready="attached")  # a link may open another tab
    settle(page)
    return page


def notices(page) -> list[str]:
    return page.locator(".s2s-message.notice").all_inner_texts()


def fits(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return bool(box) and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1


# ---------------------------------------------------------------- a link opened


@pytest.mark.parametrize("size", SIZES)
def test_a_link_sets_the_form_over_its_preset(browser, app_url, size):
    page = opened(browser, app_url + "?preset=Transformer&steps=300&task=sort", size)
    try:
        transformer = settings.PRESETS["Transformer"]
        shown = form(page)
        assert page.evaluate("() => document.querySelector('#preset input:checked')?.value") == "Transformer"
        assert {k: shown.get(k) for k in ("task", "steps", "hidden-dim", "arch", "heads", "warmup", "min-len")} == \
            {"task": "sort", "steps": "300", "hidden-dim": str(transformer["hidden_dim"]), "arch": "transformer",
             "heads": str(transformer["heads"]), "warmup": str(transformer["warmup"]), "min-len": "3"}
        assert "cell" not in shown  # a Transformer's form: the RNN's fields hidden
        assert "sort" in page.inner_text("#task-note") and "Transformer" in page.inner_text("#preset-note")
        assert not page.is_visible("#link-notice") and notices(page) == []
        time.sleep(1)
        assert form(page)["steps"] == "300"  # still: nothing the preset sets off puts its own 1,000 back
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"links-opened-{size}")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_link_opens_the_decode_tab_with_its_source_model_and_strategy(browser, app_url, size):
    page = opened(browser, app_url + "?tab=decode&source=5+3+9+1&model=bundled%3Asort&strategy=beam&width=3", size)
    try:
        assert page.evaluate(DECODE) == {"source": "5 3 9 1", "model": "Bundled: sort", "strategy": "Beam search",
                                         "width": "3", "tab": "Decode"}
        page.click("#decode-button")
        verdict = wait_until(lambda: re.search(r"Output: .*", page.inner_text("#decode-verdict")), "an output", 30)
        assert verdict[0].replace("✓", "").startswith("Output: 1 3 5 9"), verdict[0]  # each token marked right
        assert "beam" in page.inner_text("#decode-model-info").lower(), page.inner_text("#decode-model-info")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"links-decode-{size}")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_bad_link_is_one_notice_as_text_and_the_rest_of_it_applies(browser, app_url, size):
    script = "<script>alert(1)</script>"
    page = opened(browser, app_url + f"?hidden_dim=99999&cell={quote(script)}&foo=1&steps=321", size)
    try:
        shown = notices(page)
        assert len(shown) == 1 and page.is_visible("#link-notice"), shown
        for part in ("hidden_dim=99999 (hidden size must be a whole number between 8 and 512)",
                     "cell=<script>alert(1)</sc… (cell must be one of lstm, gru)", "foo=1 (not a setting)"):
            assert part in shown[0], shown[0]
        assert page.locator("#link-notice script, #link-notice b").count() == 0  # shown as text, not markup
        default = settings.PRESETS[settings.DEFAULT_PRESET]
        values = form(page)
        assert (values["steps"], values["hidden-dim"], values["cell"]) == ("321", str(default["hidden_dim"]),
                                                                           default["cell"])
        assert page_fits_its_width(page) and fits(page, "#link-notice")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"links-notice-{size}")
    finally:
        page.context.close()


# ---------------------------------------------------------------- Copy link


@pytest.mark.parametrize("size", SIZES)
def test_copy_link_opens_the_same_settings_in_a_fresh_page(browser, app_url, size):
    page = open_page(browser, app_url, size)
    try:
        settle(page)
        choose(page, "setting-task", "copy")
        set_steps(page, 777)
        open_accordion(page, "settings-model")
        type_into(page, "#setting-hidden-dim input", "128")
        page.locator("#setting-bidirectional input").check()
        settle(page)  # the new task's answer (its examples) has come: nothing puts another source back
        page.get_by_role("tab", name="Decode").click()
        for _ in range(3):  # a tab drawn for the first time may put its initial source back: set it until it stays
            page.fill("#decode-input textarea", "4 4 2")
            time.sleep(0.3)
            if page.input_value("#decode-input textarea") == "4 4 2":
                break
        choose(page, "decode-strategy", "Beam search")
        page.get_by_role("tab", name="Train").click()
        settle(page)
        page.click("#copy-link")
        link = wait_until(lambda: page.input_value("#share-link textarea"), "the link shown", 15)
        parts = urlsplit(link)
        assert link.startswith(app_url) and parts.query == \
            "task=copy&hidden_dim=128&steps=777&bidirectional=true&source=4+4+2&strategy=beam", \
            (link, page.inner_text("#share-message"), form(page))
        assert "ready to train" in page.inner_text("#share-message")
        assert page_fits_its_width(page)
        for elem_id in ("copy-link", "download-settings", "upload-settings", "share-link"):
            assert fits(page, f"#{elem_id}"), elem_id
        page.locator("#share-link").scroll_into_view_if_needed()
        screenshot(page, f"links-copy-{size}")
        before, decode_before = form(page), page.evaluate(DECODE)
        fresh = opened(browser, link, size)
        try:
            assert form(fresh) == before
            fresh.get_by_role("tab", name="Decode").click()  # a tab's content is drawn once it is opened
            fresh.wait_for_selector("#decode-input textarea")
            assert {**fresh.evaluate(DECODE), "tab": None} == {**decode_before, "tab": None}
            assert notices(fresh) == []
        finally:
            fresh.context.close()
    finally:
        page.context.close()


# ---------------------------------------------------------------- the settings file


def upload_settings(page, path) -> str:
    """Load a settings file from the page; the sentence it answers with."""
    sent = events(page)["sent"]
    page.set_input_files("input[type=file][accept='.json']", str(path))  # the Load settings button's input
    wait_until(lambda: events(page)["sent"] > sent, "the file sent", 15)
    settle(page)
    return page.inner_text("#share-message")


@pytest.mark.parametrize("size", SIZES)
def test_the_settings_file_saves_and_loads_back(browser, app_url, size, tmp_path):
    page = open_page(browser, app_url, size)
    try:
        settle(page)
        choose(page, "setting-task", "sort")
        set_steps(page, 654)
        settle(page)
        with page.expect_download() as download:
            page.click("#download-settings")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "seq2seq-settings-sort.json"
        values, ignored = links.read_settings_text(saved.read_text())
        assert ignored == [] and values["task"] == "sort" and values["steps"] == 654
        assert set(values) == set(links.limits.SETTINGS)
        before = form(page)
    finally:
        page.context.close()
    fresh = open_page(browser, app_url, size)
    try:
        settle(fresh)
        assert form(fresh) != before
        said = upload_settings(fresh, saved)
        assert said == f"Loaded {len(values)} settings from {saved.name}.", said
        assert form(fresh) == before
        assert "sort" in fresh.inner_text("#task-note")
        assert page_fits_its_width(fresh) and fits(fresh, "#share-message")
    finally:
        fresh.context.close()


HOSTILE = {
    "not-json.json": ("{'format': nope <b>x</b>", r"^Cannot load not-json\.json: it is not JSON\. The form is "
                                                   r"unchanged\.$"),
    "big.json": (" " * 5000 + "{}", r"^Cannot load big\.json: it is larger than 4,096 bytes"),
    "types.json": (json.dumps({"format": links.FORMAT, "version": 1, "settings": {"steps": "800", "task": "sort"}}),
                   r"^Cannot load types\.json: its steps is text, where a settings file has a number\. The form is "
                   r"unchanged\.$"),
}


def test_a_hostile_settings_file_is_one_sentence_and_leaves_the_form_as_it_was(browser, app_url, tmp_path):
    page = opened(browser, app_url, "projector")
    try:
        before = form(page)
        for name, (content, sentence) in HOSTILE.items():
            path = tmp_path / name
            path.write_text(content)
            said = upload_settings(page, path)
            assert re.search(sentence, said), (name, said)
            assert page.locator("#share-message .s2s-message").count() == 1
            assert form(page) == before, name
        page.locator("#share-row").scroll_into_view_if_needed()
        screenshot(page, "links-hostile-file-projector")
    finally:
        page.context.close()


# ---------------------------------------------------------------- found on the way (outside links)


def test_loading_a_checkpoint_of_another_task_watches_that_task_s_sources(browser, app_url, tmp_path):
    page = opened(browser, app_url, "projector")
    try:
        archive = write_checkpoint_zip("checkpoints/commands", tmp_path / "commands.zip")
        open_accordion(page, "save-load")
        page.set_input_files("input[type=file][accept='.zip']", str(archive))
        wait_until(lambda: page.input_value("#setting-task input") == "commands", "the commands model loaded", 30)
        settle(page)
        open_accordion(page, "watch-box")
        vocab = Task(make_spec("commands")).vocab
        for line in page.input_value("#watch-sources textarea").splitlines():
            vocab.parse(line)  # ValueError: a source the loaded model's task cannot read
    finally:
        page.context.close()
