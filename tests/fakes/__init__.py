"""Fake platform servers on 127.0.0.1 that the real client libraries talk to in tests.

`telegram_api.FakeTelegram` (Bot API, for python-telegram-bot), `zalo_oa_api.FakeZaloOA` (OA
Open API, OAuth and ZNS) and `zalo_bot_api.FakeZaloBot` (Zalo Bot Platform) share
`server.FakeServer`: `async with fake:`, `fake.calls`, `await fake.wait_for(...)`. Point the
bot's base URL at the fake, inject updates or events, inspect the calls, inject faults.
"""

from tests.fakes.telegram_api import Call, FakeTelegram, WebhookState

__all__ = ["Call", "FakeTelegram", "WebhookState"]
