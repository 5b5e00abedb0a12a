"""`motcua run` as a real process: it serves, sends its outbox, and on SIGTERM stops cleanly
without losing a row; a restarted process finishes the work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import Database
from bot.messages import ChatRef, Outgoing
from bot.outbox import enqueue
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"


async def start_process(env: dict[str, str], cwd: Path,
                        log: Path | None = None) -> asyncio.subprocess.Process:
    """`motcua run` with `env` over a clean environment; its output piped, or appended to
    `log` (a pipe nobody reads fills up and blocks a long-running process)."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
    full_env.update(env)
    with log.open("ab") if log else contextlib.nullcontext() as file:
        out = file if file is not None else asyncio.subprocess.PIPE
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=full_env, cwd=cwd, stdout=out,
            stderr=out)


async def wait_healthy(port: int, timeout: float = 300, *, channels_up: bool = True) -> dict:
    """The /healthz body once it answers 200 and (with `channels_up`) every channel is "ok":
    platform channels come up in the background, after the service is ready. The timeout
    is a hang guard: a first start builds the search index, slow on a loaded machine."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        body = await response.json()
                        if not channels_up or set(body["channels"].values()) == {"ok"}:
                            return body
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "service did not come up"
            await asyncio.sleep(0.2)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def statuses(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMessage.status)))


async def test_sigterm_stops_cleanly_and_loses_no_outbox_row(database_url: str,
                                                              tmp_path: Path) -> None:
    db = Database(database_url)
    async with db.session() as session:
        for chat in range(300, 360):
            await enqueue(session, ChatRef("telegram", str(chat)), Outgoing("Thông báo của xã"),
                          key=f"notice:1:{chat}")
    async with FakeTelegram() as fake:
        port = free_port()
        env = {"DATABASE_URL": database_url, "HTTP_PORT": str(port), "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_RATE_OVERALL": "10",
               "QUIET_HOURS": ""}
        process = await start_process(env, tmp_path)
        health = await wait_healthy(port)
        assert health["channels"] == {"web": "ok", "telegram": "ok"}
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=5, timeout=20)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert b"stopped cleanly" in stderr
        after_stop = await statuses(db)
        assert "sending" not in after_stop and after_stop.count("sent") < 60

        process = await start_process(env, tmp_path)  # restarted: finishes the broadcast
        await wait_healthy(port)
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, count=60, timeout=30)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), timeout=30)
        assert await statuses(db) == ["sent"] * 60
        for chat in range(300, 360):
            assert [m["text"] for m in fake.sent_messages(chat)] == ["Thông báo của xã"]
        assert fake.rejected_429 == 0
    await db.dispose()


async def test_telegram_unreachable_at_start_does_not_stop_the_service(
        database_url: str, tmp_path: Path) -> None:
    """`motcua run` with nothing listening where the Bot API should be: the process stays
    up, /healthz is 200 with telegram "down", the web chat answers; when the Bot API
    appears there, the channel comes up by itself and answers a waiting update."""
    port, api_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "HTTP_PORT": str(port), "TELEGRAM_BOT_TOKEN": TOKEN,
           "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{api_port}/bot", "QUIET_HOURS": ""}
    process = await start_process(env, tmp_path)
    try:
        health = await wait_healthy(port, channels_up=False)
        assert health["channels"] == {"web": "ok", "telegram": "down"}
        async with aiohttp.ClientSession() as http, http.post(
                f"http://127.0.0.1:{port}/chat/api/messages", json={"text": "/start"}
        ) as response:
            assert response.status == 200
            assert "em chào anh/chị" in (await response.json())["messages"][0]["text"]
        fake = FakeTelegram()
        fake.port = api_port
        async with fake:
            fake.push_message(1030, "/start")
            health = await wait_healthy(port)
            assert health["channels"] == {"web": "ok", "telegram": "ok"}
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=30)
            assert "em chào anh/chị" in fake.sent_messages(1030)[-1]["text"]
        assert process.returncode is None
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
