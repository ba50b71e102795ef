"""Screenshots of the app for the README and docs/app.md, taken in headless Chromium with the shipped model.

    .venv/bin/python docs/screenshots.py [--model checkpoints/cadenza-base] [--style bach] [--bars 8]
                                         [--seed 1] [--out docs]

Starts the app on a free port, composes one piece with a fixed seed, saves the Compose tab (audio, piano
roll, sheet music) as compose.png, writes its bars 5-6 again (two versions, side by side) and saves
regenerate.png, then judges the piece in the Evaluate tab and saves evaluate.png, explains it on its
score (the learner's view) and saves learners-view.png, then samples the GAN baseline (8 bars of bach,
random seed) in the Baselines tab and saves baselines.png.
Needs Debian's chromium and chromium-driver (`make browser`).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, app: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if app.poll() is not None:
            sys.exit(f"the app stopped (exit {app.returncode}) before serving {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    sys.exit(f"the app did not answer at {url} within {TIMEOUT_S} s")


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1500,1700", "--hide-scrollbars", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def press_in_tab(driver, wait, title: str, button: str) -> None:
    """Open the tab called `title` and press its `button` (a CSS selector) once it shows."""
    (tab,) = [b for b in driver.find_elements("css selector", "button[role=tab]") if b.text == title]
    tab.click()
    wait.until(lambda d: d.find_element("css selector", button).is_displayed())
    driver.find_element("css selector", button).click()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--style", default="bach")
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--model", args.model], env=env)
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(Path(profile))
        try:
            wait_until_up(url, app)
            driver.get(url)
            wait = WebDriverWait(driver, TIMEOUT_S)
            button = wait.until(lambda d: d.find_element("css selector", "#generate"))
            driver.find_element("css selector", "#sampling button").click()  # the seed is in there
            wait.until(lambda d: d.find_elements("css selector", "#random-seed input[type=checkbox]"))
            driver.find_element("css selector", "#random-seed input[type=checkbox]").click()
            for elem_id, value in (("bars", args.bars), ("seed", args.seed)):
                field = driver.find_element("css selector", f"#{elem_id} input[type=number]")
                driver.execute_script(
                    "arguments[0].select()", field
                )  # Ctrl-A selects nothing in a number box
                field.send_keys(str(value), Keys.TAB)
            driver.find_element("css selector", "#sampling button").click()  # closed again for the picture
            style = driver.find_element("css selector", "#style input")
            style.send_keys(Keys.CONTROL, "a", args.style, Keys.ENTER)
            button.click()
            wait.until(lambda d: "used:" in d.find_element("css selector", "#status").text)
            wait.until(lambda d: d.find_elements("css selector", ".sheet-music svg"))
            time.sleep(2)  # the piano roll image and the audio waveform finish drawing
            out = Path(args.out)
            driver.save_screenshot(str(out / "compose.png"))
            print(out / "compose.png")
            driver.find_element("css selector", "#regen-bars textarea").send_keys("5-6")
            driver.find_element("css selector", "#regenerate").click()
            wait.until(lambda d: "versions of bars" in d.find_element("css selector", "#regen-status").text)
            driver.execute_script("document.querySelector('#regen-bars').scrollIntoView()")
            time.sleep(3)
            driver.save_screenshot(str(out / "regenerate.png"))
            print(out / "regenerate.png")
            driver.execute_script("window.scrollTo(0, 0)")
            press_in_tab(driver, wait, "Evaluate", "#evaluate")
            wait.until(lambda d: "key:" in d.find_element("css selector", "#verdict").text)
            time.sleep(2)
            driver.save_screenshot(str(out / "evaluate.png"))
            print(out / "evaluate.png")
            driver.find_element("css selector", "#explain").click()
            wait.until(lambda d: d.find_elements("css selector", "#learners-view .learners-view svg"))
            driver.execute_script("document.querySelector('#explain').scrollIntoView()")
            time.sleep(2)
            driver.save_screenshot(str(out / "learners-view.png"))
            print(out / "learners-view.png")
            press_in_tab(driver, wait, "Baselines", "#baseline-sample")
            wait.until(lambda d: "seed" in d.find_element("css selector", "#baseline-status").text)
            wait.until(lambda d: d.find_elements("css selector", ".sheet-music svg"))
            time.sleep(2)
            driver.save_screenshot(str(out / "baselines.png"))
            print(out / "baselines.png")
        finally:
            driver.quit()
            app.terminate()
            app.wait(timeout=30)


if __name__ == "__main__":
    main()
