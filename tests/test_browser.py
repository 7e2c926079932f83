"""The app in a real browser, as a presenter sees it: Playwright driving Debian's Chromium against `python app.py`,
on a 1280×720 projector, a 390×844 phone and a 1400×1000 desktop.

Locally without Chromium these skip, saying why; in CI (CI=true) a missing browser is a failure.
Screenshots of each tab at each size go to runs/screenshots/ (README shows them).
"""
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client

import settings
from seq2seq import load_checkpoint
from seq2seq.checkpoint import write_checkpoint_zip

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent.parent / "runs" / "screenshots"
SIZES = {"projector": (1280, 720), "phone": (390, 844), "desktop": (1400, 1000)}


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


def open_page(browser, app_url, size: str = "projector"):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#train-button")
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


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def status(page) -> str:
    return page.input_value("#train-status textarea")


def wait_until(condition, what: str, timeout: float = 30.0):
    start = time.perf_counter()
    while True:
        value = condition()
        if value:
            return value
        assert time.perf_counter() - start < timeout, f"{what} within {timeout} s"
        time.sleep(0.1)


def wait_for_status(page, pattern: str, timeout: float = 30.0) -> str:
    return wait_until(lambda: re.search(pattern, status(page)) and status(page),
                      f"status matching {pattern!r} (last: {status(page)!r})", timeout)


def drawn_lines(page, plot: str) -> int:
    """How many series the LinePlot has drawn (Vega's SVG paths with points in them)."""
    return page.locator(f"#{plot} .mark-line path").evaluate_all(
        "paths => paths.filter(p => (p.getAttribute('d') || '').length > 20).length")


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
    page.locator(f"#{elem_id} > button").first.click()


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
    page.fill("#decode-input textarea", source)
    page.click("#decode-button")
    page.wait_for_function("s => document.querySelector('#playback-body') && "
                           "document.querySelector('#decode-verdict').innerText.includes('Output:') && "
                           "document.querySelector('#playback-body').innerText.length > 0", arg=source)
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
    wait_for_status(page, rf"^Training: step [\d,]+ / {steps:,}")
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 3, "raw, smoothed and held-out loss drawn", 15)
    wait_until(lambda: drawn_lines(page, "accuracy-plot") >= 2, "exact match and token accuracy drawn", 15)
    first_preview = page.inner_text("#preview")
    wait_until(lambda: in_view(page, "#train-status") and in_view(page, "#loss-plot")
               and in_view(page, "#accuracy-plot"), f"status and both plots in view at {size}", 5)
    previews = {first_preview}
    while not status(page).startswith(("Done:", "Stopped:")):
        previews.add(page.inner_text("#preview"))
        time.sleep(0.2)
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
    wait_until(lambda: in_view(page, "#decode-verdict") and in_view(page, "#decode-steps [role=row] >> nth=2", False),
               f"the marked output and the first steps in view at {size}", 5)
    if size != "phone":  # side by side where there is width
        assert in_view(page, "#playback-body .s2s-controls") and in_view(page, "#playback-body .s2s-panel")
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
    wait_until(lambda: current_step(page)[:2] == ["1", "1"], "step 1 highlighted after decoding", 5)
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
    page.get_by_role("tab", name="Step by step").click()
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
    final = wait_for_status(page, r"^Done:")
    assert not page.is_visible("#settings-message")
    page.click("#stop-button")
    time.sleep(1)  # nothing to await: the point is that nothing changes
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
    set_steps(page, 300)
    page.click("#train-button")
    wait_for_status(page, r"^Done:", timeout=60)
    wait_until(lambda: drawn_lines(page, "loss-plot") == 4, "the loss plot with its floor line", 5)


def test_loading_a_checkpoint_makes_it_the_model_everywhere(page, tmp_path):
    archive = write_checkpoint_zip("checkpoints/sort", tmp_path / "sort-model.zip")
    open_accordion(page, "save-load")
    page.set_input_files("input[type=file][accept='.zip']", str(archive))  # the Load button's file input
    wait_for_status(page, r"^Loaded sort-model\.zip")
    assert "step 2,000" in status(page) and "Press Train to continue it from step 2,000" in status(page)
    assert page.input_value("#setting-task input") == "sort" and page.is_visible("#accuracy-plot")
    set_steps(page, 20)
    page.click("#train-button")
    final = wait_for_status(page, r"^Done:")
    assert "step 2,020 in all" in final
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 3, "the loaded model's loss drawn as it trains on", 5)
    output = decode(page, "5 3 9 1")
    assert "your model (uploaded sort-model.zip, step 2,020)" in page.inner_text("#decode-model-info"), output


def test_the_trained_model_downloads_and_decodes(page, tmp_path):
    set_steps(page, 300)
    page.click("#train-button")
    wait_for_status(page, r"^Done:", timeout=60)
    open_accordion(page, "save-load")
    with page.expect_download() as download:
        page.click("#download-checkpoint")
    saved = tmp_path / "model.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        z.extractall(tmp_path)
    assert load_checkpoint(tmp_path / "seq2seq-reverse-step300").training["steps"] == 300
    decode(page, "7 0 2 2 8 1 5")
    assert "your model (trained here, step 300)" in page.inner_text("#decode-model-info")


def test_closing_the_browser_stops_its_training(browser, app_url):
    page = open_page(browser, app_url)
    set_steps(page, 0)
    open_accordion(page, "settings-training")
    page.locator("#setting-lr-decay input").uncheck()
    page.click("#train-button")
    wait_for_status(page, r"^Training: step")
    page.context.close()  # the visitor leaves while training (120 s budget) holds the only slot
    started = time.perf_counter()
    client = Client(app_url, analytics_enabled=False, verbose=False)
    final = list(client.submit(steps=20, api_name="/train"))[-1]
    assert final[2].startswith("Done: finished 20 steps")
    assert time.perf_counter() - started < 20  # the slot freed long before the budget ran out
