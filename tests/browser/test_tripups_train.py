"""What a live demo tripped on in the Train tab (issue 18, item 6), each reproduced as it was found and held gone:
a preset chosen after a run trains, the seed preset's floor line is drawn whatever ran before, the live preview
is in view at 1280×720, Stop stays reachable on a phone while training."""

from tests.browser.test_browser import browser, drawn_lines, in_view, open_page, screenshot, set_steps, \
    status, wait_for_page_status  # noqa: F401 - browser is a fixture
from tests.helpers import wait_until

import pytest


@pytest.fixture
def page(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url)
    yield page
    page.context.close()


def choose_preset(page, name: str) -> None:
    page.get_by_label(name).check()
    page.wait_for_function("n => document.querySelector('#preset-note').innerText.length > 0 && "
                           "document.querySelector('#preset input:checked')?.value === n", arg=name)


def test_a_preset_chosen_after_a_run_trains_a_new_model_and_says_why(page):
    set_steps(page, 20)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:", timeout=120)
    choose_preset(page, "LSTM + attention (fastest)")
    set_steps(page, 20)
    page.click("#train-button")
    # a new model, saying why the last one could not go on (not a refusal beside the button)
    started = wait_for_page_status(page, r"^(Starting \(new model|Training|Done: finished 20 steps)", timeout=60)
    final = wait_for_page_status(page, r"^Done: finished 20 steps", timeout=120)
    assert not page.is_visible("#settings-message"), page.inner_text("#settings-message")
    assert "step 20 in all" in final, (started, final)  # the preset's model, new: its step count starts again


def test_the_seed_presets_floor_line_is_drawn_after_another_run(page):
    set_steps(page, 20)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:", timeout=120)
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 3, "reverse's loss lines drawn", 15)
    choose_preset(page, "Seed tutorial settings")
    set_steps(page, 60)
    page.click("#train-button")
    wait_for_page_status(page, r"^Done:", timeout=120)
    wait_until(lambda: drawn_lines(page, "loss-plot") == 4, "the loss plot with the seed task's floor line", 15)
    screenshot(page, "seed-floor-after-reverse")
    legend = page.locator("#loss-plot .role-legend-label text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert "floor" in legend, legend  # a short name: the legend cut "best possible" to "best possib"


def axis_labels(page, plot: str) -> list[str]:
    return page.locator(f"#{plot} .role-axis-label text").evaluate_all("ts => ts.map(t => t.textContent)")


def test_at_1280x720_the_results_are_in_view_and_the_plots_never_an_empty_box(page):
    set_steps(page, 300)
    page.click("#train-button")
    # the plots appear with their first points: until then the box says the run is starting
    wait_until(lambda: page.is_visible("#loss-plot") or "Starting" in page.inner_text("#empty-plots"),
               "the starting message or the plots", 30)
    wait_until(lambda: page.is_visible("#loss-plot"), "the plots", 60)
    wait_until(lambda: drawn_lines(page, "loss-plot") >= 2, "the loss plot drawn as it appears", 5)
    wait_until(lambda: page.is_visible("#accuracy-plot") and drawn_lines(page, "accuracy-plot") >= 2,
               "the accuracy plot drawn", 30)
    assert not any("0.0000" in label for label in axis_labels(page, "accuracy-plot")), \
        axis_labels(page, "accuracy-plot")  # a first point alone made the step axis read 0.000000
    wait_for_page_status(page, r"^Done:", timeout=120)
    for part in ("#train-status", "#loss-plot", "#accuracy-plot", "#preview"):
        assert in_view(page, part), part  # what a stakeholder reads, on the projector without scrolling
    screenshot(page, "tripups-train-projector")


@pytest.fixture
def phone(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url, "phone")
    yield page
    page.context.close()


def test_on_a_phone_the_presets_come_first_and_stop_stays_in_reach_while_training(phone):
    page = phone
    preset_top = page.locator("#preset").bounding_box()["y"]
    assert preset_top < page.locator("#train-status").bounding_box()["y"]  # settings first, then results
    assert in_view(page, "#train-button") and in_view(page, "#stop-button")  # the bar at the bottom
    set_steps(page, 3000)
    page.click("#train-button")
    wait_for_page_status(page, r"^Training: step [1-9]", timeout=60)
    for y in (0, 600, 100_000):  # wherever the page is scrolled, Stop is on the screen
        page.evaluate(f"window.scrollTo(0, {y})")
        assert in_view(page, "#stop-button"), y
    page.click("#stop-button")
    assert wait_for_page_status(page, r"^Stopped:", timeout=60)
    assert page_fits_width(page)
    screenshot(page, "tripups-train-phone")


def page_fits_width(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
