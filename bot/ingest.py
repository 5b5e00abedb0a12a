"""The ingest API for the one-stop system: `PUT /api/v1/dossiers/{code}` (upsert) and
`POST /api/v1/dossiers/{code}/events` (a status event), described in docs/openapi-ingest.yaml.

`Authorization: Bearer $INGEST_API_TOKEN`, compared in constant time as bytes; no token
configured = the API does not exist (404). Failed tokens are logged (the address, never the
token) and counted per client address: over `RATE_LIMIT_INGEST_AUTH_FAILURES` the address gets
429 before its token is even looked at, so guessing is throttled and a right guess is not told
apart from a wrong one. Bodies are capped at 1 MiB before parsing (413) and validated strictly
(422 with `{"errors": {field: message}}`; the log names the fields, never their values): no
control or bidirectional-override characters, phones in ASCII digits, times no later than now
(`INGEST_MAX_FUTURE_MINUTES`), appointments within `INGEST_MAX_DUE_YEARS`, nothing before 2000.
Idempotent: the same event twice is recorded once and announced once; status messages to
subscribers go through the outbox.

The validation models and `apply_*` functions are shared with `motcua import-dossiers`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, partial
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import bearer_token, client_address, route_name, secret_matches
from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, EventFields, Status
from bot.db.models import ProcedureRecord
from bot.running import SERVICE, Running
from scheduler.quiet import next_allowed

log = logging.getLogger(__name__)

json_response = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))
END_OF_DAY = time(23, 59)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No dossier of the one-stop systems is older; earlier times are typing or conversion errors."""
AUTH_FAILURES = "ingest_auth_failures"
"""The limiter's namespace for failed bearer tokens, counted per client address."""


# -- validation -----------------------------------------------------------------------------


def _date_only(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) == 10 and value.strip()[4] == "-"


def _end_of_day(value: Any) -> Any:
    """A bare date as an appointment means "by the end of that day"."""
    if _date_only(value):
        return datetime.combine(date.fromisoformat(value.strip()), END_OF_DAY)
    return value


Moment = datetime
DueMoment = Annotated[datetime, BeforeValidator(_end_of_day)]
Text = Annotated[str, Field(max_length=2000)]

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
"""Marks, embeddings, overrides and isolates: they reorder what is shown around them (an
override can make "…0001" read as "1000…" in a card or a staff page)."""
MULTILINE = frozenset({"note", "reason"})
"""Free text written by staff, where line breaks and tabs are legitimate."""


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why a string from the one-stop system cannot be stored and shown, or None: NUL (which
    PostgreSQL refuses), other control characters (line breaks only in free text), unpaired
    surrogates (not encodable in UTF-8) and bidirectional controls."""
    for char in value:
        category = unicodedata.category(char)
        if char == "\x00":
            return "contains a NUL character"
        if category == "Cc" and not (multiline and char in "\n\r\t"):
            return f"contains a control character (U+{ord(char):04X})"
        if category == "Cs":
            return f"contains an unpaired surrogate (U+{ord(char):04X})"
        if char in BIDI_CONTROLS:
            return f"contains a bidirectional control character (U+{ord(char):04X})"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        """Every string: trimmed (a spreadsheet cell's trailing line break is harmless), then
        refused if anything unprintable is left, then NFC."""
        if isinstance(value, str):
            value = value.strip()
            problem = text_problem(value, multiline=info.field_name in MULTILINE)
            if problem:
                raise ValueError(problem)
            return unicodedata.normalize("NFC", value)
        return value


class DossierIn(_Strict):
    """A dossier as the one-stop system sends it. Times without an offset are local time
    (settings.timezone); a bare date as `due_at` means the end of that day."""

    code: str | None = Field(None, max_length=repo.MAX_CODE)
    procedure_code: str = Field(min_length=1, max_length=60)
    procedure_name: str | None = Field(None, max_length=1000)
    applicant_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=30)
    commune_code: str | None = Field(None, max_length=20)
    received_at: Moment
    due_at: DueMoment
    status: Status = Status.RECEIVED
    note: Text = ""

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = repo.normalize_phone(value)
        if phone is None:
            raise ValueError("not a Vietnamese phone number (9–11 digits, +84 allowed)")
        return phone

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = repo.normalize_code(value)
        if code is None:
            raise ValueError("not a dossier code (letters, digits and . - / only)")
        return code


class EventIn(_Strict):
    """A status event. `delayed` must carry `new_due_at` and `reason`."""

    status: Status
    at: Moment
    note: Text = ""
    new_due_at: DueMoment | None = None
    reason: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _delay(self) -> EventIn:
        if self.status == Status.DELAYED:
            missing = [name for name in ("new_due_at", "reason")
                       if not getattr(self, name)]
            if missing:
                raise _FieldErrors({name: "required for a delayed event" for name in missing})
        else:
            extra = [name for name in ("new_due_at", "reason") if getattr(self, name)]
            if extra:
                raise _FieldErrors({name: "only for a delayed event" for name in extra})
        return self


class _FieldErrors(ValueError):
    """Errors from a cross-field check, each under its own field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as `{field: message}` (first message per field)."""
    errors: dict[str, str] = {}
    for item in error.errors():
        context = item.get("ctx") or {}
        cause = context.get("error")
        if isinstance(cause, _FieldErrors):
            for name, message in cause.errors.items():
                errors.setdefault(name, message)
            continue
        name = ".".join(str(part) for part in item["loc"]) or "body"
        message = str(item["msg"])
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "enum":
            message = "must be one of: " + ", ".join(s.value for s in Status)
        errors.setdefault(name, message.removeprefix("Value error, "))
    return errors


def aware(moment: datetime, timezone: str) -> datetime:
    """Times without an offset are local time. OverflowError at the ends of the calendar
    ("0001-01-01T00:00:00+14:00" is in year 0 in UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


class Invalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(json.dumps(errors, ensure_ascii=False))
        self.errors = errors


@dataclass(frozen=True)
class Bounds:
    """Which times are possible, as of `now`: things that happened (`received_at`, an event's
    `at`) at most `future` ahead of our clock (the one-stop system's clock may run a little
    fast); appointments (`due_at`, `new_due_at`) at most `due_years` ahead; nothing before
    EARLIEST. A time outside them would freeze a dossier (an event in 2099 outranks every
    real one) or overflow a date computation later."""

    timezone: str
    now: datetime
    future: timedelta = timedelta(minutes=10)
    due_years: int = 5

    @classmethod
    def of(cls, settings: Settings, now: datetime) -> Bounds:
        return cls(settings.timezone, now, timedelta(minutes=settings.ingest_max_future_minutes),
                   settings.ingest_max_due_years)

    def happened(self, name: str, moment: datetime, errors: dict[str, str]) -> datetime:
        """`moment` in UTC; a problem goes to `errors[name]`."""
        utc = self._utc(name, moment, errors)
        if name not in errors and utc > self.now + self.future:
            errors[name] = "is in the future"
        return utc

    def appointment(self, name: str, moment: datetime, errors: dict[str, str]) -> datetime:
        utc = self._utc(name, moment, errors)
        if name not in errors and utc > self.now + timedelta(days=366 * self.due_years):
            errors[name] = f"is more than {self.due_years} years ahead"
        return utc

    def _utc(self, name: str, moment: datetime, errors: dict[str, str]) -> datetime:
        try:
            utc = aware(moment, self.timezone)
        except (OverflowError, ValueError):
            errors[name] = "is out of range"
            return EARLIEST
        if utc < EARLIEST:
            errors[name] = f"is before {EARLIEST.year}"
        return utc


async def dossier_fields(session: AsyncSession, code: str, body: DossierIn, bounds: Bounds,
                         catalogue: Any = None) -> DossierFields:
    """Checks that need more than the body: the code in the path, times possible and in
    order, the procedure name (optional when the catalogue knows the code)."""
    errors: dict[str, str] = {}
    canonical = repo.normalize_code(code)
    if not code.strip():
        errors["code"] = "required"
    elif canonical is None:
        errors["code"] = "not a dossier code (letters, digits and . - / only)"
    elif body.code is not None and repo.code_key(body.code) != repo.code_key(canonical):
        errors["code"] = "differs from the code in the URL"
    received_at = bounds.happened("received_at", body.received_at, errors)
    due_at = bounds.appointment("due_at", body.due_at, errors)
    if not errors.keys() & {"received_at", "due_at"} and due_at < received_at:
        errors["due_at"] = "is before received_at"
    name = body.procedure_name or await procedure_name(session, body.procedure_code, catalogue)
    if not name:
        errors["procedure_name"] = "required: procedure_code is not in the catalogue"
    if errors:
        raise Invalid(errors)
    assert canonical is not None and name is not None
    return DossierFields(
        code=canonical, procedure_code=body.procedure_code, procedure_name=name,
        applicant_name=body.applicant_name, phone=body.phone, received_at=received_at,
        due_at=due_at, status=body.status, commune_code=body.commune_code or None,
        note=body.note,
    )


def event_fields(body: EventIn, bounds: Bounds) -> EventFields:
    """The event in UTC, its times possible (the dossier's own dates are checked by
    `check_event_dates` once it is loaded)."""
    errors: dict[str, str] = {}
    at = bounds.happened("at", body.at, errors)
    new_due = (bounds.appointment("new_due_at", body.new_due_at, errors)
               if body.new_due_at else None)
    if not errors and new_due is not None and new_due <= at:
        errors["new_due_at"] = "must be after at"
    if errors:
        raise Invalid(errors)
    return EventFields(body.status, at, body.note, new_due, body.reason)


def check_event_dates(dossier: repo.Dossier, fields: EventFields) -> None:
    """Nothing happens to a dossier before it is received."""
    if fields.at < dossier.received_at:
        raise Invalid({"at": "is before the dossier's received_at"})


async def procedure_name(session: AsyncSession, procedure_code: str,
                         catalogue: Any = None) -> str | None:
    """The name of a procedure: from the stored catalogue, the loaded search index, or the
    bundled catalogue (loaded once, off the event loop)."""
    stored = await session.scalar(
        select(ProcedureRecord.name).where(ProcedureRecord.code == procedure_code))
    if stored:
        return _plain(str(stored))
    procedure = catalogue.get(procedure_code) if catalogue is not None else None
    if procedure is not None:
        return _plain(str(procedure.name))
    name = (await asyncio.to_thread(_bundled_names)).get(procedure_code)
    return _plain(name) if name else None


def _plain(name: str) -> str:
    """"Thủ tục đăng ký kết hôn" → "Đăng ký kết hôn" (the card already says "Thủ tục:")."""
    name = name.strip()
    if name.lower().startswith("thủ tục "):
        name = name[len("thủ tục "):]
    return name[:1].upper() + name[1:]


@cache
def _bundled_names() -> dict[str, str]:
    try:
        from procedures.catalogue import load_bundled

        return {p.code: p.name for p in load_bundled()}
    except Exception:  # noqa: BLE001 - no bundle means no names, not a failure
        log.warning("bundled catalogue unavailable for procedure names", exc_info=True)
        return {}


# -- applying (shared with the importer) ----------------------------------------------------


def send_after(now: datetime, settings: Settings) -> datetime | None:
    """When status messages may leave: now, or the end of quiet hours (QUIET_HOURS)."""
    allowed = next_allowed(now, settings.quiet_window, settings.timezone)
    return allowed if allowed > now else None


async def apply_dossier(session: AsyncSession, fields: DossierFields, now: datetime,
                        settings: Settings, *,
                        source: str = "put") -> tuple[repo.Upserted, set[str]]:
    """Upsert; a changed status is announced to subscribers. Returns the result and the
    channels whose senders should wake up."""
    from handlers.dossiers import announce_event

    result = await repo.upsert_dossier(session, fields, now, source=source)
    woken: set[str] = set()
    if result.event is not None:
        woken = await announce_event(session, result.dossier, result.event, settings,
                                     send_after(now, settings))
    return result, woken


async def apply_event(session: AsyncSession, dossier: repo.Dossier, fields: EventFields,
                      now: datetime, settings: Settings, *,
                      source: str = "api") -> tuple[repo.Recorded, set[str]]:
    from handlers.dossiers import announce_event

    recorded = await repo.add_event(session, dossier, fields, now, source=source)
    woken: set[str] = set()
    if recorded.event is not None and recorded.announce:
        woken = await announce_event(session, dossier, recorded.event, settings,
                                     send_after(now, settings))
    return recorded, woken


# -- HTTP -----------------------------------------------------------------------------------


def add_routes(app: web.Application) -> None:
    """Codes may contain "/" (03706/2026/07906): sent raw or percent-encoded, both work."""
    app.router.add_put("/api/v1/dossiers/{code:.+}", put_dossier)
    app.router.add_post("/api/v1/dossiers/{code:.+}/events", post_event)


def _service(request: web.Request) -> Running:
    return request.app[SERVICE]


async def _authorize(request: web.Request) -> Any:
    """The service, or an error: 404 (API off), 429 (this address failed too often: refused
    before its token is looked at, so the answer says nothing about the guess), 401."""
    service = _service(request)
    settings: Settings = service.settings
    token = settings.ingest_api_token
    if not token:
        raise web.HTTPNotFound()
    address = client_address(request, settings.trusted_proxy_set) or "unknown"
    rule = settings.rate_limit_ingest_auth_failures
    if not await service.limiter.test(AUTH_FAILURES, address, rule):
        wait = await service.limiter.retry_after(AUTH_FAILURES, address, rule)
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": "too many failed authentications from this address"}),
            content_type="application/json", headers={"Retry-After": str(wait)})
    given = bearer_token(request)
    if given is None or not secret_matches(given, token):
        # One line per failure; the 429s that follow are not logged (they would be a flood).
        await service.limiter.hit(AUTH_FAILURES, address, rule)
        throttled = not await service.limiter.test(AUTH_FAILURES, address, rule)
        log.warning("ingest: %s bearer token from %r%s", "missing" if given is None else "wrong",
                    address, f"; 429 from now on ({rule})" if throttled else "")
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "missing or invalid bearer token"}),
            content_type="application/json", headers={"WWW-Authenticate": "Bearer"})
    return service


def _unprocessable(request: web.Request, errors: dict[str, str]) -> web.Response:
    """422 with every bad field."""
    _log_refused(request, errors)
    return json_response({"errors": errors}, status=422)


def _log_refused(request: web.Request, errors: dict[str, str]) -> None:
    """One line naming the fields, never a value: names, phones and whatever else a sender
    put there stay out of the log."""
    log.warning("ingest: %s refused (422): %s", route_name(request), ", ".join(_loggable(errors)))


def _loggable(errors: dict[str, str]) -> list[str]:
    """Field names as they may appear in a log: unknown ones are the sender's own keys."""
    known = set(DossierIn.model_fields) | set(EventIn.model_fields) | {"body"}
    return sorted(name if name in known else "(unknown field)" for name in errors)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    """Parse and validate; raises a ready error response (400/413/415/422)."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": "send application/json"}), content_type="application/json")
    raw = await request.read()  # 413 above client_max_size, before any parsing
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…
        log.warning("ingest: %s refused: body is not valid JSON", route_name(request))
        raise web.HTTPBadRequest(text=json.dumps({"errors": {"body": "not valid JSON"}}),
                                 content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=json.dumps({"errors": {"body": "must be a JSON object"}}),
                                 content_type="application/json")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error)
        _log_refused(request, errors)
        raise web.HTTPUnprocessableEntity(
            text=json.dumps({"errors": errors}, ensure_ascii=False),
            content_type="application/json") from None


def _wake(service: Any, channels: set[str]) -> None:
    senders = service.services.get("senders") or {}
    for channel in channels:
        if channel in senders:
            senders[channel].notify()


async def put_dossier(request: web.Request) -> web.Response:
    service = await _authorize(request)
    body: DossierIn = await _body(request, DossierIn)
    code = request.match_info["code"]
    now = service.clock()
    async with service.db.session() as session:
        try:
            fields = await dossier_fields(session, code, body, Bounds.of(service.settings, now),
                                          service.services.get("catalogue"))
        except Invalid as error:
            return _unprocessable(request, error.errors)
        result, woken = await apply_dossier(session, fields, now, service.settings)
    _wake(service, woken)
    return json_response({"code": result.dossier.code, "created": result.created,
                          "changed": result.changed}, status=201 if result.created else 200)


async def post_event(request: web.Request) -> web.Response:
    service = await _authorize(request)
    body: EventIn = await _body(request, EventIn)
    code = request.match_info["code"]
    if repo.normalize_code(code) is None:
        return _unprocessable(request,
                              {"code": "not a dossier code (letters, digits and . - / only)"})
    now = service.clock()
    try:
        fields = event_fields(body, Bounds.of(service.settings, now))
    except Invalid as error:
        return _unprocessable(request, error.errors)
    async with service.db.session() as session:
        dossier = await repo.get_dossier(session, code, lock=True)
        if dossier is None:
            return json_response({"error": "no dossier with this code; PUT it first"},
                                 status=404)
        try:
            check_event_dates(dossier, fields)
        except Invalid as error:
            return _unprocessable(request, error.errors)
        recorded, woken = await apply_event(session, dossier, fields, now, service.settings)
    _wake(service, woken)
    if recorded.event is None:
        return json_response({"code": dossier.code, "duplicate": True, "status": dossier.status})
    return json_response({"code": dossier.code, "duplicate": False, "status": dossier.status,
                          "event_id": recorded.event.id}, status=201)

