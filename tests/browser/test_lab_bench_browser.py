"""The lab bench (issue 19) in Chromium, as a presenter drives it on a 1280×720 projector (clicks) and a 390×844
phone (a touch screen: taps): two runs with different hidden sizes overlaid on the Runs tab, one made current
again and the other deleted; and a run paused, stepped once, its learning rate changed (marked on the loss curve),
continued, slowed and stopped. Screenshots go to runs/screenshots/lab-*.png; with SAVE_SCREENSHOTS=1 also to
docs/lab-runs.png, docs/lab-runs-phone.png, docs/lab-paused.png and docs/lab-paused-phone.png."""
from __future__ import annotations

import os
import re
import time

import pytest

from tests.browser.test_browser import open_tab as shared_open_tab
from tests.browser.test_browser import (  # noqa: F401 - browser: the fixture
    browser,
    drawn_lines,
    in_view,
    open_accordion,
    open_page,
    page_fits_its_width,
    screenshot,
    set_steps,
    status,
    wait_for_page_status,
)
from tests.helpers import ROOT, wait_until

SIZES = ["projector", "phone"]
DOCS = {("runs", "projector"): ROOT / "docs" / "lab-runs.png", ("runs", "phone"): ROOT / "docs" / "lab-runs-phone.png",
        ("paused", "projector"): ROOT / "docs" / "lab-paused.png",
        ("paused", "phone"): ROOT / "docs" / "lab-paused-phone.png"}
FIRST, SECOND = "1: reverse, LSTM 96", "2: Hidden size 96 → 48"  # the runs' labels, as the menus say (legends: 1, 2)


@pytest.fixture(params=SIZES)
def sized(request, browser, app_url):  # noqa: F811
    """(size, page): the projector clicked with a mouse, the phone tapped on a touch screen."""
    page = open_page(browser, app_url, request.param, touch=request.param == "phone")
    yield request.param, page
    page.context.close()


def press(page, selector: str) -> None:
    """A tap on a touch screen, a click elsewhere."""
    target = page.locator(selector).first
    if _touch(page):
        target.tap()
    else:
        target.click()


def _touch(page) -> bool:
    return page.evaluate("() => navigator.maxTouchPoints > 0")


def save(page, what: str, size: str) -> None:
    screenshot(page, f"lab-{what}-{size}")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        page.screenshot(path=DOCS[what, size])


def open_tab(page, name: str) -> None:
    shared_open_tab(page, name, {"Runs": "#runs-table", "Train": "#train-status"}[name])


def pick(page, elem_id: str, option: str) -> None:
    """Pick `option` (its label) in the dropdown `#elem_id`, tapping on a touch screen."""
    press(page, f"#{elem_id} input")
    options = page.get_attribute(f"#{elem_id} input", "aria-controls")  # its own list: others linger closed
    press(page, f"[id^='{options}-option-'][role=option][aria-label=\"{option}\"]")
    wait_until(lambda: page.input_value(f"#{elem_id} input") == option, f"{option!r} chosen in #{elem_id}", 5)


def table_rows(page) -> list[list[str]]:
    """The runs' table as a reader sees it: each run's cells (the header row left out)."""
    rows = page.locator("#runs-table [role=row]")
    return [[c.strip() for c in rows.nth(i).locator("[role=gridcell]").all_inner_texts()]
            for i in range(rows.count()) if rows.nth(i).locator("[role=gridcell]").count()]


def legend(page, plot: str) -> list[str]:
    """The entries of a LinePlot's Vega legend (its SVG text)."""
    return page.locator(f"#{plot} svg .role-legend-label text").evaluate_all("ts => ts.map(t => t.textContent)")


def legend_fits(page, plot: str) -> bool:
    """Every entry of the plot's legend ends inside the plot (a Vega legend is one row, cut at the plot's edge)."""
    return page.locator(f"#{plot} svg").first.evaluate(
        "svg => { const right = svg.getBoundingClientRect().right; return [...svg.querySelectorAll("
        "'.role-legend-label text')].every(t => t.getBoundingClientRect().right <= right + 1); }")


def shown_step(page) -> int | None:
    """The step the status says the run is at (while training, paused or after One step)."""
    found = re.search(r"(?:step|Step) ([\d,]+)", status(page))
    return int(found[1].replace(",", "")) if found else None


def train_and_wait(page) -> str:
    """Press Train and wait for this run's end (the status first leaves the last run's sentence)."""
    before = status(page)
    press(page, "#train-button")
    wait_until(lambda: status(page) != before, "the status leaving the last run's sentence", 30)
    return wait_for_page_status(page, r"^Done:", timeout=90)


# ---------------------------------------------------------------- two runs overlaid on the Runs tab


def test_two_runs_are_overlaid_and_one_is_made_current_and_one_deleted(sized):
    size, page = sized
    set_steps(page, 150)
    first = train_and_wait(page)
    assert "finished 150 steps" in first, first
    open_accordion(page, "settings-model")
    page.fill("#setting-hidden-dim input", "48")  # a new shape: Train starts a new model, so a new run
    page.press("#setting-hidden-dim input", "Tab")
    second = train_and_wait(page)
    assert "finished 150 steps" in second, second

    open_tab(page, "Runs")
    wait_until(lambda: len(table_rows(page)) == 2, "both runs in the table", 15)
    rows = table_rows(page)
    assert rows[0][:2] == ["■ 1", "reverse, LSTM 96"] and rows[1][:2] == ["■ 2", "Hidden size 96 → 48 (current)"], rows
    for row in rows:  # its exact match (a percentage), the step of the weights it keeps, its steps
        assert re.fullmatch(r"\d+\.\d%", row[2]) and row[4] == "150", row
    assert "Hidden size 96 → 48" in rows[1][7]  # what differs from the first run
    colours = page.locator("#runs-table [role=gridcell]:has-text('■')").evaluate_all(
        "cs => cs.map(c => getComputedStyle(c.querySelector('span, div') || c).color)")
    assert len(set(colours)) == 2, colours  # each run's ■ in its own colour
    for plot in ("runs-loss", "runs-accuracy"):
        wait_until(lambda p=plot: drawn_lines(page, p) == 2, f"a line per run in #{plot}", 15)
        wait_until(lambda p=plot: legend(page, p) == ["1", "2"], f"both runs in #{plot}'s legend", 10)
        assert legend_fits(page, plot), f"#{plot}'s legend is cut at {size}"
    # unticking a run takes its line out of both plots, and ticking it puts it back
    press(page, f"#runs-overlay label:has-text('{FIRST}')")
    for plot in ("runs-loss", "runs-accuracy"):
        wait_until(lambda p=plot: drawn_lines(page, p) == 1 and legend(page, p) == ["2"],
                   f"only run 2 in #{plot}", 15)
    press(page, f"#runs-overlay label:has-text('{FIRST}')")
    for plot in ("runs-loss", "runs-accuracy"):
        wait_until(lambda p=plot: drawn_lines(page, p) == 2, f"both runs again in #{plot}", 15)
    page.locator("#runs-plots").scroll_into_view_if_needed()
    wait_until(lambda: in_view(page, "#runs-loss") and in_view(page, "#runs-accuracy"),
               f"both plots in view at {size}", 5)  # side by side, or stacked on a phone (one screen: 2 × 200 px)
    assert page_fits_its_width(page)
    page.evaluate("() => document.querySelector('#runs-table').scrollIntoView({block: 'start'})")
    save(page, "runs", size)

    # run 1 becomes the session's model again: the Runs tab and the Train tab say so
    pick(page, "run-choice", FIRST)
    wait_until(lambda: page.input_value("#run-name textarea") == "reverse, LSTM 96", "the chosen run's name", 10)
    press(page, "#make-current")
    made = "Run 1 “reverse, LSTM 96” is the current model"
    wait_until(lambda: page.is_visible("#runs-message") and made in page.inner_text("#runs-message"),
               "the Runs tab saying run 1 is current", 15)
    wait_until(lambda: [r[1] for r in table_rows(page)] == ["reverse, LSTM 96 (current)", "Hidden size 96 → 48"],
               "the table marking run 1 current", 10)
    open_tab(page, "Train")
    wait_until(lambda: made in status(page) and "Press Train to continue it from step 150" in status(page),
               f"the Train tab's status saying run 1 is current (it says {status(page)!r})", 10)
    assert page.is_visible("#train-status") and page.input_value("#setting-hidden-dim input") == "96"

    # run 2 deleted: one row, one line
    open_tab(page, "Runs")
    wait_until(lambda: len(table_rows(page)) == 2, "the table shown again", 10)
    pick(page, "run-choice", SECOND)
    press(page, "#delete-run")
    wait_until(lambda: len(table_rows(page)) == 1, "one run left in the table", 15)
    assert table_rows(page)[0][:2] == ["■ 1", "reverse, LSTM 96 (current)"]
    assert "Deleted run “2: Hidden size 96 → 48”" in page.inner_text("#runs-message")
    wait_until(lambda: drawn_lines(page, "runs-loss") == 1 and legend(page, "runs-loss") == ["1"],
               "one line left in the loss plot", 10)
    assert page_fits_its_width(page)


# ---------------------------------------------------------------- Pause, One step, Apply, Continue, Slow, Stop


def label(page, selector: str) -> str:
    return page.inner_text(selector).strip()


BUTTONS = ["#train-button", "#stop-button", "#pause-button", "#step-button", "#slow-button"]


def start_long_run(page) -> None:
    set_steps(page, 2000)  # longer than the test: it never finishes by itself
    press(page, "#train-button")
    wait_for_page_status(page, r"^Training: step [\d,]+ / 2,000", timeout=60)


def stop_run(page) -> str:
    press(page, "#stop-button")
    return wait_for_page_status(page, r"^(Stopped|Done):", timeout=60)


def test_three_runs_overlaid_are_drawn_in_a_legend_that_fits_a_phone(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url, "phone", touch=True)  # the narrowest legend
    try:
        set_steps(page, 40)
        open_accordion(page, "settings-model")
        for hidden in ("96", "48", "32"):  # a new shape each time: a new run
            page.fill("#setting-hidden-dim input", hidden)
            page.press("#setting-hidden-dim input", "Tab")
            assert "finished 40 steps" in train_and_wait(page)
        open_tab(page, "Runs")
        wait_until(lambda: len(table_rows(page)) == 3, "three runs in the table", 15)
        for plot in ("runs-loss", "runs-accuracy"):
            wait_until(lambda p=plot: drawn_lines(page, p) == 3 and legend(page, p) == ["1", "2", "3"],
                       f"three runs drawn in #{plot}", 15)
            assert legend_fits(page, plot)
        press(page, "#runs-overlay label:has-text('1: ')")
        for plot in ("runs-loss", "runs-accuracy"):
            wait_until(lambda p=plot: drawn_lines(page, p) == 2 and legend(page, p) == ["2", "3"],
                       f"runs 2 and 3 drawn in #{plot}", 15)
        assert page_fits_its_width(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["projector", "phone"])
def test_the_pace_buttons_are_in_view_while_training_without_scrolling(browser, app_url, size):  # noqa: F811
    page = open_page(browser, app_url, size, touch=size == "phone")
    try:
        start_long_run(page)
        for b in BUTTONS:
            assert page.is_visible(b), b
        try:
            shown = {b: in_view(page, b) for b in BUTTONS}
            assert all(shown.values()), (size, shown)  # where Train left the page: no scrolling to reach them
            if size == "phone":  # in the bar fixed at the bottom, wherever the page is scrolled
                assert page.evaluate("() => getComputedStyle(document.querySelector('#train-buttons')).position") \
                    == "fixed"
                for y in (0, 600, 100_000):
                    page.evaluate(f"window.scrollTo(0, {y})")
                    assert all(in_view(page, b) for b in BUTTONS), y
                assert page_fits_its_width(page)
        finally:
            stop_run(page)
    finally:
        page.context.close()


def test_pause_one_step_change_continue_slow_and_stop(sized):
    size, page = sized
    start_long_run(page)
    buttons = BUTTONS
    assert [label(page, b) for b in buttons] == ["Train", "Stop", "Pause", "One step", "Slow"]
    assert all(page.is_visible(b) for b in buttons)
    page.locator("#train-controls").scroll_into_view_if_needed()  # where a presenter finds them (see above)

    # Pause: the step it held at, the button says Continue, the rates to change in the mode's place
    press(page, "#pause-button")
    paused = wait_for_page_status(page, r"^Paused after step [\d,]+\.")
    wait_until(lambda: label(page, "#pause-button") == "Continue", "Pause reading Continue", 5)
    assert page.is_visible("#paused-box") and not page.is_visible("#train-mode")
    assert float(page.input_value("#paused-lr input")) == pytest.approx(0.0075)
    assert "learning rate and teacher forcing can be changed now" in paused

    # One step: a single update, in words
    # (paused after step 0, too, on a busy machine: before the first step)
    step, = wait_until(lambda: status(page).startswith("Paused") and (s := shown_step(page)) is not None and (s,),
                       "a paused step")
    press(page, "#step-button")
    report = wait_for_page_status(page, rf"^Step {step + 1:,}: loss \d+\.\d{{4}}")
    assert "gradient norm" in report and "learning rate" in report, report
    assert label(page, "#pause-button") == "Continue" and page.is_visible("#paused-box")

    # a new learning rate from the next step, marked on the loss curve
    page.fill("#paused-lr input", "0.001")
    page.press("#paused-lr input", "Tab")
    press(page, "#apply-change")
    # (only what changed is said: the teacher forcing was left as it was)
    applied = wait_for_page_status(page, r"^From step [\d,]+: learning rate 0\.001 "
                                         r"\(marked on the loss curve\)\.$")
    assert applied.startswith(f"From step {step + 2:,}:"), applied
    assert not page.is_visible("#settings-message")
    press(page, "#step-button")
    report = wait_for_page_status(page, rf"^Step {step + 2:,}: loss")
    rate = float(re.search(r"learning rate (\d+(?:\.\d+)?(?:e-?\d+)?)", report)[1])
    assert rate <= 0.001, report  # the new rate (decayed on its linear schedule), not the 0.0075 before
    wait_until(lambda: "changed" in legend(page, "loss-plot"), "a 'changed' entry in the loss plot's legend", 15)
    assert legend(page, "loss-plot") == ["raw", "smoothed", "held-out", "changed"]
    assert legend_fits(page, "loss-plot"), f"the loss plot's legend is cut at {size}"
    page.locator("#train-status").scroll_into_view_if_needed()
    if size == "projector":  # the report and the mark on one screen
        assert in_view(page, "#train-status") and in_view(page, "#loss-plot")
    assert page_fits_its_width(page)
    save(page, "paused", size)

    # Continue: as it was, the mode back in its place
    press(page, "#pause-button")
    wait_for_page_status(page, r"^(Continuing from step|Training: step)")
    wait_until(lambda: label(page, "#pause-button") == "Pause" and page.is_visible("#train-mode")
               and not page.is_visible("#paused-box"), "Continue reading Pause again, the mode back", 5)

    # Slow: a few steps a second (an upper bound only: a slow machine may take fewer)
    press(page, "#slow-button")
    wait_until(lambda: label(page, "#slow-button") == "Full speed", "Slow reading Full speed", 5)
    first = wait_for_page_status(page, r"^Training: step")  # a progress line after the Slow sentence, and
    wait_until(lambda: status(page).startswith("Training: step") and status(page) != first,  # the next (never one
               "a second progress line at the slow pace", 15)                      # sent before Slow took hold)
    start = shown_step(page)
    began = time.monotonic()
    time.sleep(2)  # the window the pace is measured over
    seconds = time.monotonic() - began
    wait_for_page_status(page, r"^Training: step")
    assert shown_step(page) - start <= 6 * seconds, (start, status(page))  # about 3 a second, never 100s
    wait_until(lambda: shown_step(page) > start, "the slowed run still stepping", 15)

    # Full speed, then Stop: the model is kept, the buttons as they start
    press(page, "#slow-button")
    wait_until(lambda: label(page, "#slow-button") == "Slow", "Full speed reading Slow again", 5)
    final = stop_run(page)
    assert "The model is kept" in final or "Kept the model" in final or final.startswith("Done:"), final
    wait_until(lambda: [label(page, b) for b in buttons[2:]] == ["Pause", "One step", "Slow"]
               and page.is_visible("#train-mode") and not page.is_visible("#paused-box"),
               "the buttons and the mode as they start", 10)
