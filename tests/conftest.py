"""Shared fixtures: a migrated database per test (SQLite file by default, PostgreSQL when
MOTCUA_TEST_DATABASE_URL is set), settings pointing at it, and the network guard."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import Settings
from bot.db.migrate import upgrade
from bot.db.schema import metadata
from procedures.search_cache import engine_kind
from tests import netguard

PG_URL = os.environ.get("MOTCUA_TEST_DATABASE_URL")
TEST_DATA_DIR = tempfile.mkdtemp(prefix="motcua-test-data-")
# `motcua` processes started by tests inherit it: one search index built for the whole run
os.environ.setdefault("SEARCH_CACHE_DIR", f"{TEST_DATA_DIR}/search-cache")


def pytest_configure(config: pytest.Config) -> None:
    if engine_kind() == "stale":
        pytest.exit("the search engine's source (procedures/search.py or _passes.pyx) changed "
                    "after it was compiled: run `make compiled` (or delete procedures/*.so to "
                    "test the pure Python engine)", 2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session", autouse=True)
def _network_guard() -> Iterator[None]:
    netguard.install()
    yield
    netguard.uninstall()


@pytest.fixture(autouse=True)
def _no_network_attempts() -> Iterator[None]:
    """Fail a test that tried to leave loopback, even if a library swallowed the error."""
    netguard.clear()
    yield
    netguard.check()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite: one migrated file copied for each test. PostgreSQL: the schema, migrated once."""
    if PG_URL:
        import asyncio

        async def reset() -> None:
            engine = create_async_engine(PG_URL)
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(reset())
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "motcua.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
async def database_url(_migrated_template: str, tmp_path: Path) -> AsyncIterator[str]:
    if PG_URL:
        engine = create_async_engine(PG_URL)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        yield PG_URL
        return
    path = tmp_path / "motcua.db"
    shutil.copy(_migrated_template, path)
    yield f"sqlite+aiosqlite:///{path}"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "http_host": "127.0.0.1",
        "http_port": 0,
        "quiet_hours": "",
        "telegram_bot_token": None,
        "public_base_url": None,
        "telegram_staff_chat_id": None,
        "secret_key": "test-secret-key-not-for-production",
        "data_dir": TEST_DATA_DIR,  # files the service makes (the search index cache)
        "search_cache_dir": "",  # DATA_DIR's (the environment's is for `motcua` processes)
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)
