"""The app in a real headless Chromium: load the page, press Generate, get an audio player."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TIMEOUT_S = 150


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            "Chromium or chromedriver missing; install with: apt-get install chromium chromium-driver "
            "(make test does this where apt is available)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--window-size=1400,1800", f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def set_number(driver, elem_id: str, value: int) -> None:
    """Type `value` into a Gradio number box (Ctrl-A selects nothing in one: the typing was appended)."""
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("css selector", f"#{elem_id} input[type=number]")
    driver.execute_script("arguments[0].select()", field)
    field.send_keys(str(value), Keys.TAB)
    assert field.get_attribute("value") == str(value)


def finished(driver):
    return "used:" in driver.find_element("css selector", "#status").text


def compose_two_bars(browser, app_url: str):
    """Open the app, compose 2 bars and wait for them; the wait, for more."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(app_url)
    wait = WebDriverWait(browser, TIMEOUT_S)
    button = wait.until(lambda d: d.find_element("css selector", "#generate"))
    set_number(browser, "bars", 2)
    button.click()
    wait.until(finished)
    return wait


def test_generate_in_the_browser_gives_an_audio_player(browser, app_url, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(app_url)
    wait = WebDriverWait(browser, TIMEOUT_S)
    button = wait.until(lambda d: d.find_element("css selector", "#generate"))
    set_number(browser, "bars", 2)  # short pieces keep the test fast
    button.click()
    wait.until(finished)
    # Gradio's player streams the WAV through wavesurfer, so the <audio> tag carries the variation's label
    # (with its seed) and the WAV itself is the download link served by the app.
    wait.until(lambda d: d.find_elements("css selector", 'audio[data-testid^="audio-player-Variation 1"]'))
    wavs = [a.get_attribute("href") for a in browser.find_elements("css selector", "a[href]")]
    wavs = [href for href in wavs if ".wav" in href]
    assert wavs and wavs[0].startswith(app_url.rstrip("/"))
    assert "seed" in browser.find_element(
        "css selector", 'audio[data-testid^="audio-player-Variation 1"]'
    ).get_attribute("data-testid")
    assert browser.find_elements("css selector", ".sheet-music svg")  # the engraved score beside the roll
    browser.save_screenshot(str(tmp_path / "compose.png"))
    assert (tmp_path / "compose.png").stat().st_size > 0


def test_the_composed_piece_is_judged_in_the_evaluate_tab(browser, app_url):

    wait = compose_two_bars(browser, app_url)
    (tab,) = [b for b in browser.find_elements("css selector", "button[role=tab]") if b.text == "Evaluate"]
    tab.click()
    wait.until(lambda d: d.find_element("css selector", "#evaluate").is_displayed())
    # The app made the fresh corpus copy's indexes in the background since it started (`prepare_judge`);
    # the tab's status line is empty once they are ready.
    wait.until(lambda d: d.find_element("css selector", "#preparing").text.strip() == "")
    browser.find_element("css selector", "#evaluate").click()  # nothing uploaded: the piece just composed
    verdict = wait.until(lambda d: "key:" in d.find_element("css selector", "#verdict").text and d)
    text = verdict.find_element("css selector", "#verdict").text
    assert text.startswith("bach_") and "judged as" in text and "copying:" in text


def test_bars_are_regenerated_kept_and_undone_in_the_browser(browser, app_url, tmp_path):

    wait = compose_two_bars(browser, app_url)
    browser.find_element("css selector", "#regen-bars textarea").send_keys("2")
    browser.find_element("css selector", "#regenerate").click()
    wait.until(lambda d: "versions of bars" in d.find_element("css selector", "#regen-status").text)
    players = 'audio[data-testid^="audio-player-Version"]'
    wait.until(lambda d: len(d.find_elements("css selector", players)) == 2)  # side by side
    browser.find_element("css selector", "#keep-2").click()
    wait.until(lambda d: "Kept version 2" in d.find_element("css selector", "#regen-status").text)
    now = 'audio[data-testid^="audio-player-The piece now"]'
    wait.until(lambda d: d.find_elements("css selector", now))
    browser.save_screenshot(str(tmp_path / "regenerate.png"))
    browser.find_element("css selector", "#undo").click()
    wait.until(lambda d: "Back to the version before" in d.find_element("css selector", "#regen-status").text)
    wait.until(lambda d: not d.find_elements("css selector", now))


def test_the_composed_piece_is_explained_on_its_score_in_the_browser(browser, app_url):

    wait = compose_two_bars(browser, app_url)
    (tab,) = [b for b in browser.find_elements("css selector", "button[role=tab]") if b.text == "Evaluate"]
    tab.click()
    wait.until(lambda d: d.find_element("css selector", "#explain").is_displayed())
    browser.find_element("css selector", "#explain").click()
    wait.until(lambda d: d.find_elements("css selector", "#learners-view .learners-view svg"))
    text = browser.find_element("css selector", "#learners-view").text
    assert "Key:" in text and "voice-leading steps" in text
