"""The portal's tests: the whole platform in this process behind the real gateway (which serves
the portal), a distributor with licenses, and a headless Chromium (Debian's) driven by Playwright."""

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from shared.testing import isolated_infrastructure
from tests.portal.browser import CHROMIUM
from tests.portal.world import Distributor, distributor_with_licenses, member_with_role
from tests.system.platform import Platform, running_platform


@pytest.fixture(scope="package")
async def platform(infrastructure) -> AsyncIterator[Platform]:
    async with isolated_infrastructure(infrastructure) as own, running_platform(own) as platform:
        yield platform


@pytest.fixture(scope="package")
async def distributor(platform) -> Distributor:
    return await distributor_with_licenses(platform)


@pytest.fixture(scope="package")
async def viewer_email(platform, distributor) -> str:
    """A Viewer of the distributor (signed up through an invite)."""
    return await member_with_role(platform, distributor.admin, "viewer")


@pytest.fixture
async def portal(platform) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the portal pages: a browser without script (cookies kept)."""
    async with httpx.AsyncClient(base_url=platform.http.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"The portal's browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


@pytest.fixture
async def new_page(browser, platform):
    """Opens fresh browser tabs (own cookies each) at 1280 px, the laptop width the portal targets."""
    contexts = []

    async def open_page() -> Page:
        context = await browser.new_context(base_url=str(platform.http.base_url), accept_downloads=True,
                                            viewport={"width": 1280, "height": 860})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()
