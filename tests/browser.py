"""A headless Chromium (Debian's, through its chromedriver) for the canvas's tests.

Selenium's calls block, and the servers under test run on the test's event loop, so a test
runs its browser steps in a thread (``asyncio.to_thread``). Screenshots go to
``$YMY_SCREENSHOTS_DIR`` when it is set (``make screenshots`` sets it to ``docs/screenshots``),
else next to the test's other files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
DESKTOP = (1440, 1000)
PHONE = (390, 844)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (make install adds them)",
)


@contextlib.contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(argument)
    # An explicit driver: Selenium Manager would otherwise look for (and download) one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def as_phone(driver: WebDriver, on: bool = True) -> None:
    """A phone's viewport (a desktop window cannot be made that narrow), or the window's again."""
    if on:
        width, height = PHONE
        metrics = {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]


def screenshots_dir(fallback: Path) -> Path:
    chosen = Path(os.environ.get("YMY_SCREENSHOTS_DIR") or fallback)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


def wait_for(driver: WebDriver, what: Callable[[WebDriver], Any], timeout_s: float = 60) -> Any:
    """``what`` once it is truthy; on a timeout, the page's error and state say why."""
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(what)
    except Exception as error:
        raise AssertionError(f"timed out on the canvas: {page_state(driver)}") from error


def page_state(driver: WebDriver) -> str:
    state = driver.execute_script(
        "const t = document.getElementById('task');"
        "const e = document.getElementById('error');"
        "const log = [...document.querySelectorAll('#status-log li')].slice(-3)"
        ".map(li => li.textContent);"
        "return {state: t && t.dataset.taskState, error: e && e.textContent, log};"
    )
    return str(state)


def task_state(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "task").get_attribute("data-task-state") or "")


def task_id(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "task").get_attribute("data-task-id") or "")


def panes(driver: WebDriver) -> dict[str, WebElement]:
    """Every artifact pane on the page by artifact name."""
    found = driver.find_elements(By.CSS_SELECTOR, "[data-artifact-name]")
    return {str(p.get_attribute("data-artifact-name")): p for p in found}


def pane_text(pane: WebElement) -> str:
    """The artifact's text as drawn in its pane (the highlighted code, not the gutter)."""
    return str(pane.find_element(By.CSS_SELECTOR, "pre.hljs code").get_attribute("textContent"))


def type_into(driver: WebDriver, selector: str, text: str) -> None:
    """Replace a field's text as a user does (``clear()`` bypasses the page's input events)."""
    field = driver.find_element(By.CSS_SELECTOR, selector)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(text)
