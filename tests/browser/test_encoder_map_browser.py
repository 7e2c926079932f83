"""The Encoder map tab in Chromium, on a 1280×720 projector and a 390×844 phone: Draw the map draws one point per
held-out source with a legend of the colours, the note beside (or under) it says how much of the variance each axis
explains, and the page never scrolls sideways. Screenshots go to runs/screenshots/encoder-map-*.png; with
SAVE_SCREENSHOTS=1 they are also written to docs/encoder-map.png (projector), docs/encoder-map-phone.png and
docs/encoder-map-attention.png."""
from __future__ import annotations

import os
import re

import pytest

from tests.browser.test_browser import open_tab as shared_open_tab
from tests.browser.test_browser import (  # noqa: F401 - browser: the fixture
    browser,
    choose,
    in_view,
    open_page,
    page_fits_its_width,
    screenshot,
)
from tests.helpers import ROOT, wait_until

DOCS = {"projector": ROOT / "docs" / "encoder-map.png", "phone": ROOT / "docs" / "encoder-map-phone.png",
        "attention": ROOT / "docs" / "encoder-map-attention.png"}


def open_tab(page, name: str) -> None:
    shared_open_tab(page, name, "#map-button")


def marks(page) -> int:
    """The points Vega has drawn in the map (its SVG's symbol paths, or a canvas's marks counted by its scenegraph)."""
    return page.evaluate("""() => {
        const plot = document.querySelector('#encoder-map');
        if (!plot) return 0;
        const symbols = plot.querySelectorAll('.mark-symbol path');
        if (symbols.length) return symbols.length;
        return plot.querySelector('canvas') ? -1 : 0; }""")


def legend(page) -> list[str]:
    """The colours' key under the map: its title, then each category."""
    return page.locator("#map-legend-body > *").evaluate_all("es => es.map(e => e.textContent.trim())")


@pytest.mark.parametrize("size", ["projector", "phone"])
def test_drawing_the_map_shows_points_legend_and_explained_variance(browser, app_url, size):  # noqa: F811
    page = open_page(browser, app_url, size)
    open_tab(page, "Encoder map")
    assert "Draw the map" in page.inner_text("#map-note")  # before: what pressing it will show
    page.locator("#map-button").click()
    wait_until(lambda: marks(page) != 0, "the map's points drawn", 30)
    drawn = marks(page)
    assert drawn == -1 or drawn >= 300, drawn  # one mark per held-out source (an SVG counts them)
    assert legend(page) == ["length", *(str(n) for n in range(3, 11))]  # lengths 3-10, in order, after its title
    assert page.locator("#map-legend-body").is_visible()
    axes = page.locator("#encoder-map .role-axis-title text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert any(re.fullmatch(r"PC1 \(\d+% of the variance\)", a) for a in axes), axes
    assert any(re.fullmatch(r"PC2 \(\d+% of the variance\)", a) for a in axes), axes
    note = page.locator("#map-note")
    assert re.search(r"PC1 explains \d+% of the variance, PC2 \d+%: together \d+%", note.inner_text())
    assert note.is_visible() and not page.is_visible("#map-message")
    assert page_fits_its_width(page)  # no sideways scrolling, also on the phone
    page.locator("#encoder-map").scroll_into_view_if_needed()
    if size == "projector":  # on a projector: the map, its key and the note's figures all in one screen
        assert in_view(page, "#encoder-map") and in_view(page, "#map-legend-body") and in_view(page, "#map-note")
    screenshot(page, f"encoder-map-{size}")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        page.screenshot(path=DOCS[size])
    page.context.close()


def test_colouring_by_first_token_redraws_and_an_attention_model_gets_the_caveat(browser, app_url):  # noqa: F811
    page = open_page(browser, app_url, "projector")
    open_tab(page, "Encoder map")
    choose(page, "map-model", "Bundled: reverse-attention")
    page.locator('#map-colour [data-testid="first token-radio-label"]').click()  # a new colouring draws at once
    wait_until(lambda: "only part of the story" in page.inner_text("#map-note"), "the attention caveat", 30)
    wait_until(lambda: legend(page) == ["first token", *"0123456789"], "the first tokens in the legend", 10)
    assert "Coloured by first token" in page.inner_text("#map-note")
    screenshot(page, "encoder-map-attention")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        page.screenshot(path=DOCS["attention"])
    page.context.close()
