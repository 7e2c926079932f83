"""The app in a real browser: Playwright driving Debian's Chromium against `python app.py`.

Locally without Chromium these skip, saying why; in CI (CI=true) a missing browser is a failure.
Screenshots of each tab go to runs/screenshots/ (README shows one).
"""
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client

from seq2seq import load_checkpoint

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent.parent / "runs" / "screenshots"


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


@pytest.fixture
def page(browser, app_url):
    """A fresh browser context (its own Gradio session) with the app loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#train-button")
    yield page
    context.close()


def status(page) -> str:
    return page.input_value("#train-status textarea")


def wait_for_status(page, pattern: str, timeout: float = 30.0) -> str:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        text = status(page)
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"status never matched {pattern!r} in {timeout} s; last: {status(page)!r}")


def drawn_lines(page, plot: str) -> int:
    """How many series the LinePlot has drawn (Vega's SVG paths with points in them)."""
    return page.locator(f"#{plot} .mark-line path").evaluate_all(
        "paths => paths.filter(p => (p.getAttribute('d') || '').length > 20).length")


def wait_for_lines(page, plot: str, n: int, timeout: float) -> None:
    start = time.perf_counter()
    while drawn_lines(page, plot) < n:
        assert time.perf_counter() - start < timeout, f"{plot} did not draw {n} lines within {timeout} s"
        time.sleep(0.2)


def decode(page, source: str) -> str:
    page.get_by_role("tab", name="Decode").click()
    page.fill("#decode-input textarea", source)
    page.click("#decode-button")
    page.wait_for_function("() => document.querySelector('#decode-output textarea').value.length > 0")
    return page.input_value("#decode-output textarea")


def step_rows(page) -> list[str]:
    rows = page.locator("#decode-steps [role=row]")
    return [rows.nth(i).inner_text() for i in range(1, rows.count())]  # row 0 is the header


def test_decode_shows_every_step_and_plays_them_back(page):
    assert decode(page, "3 1 4 1 5 9") == "9 5 1 4 1 3"
    rows = step_rows(page)
    assert len(rows) == 7  # six digits plus <eos>
    assert [r.split()[2] for r in rows] == ["9", "5", "1", "4", "1", "3", "<eos>"]
    assert all("✓" in r for r in rows)
    assert "bundled reverse model" in page.inner_text("#decode-model-info")
    assert "✓ correct" in page.inner_text("#decode-verdict")
    assert page.locator("#distribution-table tbody tr").count() == 7

    page.click("#playback-next")
    page.click("#playback-next")
    page.wait_for_function("() => document.querySelector('#playback').innerText.includes('Step 3 of 7')")
    playback = page.inner_text("#playback")
    assert re.search(r"Output so far: 9 5 1\s", playback) and "← chosen" in playback
    page.click("#playback-prev")
    page.wait_for_function("() => document.querySelector('#playback').innerText.includes('Step 2 of 7')")
    page.click("#playback-play")  # plays every step, ending on <eos>
    page.wait_for_function("() => document.querySelector('#playback').innerText.includes('Step 7 of 7')",
                           timeout=15_000)
    assert re.search(r"Output so far: 9 5 1 4 1 3 <eos>", page.inner_text("#playback"))

    page.locator("#decode-examples button").first.click()  # a held-out example fills the source
    example = page.input_value("#decode-input textarea")
    assert re.fullmatch(r"\d( \d){2,9}", example)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    decode(page, "3 1 4 1 5 9")
    page.screenshot(path=SCREENSHOTS / "decode.png", full_page=True)


def test_default_preset_learns_reverse_and_decodes_with_the_trained_model(page, tmp_path):
    page.click("#train-button")
    wait_for_status(page, r"^Training: step")
    wait_for_lines(page, "loss-plot", 2, timeout=8)      # train loss and val loss
    wait_for_lines(page, "accuracy-plot", 2, timeout=8)  # exact match and token accuracy
    final = wait_for_status(page, r"^Done:", timeout=90)
    exact = float(re.search(r"held-out exact match ([\d.]+)%", final)[1])
    assert exact >= 99.0, final
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "train.png", full_page=True)
    assert "seq2seq-reverse-step1500.zip" in page.inner_text("#download-checkpoint").replace("\n", "")
    with page.expect_download() as download:
        page.locator("#download-checkpoint a").first.click()
    saved = tmp_path / "model.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        z.extractall(tmp_path)
    assert load_checkpoint(tmp_path / "seq2seq-reverse-step1500").training["exact_match"] >= 0.99

    assert decode(page, "7 0 2 2 8 1 5") == "5 1 8 2 2 0 7"
    assert "your model (trained here, step 1,500)" in page.inner_text("#decode-model-info")


def test_stop_keeps_the_model_and_the_curve(page):
    page.get_by_text("Training", exact=True).click()  # open the accordion
    page.fill("#steps input", "0")
    page.get_by_label("Decay learning rate to a tenth").uncheck()
    page.click("#train-button")
    wait_for_status(page, r"^Training: step")
    time.sleep(1.5)
    page.click("#stop-button")
    stopped_at = time.perf_counter()
    final = wait_for_status(page, r"^Stopped:", timeout=10)
    assert time.perf_counter() - stopped_at < 3
    assert "The model is kept" in final
    assert drawn_lines(page, "loss-plot") == 2  # the curve stays
    step = re.search(r"step ([\d,]+) in all", final)[1]
    assert decode(page, "1 2 3")  # whatever a partly trained model says, it says it with that model:
    assert f"your model (trained here, step {step})" in page.inner_text("#decode-model-info")


def test_seed_preset_fills_the_seed_settings_and_says_why_the_loss_stays_flat(page):
    page.get_by_label("Seed tutorial settings").check()
    page.wait_for_function("() => document.querySelector('#preset-note').innerText.includes('nothing to learn')")
    assert page.input_value("#task input") == "random"
    page.get_by_text("Training", exact=True).click()
    assert page.input_value("#steps input") == "1000"


def test_closing_the_browser_stops_its_training(browser, app_url):
    context = browser.new_context()
    page = context.new_page()
    page.goto(app_url)
    page.get_by_text("Training", exact=True).click()
    page.fill("#steps input", "0")
    page.get_by_label("Decay learning rate to a tenth").uncheck()
    page.click("#train-button")
    wait_for_status(page, r"^Training: step")
    context.close()  # the visitor leaves while training (60 s budget) holds the only slot
    started = time.perf_counter()
    client = Client(app_url, analytics_enabled=False, verbose=False)
    final = list(client.submit(steps=20, api_name="/train"))[-1]
    assert final[2].startswith("Done: finished 20 steps")
    assert time.perf_counter() - started < 20  # the slot freed long before the 60 s budget ran out
