"""Apply Alembic migrations programmatically (`motcua db upgrade`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Runs in a worker thread when a loop is running."""
    config = alembic_config(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    raise RuntimeError("call upgrade_async() from async code")


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
