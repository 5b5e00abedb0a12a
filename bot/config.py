"""Settings: every knob of the service, read from the environment and `.env`.

Names are the contract in DESIGN.md; `.env.example` documents each one. Invalid values stop the
service at start with a message naming the setting (see `describe_errors`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

FOLLOWUP_RULES = ("congratulation_marriage", "congratulation_birth", "condolence", "survey",
                  "ticket_survey", "reminder", "overdue_alert")
"""The names SCHEDULER_RULES_OFF may list: scheduler/rules.py's rules. Kept here so that the
settings need not import the scheduler (which imports the settings)."""
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
QUIET_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}
DRIVER_ALIASES = {"sqlite": "sqlite+aiosqlite", "sqlite+pysqlite": "sqlite+aiosqlite",
                  "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
                  "postgresql+psycopg2": "postgresql+asyncpg"}
DATABASE_URL = re.compile(r"(?P<driver>[\w+]+)://(?P<rest>.*)", re.DOTALL)
"""SQLAlchemy's own outline of a URL: `driver://` and the rest."""
FRAME_SOURCE_RE = re.compile(
    r"^(?:'self'|'none'|https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?)$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite+aiosqlite:///data/motcua.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)  # 0 = any free port
    public_base_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    quiet_hours: str = "21:00-07:00"
    log_level: str = "INFO"

    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_secret: str | None = None
    telegram_staff_chat_id: int | None = None
    """The province-wide staff group: tickets of every commune without a group of its own."""
    telegram_staff_chats: str = ""
    """Commune staff groups, `4543:-100…,4544:-100…` (several communes may share a group)."""
    telegram_rate_overall: float = Field(30.0, gt=0)
    telegram_rate_per_chat: float = Field(1.0, gt=0)
    telegram_rate_per_group_minute: float = Field(20.0, gt=0)

    zalo_bot_token: str | None = None
    zalo_bot_api_base_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_webhook_secret: str | None = None
    zalo_oa_app_id: str | None = None
    zalo_oa_app_secret: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_oa_refresh_token: str | None = None
    zalo_oa_api_base_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_base_url: str = "https://oauth.zaloapp.com"
    zalo_zns_api_base_url: str = "https://business.openapi.zalo.me"
    zalo_oa_rate_overall: float = Field(10.0, gt=0)
    zalo_oa_rate_per_chat: float = Field(1.0, gt=0)
    zalo_bot_rate_overall: float = Field(5.0, gt=0)
    zalo_bot_rate_per_chat: float = Field(1.0, gt=0)
    zalo_zns_templates: str = ""
    """JSON: outbox purpose -> {"template_id": …, "params": {zns_param: source}} (docs/zalo.md)."""
    zalo_zns_development: bool = False

    ingest_api_token: str | None = None
    ingest_max_future_minutes: int = Field(10, ge=0, le=24 * 60)
    """How far ahead of our clock `received_at` and an event's `at` may be (clock skew)."""
    ingest_max_due_years: int = Field(5, ge=1, le=50)
    """How far ahead an appointment (`due_at`, `new_due_at`) may be."""
    rate_limit_ingest_auth_failures: str = "10/minute"
    """Failed ingest bearer tokens per client address before it gets 429 ("" = no limit)."""
    staff_user_ids: str = ""

    # security (README "Security and privacy")
    data_dir: str = "data"
    """Where files the service makes for itself live (the generated secret key, the search
    index cache)."""
    search_cache_dir: str = ""
    """Where the built search index is cached ("" = DATA_DIR/search-cache); processes on one
    machine may share it (each file is written whole and named by what it indexes)."""
    secret_key: str | None = None
    trusted_proxies: str = ""
    metrics_token: str | None = None
    rate_limit_storage: str = "async+memory://"
    rate_limit_chat: str = "20/minute;300/hour"
    """Messages (texts and button presses) per messenger chat; staff are not limited."""
    rate_limit_search: str = "10/minute"
    """Procedure searches per chat (a search costs more than any other message)."""
    rate_limit_rating: str = "5/hour;20/day"
    """Satisfaction ratings per chat (besides one general rating a day, one per dossier)."""
    rate_limit_web_session: str = "20/minute;300/hour"
    """Messages one web-chat session may send."""
    rate_limit_web_address: str = "120/minute"
    """Web-chat messages from one client address (all its sessions together)."""
    web_new_sessions_per_address: str = "30/hour"
    """New web-chat sessions (conversations) one client address may start."""
    web_session_idle_days: int = Field(30, ge=1, le=400)
    """A web-chat session unused this long is over; each use extends it."""
    web_frame_ancestors: str = "'self'"
    """Who may show the web chat in a frame (CSP frame-ancestors), e.g. the portal's origin."""
    web_photo_max_bytes: int = Field(5 * 1024 * 1024, ge=10_000, le=50 * 1024 * 1024)
    """The largest photo (JPEG, PNG or WebP) a web-chat visitor may upload."""
    # dossier lookups: failed second factors, counted per chat, per dossier code (across every
    # chat and channel) and per web client address (handlers/dossiers.py)
    lookup_max_failures_per_chat: int = Field(5, ge=1)
    lookup_chat_window_minutes: int = Field(15, ge=1)
    lookup_max_failures_per_code: int = Field(10, ge=1)
    lookup_code_window_hours: int = Field(24, ge=1)
    lookup_code_lock_hours: int = Field(24, ge=1)
    lookup_max_failures_per_address: int = Field(20, ge=1)
    lookup_address_window_minutes: int = Field(60, ge=1)
    # retention: days each kind of record is kept before the daily purge (bot/db/privacy.py)
    retention_days_processed_updates: int = Field(30, ge=2)
    retention_days_outbox: int = Field(90, ge=1)
    retention_days_web_messages: int = Field(180, ge=1)
    retention_days_security: int = Field(365, ge=1)
    retention_days_button_payloads: int = Field(90, ge=1)
    retention_purge_time: str = "03:30"

    congratulation_delay_minutes: int = Field(60, ge=0)
    condolence_delay_minutes: int = Field(720, ge=0)
    survey_delay_minutes: int = Field(120, ge=0)
    # the scheduler (scheduler/, docs/scheduler.md)
    scheduler_interval_seconds: float = Field(15.0, gt=0)
    scheduler_rules_off: str = ""
    marriage_procedure_codes: str = "1.000894,2.000806"
    birth_procedure_codes: str = "1.001193,2.000986,2.001023,1.000689,2.000528"
    death_procedure_codes: str = "1.000656,1.001766"
    followup_max_age_days: int = Field(7, ge=1)
    appointment_reminder_time: str = "08:00"
    survey_scale: str = "Rất hài lòng|Hài lòng|Không hài lòng"
    notice_approval_required: bool = True
    letterheads_file: str | None = None
    holidays_file: str | None = None

    feedback_deadline_days: int = Field(15, ge=1)
    feedback_deadline_days_by_category: str = ""
    feedback_remind_days_before: int = Field(2, ge=0)

    outbox_max_attempts: int = Field(8, ge=1)
    outbox_lease_seconds: float = Field(60.0, gt=0)
    outbox_max_in_flight: int = Field(1, ge=1, le=64)

    @field_validator("telegram_staff_chat_id", mode="before")
    @classmethod
    def _empty_id(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        """Checked by its scheme and host, without SQLAlchemy (a third of a second to import,
        which `motcua --help` and `motcua search` need not pay); the engine parses the rest."""
        match = DATABASE_URL.fullmatch(value.strip())
        if match is None:
            raise ValueError(
                "is not a database URL; use e.g. sqlite+aiosqlite:///data/motcua.db "
                "or postgresql+asyncpg://user@host:5432/dbname"
            )
        driver = match["driver"]
        drivername = DRIVER_ALIASES.get(driver, driver)
        if drivername not in SUPPORTED_DRIVERS:
            raise ValueError(f"driver {driver!r} is not supported; use sqlite+aiosqlite or "
                             "postgresql+asyncpg")
        url = f"{drivername}://{match['rest']}"
        parts = urlsplit(url)
        if drivername.startswith("postgresql") and not parts.hostname and not parts.query:
            raise ValueError("a PostgreSQL URL needs a host, e.g. postgresql+asyncpg://u@host/db")
        return url

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if not parts.netloc:
            raise ValueError("must be an absolute URL such as https://motcua.example.gov.vn")
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("must use https (platforms only call https webhooks)")
        return value.strip().rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone, e.g. Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        value = value.strip()
        if value and not _parse_quiet(value):
            raise ValueError("must look like 21:00-07:00, or be empty for no quiet hours")
        return value

    @field_validator("telegram_webhook_secret", "zalo_bot_webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not SECRET_TOKEN_RE.match(value):
            raise ValueError("may only contain A-Z, a-z, 0-9, _ and - (1 to 256 characters)")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        if not value.strip().startswith(("async+memory://", "async+redis://")):
            raise ValueError("must be async+memory:// or async+redis://HOST:PORT")
        return value.strip()

    @field_validator("rate_limit_web_session", "rate_limit_web_address",
                     "web_new_sessions_per_address", "rate_limit_ingest_auth_failures",
                     "rate_limit_chat", "rate_limit_search", "rate_limit_rating")
    @classmethod
    def _rate_rule(cls, value: str) -> str:
        from bot.ratelimit import parse_rule

        try:
            items = parse_rule(value)
        except ValueError:
            items = None
        if items is None or any(item.amount < 1 for item in items):
            raise ValueError('must look like "20/minute;300/hour", or be empty for no limit'
                             ) from None
        return value.strip()

    @field_validator("web_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        # `self`/`none` may come unquoted: .env readers strip the quotes of 'self'.
        sources = [f"'{s}'" if s in ("self", "none") else s for s in value.split()]
        if not sources or not all(FRAME_SOURCE_RE.match(s) for s in sources):
            raise ValueError("must be 'self', 'none' or https origins separated by spaces, "
                             "e.g. 'self' https://dichvucong.example.gov.vn")
        if "'none'" in sources and len(sources) > 1:
            raise ValueError("'none' cannot be combined with other sources")
        return " ".join(sources)

    @field_validator("staff_user_ids")
    @classmethod
    def _staff(cls, value: str) -> str:
        for item in filter(None, (p.strip() for p in value.split(","))):
            channel, sep, user = item.partition(":")
            if not sep or not channel or not user:
                raise ValueError(f"entry {item!r} must look like telegram:123456")
        return value

    @field_validator("telegram_staff_chats")
    @classmethod
    def _staff_chats(cls, value: str) -> str:
        _parse_staff_chats(value)
        return value.strip()

    @field_validator("feedback_deadline_days_by_category")
    @classmethod
    def _deadlines(cls, value: str) -> str:
        for item in filter(None, (p.strip() for p in value.split(","))):
            key, sep, days = item.partition(":")
            if not sep or not days.strip().isdigit() or int(days) < 1:
                raise ValueError(f"entry {item!r} must look like ha_tang:5 (working days)")
        return value

    @field_validator("scheduler_rules_off")
    @classmethod
    def _rules_off(cls, value: str) -> str:
        for name in filter(None, (p.strip() for p in value.split(","))):
            if name not in FOLLOWUP_RULES:
                raise ValueError(
                    f"unknown rule {name!r}; the rules are {', '.join(FOLLOWUP_RULES)}")
        return value

    @field_validator("appointment_reminder_time", "retention_purge_time")
    @classmethod
    def _reminder_time(cls, value: str) -> str:
        match = re.match(r"^(\d{1,2}):(\d{2})$", value.strip())
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError("must look like 08:00")
        return value.strip()

    @field_validator("survey_scale")
    @classmethod
    def _survey_scale(cls, value: str) -> str:
        labels = [p.strip() for p in value.split("|") if p.strip()]
        if not 2 <= len(labels) <= 7:
            raise ValueError("must list 2 to 7 answers, best first, separated by |")
        return value

    @field_validator("zalo_zns_templates")
    @classmethod
    def _zns_templates(cls, value: str) -> str:
        if value.strip():
            _parse_zns_templates(value)
        return value.strip()

    @field_validator("telegram_bot_token", "zalo_bot_token", "ingest_api_token",
                     "zalo_oa_app_id", "zalo_oa_secret_key", "zalo_oa_refresh_token",
                     "zalo_oa_app_secret", "secret_key", "metrics_token")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None
        if value is not None and value.strip().lower() in {"changeme", "xxx", "your-token-here"}:
            raise ValueError("is still a placeholder; put the real value or leave it empty")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _zalo_bot_secret_length(self) -> Settings:
        secret = self.zalo_bot_webhook_secret
        if secret is not None and len(secret) < 8:
            raise ValueError("ZALO_BOT_WEBHOOK_SECRET must be at least 8 characters")
        return self

    # -- derived values -------------------------------------------------------------------

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def quiet_window(self) -> tuple[time, time] | None:
        return _parse_quiet(self.quiet_hours) if self.quiet_hours else None

    @cached_property
    def staff_ids(self) -> frozenset[tuple[str, str]]:
        pairs = (p.strip().partition(":") for p in self.staff_user_ids.split(",") if p.strip())
        return frozenset((channel, user) for channel, _, user in pairs)

    @cached_property
    def commune_staff_chats(self) -> dict[str, int]:
        """TELEGRAM_STAFF_CHATS: commune code -> its staff group."""
        return _parse_staff_chats(self.telegram_staff_chats)

    @cached_property
    def staff_chat_ids(self) -> frozenset[int]:
        """Every staff group: the province-wide one and the communes'."""
        fallback = {self.telegram_staff_chat_id} if self.telegram_staff_chat_id is not None \
            else set()
        return frozenset({*self.commune_staff_chats.values(), *fallback})

    def staff_chat_for(self, commune_code: str | None) -> int | None:
        """The staff group that serves a commune: its own, else the province-wide one."""
        return self.commune_staff_chats.get(commune_code or "", self.telegram_staff_chat_id)

    def feedback_deadline(self, category: str) -> int:
        """Working days staff have to answer a ticket of this category."""
        for item in self.feedback_deadline_days_by_category.split(","):
            key, _, days = item.strip().partition(":")
            if key == category and days.strip().isdigit():
                return int(days)
        return self.feedback_deadline_days

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite database as SQLAlchemy reads its URL (`sqlite:///rel.db`,
        `sqlite:////abs.db`); None for PostgreSQL and an in-memory database."""
        match = DATABASE_URL.fullmatch(self.database_url)
        if match is None or not match["driver"].startswith("sqlite"):
            return None
        path = match["rest"].partition("?")[0].removeprefix("/")
        return Path(path) if path and path != ":memory:" else None

    @property
    def search_cache(self) -> Path:
        return Path(self.search_cache_dir or Path(self.data_dir) / "search-cache")

    @cached_property
    def secret(self) -> bytes:
        """The key that signs sessions and pseudonymises ids: `SECRET_KEY`, or one generated
        into `DATA_DIR/secret_key` on first use (kept there, so every restart agrees)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.data_dir) / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "w") as file:
                    file.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    @cached_property
    def trusted_proxy_set(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def telegram_secret(self) -> str:
        """The webhook secret: configured, or derived from the token so every process agrees."""
        if self.telegram_webhook_secret:
            return self.telegram_webhook_secret
        token = self.telegram_bot_token or ""
        return hashlib.sha256(b"motcua-webhook:" + token.encode()).hexdigest()[:48]

    @property
    def zalo_bot_secret(self) -> str:
        """The Zalo Bot webhook secret: configured, or derived from the token (8-256 chars)."""
        if self.zalo_bot_webhook_secret:
            return self.zalo_bot_webhook_secret
        token = self.zalo_bot_token or ""
        return hashlib.sha256(b"motcua-zalo-bot-webhook:" + token.encode()).hexdigest()[:48]

    @property
    def zalo_oa_enabled(self) -> bool:
        return bool(self.zalo_oa_app_id and self.zalo_oa_secret_key and self.zalo_oa_app_secret
                    and self.zalo_oa_refresh_token)

    @cached_property
    def zns_templates(self) -> dict[str, dict[str, Any]]:
        """ZNS templates by outbox purpose: {"template_id": str, "params": {name: source}}."""
        return _parse_zns_templates(self.zalo_zns_templates) if self.zalo_zns_templates else {}

    def procedure_codes(self, family: str) -> tuple[str, ...]:
        """The procedure codes of a follow-up family ("marriage", "birth", "death")."""
        raw: str = getattr(self, f"{family}_procedure_codes")
        return tuple(p.strip() for p in raw.split(",") if p.strip())

    @cached_property
    def rules_off(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.scheduler_rules_off.split(",") if p.strip())

    @cached_property
    def reminder_at(self) -> time:
        hour, minute = self.appointment_reminder_time.split(":")
        return time(int(hour), int(minute))

    @cached_property
    def purge_at(self) -> time:
        """Local time of the daily retention purge."""
        hour, minute = self.retention_purge_time.split(":")
        return time(int(hour), int(minute))

    @cached_property
    def survey_labels(self) -> tuple[str, ...]:
        """The answers of the satisfaction scale, best first (score len..1)."""
        return tuple(p.strip() for p in self.survey_scale.split("|") if p.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse_quiet(value: str) -> tuple[time, time] | None:
    match = QUIET_RE.match(value)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return None
    return time(h1, m1), time(h2, m2)


def _parse_staff_chats(value: str) -> dict[str, int]:
    chats: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in value.split(","))):
        commune, sep, chat = (part.strip() for part in item.partition(":"))
        if not sep or not re.fullmatch(r"[0-9A-Za-z._-]{1,20}", commune) \
                or not re.fullmatch(r"-?\d{1,20}", chat):
            raise ValueError(f"entry {item!r} must look like 4543:-1001234567890 "
                             "(commune code : staff group id)")
        if commune in chats and chats[commune] != int(chat):
            raise ValueError(f"commune {commune} is given two staff groups")
        chats[commune] = int(chat)
    return chats


def _parse_zns_templates(value: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(value)
    except ValueError:
        raise ValueError('must be JSON, e.g. {"dossier_status": {"template_id": "123456", '
                         '"params": {"ma_ho_so": "dossier_code"}}}') from None
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object keyed by message purpose")
    templates: dict[str, dict[str, Any]] = {}
    for purpose, spec in data.items():
        if not isinstance(spec, dict) or not str(spec.get("template_id", "")).strip():
            raise ValueError(f"{purpose!r} needs a template_id")
        params = spec.get("params", {})
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
            raise ValueError(f"{purpose!r}: params must map template parameters to sources")
        templates[purpose] = {"template_id": str(spec["template_id"]).strip(), "params": params}
    return templates


def describe_errors(error: ValidationError) -> str:
    """A message an operator can act on: one line per bad setting, by its env name."""
    lines = ["motcua cannot start: some settings are invalid."]
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]).upper() or "SETTINGS"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    lines.append("Fix them in the environment or in .env (see .env.example).")
    return "\n".join(lines)


def load_settings() -> Settings:
    """The settings for a `motcua` command; on invalid settings, what to fix on stderr and
    exit status 2."""
    try:
        return Settings()
    except ValidationError as error:
        print(describe_errors(error), file=sys.stderr)
        raise SystemExit(2) from None
