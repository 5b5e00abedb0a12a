"""Structured logs (one JSON object per line) with secrets and phone numbers masked."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

REDACTIONS = [
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"), "<bot-token>"),
    (re.compile(r"(bot)\d{6,12}:[A-Za-z0-9_-]+"), r"\1<token>"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    (re.compile(r"(?i)(secret[_-]?token[\"'=:\s]+)[A-Za-z0-9_-]+"), r"\1<redacted>"),
    (re.compile(r"(?<!\d)(?:\+?84|0)(\d{2})\d{4,5}(\d{3})(?!\d)"), r"0\1*****\2"),
]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def redact(text: str) -> str:
    """Mask bot tokens, bearer tokens, webhook secrets and phone numbers; strip control chars."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return CONTROL.sub("?", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class BadRequestsInOneLine(logging.Filter):
    """aiohttp's HTTP parser logs a malformed request (NUL in a header, a broken request
    line) as an error with a stack trace: anyone could fill the log with them. One warning
    line each instead, without the offending bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import BadHttpMessage

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, BadHttpMessage):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed HTTP request refused (%s)", (
                type(error).__name__,)
        return True


def quiet_bad_requests() -> None:
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestsInOneLine) for f in server.filters):
        server.addFilter(BadRequestsInOneLine())


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and Telegram's URLs carry the bot token.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
