"""Opening genlab's HTML reports in a real browser: Debian's chromium, headless, through selenium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("GENLAB_TEST_ARTIFACTS", ROOT / "test-artifacts"))  # screenshots kept for a look


def chromium_driver():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        if os.environ.get("GENLAB_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required (GENLAB_REQUIRE_BROWSER is set)")
        pytest.skip("chromium/chromedriver not installed (Debian packages chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))


def check_in_browser(page: Path, screenshot: Path) -> dict:
    """Open a report headless; return image widths, console errors and table count; save a screenshot."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium_driver()
    try:
        driver.get(page.resolve().as_uri())
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)")
        )
        widths = driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
        tables = driver.execute_script("return document.querySelectorAll('table').length")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1200, min(max(height, 900), 16000))
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        return {"widths": widths, "tables": tables, "errors": errors}
    finally:
        driver.quit()


def pdf_pages(path: Path) -> int:
    """The number of pages of a PDF file, after checking that it is one (header and end-of-file marker)."""
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF"), path
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", raw))


def need_browser() -> None:
    """Skip (or fail, with GENLAB_REQUIRE_BROWSER set) where no Chromium can print."""
    if shutil.which("chromium") is None and not os.environ.get("GENLAB_CHROME"):
        if os.environ.get("GENLAB_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (GENLAB_REQUIRE_BROWSER is set)")
        pytest.skip("chromium not installed (Debian package chromium)")
