"""What a live demo tripped on in the Decode and Compare tabs (issue 18, item 6), each reproduced in Chromium as a
presenter or a visitor meets it, at 1280×720 (projector) and 390×844 (phone, tapped with a touch screen), and
asserted gone: an empty step table before any decoding, a step table cut to three rows, an Attention view with
nothing to show and no way to one, an example tapped on a phone decoding out of sight, a What-if table wider than
the phone, a beam tree only hover could explain, a chart legend cut short, dropdown arrows over their text, and
views a keyboard or a screen reader could not use. Screenshots go to runs/screenshots/tripups-*.png."""
import re

import pytest

from tests.browser.test_browser import (BEST, COUNT_EVENTS, SIZES, browser, choose, decode, in_view, open_tab,  # noqa: F401
                                        open_page, page_fits_its_width, screenshot, selected_view,
                                        wait_for_what_if)
from tests.helpers import wait_until

BOTH = ["projector", "phone"]


def open_sized(browser, app_url, size: str):  # noqa: F811
    """The page at `size`; a phone's with a touch screen, so that taps are taps."""
    return open_page(browser, app_url, size, touch=size == "phone")


@pytest.fixture(params=BOTH)
def sized(request, browser, app_url):  # noqa: F811
    page = open_sized(browser, app_url, request.param)
    yield request.param, page
    page.context.close()


@pytest.fixture
def projector(browser, app_url):  # noqa: F811
    page = open_sized(browser, app_url, "projector")
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, app_url):  # noqa: F811
    page = open_sized(browser, app_url, "phone")
    yield page
    page.context.close()


def press(page, selector: str, size: str) -> None:
    """Click, or on the phone tap, the first element matching `selector`."""
    target = page.locator(selector).first
    target.scroll_into_view_if_needed()
    target.tap() if size == "phone" else target.click()


def open_view(page, name: str) -> None:
    """Open one of the Decode tab's views by its tab, or on a narrow screen from the tabs' "More tabs" menu."""
    tab = page.locator("#decode-views [role=tablist] [role=tab]", has_text=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.click("#decode-views .overflow-menu > button")
        page.locator("#decode-views .overflow-dropdown button", has_text=name).click()
    wait_until(lambda: selected_view(page) == name, f"the {name} view open", 5)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


# ---------------------------------------------------------------- 1. before a decoding


def test_before_a_decoding_every_view_says_what_comes_and_no_empty_table_shows(sized):
    size, page = sized
    page.get_by_role("tab", name="Decode").click()
    page.wait_for_selector("#decode-empty")
    # the step table with headers "1 2 3" and no rows: not drawn until there are steps
    assert not page.is_visible("#decode-steps")
    assert page.locator("#decode-tab [role=columnheader]:visible").count() == 0
    assert "Press Decode" in page.inner_text("#decode-verdict")
    assert "appears here" in page.inner_text("#playback")
    open_view(page, "Probabilities")
    assert "every token’s probability at every step appears here" in page.inner_text("#decode-distribution")
    open_view(page, "Attention")
    assert "where the model looked in the source" in page.inner_text("#decode-attention")
    screenshot(page, f"tripups-decode-empty-{size}")
    open_view(page, "Steps")
    decode(page, "3 1 4")
    wait_until(lambda: page.is_visible("#decode-steps"), "the step table shown with a decoding", 5)
    headers = page.locator("#decode-steps [role=columnheader]").all_inner_texts()
    assert [h.strip() for h in headers] == ["step", "fed in", "chosen", "correct", "probability", "#1", "#2", "#3"]


# ---------------------------------------------------------------- 2. the step table on a projector


def test_the_step_table_shows_every_step_and_its_alternatives_at_1280x720(projector):
    page = projector
    assert decode(page, "3 1 4 1 5 9 2 6 5 3").startswith("3✓ 5✓ 6✓ 2✓ 9✓ 5✓ 1✓ 4✓ 1✓ 3✓ <eos>✓")
    rows = page.locator("#decode-steps [role=row]")
    wait_until(lambda: rows.count() == 12, "a header and 11 steps", 5)

    def whole() -> bool:  # the answer, and every row of the table, each whole inside the window
        return in_view(page, "#decode-verdict-body") and all(in_view(page, f"#decode-steps [role=row] >> nth={i}")
                                                             for i in range(12))
    wait_until(whole, "the answer and all 11 steps in view at 1280×720", 5)
    # nothing hidden inside the table's own box: no scrolling down for steps, nor sideways for the alternatives
    inner = page.evaluate("""() => { const v = document.querySelector('#decode-steps .virtual-table-viewport');
        return [v.scrollHeight - v.clientHeight, v.scrollWidth - v.clientWidth]; }""")
    assert inner[0] <= 1 and inner[1] <= 1, inner
    last = page.locator("#decode-steps [role=columnheader]").last
    assert last.inner_text().strip() == "#3"
    table = box(page, "#decode-steps")
    assert last.bounding_box()["x"] + last.bounding_box()["width"] <= table["x"] + table["width"] + 1
    firsts = [rows.nth(i).locator("[role=gridcell]").nth(5).inner_text().strip() for i in (1, 2)]
    assert firsts == ["3 100%", "5 100%"]  # "#1", whole
    screenshot(page, "tripups-decode-steps-projector")


# ---------------------------------------------------------------- 3. the Attention view, one click from a map


def test_the_attention_view_offers_the_bundled_attention_model_in_one_click(sized):
    size, page = sized
    decode(page, "3 1 4 1 5 9")  # "Automatic": the bundled reverse model, which has no attention
    assert "bundled reverse model" in page.inner_text("#decode-model-info")
    open_view(page, "Attention")
    said = page.inner_text("#decode-attention")
    assert "This model has no attention" in said
    assert "The bundled reverse-attention model learns the same task with attention" in said
    assert "copy or addition" not in said  # not a model of another task
    button = page.locator("#decode-attention-model")
    assert button.is_visible() and button.inner_text() == "Decode this source with the bundled reverse-attention model"
    screenshot(page, f"tripups-attention-offer-{size}")
    press(page, "#decode-attention-model", size)  # the one click
    page.wait_for_selector("#attention-table")
    wait_until(lambda: selected_view(page) == "Attention" and in_view(page, "#attention-table tr[data-step='1']",
                                                                      False),
               "the attention map shown, its first step in view", 10)
    assert page.input_value("#decode-model input") == "Bundled: reverse-attention"
    wait_until(lambda: "bundled reverse-attention model" in page.inner_text("#decode-model-info"),
               "the model line naming it", 5)
    assert "Correct answer: 9 5 1 4 1 3" in page.inner_text("#decode-verdict")
    assert page.locator("#attention-table tbody tr").count() == 7  # 9 5 1 4 1 3 <eos>
    assert not button.is_visible()  # this model has attention: nothing more to offer
    assert page_fits_its_width(page)
    screenshot(page, f"tripups-attention-after-{size}")


# ---------------------------------------------------------------- 4. an example tapped on a phone


def test_tapping_an_example_on_a_phone_brings_the_answer_into_view(phone):
    page = phone
    page.get_by_role("tab", name="Decode").click()
    example = page.locator("#decode-examples button").first
    example.wait_for()
    example.scroll_into_view_if_needed()
    assert not in_view(page, "#decode-verdict")  # the answer's place is below the screen's edge
    source = example.inner_text().strip()
    example.tap()
    answer = " ".join(reversed(source.split()))
    wait_until(lambda: f"Correct answer: {answer}" in page.inner_text("#decode-verdict"), "the example decoded", 15)
    wait_until(lambda: in_view(page, "#decode-verdict-body"), "the answer scrolled into view", 5)
    assert page_fits_its_width(page)
    screenshot(page, "tripups-example-phone")


# ---------------------------------------------------------------- 5. What if on a phone


def test_what_if_fits_a_phone_with_its_marks_in_view(phone):
    page = phone
    decode(page, "3 1 4 1 5 9 2 6 5 3")
    bars = page.locator("#playback-body .s2s-panel:not([hidden]) .bar[data-token]")
    token = bars.nth(1).get_attribute("data-token")
    bars.nth(1).scroll_into_view_if_needed()
    bars.nth(1).tap()
    shown = wait_for_what_if(page, token, 1)
    assert shown["as decoded"] == "3 5 6 2 9 5 1 4 1 3 <eos>" and shown["outlined"] == [token]
    page.locator("#what-if-table").scroll_into_view_if_needed()
    marks = page.locator("#what-if-table td.so-far > span:last-child")
    assert marks.all_inner_texts() == ["✓ correct", "✗ wrong"]
    for i in range(2):  # each mark whole on the screen, without scrolling sideways
        marks.nth(i).scroll_into_view_if_needed()
        assert in_view(page, f"#what-if-table td.so-far >> nth={i} >> span:last-child"), marks.nth(i).inner_text()
    scroll = page.evaluate("() => { const b = document.querySelector('#what-if-table').parentElement; "
                           "return b.scrollWidth - b.clientWidth; }")
    assert scroll <= 1 and page_fits_its_width(page)
    page.locator("#what-if-body").scroll_into_view_if_needed()
    screenshot(page, "tripups-what-if-phone")


# ---------------------------------------------------------------- 6. the beam tree on a touch screen


def test_tapping_a_beam_tree_node_shows_what_hovering_shows(sized):
    size, page = sized
    page.get_by_role("tab", name="Decode").click()
    choose(page, "decode-strategy", "Beam search")
    decode(page, "3 1 4 1 5 9")
    wait_until(lambda: page.locator("#beam-tree svg.beam-tree").count(), "the beam tree", 10)
    legend = page.inner_text("#beam-tree-body")
    assert "Tap or hover a node for its whole sequence" in legend and "Hover a node" not in legend
    node = page.locator("#beam-tree g.node[data-step='2']").nth(1)
    title = node.locator("title").text_content()
    assert re.fullmatch(r"9 \S+: log-probability -[\d.]+( \(dropped\))?", title), title
    node.scroll_into_view_if_needed()
    node.tap() if size == "phone" else node.click()
    wait_until(lambda: page.inner_text("#beam-node-info") == title, "the tapped node's sequence under the tree", 5)
    assert in_view(page, "#beam-node-info", False)
    screenshot(page, f"tripups-beam-tap-{size}")


# ---------------------------------------------------------------- 7. the Compare chart's legend


def test_the_compare_legend_names_both_models_whole(sized):
    size, page = sized
    open_tab(page, "Compare", "#compare-button")
    page.click("#compare-button")  # the default pair: the bundled reverse model without and with attention
    page.wait_for_selector("#compare-b-body", timeout=120_000)
    labels = page.locator("#by-length-plot .role-legend-label text")
    wait_until(lambda: labels.count() == 2, "the legend drawn", 10)
    assert labels.all_text_contents() == ["A: reverse", "B: reverse-attention"]
    page.locator("#by-length-plot").scroll_into_view_if_needed()
    plot = box(page, "#by-length-plot")
    right = min(plot["x"] + plot["width"], page.viewport_size["width"])
    for i in range(2):  # drawn whole inside the chart's box, nothing cut at its edge
        label = labels.nth(i).bounding_box()
        assert label["x"] >= plot["x"] and label["x"] + label["width"] <= right + 0.5, (labels.nth(i).text_content(),
                                                                                         label, plot)
    key = page.inner_text("#by-length-key").strip()
    assert key.startswith("Grey line: the longest source length the models were trained on")
    assert page_fits_its_width(page)
    screenshot(page, f"tripups-compare-{size}")


# ---------------------------------------------------------------- 8. dropdown arrows


@pytest.mark.parametrize("tab", ["Decode", "Compare"])
def test_dropdown_text_ends_before_its_arrow(sized, tab):
    size, page = sized
    open_tab(page, tab, f"#{tab.lower()}-tab")
    menus = page.locator(f"#{tab.lower()}-tab [role=combobox]:visible")
    wait_until(lambda: menus.count() >= 2, f"the {tab} tab's menus", 5)
    for i in range(menus.count()):
        found = menus.nth(i).evaluate("""input => {
            const arrow = input.closest('.wrap-inner').querySelector('.icon-wrap').getBoundingClientRect();
            const style = getComputedStyle(input), r = input.getBoundingClientRect();
            return {name: input.getAttribute('aria-label'), text_end: r.right - parseFloat(style.paddingRight),
                    arrow: arrow.left, ellipsis: style.textOverflow};
        }""")
        assert found["text_end"] <= found["arrow"], found  # the text is cut (with …) before the arrow begins
        assert found["ellipsis"] == "ellipsis", found
    if tab == "Decode":
        screenshot(page, f"tripups-dropdowns-{size}")


# ---------------------------------------------------------------- 9. keyboard and screen readers


def test_heatmap_cells_and_player_bars_answer_the_keyboard(projector):
    page = projector
    decode(page, "3 1 4 1 5 9")
    open_view(page, "Probabilities")
    row = page.locator("#distribution-table tr[data-step='2'] td[data-token]")
    first, second = row.nth(0), row.nth(1)
    first.focus()
    page.keyboard.press("Tab")  # the next cell, reached from the keyboard
    token = second.get_attribute("data-token")
    assert page.evaluate("() => document.activeElement.dataset.token") == token
    assert second.get_attribute("role") == "button"
    label = second.get_attribute("aria-label")
    assert label.startswith(f"step 2, {token}: ") and label.endswith("what if it had chosen this?"), label
    page.keyboard.press("Enter")
    shown = wait_for_what_if(page, token, 2)
    assert shown[f"what if: {token} at step 2"].split()[:2] == ["9", token]

    open_view(page, "Steps")  # the player follows the step chosen in the heatmap: step 2, which chose 5
    bars = page.locator("#playback-body .s2s-panel:not([hidden]) .bar[data-token]")
    assert bars.nth(0).get_attribute("data-step") == "2"
    bars.nth(0).focus()
    assert bars.nth(0).get_attribute("aria-label") == "step 2, 5: 100.0%, chosen"
    page.keyboard.press("Tab")
    token = bars.nth(1).get_attribute("data-token")
    assert page.evaluate("() => document.activeElement.dataset.token") == token
    assert bars.nth(1).get_attribute("aria-label").startswith(f"step 2, {token}: ")
    page.keyboard.press("Space")
    shown = wait_for_what_if(page, token, 2)
    assert shown[f"what if: {token} at step 2"].split()[:2] == ["9", token]


def test_the_beam_tree_has_a_text_alternative_and_marks_the_best_beam_beyond_colour(projector):
    page = projector
    page.get_by_role("tab", name="Decode").click()
    choose(page, "decode-strategy", "Beam search")
    decode(page, "3 1 4 1 5 9")
    wait_until(lambda: page.locator("#beam-tree svg.beam-tree").count(), "the beam tree", 10)
    svg = page.locator("#beam-tree svg.beam-tree")
    assert svg.get_attribute("role") == "img"
    assert "the best beam: 9 5 1 4 1 3" in svg.get_attribute("aria-label")
    # the tree as nested lists, for a screen reader, and out of sight: one item per node drawn
    listed = page.locator("#beam-tree-text li")
    assert listed.count() == page.locator("#beam-tree g.node").count()
    assert not page.locator("#beam-tree-text").is_visible() or box(page, "#beam-tree-text")["width"] <= 1
    said = page.locator("#beam-tree-text").text_content()
    assert "the best final beam" in said and "dropped" in said
    # the best beam: bold along its path and a star at its end, besides amber; the others in normal weight
    nodes = page.locator("#beam-tree g.node").evaluate_all(
        f"""gs => gs.map(g => [g.querySelector('rect').getAttribute('stroke') === '{BEST}',
                                +getComputedStyle(g.querySelector('text')).fontWeight,
                                g.querySelector('text').textContent])""")
    best = [text for amber, _, text in nodes if amber]
    assert all(weight >= 700 for amber, weight, _ in nodes if amber)
    assert all(weight < 700 for amber, weight, _ in nodes if not amber)
    assert best[-1].startswith("<eos>")
    # one star, on the corner of the best beam's last box: both read at one instant (the page may be scrolling)
    star, end = page.evaluate("""() => [document.querySelector('#beam-tree text.star'),
                                         document.querySelector("#beam-tree g.node[data-final='0'] rect")]
                                        .map(e => { const r = e.getBoundingClientRect();
                                                    return {x: r.x, y: r.y, width: r.width, height: r.height}; })""")
    assert page.locator("#beam-tree text.star").count() == 1 and page.locator("#beam-tree text.star").text_content() == "★"
    assert abs(star["x"] + star["width"] / 2 - end["x"]) < 6 and abs(star["y"] + star["height"] / 2 - end["y"]) < 8
    assert page.locator("#beam-list tbody tr").first.locator("td").first.inner_text() == "1 ★ best"
    stroke = page.locator("#beam-tree g.node[data-final='0'] rect").evaluate("r => getComputedStyle(r).stroke")
    assert stroke == "rgb(245, 158, 11)"  # amber as drawn, not the page's default outline over it
    page.locator("#beam-tree svg.beam-tree").scroll_into_view_if_needed()
    screenshot(page, "tripups-beam-best-projector")
