"""The app in a real browser, as a presenter sees it: Playwright driving Debian's Chromium against the tier's shared
`python app.py` (tests/conftest.py), on a 1280×720 projector, a 390×844 phone and a 1400×1000 desktop.

Locally without Chromium these skip, saying why; in CI (CI=true) a missing browser is a failure.
Screenshots of each tab at each size go to runs/screenshots/ (README shows them).
"""
import os
import re
import time
import zipfile
from pathlib import Path

import pytest

from playground import settings
from seq2seq import load_checkpoint
from seq2seq.checkpoint import write_checkpoint_zip
from tests.helpers import ROOT, STATUS, client, train, wait_until

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "runs" / "screenshots"
SIZES = {"projector": (1280, 720), "phone": (390, 844), "desktop": (1400, 1000)}

# Counts, in the page, the events it sends to the server's queue and the ones the server has finished (from the
# event stream the page reads): when they are equal, the server has answered everything the page asked, a positive
# signal that a click which should change nothing has been answered, rather than a guess at how long to wait.
COUNT_EVENTS = """
(() => {
  window.__events = {sent: 0, done: 0};
  const original = window.fetch;
  window.fetch = async (...args) => {
    const url = String(args[0] && args[0].url || args[0]);
    if (url.includes('/queue/join')) window.__events.sent += 1;
    const response = await original(...args);
    if (!url.includes('/queue/data') || !response.body) return response;
    const [mine, theirs] = response.body.tee();
    (async () => {
      const reader = mine.getReader(), decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        text += decoder.decode(value, {stream: true});
        const messages = text.split('\\n\\n');
        text = messages.pop();
        for (const m of messages) if (m.includes('"process_completed"')) window.__events.done += 1;
      }
    })();
    return new Response(theirs, {status: response.status, statusText: response.statusText,
                                 headers: response.headers});
  };
})();
"""


def events(page) -> dict:
    return page.evaluate("() => window.__events")


def wait_for_answers(page, sent_before: int, what: str) -> None:
    """The page has sent an event since `sent_before`, and the server has finished every event the page sent."""
    wait_until(lambda: (e := events(page))["sent"] > sent_before and e["done"] == e["sent"], what, 15)


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver to run browser tests"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_page(browser, app_url, size: str = "projector", query: str = "", touch: bool = False,
              ready: str = "visible"):
    """A fresh page (a browser session of its own) at `size`, opened at `app_url + query`; `touch`: a touch screen,
    so that taps are taps. Ready once the Train button is `ready` ("attached" when a link or the tour may show
    another tab)."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch)
    context.add_init_script(COUNT_EVENTS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url + query)
    page.wait_for_selector("#train-button", state=ready)
    return page


@pytest.fixture(params=list(SIZES))
def sized_page(request, browser, app_url):
    page = open_page(browser, app_url, request.param)
    yield request.param, page
    page.context.close()


@pytest.fixture
def page(browser, app_url):
    page = open_page(browser, app_url)
    yield page
    page.context.close()


def open_tab(page, name: str, shown: str | None = None) -> None:
    """Open a tab as a person does: its button, or on a narrow screen (tabs that do not fit go behind the "⋯"
    menu) from that menu; tapped on a touch screen. `shown`: a selector to wait for, visible, once it is open."""
    def press(locator) -> None:
        locator.tap() if page.evaluate("() => navigator.maxTouchPoints > 0") else locator.click()
    tab = page.locator("#tabs > .tab-wrapper [role=tablist] [role=tab]", has_text=name)
    if tab.count() and tab.first.is_visible():
        press(tab.first)
    else:
        press(page.locator("#tabs .overflow-menu > button").first)
        press(page.locator("#tabs .overflow-dropdown button", has_text=name).first)
    if shown:
        wait_until(lambda: page.is_visible(shown), f"the {name} tab open", 10)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def status(page) -> str:
    return page.input_value("#train-status textarea")


def wait_for_page_status(page, pattern: str, timeout: float = 30.0) -> str:
    return wait_until(lambda: re.search(pattern, status(page)) and status(page),
                      f"status matching {pattern!r} (last: {status(page)!r})", timeout)


def drawn_lines(page, plot: str) -> int:
    """How many series the LinePlot has drawn (Vega's SVG paths with points in them)."""
    return page.locator(f"#{plot} .mark-line path").evaluate_all(
        "paths => paths.filter(p => /L/.test(p.getAttribute('d') || '')).length")  # a line: a move, then lines


def in_view(page, selector: str, across: bool = True) -> bool:
    """Whether the element is wholly inside the window, as it is scrolled now (`across=False`: top to bottom
    only, for a row of a table that scrolls sideways inside itself)."""
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= -1 and box["y"] + box["height"] <= size["height"] + 1 \
        and (not across or (box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1))


def page_fits_its_width(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def open_accordion(page, elem_id: str) -> None:
    """Open the accordion (left open if it is)."""
    button = page.locator(f"#{elem_id} > button").first
    if "open" not in (button.get_attribute("class") or "").split():
        button.click()


def set_steps(page, steps: int) -> None:
    open_accordion(page, "settings-stopping")
    for _ in range(3):  # a page still starting up may put its initial value back: set it until it stays
        page.fill("#setting-steps input", str(steps))
        page.press("#setting-steps input", "Tab")
        time.sleep(0.3)
        if page.input_value("#setting-steps input") == str(steps):
            return
    raise AssertionError(f"the Steps field would not take {steps}")


def decode(page, source: str) -> str:
    page.get_by_role("tab", name="Decode").click()
    for _ in range(3):  # a page still starting up may put its initial source back: set it until it stays
        page.fill("#decode-input textarea", source)
        time.sleep(0.2)
        if page.input_value("#decode-input textarea") == source:
            break
    sent = events(page)["sent"]
    page.click("#decode-button")
    wait_for_answers(page, sent, f"the decoding of {source!r} answered")  # not an earlier decoding's verdict
    page.wait_for_function("s => document.querySelector('#playback-body') && "
                           "document.querySelector('#decode-verdict').innerText.includes('Output:') && "
                           "!document.querySelector('#decode-verdict').innerText.includes('processing') && "
                           "document.querySelector('#playback-body').innerText.length > 0 && "
                           "document.querySelectorAll('#decode-steps [role=gridcell]').length > 0", arg=source)
    return re.search(r"Output: (.*)", page.inner_text("#decode-verdict"))[1]


def step_rows(page) -> list[str]:
    rows = page.locator("#decode-steps [role=row]")
    return [rows.nth(i).inner_text() for i in range(1, rows.count())]  # row 0 is the header


def current_step(page) -> tuple[str | None, str | None, str]:
    """The step the page highlights: in the step table, in the heatmap, and the player's panel."""
    return page.evaluate("""() => {
        const row = document.querySelector('#decode-steps [role=row].s2s-current [role=gridcell]');
        const heat = document.querySelector('#distribution-table tr.s2s-current');
        const panel = [...document.querySelectorAll('#playback-body .s2s-panel')].filter(p => !p.hidden);
        return [row ? row.innerText.trim() : null, heat ? heat.dataset.step : null,
                panel.map(p => p.innerText).join('|')];
    }""")


def test_the_default_preset_trains_with_status_plots_and_preview_in_view(sized_page):
    size, page = sized_page
    steps = settings.PRESETS[settings.DEFAULT_PRESET]["steps"]
    assert "press Train" in page.inner_text("#preview")
    assert page.is_visible("#empty-plots")  # an empty state that says what to do, not empty boxes
    page.click("#train-button")
    wait_for_page_status(page, rf"^Training: step [\d,]+ / {steps:,}")
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 3, "raw, smoothed and held-out loss drawn", 15)
    wait_until(lambda: drawn_lines(page, "accuracy-plot") >= 2, "exact match and token accuracy drawn", 15)
    first_preview = page.inner_text("#preview")
    wait_until(lambda: in_view(page, "#train-status") and in_view(page, "#loss-plot")
               and in_view(page, "#accuracy-plot"), f"status and both plots in view at {size}", 5)
    previews = {first_preview}

    def ended() -> bool:
        previews.add(page.inner_text("#preview"))
        return status(page).startswith(("Done:", "Stopped:"))
    wait_until(ended, "the run ending", 120, every=0.2)
    final = status(page)
    assert final.startswith(f"Done: finished {steps} steps"), final
    assert float(re.search(r"held-out exact match ([\d.]+)%", final)[1]) >= 99  # seeded: the same on any machine
    assert len(previews) >= 3  # the live preview changed as the model learned
    assert f"at step {steps}: 4 of 4 right" in page.inner_text("#preview")
    assert page_fits_its_width(page)
    screenshot(page, f"train-{size}")


def test_decode_shows_the_answer_the_steps_and_the_player_in_view(sized_page):
    size, page = sized_page
    assert decode(page, "3 1 4 1 5 9").startswith("9✓ 5✓ 1✓ 4✓ 1✓ 3✓ <eos>✓")
    rows = step_rows(page)
    assert [r.split()[2] for r in rows] == ["9", "5", "1", "4", "1", "3", "<eos>"]
    assert "bundled reverse model" in page.inner_text("#decode-model-info")
    assert "✓ correct" in page.inner_text("#decode-verdict")
    wide = size != "phone"  # the player side by side with them where there is width
    # read together, until the page is still: the reveal scroll and the player's first draw may still be under way
    wait_until(lambda: in_view(page, "#decode-verdict") and in_view(page, "#decode-steps [role=row] >> nth=2", False)
               and (not wide or in_view(page, "#playback-body .s2s-controls")
                    and in_view(page, "#playback-body .s2s-panel:not([hidden])")),
               f"the marked output, the first steps{' and the player' if wide else ''} in view at {size}", 5)
    assert page_fits_its_width(page)
    headers = page.locator("#decode-steps [role=columnheader]")
    assert headers.count() == 8  # step, fed in, chosen, correct, probability, #1 #2 #3
    for i in range(headers.count()):  # no header breaks mid-word
        lines = headers.nth(i).evaluate("h => { const r = document.createRange(); "
                                        "r.selectNodeContents(h.querySelector('.header') || h); "
                                        "return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }")
        assert lines == 1, headers.nth(i).inner_text()
    screenshot(page, f"decode-{size}")


def test_playback_highlights_the_step_everywhere_and_a_table_row_selects_it(page):
    decode(page, "3 1 4 1 5 9")
    wait_until(lambda: current_step(page)[0] == "1", "step 1 highlighted after decoding", 5)
    page.click("#playback-next")
    page.click("#playback-next")  # two quick clicks: two steps, never a stale one
    row, _, panel = current_step(page)
    assert row == "3" and "Step 3 of 7" in panel and re.search(r"Output so far: 9 5 1\b", panel)
    page.get_by_role("tab", name="Probabilities").click()  # the heatmap, opened later, shows the same step
    wait_until(lambda: current_step(page)[1] == "3", "the heatmap highlighting step 3", 5)
    page.get_by_role("tab", name="Attention").click()
    assert page.locator("#attention-table").count() == 0 and "no attention" in page.inner_text("#decode-attention")
    page.locator("#decode-steps [role=row]").nth(5).locator("[role=gridcell]").nth(2).click()  # step 5's row
    page.get_by_role("tab", name="Probabilities").click()
    wait_until(lambda: current_step(page)[1] == "5", "the heatmap following the table to step 5", 5)
    page.locator("#distribution-table tr[data-step='2'] th").click()  # a heatmap row's step selects it too
    page.get_by_role("tab", name="Steps").click()
    row, _, panel = current_step(page)
    assert row == "2" and "Step 2 of 7" in panel
    page.click("#playback-next")
    page.click("#playback-next")
    page.click("#playback-prev")
    assert current_step(page)[0] == "3"
    page.click("#playback-play")
    wait_until(lambda: "Step 7 of 7" in current_step(page)[2], "playing to the last step", 10)
    assert re.search(r"Output so far: 9 5 1 4 1 3 <eos>", current_step(page)[2])

    # top-k re-renders the table from the same decoding, without pressing Decode
    page.fill("#decode-topk input[type=number]", "5")
    page.press("#decode-topk input[type=number]", "Enter")
    wait_until(lambda: "#5" in page.inner_text("#decode-steps"), "the table showing the top 5", 5)
    assert len(re.findall(r"\d+%", step_rows(page)[0])) == 5


def test_a_bad_token_is_one_sentence_under_the_box_and_the_old_result_goes(page):
    decode(page, "3 1 4")
    page.fill("#decode-input textarea", "3 x 4")
    page.click("#decode-button")
    page.wait_for_function("() => document.querySelector('#decode-message')?.innerText.length > 0")
    message = page.inner_text("#decode-message")
    assert message.startswith("Unknown token(s) 'x': this model knows only 0 1 2 3 4 5 6 7 8 9")
    texts = page.locator("body").inner_text()
    assert texts.count("nknown token") == 1  # said once, where it happened: no toast, no pill on each output
    assert page.locator(":text-is('Error')").count() == 0
    assert "Press Decode" in page.inner_text("#decode-verdict") and page.locator("#playback-body").count() == 0
    box, under = page.locator("#decode-input").bounding_box(), page.locator("#decode-message").bounding_box()
    assert 0 <= under["y"] - (box["y"] + box["height"]) < 60  # right under the source box

    page.locator("#decode-examples button").first.click()  # an example decodes at once, and the message goes
    page.wait_for_function("() => document.querySelector('#decode-verdict').innerText.includes('Correct answer')")
    example = page.input_value("#decode-input textarea")
    assert re.fullmatch(r"\d( \d){2,9}", example)
    wait_until(lambda: not page.is_visible("#decode-message"), "the message gone", 5)
    assert f"Correct answer: {' '.join(reversed(example.split()))}" in page.inner_text("#decode-verdict")


def test_a_bad_setting_is_one_sentence_beside_train_and_stop_after_done_keeps_the_result(page):
    open_accordion(page, "settings-model")
    page.fill("#setting-hidden-dim input", "5000")
    page.click("#train-button")
    page.wait_for_function("() => document.querySelector('#settings-message')?.innerText.length > 0")
    assert page.inner_text("#settings-message") == \
        "Hidden size must be a whole number between 8 and 512 (you gave 5000)."
    assert status(page) == "Not trained yet: press Train." and page.locator(":text-is('Error')").count() == 0
    page.fill("#setting-hidden-dim input", "128")
    set_steps(page, 50)
    page.click("#train-button")
    final = wait_for_page_status(page, r"^Done:")
    assert not page.is_visible("#settings-message")
    with page.expect_response(lambda r: r.url.endswith("/gradio_api/run/predict")) as answer:
        page.click("#stop-button")  # Stop is answered at once (no queue): nothing to change
    assert answer.value.json()["data"] == [{"__type__": "update"}]  # gr.skip(): the page keeps its result
    assert status(page) == final

    def loss_axis() -> list[str]:
        return page.locator("#loss-plot .role-axis-label text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert not any(label.startswith(("−", "-")) for label in loss_axis())
    page.locator("#log-scale input").check()  # the same curve in log10: the small losses get room
    wait_until(lambda: any(label.startswith(("−", "-")) for label in loss_axis()), "a log10 axis", 10)


def test_seed_preset_explains_its_floor_and_draws_it(page):
    page.get_by_label("Seed tutorial settings").check()
    page.wait_for_function("() => document.querySelector('#preset-note').innerText.includes('grey line')")
    note = page.inner_text("#preset-note")
    assert "1.92" in note and "25%" in note
    assert page.input_value("#setting-task input") == "random" and "1.92" in page.inner_text("#task-note")
    set_steps(page, 100)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:", timeout=60)
    wait_until(lambda: drawn_lines(page, "loss-plot") == 4, "the loss plot with its floor line", 5)


def test_loading_a_checkpoint_makes_it_the_model_everywhere(page, tmp_path):
    archive = write_checkpoint_zip("checkpoints/sort", tmp_path / "sort-model.zip")
    open_accordion(page, "save-load")
    page.set_input_files("input[type=file][accept='.zip']", str(archive))  # the Load button's file input
    wait_for_page_status(page, r"^Loaded sort-model\.zip")
    assert "step 2,000" in status(page) and "Press Train to continue it from step 2,000" in status(page)
    assert page.input_value("#setting-task input") == "sort" and page.is_visible("#accuracy-plot")
    set_steps(page, 20)
    page.click("#train-button")
    final = wait_for_page_status(page, r"^Done:")
    assert "step 2,020 in all" in final
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 3, "the loaded model's loss drawn as it trains on", 5)
    output = decode(page, "5 3 9 1")
    assert "your model (uploaded sort-model.zip, step 2,020)" in page.inner_text("#decode-model-info"), output


def test_the_trained_model_downloads_and_decodes(page, tmp_path):
    set_steps(page, 100)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:", timeout=60)
    open_accordion(page, "save-load")
    # the run's own file: the button is hidden from "Done" until the run's files are written (a few seconds at most)
    page.wait_for_selector("#download-checkpoint", state="visible", timeout=60_000)
    with page.expect_download() as download:
        page.click("#download-checkpoint")
    saved = tmp_path / "model.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        z.extractall(tmp_path)
    assert load_checkpoint(tmp_path / "seq2seq-reverse-step100").training["steps"] == 100
    decode(page, "7 0 2 2 8 1 5")
    assert "your model (trained here, step 100)" in page.inner_text("#decode-model-info")


def test_closing_the_browser_stops_its_training(browser, app_url):
    page = open_page(browser, app_url)
    set_steps(page, 0)
    open_accordion(page, "settings-training")
    page.locator("#setting-lr-decay input").uncheck()
    page.click("#train-button")
    wait_for_page_status(page, r"^Training: step")
    page.context.close()  # the visitor leaves while training (120 s budget) holds the only slot
    # the next run waits for the slot, then trains: within half the budget, so the slot was freed, not run out
    final = train(client(app_url), steps=20, timeout=60)[-1]
    assert final[STATUS].startswith("Done: finished 20 steps"), final[STATUS]


# ---------------------------------------------------------------- strategies, "what if", comparing two models

BEST = "#f59e0b"  # amber: the best beam, and the token a "what if" forced


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` (its label) in the dropdown `#elem_id`."""
    page.click(f"#{elem_id} input")
    options = page.get_attribute(f"#{elem_id} input", "aria-controls")  # its own list: others linger closed
    page.locator(f"[id^='{options}-option-'][role=option][aria-label=\"{option}\"]").click()
    wait_until(lambda: page.input_value(f"#{elem_id} input") == option, f"{option!r} chosen in #{elem_id}", 5)


def selected_view(page) -> str | None:
    """The Decode tab's view tab that is selected (Steps, Probabilities, Attention, Beams, What if)."""
    return page.evaluate("() => document.querySelector('#decode-views [role=tab][aria-selected=true]')"
                         "?.innerText.trim() ?? null")


def what_if_shown(page) -> dict[str, str]:
    """The What if table as a reader sees it: row label -> its tokens; and "outlined" -> the outlined tokens."""
    return page.evaluate("""() => {
        const out = {outlined: []};
        for (const row of document.querySelectorAll('#what-if-table tr')) {
            const toks = [...row.querySelectorAll('span.tok')];
            out[row.querySelector('th').innerText.trim()] = toks.map(s => s.innerText).join(' ');
            for (const s of toks) {
                const st = getComputedStyle(s);
                const amber = st.outlineStyle === 'solid' && st.outlineColor === 'rgb(245, 158, 11)';
                if (amber) out.outlined.push(s.innerText);
            }
        }
        return out;
    }""")


def wait_for_what_if(page, token: str, step: int) -> dict[str, str]:
    label = f"what if: {token} at step {step}"
    wait_until(lambda: selected_view(page) == "What if" and page.locator("#what-if-table").count()
               and label in page.inner_text("#what-if-table"), f"the What if tab showing {label!r}", 10)
    return what_if_shown(page)


@pytest.mark.parametrize("size", ["projector", "phone"])
def test_beam_search_opens_its_tree_with_the_best_beam_highlighted(browser, app_url, size):
    page = open_page(browser, app_url, size)
    page.get_by_role("tab", name="Decode").click()
    assert not page.is_visible("#decode-width")
    choose(page, "decode-strategy", "Beam search")
    wait_until(lambda: page.is_visible("#decode-width"), "the beam width shown", 5)
    assert not any(page.is_visible(f"#decode-{c}") for c in ("temperature", "sample-k", "top-p", "seed"))
    assert decode(page, "3 1 4 1 5 9").startswith("9✓ 5✓ 1✓ 4✓ 1✓ 3✓ <eos>✓")
    wait_until(lambda: selected_view(page) == "Beams" and page.locator("#beam-tree svg.beam-tree").count(),
               "the Beams tab selected, with its tree", 10)
    assert "beam search (width 5)" in page.inner_text("#decode-model-info")
    # the best beam, drawn in amber from the start to its <eos>, is the output; the others are listed under it
    best = page.locator("#beam-tree g.node").evaluate_all(
        f"gs => gs.filter(g => g.querySelector('rect').getAttribute('stroke') === '{BEST}')"
        ".map(g => g.querySelector('text').textContent.split(' ')[0])")
    assert best == ["<sos>", "9", "5", "1", "4", "1", "3", "<eos>"]
    assert page.locator("#beam-tree g.node[data-final='0']").count() == 1
    assert page.locator("#beam-tree g.node.pruned").count() > 0  # the dropped hypotheses, faded
    beams = page.locator("#beam-list tbody tr")
    assert beams.count() == 5 and beams.first.inner_text().split("\t")[1].startswith("9 5 1 4 1 3 ✓")
    assert [r.split()[2] for r in step_rows(page)] == ["9", "5", "1", "4", "1", "3", "<eos>"]  # the steps: best beam
    if size == "phone":  # stacked under the verdict and the steps: the tree is a scroll away
        page.locator("#decode-views").scroll_into_view_if_needed()
    wait_until(lambda: in_view(page, "#decode-views [role=tab][aria-selected=true]")
               and in_view(page, "#beam-tree g.node[data-node='0']")
               and in_view(page, "#beam-tree g.node[data-step='1']"),  # the first is the best beam's
               f"the tree's start and first step in view at {size}", 5)
    assert page_fits_its_width(page)  # a wide tree scrolls inside its own box
    screenshot(page, f"decode-beam-{size}")


def test_clicking_a_heatmap_cell_shows_what_if_beside_the_original(page):
    decode(page, "3 1 4 1 5 9")
    page.get_by_role("tab", name="Probabilities").click()
    cell = page.locator("#distribution-table tr[data-step='2'] td[data-token='1']")  # 5 was chosen at step 2
    assert "outline" not in (cell.get_attribute("style") or "")
    cell.click()
    shown = wait_for_what_if(page, "1", 2)
    assert shown["as decoded"] == "9 5 1 4 1 3 <eos>"
    forced = shown["what if: 1 at step 2"].split()
    assert forced[:2] == ["9", "1"] and forced[-1] == "<eos>"  # step 1 as it was, step 2 forced, then the model's
    assert shown["outlined"] == ["1"]
    text = page.inner_text("#what-if-body")
    assert "The model chose 5 (100.0%) at step 2; forced 1" in text and "✓ correct" in text and "✗ wrong" in text
    wait_until(lambda: in_view(page, "#what-if-table"), "the what-if table in view", 5)
    assert page_fits_its_width(page)
    screenshot(page, "decode-what-if-projector")


def test_clicking_an_alternative_in_the_step_table_shows_what_if(page):
    decode(page, "3 1 4 1 5 9")
    row = page.locator("#decode-steps [role=row]").nth(3).locator("[role=gridcell]")  # step 3: chose 1
    assert row.nth(2).inner_text() == "1"
    sent = events(page)["sent"]
    row.nth(2).click()  # the "chosen" cell selects the step, and asks nothing
    wait_for_answers(page, sent, "the server answering the click on the chosen token")
    wait_until(lambda: current_step(page)[0] == "3", "step 3 selected", 5)
    assert selected_view(page) == "Steps" and page.locator("#what-if-table").count() == 0
    second = row.nth(6).inner_text()  # "#2": the runner-up, e.g. "4 0%"
    token = second.split()[0]
    assert token != "1" and second.endswith("%")
    row.nth(6).click()
    shown = wait_for_what_if(page, token, 3)
    assert shown["as decoded"] == "9 5 1 4 1 3 <eos>"
    assert shown[f"what if: {token} at step 3"].split()[:3] == ["9", "5", token]
    assert shown["outlined"] == [token]


def test_clicking_a_bar_in_the_player_shows_what_if(page):
    decode(page, "3 1 4 1 5 9")
    page.click("#playback-next")
    page.click("#playback-next")
    panel = page.locator("#playback-body .s2s-panel:not([hidden])")
    wait_until(lambda: "Step 3 of 7" in panel.inner_text(), "the player at step 3", 5)
    bars = panel.locator(".bar[data-token]")
    assert bars.count() >= 2 and bars.first.get_attribute("data-token") == "1"  # the chosen one first
    token = bars.nth(1).get_attribute("data-token")
    assert bars.nth(1).get_attribute("data-step") == "3" and "what if?" in bars.nth(1).inner_text()
    bars.nth(1).click()
    shown = wait_for_what_if(page, token, 3)
    assert shown[f"what if: {token} at step 3"].split()[:3] == ["9", "5", token] and shown["outlined"] == [token]
    wait_until(lambda: in_view(page, "#what-if-table"), "the what-if table in view", 5)


def test_the_player_shows_five_alternatives_to_click(page):
    # the player's bars are the five most probable tokens of the step (views._step_panel), whatever the
    # Top-k slider says: five alternatives to ask "what if" about
    decode(page, "3 1 4 1 5 9")
    bars = page.locator("#playback-body .s2s-panel:not([hidden]) .bar[data-token]")
    assert bars.count() == 5


def test_sampling_shows_its_controls_and_repeats_with_its_seed(page):
    page.get_by_role("tab", name="Decode").click()
    sampling = [f"#decode-{c}" for c in ("temperature", "sample-k", "top-p", "seed")]
    assert not any(page.is_visible(s) for s in sampling)
    choose(page, "decode-strategy", "Sampling")
    wait_until(lambda: all(page.is_visible(s) for s in sampling), "the sampling controls shown", 5)
    assert not page.is_visible("#decode-width")
    page.fill("#decode-temperature input[type=number]", "2")
    page.press("#decode-temperature input[type=number]", "Enter")
    page.fill("#decode-input textarea", "3 1 4 1 5 9")

    def sample(seed: int) -> tuple[str, list[str]]:
        page.fill("#decode-seed input", str(seed))
        page.press("#decode-seed input", "Tab")
        page.click("#decode-button")
        wait_until(lambda: f"sampling (temperature 2, seed {seed})" in page.inner_text("#decode-model-info")
                   and not any("processing" in page.inner_text(s) for s in ("#decode-verdict", "#decode-steps")),
                   f"the decoding with seed {seed}, every output arrived", 10)
        return page.inner_text("#decode-verdict"), step_rows(page)

    first = sample(4)
    assert len(first[1]) >= 2
    sample(5)
    assert sample(4) == first  # the same seed, the same draw
    choose(page, "decode-strategy", "Greedy")
    wait_until(lambda: not any(page.is_visible(s) for s in sampling), "the sampling controls hidden again", 5)
    assert not page.is_visible("#decode-width")


def test_the_looked_at_strip_follows_playback_for_an_attention_model(page):
    page.get_by_role("tab", name="Decode").click()
    choose(page, "decode-model", "Bundled: copy")
    assert decode(page, "9 2 2 5 0").startswith("9✓ 2✓ 2✓ 5✓ 0✓ <eos>✓")
    assert "bundled copy model" in page.inner_text("#decode-model-info")

    def strip() -> tuple[str, list[str], list[float]]:
        """The visible panel's step heading, and its strip: the source tokens and the weight on each."""
        return page.evaluate("""() => {
            const panel = [...document.querySelectorAll('#playback-body .s2s-panel')].find(p => !p.hidden);
            const spans = [...panel.querySelectorAll('.strip span')];
            return [panel.querySelector('p').innerText, spans.map(s => s.innerText), spans.map(s => +s.title)];
        }""")

    for step in range(1, 6):
        heading = f"Step {step} of 6"
        _, tokens, weights = wait_until(lambda h=heading: (s := strip()) and h in s[0] and s, heading, 5)
        assert tokens == ["9", "2", "2", "5", "0"] and abs(sum(weights) - 1) < 0.02
        assert weights.index(max(weights)) == step - 1, (step, weights)  # copying: it looks at the token it writes
        assert in_view(page, "#playback-body .s2s-panel:not([hidden]) .strip")
        page.click("#playback-next")
    # a model without attention has no strip
    choose(page, "decode-model", "Bundled: reverse")
    decode(page, "3 1 4")
    wait_until(lambda: "Correct answer: 4 1 3" in page.inner_text("#decode-verdict"), "the new decoding", 10)
    assert "bundled reverse model" in page.inner_text("#decode-model-info")
    assert page.locator("#playback-body .strip").count() == 0


@pytest.mark.parametrize("size", ["projector", "phone"])
def test_compare_shows_both_models_and_accuracy_by_length(browser, app_url, size):
    page = open_page(browser, app_url, size)
    set_steps(page, 60)  # a quick model of this session's own, for the reverse task (no attention needed)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:")
    open_tab(page, "Compare", "#compare-button")
    choose(page, "compare-model-a", "Bundled: reverse")
    choose(page, "compare-model-b", "Your model (this session)")
    page.click("#compare-button")
    page.wait_for_selector("#compare-b-body")
    assert page.inner_text("#compare-a-body h4").startswith("A: reverse — ")
    assert page.inner_text("#compare-b-body h4").startswith("B: your model — ")
    # 14 tokens, four more than it was trained on: the bundled model without attention gets it wrong
    assert "✗ not quite" in page.inner_text("#compare-a-body")
    assert "Correct answer: 7 9 8 5 3 5 6 2 9 5 1 4 1 3" in page.inner_text("#compare-b-body")
    # a line per model, and a grey vertical line where lengths longer than any trained on begin
    wait_until(lambda: drawn_lines(page, "by-length-plot") == 3, "a line per model in the by-length plot", 10)
    note = page.inner_text("#by-length-note")
    assert "A: reverse was trained on lengths 3–10" in note and "B: your model was trained on lengths 3–10" in note
    assert note.count("at 14 (longer than any it saw)") == 2
    axis = page.locator("#by-length-plot .role-axis-label text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert "14" in axis or "12" in axis  # the x axis runs past the trained lengths
    assert not page.is_visible("#compare-message")
    wait_until(lambda: in_view(page, "#by-length-plot"), f"the chart in view at {size}", 5)
    if size != "phone":  # side by side where there is width: the answers beside the chart
        assert in_view(page, "#compare-a-body h4") and in_view(page, "#by-length-note")
    assert page_fits_its_width(page)
    screenshot(page, f"compare-{size}")
    page.context.close()


def test_compare_says_what_is_wrong_in_one_sentence(page):
    open_tab(page, "Compare", "#compare-button")
    choose(page, "compare-model-a", "Bundled: copy")
    choose(page, "compare-model-b", "Bundled: copy")
    page.click("#compare-button")
    wait_until(lambda: page.is_visible("#compare-message") and page.inner_text("#compare-message"),
               "the message", 10)
    assert page.inner_text("#compare-message") == "Pick two different models to compare."
    choose(page, "compare-model-b", "Your model (this session)")
    page.click("#compare-button")
    wait_until(lambda: page.inner_text("#compare-message").startswith("You have not trained a model in this session"),
               "the no-model message", 10)
    assert page.locator("#compare-a-body").count() == 0 and page.locator(":text-is('Error')").count() == 0


def test_a_transformer_trains_from_its_preset_and_its_attention_shows_any_layer_and_head(page):
    open_accordion(page, "settings-model")
    page.get_by_label("Transformer").first.check()  # the preset: the form shows only what a Transformer uses
    wait_until(lambda: page.is_visible("#setting-heads") and not page.is_visible("#setting-cell"),
               "the heads field shown and the cell hidden", 10)
    assert page.input_value("#setting-heads input") == "4"
    assert "masked self-attention" in page.inner_text("#model-diagram")
    set_steps(page, 40)
    page.click("#train-button")
    final = wait_for_page_status(page, r"^Done:", timeout=90)
    assert "finished 40 steps" in final
    decode(page, "3 1 4 1 5")
    assert "Transformer, 2 layers, d_model 64, 4 heads" in page.inner_text("#decode-model-info")
    page.get_by_role("tab", name="Attention").click()
    wait_until(lambda: page.is_visible("#decode-attention-head"), "the layer and head choice", 10)
    average = page.inner_text("#attention-table")
    assert "average over every layer and head" in page.inner_text("#decode-attention")
    choose(page, "decode-attention-head", "Layer 2, head 3")
    wait_until(lambda: "layer 2, head 3" in page.inner_text("#decode-attention"), "layer 2's head 3 shown", 10)
    one = page.inner_text("#attention-table")
    assert one != average  # one head is not the average of eight
    rows = page.locator("#attention-table tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):  # each row of one head is a distribution over the 5 source tokens
        cells = [float(x) for x in rows.nth(i).locator("td").all_inner_texts()]
        assert len(cells) == 5 and abs(sum(cells) - 1) < 0.03
    page.get_by_role("tab", name="Train").click()
    page.get_by_label("Tuned default").check()  # back to the seed's architecture: its fields come back
    wait_until(lambda: page.is_visible("#setting-cell") and not page.is_visible("#setting-heads"),
               "the cell shown and the heads hidden", 10)
