"""One contract, every channel: the same dialogue — /start and the menu, the first option,
a search for "lam can cuoc", a procedure whose documents section is very long — gives the same
meaning on Telegram, Zalo OA, Zalo Bot, the web chat and the console, rendered within each
platform's limits (Telegram 4,096 characters and callback data ≤ 64 bytes; Zalo 2,000
characters, at most 5 buttons with titles ≤ 100 and payloads ≤ 1,000, or numbered text; Zalo Bot
numbered text only).

Each driver talks to the real service the way the platform does (the fake servers over HTTP;
the web chat's HTTP API; the console's renderer) and reads back what a person would see: the
text, the options they can choose and the links. The reference is the core's own `Outgoing`s
for the same steps."""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.app import Service
from bot.channels.console import ConsoleChannel
from bot.messages import ChatRef, Incoming, Outgoing
from tests.conftest import make_settings
from tests.dialog import Dialog, until
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import BotCitizen, FakeZaloBot
from tests.fakes.zalo_oa_api import FakeZaloOA, OACitizen

CHANNELS = ["telegram", "zalo_oa", "zalo_bot", "web", "console"]
TOKEN = "123456:TEST-token-for-the-fake-api_abcdefghij"
BOT_TOKEN = "3141592653:zalo-bot-secret-part"
MENU_LINE = re.compile(r"^(\d+)\. (.+)$")
LINK_LINE = re.compile(r"^• (.+): (https?://\S+)$")


@dataclass
class Seen:
    """What a person sees after one move: all the text, the options, the links."""

    text: str
    options: list[str]
    links: list[str]
    raw: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)
    """On numbered channels: label -> the number shown for it."""


def squash(text: str) -> str:
    """The text without its layout: NFC (platforms get NFC text), whitespace dropped."""
    return "".join(unicodedata.normalize("NFC", text).split())


def expected(replies: list[Outgoing]) -> Seen:
    return Seen("\n".join(r.text for r in replies),
                [b.label for r in replies for b in r.flat_buttons() if b.action],
                [b.label for r in replies for b in r.flat_buttons() if b.url and not b.action])


def split_numbered(text: str) -> tuple[str, list[str], list[str], dict[str, str]]:
    """Text with a numbered menu (and link lines) at its end -> (text, options, links,
    numbers)."""
    lines = text.splitlines()
    options: list[tuple[str, str]] = []
    links: list[str] = []
    while lines:
        line = lines[-1]
        if (link := LINK_LINE.match(line)) is not None:
            links.insert(0, link.group(1))
        elif (item := MENU_LINE.match(line)) is not None:
            options.insert(0, (item.group(2), item.group(1)))
        else:
            break
        lines.pop()
    return ("\n".join(lines).rstrip(), [label for label, _ in options], links,
            {label: number for label, number in options})


# -- drivers ----------------------------------------------------------------------------------


class Driver:
    name = ""
    display_name = ""
    """The name the platform tells the bot (the fakes' default user), shown in greetings."""
    service: Service
    last: Seen | None = None
    limits: Callable[[list[dict[str, Any]]], None]

    async def say(self, text: str) -> Seen:
        raise NotImplementedError

    async def choose(self, label: str) -> Seen:
        raise NotImplementedError


class TelegramDriver(Driver):
    name = "telegram"
    display_name = "Nguyễn Văn An"
    chat = 5151

    def __init__(self, service: Service, fake: FakeTelegram) -> None:
        self.service, self.fake = service, fake
        self.last: Seen | None = None

    async def _after(self, push: Callable[[], object]) -> Seen:
        before = len(self.fake.sent_messages(self.chat))
        push()
        channel = self.service.telegram
        assert channel is not None
        await until(lambda: len(self.fake.sent_messages(self.chat)) > before)
        await until(lambda: not channel.pump.tasks and not self.fake.pending_updates)
        messages = self.fake.sent_messages(self.chat)[before:]
        keys = [b for m in messages for row in (m.get("reply_markup") or {})
                .get("inline_keyboard", []) for b in row]
        self.last = Seen("\n".join(m.get("text") or "" for m in messages),
                         [b["text"] for b in keys if "callback_data" in b],
                         [b["text"] for b in keys if "url" in b], messages)
        self.last.numbers = {b["text"]: b["callback_data"] for b in keys if "callback_data" in b}
        return self.last

    async def say(self, text: str) -> Seen:
        return await self._after(lambda: self.fake.push_message(self.chat, text))

    async def choose(self, label: str) -> Seen:
        assert self.last is not None
        data = self.last.numbers[label]
        return await self._after(lambda: self.fake.push_callback(self.chat, data))

    @staticmethod
    def limits(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            assert 1 <= len(message["text"]) <= 4096
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    assert "url" in button or 1 <= len(button["callback_data"].encode()) <= 64


class ZaloOADriver(Driver):
    name = "zalo_oa"

    def __init__(self, service: Service, fake: FakeZaloOA) -> None:
        assert service.zalo_oa is not None
        self.service = service
        url = f"http://127.0.0.1:{service.port}/webhook/zalo-oa"
        self.user = OACitizen(fake, url, "contract-user", service.zalo_oa.pump.drain)
        self.last: Seen | None = None

    def _seen(self, messages: list[dict[str, Any]]) -> Seen:
        text = "\n".join(m.get("text") or "" for m in messages)
        buttons = [b for m in messages
                   for b in ((m.get("attachment") or {}).get("payload") or {}).get("buttons", [])]
        if buttons:
            seen = Seen(text, [b["title"] for b in buttons if b["type"] == "oa.query.hide"],
                        [b["title"] for b in buttons if b["type"] == "oa.open.url"], messages)
            seen.numbers = {b["title"]: b["payload"] for b in buttons
                            if b["type"] == "oa.query.hide"}
        else:
            body, options, links, numbers = split_numbered(text)
            seen = Seen(body, options, links, messages, numbers)
        self.last = seen
        return seen

    async def say(self, text: str) -> Seen:
        return self._seen(await self.user.say(text))

    async def choose(self, label: str) -> Seen:
        assert self.last is not None
        return self._seen(await self.user.say(self.last.numbers[label]))

    @staticmethod
    def limits(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            assert 1 <= len(message.get("text") or "x") <= 2000
            buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons")
            if buttons:
                assert len(buttons) <= 5
                assert all(len(b["title"]) <= 100 for b in buttons)
                assert all(len(b["payload"]) <= 1000 for b in buttons
                           if b["type"] == "oa.query.hide")


class ZaloBotDriver(Driver):
    name = "zalo_bot"
    display_name = "Nguyễn Văn An"
    chat = "c0ffee00c0ffee00c0ff"

    def __init__(self, service: Service, fake: FakeZaloBot) -> None:
        self.service = service
        channel = service.zalo_bot
        assert channel is not None

        async def settle(count: int) -> None:
            target = channel.handled + count
            await until(lambda: channel.handled >= target)
            await channel.pump.drain()

        self.user = BotCitizen(fake, self.chat, settle)
        self.last: Seen | None = None

    def _seen(self, messages: list[dict[str, Any]]) -> Seen:
        body, options, links, numbers = split_numbered(
            "\n".join(m.get("text") or m.get("caption") or "" for m in messages))
        self.last = Seen(body, options, links, messages, numbers)
        return self.last

    async def say(self, text: str) -> Seen:
        return self._seen(await self.user.say(text))

    async def choose(self, label: str) -> Seen:
        assert self.last is not None
        return self._seen(await self.user.say(self.last.numbers[label]))

    @staticmethod
    def limits(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            assert 1 <= len(message["text"]) <= 2000
            assert set(message) <= {"message_id", "text", "photo", "caption"}  # no buttons


class WebDriver(Driver):
    name = "web"

    def __init__(self, service: Service, http: aiohttp.ClientSession) -> None:
        self.service = service
        self.url = f"http://127.0.0.1:{service.port}/chat/api/messages"
        self.http = http
        self.last: Seen | None = None

    async def _post(self, **body: str) -> Seen:
        async with self.http.post(self.url, json=body) as response:
            assert response.status == 200
            messages = (await response.json())["messages"]
        buttons = [b for m in messages for row in m["buttons"] for b in row]
        self.last = Seen("\n".join(m["text"] for m in messages),
                         [b["label"] for b in buttons if b.get("action")],
                         [b["label"] for b in buttons if b.get("url") and not b.get("action")],
                         messages, {b["label"]: b["action"] for b in buttons if b.get("action")})
        return self.last

    async def say(self, text: str) -> Seen:
        return await self._post(text=text)

    async def choose(self, label: str) -> Seen:
        assert self.last is not None
        return await self._post(action=self.last.numbers[label], label=label)

    @staticmethod
    def limits(messages: list[dict[str, Any]]) -> None:
        assert all(m["text"] for m in messages)


class ConsoleDriver(Driver):
    """`motcua chat`: the console renderer over the core (what the terminal shows)."""

    name = "console"
    keys = itertools.count(1)

    def __init__(self, service: Service) -> None:
        self.service = service
        self.out = io.StringIO()
        self.console = ConsoleChannel(self.out)
        self.last: Seen | None = None

    async def say(self, text: str) -> Seen:
        msg = Incoming(channel="console", chat_id="local", user_id="local",
                       update_key=f"console:contract:{next(self.keys)}", text=text)
        start = self.out.tell()
        for reply in await self.service.core.handle(msg):
            await self.console.send(ChatRef("console", "local"), reply)
        printed = self.out.getvalue()[start:]
        lines = printed.rstrip("\n").splitlines()
        options: list[str] = []
        links: list[str] = []
        numbers: dict[str, str] = {}
        body: list[str] = []
        for line in lines:
            item = re.match(r"^  (\d+)\. (.+)$", line)
            link = re.match(r"^  (.+): (https?://\S+)$", line)
            if link is not None:
                links.append(link.group(1))
            elif item is None:
                body.append(line)
            else:
                options.append(item.group(2))
                numbers[item.group(2)] = item.group(1)
        self.last = Seen("\n".join(body), options, links, [{"text": printed}], numbers)
        return self.last

    async def choose(self, label: str) -> Seen:
        assert self.last is not None
        return await self.say(self.last.numbers[label])

    @staticmethod
    def limits(messages: list[dict[str, Any]]) -> None:
        assert all(m["text"] for m in messages)


@pytest.fixture
async def driver(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Driver]:
    channel = request.param
    if channel == "telegram":
        async with FakeTelegram(limit_per_chat_per_s=None, limit_per_group_per_min=None) as tg:
            settings = make_settings(database_url, telegram_bot_token=TOKEN,
                                     telegram_api_base_url=tg.base_url)
            async with Service(settings) as service:
                yield TelegramDriver(service, tg)
    elif channel == "zalo_oa":
        async with FakeZaloOA() as oa, Service(make_settings(database_url,
                                                             **oa.settings())) as service:
            yield ZaloOADriver(service, oa)
    elif channel == "zalo_bot":
        async with FakeZaloBot(token=BOT_TOKEN, max_poll_wait=1.0) as bot:
            settings = make_settings(database_url, zalo_bot_token=BOT_TOKEN,
                                     zalo_bot_api_base_url=bot.base_url)
            async with Service(settings) as service:
                yield ZaloBotDriver(service, bot)
    elif channel == "web":
        async with Service(make_settings(database_url)) as service, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield WebDriver(service, http)
    else:
        service = Service(make_settings(database_url), start_senders=False)
        await service.prepare()
        yield ConsoleDriver(service)
        await service.db.dispose()


def same_meaning(seen: Seen, reference: Seen) -> None:
    assert squash(seen.text) == squash(reference.text)
    assert seen.options == reference.options
    assert seen.links == reference.links


@pytest.mark.parametrize("driver", CHANNELS, indirect=True)
async def test_the_same_dialogue_means_the_same_everywhere(driver: Driver) -> None:
    service = driver.service
    ref = Dialog(service.core, channel="web", chat_id=f"reference-{driver.name}",
                 name=driver.display_name)

    # /start -> the main menu
    seen = await driver.say("/start")
    reference = expected(await ref.say("/start"))
    same_meaning(seen, reference)
    assert len(seen.options) == 7
    driver.limits(seen.raw)

    # the first option
    first = seen.options[0]
    seen = await driver.choose(first)
    same_meaning(seen, expected(await ref.press("menu:thutuc")))
    driver.limits(seen.raw)

    # a search
    seen = await driver.say("lam lai can cuoc bi mat")
    reference = expected(await ref.say("lam lai can cuoc bi mat"))
    same_meaning(seen, reference)
    assert any("căn cước" in option for option in seen.options)
    driver.limits(seen.raw)

    # a procedure whose documents section (straight from the national record) is far longer
    # than any message
    results = await driver.say("dang ky cham dut giam ho")
    await ref.say("dang ky cham dut giam ho")
    # siblings (between Vietnamese or with a foreigner): one question, a button per case
    label = next(o for o in results.options if o == "Giữa công dân Việt Nam")
    card = await driver.choose(label)
    reference = expected(await ref.press("proc:1.004845"))
    same_meaning(card, reference)
    assert card.links == ["Xem bản chính thức"]
    driver.limits(card.raw)
    section = await driver.choose("Hồ sơ cần chuẩn bị")
    reference = expected(await ref.press("proc:1.004845:docs"))
    assert len(reference.text) > 4096
    same_meaning(section, reference)
    driver.limits(section.raw)
    if driver.name in ("telegram", "zalo_oa", "zalo_bot"):
        assert len(section.raw) >= (2 if driver.name == "telegram" else 4)  # 4096 / 2000 a part


@pytest.mark.parametrize("driver", [
    "zalo_oa", "zalo_bot", "console",
], indirect=True)
async def test_every_number_shown_presses_that_option(driver: Driver) -> None:
    """On numbered menus, typing the number next to an option presses that option — also for
    options listed after a link (the procedure card has one)."""
    await driver.say("dang ky khai sinh")
    results = driver.last
    assert results is not None
    # siblings: one question, a button per case
    label = next(o for o in results.options if o == "Giữa công dân Việt Nam")
    card = await driver.choose(label)
    assert card.links == ["Xem bản chính thức"]
    last = card.options[-1]
    assert last == "Về menu chính"
    after = await (driver.say(card.numbers[last]) if driver.name != "zalo_oa"
                   or card.numbers[last].isdigit() else driver.choose(last))
    assert "Tra cứu thủ tục" in after.options



@pytest.mark.parametrize("driver", CHANNELS, indirect=True)
async def test_the_case_of_a_procedure_is_chosen_on_every_channel(driver: Driver) -> None:
    """A procedure with several cases asks which applies; choosing one (a button, or its
    number where the platform has no buttons) lists that case's papers."""
    results = await driver.say("dang ky thuong tru")
    label = next(o for o in results.options if o.startswith("Đăng ký thường trú ("))
    await driver.choose(label)
    question = await driver.choose("Hồ sơ cần chuẩn bị")
    assert "Anh/chị thuộc trường hợp nào?" in question.text
    assert "Nhà thuê, mượn, ở nhờ" in question.options
    case = await driver.choose("Nhà thuê, mượn, ở nhờ")
    assert "Trường hợp: Nhà thuê, mượn, ở nhờ" in case.text
    assert "Hợp đồng, văn bản cho thuê" in case.text
    driver.limits(case.raw)
