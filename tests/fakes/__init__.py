"""Fake platform servers on 127.0.0.1 that the real client libraries talk to in tests.

`telegram_api.FakeTelegram` is a Telegram Bot API server for python-telegram-bot (or any HTTP
client): point `base_url` at `fake.base_url`, inject updates, inspect the calls, inject faults.
"""

from tests.fakes.telegram_api import Call, FakeTelegram, WebhookState

__all__ = ["Call", "FakeTelegram", "WebhookState"]
