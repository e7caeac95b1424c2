"""Helpers of the browser tests: where Chromium is, and keeping screenshots."""

from pathlib import Path

from playwright.async_api import Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it); Playwright downloads none
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"


async def screenshot(page: Page, name: str) -> None:
    """Keeps a picture of a main page as a test artifact (.artifacts/, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
