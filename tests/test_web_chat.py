"""The web chat over real HTTP: page, JSON API, cookie, history, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app import Service
from bot.config import Settings
from bot.messages import ChatRef, Outgoing
from bot.outbox import enqueue

MENU_FIRST = "Tra cứu thủ tục"


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with Service(settings) as svc:
        yield svc


@pytest.fixture
async def http(service: Service) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}", cookie_jar=jar) as s:
        yield s


async def test_page_is_served_without_external_resources(http: aiohttp.ClientSession) -> None:
    async with http.get("/") as response:
        assert response.status == 200
        page = await response.text()
    assert 'lang="vi"' in page
    assert "/chat/static/chat.js" in page
    assert "https://" not in page and "http://" not in page  # works offline: no CDN
    async with http.get("/chat/static/chat.js") as response:
        assert response.status == 200


async def test_start_gives_the_menu_and_a_button_press_works(http: aiohttp.ClientSession) -> None:
    async with http.post("/chat/api/messages", json={"text": "/start"}) as response:
        assert response.status == 200
        body = await response.json()
    greeting = body["messages"][0]
    assert greeting["from"] == "bot" and "em chào anh/chị" in greeting["text"]
    assert greeting["buttons"][0][0]["label"] == MENU_FIRST
    action = greeting["buttons"][0][0]["action"]
    async with http.post("/chat/api/messages",
                         json={"action": action, "label": MENU_FIRST}) as response:
        reply = (await response.json())["messages"][0]
    assert "cần làm thủ tục gì" in reply["text"]


async def test_the_cookie_keeps_the_conversation(http: aiohttp.ClientSession,
                                                 service: Service) -> None:
    await http.post("/chat/api/messages", json={"text": "/start"})
    await http.post("/chat/api/messages", json={"text": "xin chào"})
    async with http.get("/chat/api/messages?after=0") as response:
        history = (await response.json())["messages"]
    assert [m["from"] for m in history] == ["bot", "user", "bot"]
    assert history[1]["text"] == "xin chào"
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}") as stranger:
        async with stranger.get("/chat/api/messages?after=0") as response:
            assert (await response.json())["messages"] == []


async def test_proactive_messages_reach_the_page_through_the_outbox(
    http: aiohttp.ClientSession, service: Service
) -> None:
    await http.post("/chat/api/messages", json={"text": "/start"})
    async with http.get("/chat/api/messages?after=0") as response:
        body = await response.json()
    from sqlalchemy import select

    from bot.db.models import Identity

    async with service.db.session() as session:
        chat_id = await session.scalar(select(Identity.chat_id).where(Identity.channel == "web"))
        await enqueue(session, ChatRef("web", chat_id), Outgoing("Thông báo thử"), key="t:1")
    service.senders[0].notify()
    import asyncio

    for _ in range(100):
        async with http.get(f"/chat/api/messages?after={body['last_id']}") as response:
            new = (await response.json())["messages"]
        if new:
            break
        await asyncio.sleep(0.05)
    assert [m["text"] for m in new] == ["Thông báo thử"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [(b"not json", 400), (b"[1,2]", 400), (b'{"text": 5}', 422)],
)
async def test_bad_requests_get_a_clear_answer(http: aiohttp.ClientSession, payload: bytes,
                                               status: int) -> None:
    async with http.post("/chat/api/messages", data=payload,
                         headers={"Content-Type": "application/json"}) as response:
        assert response.status == status
        assert "vui lòng" in (await response.json())["error"]


async def test_bodies_over_one_mebibyte_are_refused(http: aiohttp.ClientSession) -> None:
    async with http.post("/chat/api/messages", data=b"x" * (1024 * 1024 + 10),
                         headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413


async def test_form_posts_from_other_sites_are_refused(http: aiohttp.ClientSession) -> None:
    async with http.post("/chat/api/messages", data={"text": "/start"}) as response:
        assert response.status == 415


async def test_last_id_covers_the_citizens_own_message(http: aiohttp.ClientSession) -> None:
    async with http.post("/chat/api/messages", json={"text": "/start"}) as response:
        first = await response.json()
    async with http.post("/chat/api/messages", json={"text": "xin chào"}) as response:
        second = await response.json()
    async with http.get(f"/chat/api/messages?after={second['last_id']}") as response:
        assert (await response.json())["messages"] == []
    assert second["last_id"] > first["last_id"]


async def test_ten_thousand_characters_in_the_web_chat(http: aiohttp.ClientSession) -> None:
    async with http.post("/chat/api/messages", json={"text": "a" * 10_000}) as response:
        assert response.status == 200
        texts = [m["text"] for m in (await response.json())["messages"]]
    assert any("4000 ký tự" in t for t in texts)


async def test_health_and_metrics(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "db": "ok", "channels": {"web": "ok"}}
    await http.post("/chat/api/messages", json={"text": "/start"})
    async with http.get("/metrics") as response:
        metrics = await response.text()
    assert 'motcua_updates_total{channel="web",outcome="handled"}' in metrics
    assert "motcua_handler_seconds_bucket" in metrics


async def test_health_is_ready_while_a_channel_is_still_coming_up(database_url: str) -> None:
    """A platform slow (or down) at start holds nothing else back: /healthz answers 200 and
    shows that channel "down" until it is up."""
    from tests.conftest import make_settings
    from tests.fakes.telegram_api import FakeTelegram

    async with FakeTelegram() as fake:
        fake.delay(1.0, method="setMyCommands", count=1, after=True)  # slow to start
        service = Service(make_settings(database_url, telegram_bot_token="1:fake",
                                        telegram_api_base_url=fake.base_url))
        starting = asyncio.create_task(service.start())
        await fake.wait_for("setMyCommands", timeout=10)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{service.port}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {
                    "status": "ok", "db": "ok", "channels": {"web": "ok", "telegram": "down"}}
            await starting
            async with http.get(f"http://127.0.0.1:{service.port}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {
                    "status": "ok", "db": "ok", "channels": {"web": "ok", "telegram": "ok"}}
        await service.stop()
