"""The ingest API for the one-stop system: `PUT /api/v1/dossiers/{code}` (upsert) and
`POST /api/v1/dossiers/{code}/events` (a status event), described in docs/openapi-ingest.yaml.

`Authorization: Bearer $INGEST_API_TOKEN`, compared in constant time; no token configured =
the API does not exist (404). Bodies are capped at 1 MiB before parsing (413) and validated
strictly (422 with `{"errors": {field: message}}`). Idempotent: the same event twice is
recorded once and announced once; status messages to subscribers go through the outbox.

The validation models and `apply_*` functions are shared with `motcua import-dossiers`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import UTC, date, datetime, time
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
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import dossiers as repo
from bot.db.dossiers import DossierFields, EventFields, Status
from bot.db.models import ProcedureRecord
from scheduler.quiet import next_allowed

log = logging.getLogger(__name__)

json_response = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))
END_OF_DAY = time(23, 59)


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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    """Times without an offset are local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


class Invalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(json.dumps(errors, ensure_ascii=False))
        self.errors = errors


async def dossier_fields(session: AsyncSession, code: str, body: DossierIn,
                         timezone: str, catalogue: Any = None) -> DossierFields:
    """Checks that need more than the body: the code in the path, times in order, the
    procedure name (optional when the catalogue knows the code)."""
    errors: dict[str, str] = {}
    canonical = repo.normalize_code(code)
    if not code.strip():
        errors["code"] = "required"
    elif canonical is None:
        errors["code"] = "not a dossier code (letters, digits and . - / only)"
    elif body.code is not None and repo.code_key(body.code) != repo.code_key(canonical):
        errors["code"] = "differs from the code in the URL"
    received_at = aware(body.received_at, timezone)
    due_at = aware(body.due_at, timezone)
    if due_at < received_at:
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


def event_fields(body: EventIn, timezone: str) -> EventFields:
    at = aware(body.at, timezone)
    new_due = aware(body.new_due_at, timezone) if body.new_due_at else None
    if new_due is not None and new_due <= at:
        raise Invalid({"new_due_at": "must be after at"})
    return EventFields(body.status, at, body.note, new_due, body.reason)


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
        woken = await announce_event(session, result.dossier, result.event, settings.timezone,
                                     send_after(now, settings))
    return result, woken


async def apply_event(session: AsyncSession, dossier: repo.Dossier, fields: EventFields,
                      now: datetime, settings: Settings, *,
                      source: str = "api") -> tuple[repo.Recorded, set[str]]:
    from handlers.dossiers import announce_event

    recorded = await repo.add_event(session, dossier, fields, now, source=source)
    woken: set[str] = set()
    if recorded.event is not None and recorded.announce:
        woken = await announce_event(session, dossier, recorded.event, settings.timezone,
                                     send_after(now, settings))
    return recorded, woken


# -- HTTP -----------------------------------------------------------------------------------


def add_routes(app: web.Application) -> None:
    """Codes may contain "/" (03706/2026/07906): sent raw or percent-encoded, both work."""
    app.router.add_put("/api/v1/dossiers/{code:.+}", put_dossier)
    app.router.add_post("/api/v1/dossiers/{code:.+}/events", post_event)


def _service(request: web.Request) -> Any:
    from bot.web import SERVICE

    return request.app[SERVICE]


def _authorize(request: web.Request) -> Any:
    service = _service(request)
    token = service.settings.ingest_api_token
    if not token:
        raise web.HTTPNotFound()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "missing or invalid bearer token"}),
            content_type="application/json", headers={"WWW-Authenticate": "Bearer"})
    return service


def _unprocessable(errors: dict[str, str]) -> web.Response:
    return json_response({"errors": errors}, status=422)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    """Parse and validate; raises a ready error response (400/413/415/422)."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": "send application/json"}), content_type="application/json")
    raw = await request.read()  # 413 above client_max_size, before any parsing
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"errors": {"body": "not valid JSON"}}),
                                 content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=json.dumps({"errors": {"body": "must be a JSON object"}}),
                                 content_type="application/json")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _HTTPUnprocessable(field_errors(error)) from None


class _HTTPUnprocessable(web.HTTPUnprocessableEntity):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(text=json.dumps({"errors": errors}, ensure_ascii=False),
                         content_type="application/json")


def _wake(service: Any, channels: set[str]) -> None:
    senders = service.services.get("senders") or {}
    for channel in channels:
        if channel in senders:
            senders[channel].notify()


async def put_dossier(request: web.Request) -> web.Response:
    service = _authorize(request)
    body: DossierIn = await _body(request, DossierIn)
    code = request.match_info["code"]
    now = service.clock()
    async with service.db.session() as session:
        try:
            fields = await dossier_fields(session, code, body, service.settings.timezone,
                                          service.services.get("catalogue"))
        except Invalid as error:
            return _unprocessable(error.errors)
        result, woken = await apply_dossier(session, fields, now, service.settings)
    _wake(service, woken)
    return json_response({"code": result.dossier.code, "created": result.created,
                          "changed": result.changed}, status=201 if result.created else 200)


async def post_event(request: web.Request) -> web.Response:
    service = _authorize(request)
    body: EventIn = await _body(request, EventIn)
    code = request.match_info["code"]
    if repo.normalize_code(code) is None:
        return _unprocessable({"code": "not a dossier code (letters, digits and . - / only)"})
    try:
        fields = event_fields(body, service.settings.timezone)
    except Invalid as error:
        return _unprocessable(error.errors)
    now = service.clock()
    async with service.db.session() as session:
        dossier = await repo.get_dossier(session, code, lock=True)
        if dossier is None:
            return json_response({"error": "no dossier with this code; PUT it first"},
                                 status=404)
        recorded, woken = await apply_event(session, dossier, fields, now, service.settings)
    _wake(service, woken)
    if recorded.event is None:
        return json_response({"code": dossier.code, "duplicate": True, "status": dossier.status})
    return json_response({"code": dossier.code, "duplicate": False, "status": dossier.status,
                          "event_id": recorded.event.id}, status=201)

