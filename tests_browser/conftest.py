"""Browser tests (`make test-browser`): Playwright for Python driving Debian's Chromium
(`apt-get install chromium`, `pip install playwright`; never `playwright install`). They
reuse the suite's fixtures: a migrated database per test and the network guard."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import (  # noqa: F401  (fixtures)
    _migrated_template,
    _network_guard,
    _no_network_attempts,
    database_url,
    settings,
)

CHROMIUM = os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()
