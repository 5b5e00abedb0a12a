"""The ingest API over real HTTP against the running service: authentication, every error
class, upsert and events, idempotency, and notifications through the outbox."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Service
from bot.config import describe_errors
from bot.db import dossiers as repo
from bot.db.dossiers import Dossier, DossierEvent
from bot.db.models import Citizen, OutboxMessage
from bot.db.session import Database
from tests.conftest import make_settings

TOKEN = "ingest-Token_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CODE = "000.00.01.H29-260105-0001"
NOW = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
"""The service's clock in these tests: after every time the bodies below mention."""


def dossier_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "procedure_code": "1.000894",
        "procedure_name": "Đăng ký kết hôn",
        "applicant_name": "Nguyễn Văn An",
        "phone": "0912 345 678",
        "commune_code": "26734",
        "received_at": "2026-01-05T09:00:00+07:00",
        "due_at": "2026-01-20T17:00:00+07:00",
        "status": "received",
        "note": "",
    }
    body.update(overrides)
    return body


class Api:
    def __init__(self, service: Service, http: aiohttp.ClientSession) -> None:
        self.service = service
        self.http = http
        self.base = f"http://127.0.0.1:{service.port}/api/v1/dossiers"

    async def put(self, code: str, body: Any, headers: dict[str, str] | None = None,
                  **kwargs: Any) -> tuple[int, Any]:
        async with self.http.put(f"{self.base}/{code}", json=body,
                                 headers=AUTH if headers is None else headers,
                                 **kwargs) as response:
            return response.status, await _json(response)

    async def event(self, code: str, body: Any,
                    headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/{code}/events", json=body,
                                  headers=AUTH if headers is None else headers) as response:
            return response.status, await _json(response)

    async def count(self, model: type) -> int:
        async with self.service.db.session() as session:
            return await session.scalar(select(func.count()).select_from(model)) or 0


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return await response.text()


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(database_url, ingest_api_token=TOKEN)
    async with Service(settings, clock=lambda: NOW) as service, \
            aiohttp.ClientSession() as http:
        yield Api(service, http)


async def test_api_is_off_without_a_token(database_url: str) -> None:
    async with Service(make_settings(database_url)) as service, \
            aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}/api/v1/dossiers/{CODE}"
        async with http.put(url, json=dossier_body(), headers=AUTH) as response:
            assert response.status == 404
        async with http.post(f"{url}/events", json={}, headers=AUTH) as response:
            assert response.status == 404


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"},
])
async def test_401_without_a_valid_token_and_nothing_written(api: Api,
                                                             headers: dict[str, str]) -> None:
    status, body = await api.put(CODE, dossier_body(), headers=headers)
    assert status == 401 and "token" in body["error"]
    status, _ = await api.event(CODE, {"status": "processing", "at": "2026-01-06T09:00:00Z"},
                                headers=headers)
    assert status == 401
    assert await api.count(Dossier) == 0


async def test_put_creates_then_the_same_put_changes_nothing(api: Api) -> None:
    status, body = await api.put(CODE, dossier_body())
    assert (status, body) == (201, {"code": CODE, "created": True, "changed": True})
    status, body = await api.put(CODE, dossier_body())
    assert (status, body["created"], body["changed"]) == (200, False, False)
    status, body = await api.put(CODE.lower(), dossier_body(note="Đã đủ giấy tờ"))
    assert (status, body["changed"]) == (200, True)
    async with api.service.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        assert dossier.phone == "0912345678" and dossier.note == "Đã đủ giấy tờ"
        assert dossier.due_at == datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
    assert await api.count(Dossier) == 1
    assert await api.count(DossierEvent) == 1  # the initial "received"


async def test_422_names_each_bad_field(api: Api) -> None:
    body = dossier_body(phone="12", status="lost", received_at="yesterday", extra="x")
    del body["applicant_name"]
    status, answer = await api.put(CODE, body)
    assert status == 422
    errors = answer["errors"]
    assert set(errors) == {"phone", "status", "received_at", "extra", "applicant_name"}
    assert "received" in errors["status"] and errors["extra"] == "unknown field"

    status, answer = await api.put(CODE, dossier_body(due_at="2026-01-01T08:00:00+07:00"))
    assert (status, set(answer["errors"])) == (422, {"due_at"})
    status, answer = await api.put(CODE, dossier_body(code="000.00.01.H29-260105-0002"))
    assert (status, set(answer["errors"])) == (422, {"code"})
    status, answer = await api.put("ab", dossier_body())
    assert (status, set(answer["errors"])) == (422, {"code"})
    status, answer = await api.put(CODE, dossier_body(procedure_code="9.999999",
                                                      procedure_name=None))
    assert (status, set(answer["errors"])) == (422, {"procedure_name"})
    status, answer = await api.put(CODE, dossier_body(note="x" * 2001))
    assert (status, set(answer["errors"])) == (422, {"note"})
    assert await api.count(Dossier) == 0


async def test_malformed_bodies(api: Api) -> None:
    async with api.http.put(f"{api.base}/{CODE}", data=b"{not json",
                            headers={**AUTH, "Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with api.http.put(f"{api.base}/{CODE}", data=b"[1, 2]",
                            headers={**AUTH, "Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with api.http.put(f"{api.base}/{CODE}", data=b"a=b", headers={
            **AUTH, "Content-Type": "application/x-www-form-urlencoded"}) as response:
        assert response.status == 415


async def test_413_above_one_mebibyte(api: Api) -> None:
    big = b'{"note": "' + b"x" * (1024 * 1024) + b'"}'
    async with api.http.put(f"{api.base}/{CODE}", data=big,
                            headers={**AUTH, "Content-Type": "application/json"}) as response:
        assert response.status == 413
    assert await api.count(Dossier) == 0


async def test_procedure_name_comes_from_the_catalogue(api: Api) -> None:
    status, _ = await api.put(CODE, dossier_body(procedure_name=None))
    assert status == 201
    async with api.service.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None and dossier.procedure_name == "Đăng ký kết hôn"


async def test_times_without_offset_are_local_and_a_bare_due_date_is_end_of_day(api: Api) -> None:
    status, _ = await api.put(CODE, dossier_body(received_at="2026-01-05T09:00:00",
                                                 due_at="2026-01-20"))
    assert status == 201
    async with api.service.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        assert dossier.received_at == datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
        assert dossier.due_at == datetime(2026, 1, 20, 16, 59, tzinfo=UTC)


@pytest.mark.parametrize("code", ["03706/2026/07906", "03706%2F2026%2F07906"])
async def test_codes_with_slashes_raw_or_encoded(api: Api, code: str) -> None:
    status, body = await api.put(code, dossier_body())
    assert (status, body["code"]) == (201, "03706/2026/07906")
    status, body = await api.event(code, {"status": "processing", "at": "2026-01-06T09:00:00Z"})
    assert (status, body["status"]) == (201, "processing")


async def test_event_on_an_unknown_dossier_is_404(api: Api) -> None:
    status, body = await api.event(CODE, {"status": "processing", "at": "2026-01-06T09:00:00Z"})
    assert status == 404 and "PUT" in body["error"]


async def test_event_errors_and_the_delayed_rules(api: Api) -> None:
    await api.put(CODE, dossier_body())
    status, body = await api.event(CODE, {"status": "delayed", "at": "2026-01-19T09:00:00Z"})
    assert (status, set(body["errors"])) == (422, {"new_due_at", "reason"})
    status, body = await api.event(CODE, {"status": "processing", "at": "2026-01-06T09:00:00Z",
                                          "reason": "x"})
    assert (status, set(body["errors"])) == (422, {"reason"})
    status, body = await api.event(CODE, {"status": "delayed", "at": "2026-01-19T09:00:00Z",
                                          "new_due_at": "2026-01-10", "reason": "Thiếu"})
    assert (status, set(body["errors"])) == (422, {"new_due_at"})
    status, body = await api.event(CODE, {"at": "2026-01-19T09:00:00Z"})
    assert (status, set(body["errors"])) == (422, {"status"})
    assert await api.count(DossierEvent) == 1

    status, body = await api.event(CODE, {
        "status": "delayed", "at": "2026-01-19T09:00:00+07:00", "new_due_at": "2026-01-27",
        "reason": "Chờ ý kiến của cơ quan liên quan"})
    assert (status, body["status"]) == (201, "delayed")
    async with api.service.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        assert dossier.due_at == datetime(2026, 1, 27, 16, 59, tzinfo=UTC)
        delay = await repo.get_latest_delay(session, dossier.id)
        assert delay is not None
        assert delay.previous_due_at == datetime(2026, 1, 20, 10, 0, tzinfo=UTC)


async def subscribe_web_chat(service: Service, code: str, chat_id: str = "w1") -> None:
    """What a successful lookup and a press on the subscribe button leave behind."""
    now = datetime.now(UTC)
    async with service.db.session() as session:
        citizen = Citizen(display_name="")
        session.add(citizen)
        await session.flush()
        dossier = await repo.get_dossier(session, code)
        assert dossier is not None
        access = await repo.record_verified(session, dossier.id, citizen.id, "web", chat_id,
                                            None, now)
        await repo.set_subscribed(session, access, True, now)


async def outbox_rows(service: Service) -> list[OutboxMessage]:
    async with service.db.session() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_the_same_event_twice_changes_nothing_and_notifies_once(api: Api) -> None:
    await api.put(CODE, dossier_body())
    await subscribe_web_chat(api.service, CODE)
    event = {"status": "processing", "at": "2026-01-06T09:00:00+07:00", "note": "Chuyển xử lý"}
    status, first = await api.event(CODE, event)
    assert (status, first["duplicate"]) == (201, False)
    status, again = await api.event(CODE, event | {"note": "changed note"})
    assert (status, again["duplicate"]) == (200, True)
    status, again = await api.event(CODE.lower().replace("-", " - "), event)
    assert (status, again["duplicate"]) == (200, True)
    rows = await outbox_rows(api.service)
    assert [(r.purpose, r.chat_id) for r in rows] == [("dossier_status", "w1")]
    assert "Đang xử lý" in rows[0].payload["text"]
    assert "Chuyển xử lý" in rows[0].payload["text"]
    assert "Nguyễn" not in rows[0].payload["text"] and "0912" not in rows[0].payload["text"]
    assert await api.count(DossierEvent) == 2


async def test_a_status_change_by_put_is_announced_once(api: Api) -> None:
    await api.put(CODE, dossier_body())
    await subscribe_web_chat(api.service, CODE)
    await api.put(CODE, dossier_body(status="result_ready"))
    await api.put(CODE, dossier_body(status="result_ready"))
    rows = await outbox_rows(api.service)
    assert len(rows) == 1 and "Có kết quả, chờ trả" in rows[0].payload["text"]


async def test_an_older_event_is_history_and_not_announced(api: Api) -> None:
    await api.put(CODE, dossier_body())
    await subscribe_web_chat(api.service, CODE)
    await api.event(CODE, {"status": "result_ready", "at": "2026-01-15T09:00:00+07:00"})
    status, body = await api.event(CODE, {"status": "processing",
                                          "at": "2026-01-06T09:00:00+07:00"})
    assert (status, body["status"]) == (201, "result_ready")
    assert len(await outbox_rows(api.service)) == 1


async def test_status_messages_wait_for_the_end_of_quiet_hours(database_url: str) -> None:
    late_evening = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)  # 22:30 in Hà Nội
    settings = make_settings(database_url, ingest_api_token=TOKEN, quiet_hours="21:00-07:00")
    async with Service(settings, clock=lambda: late_evening) as service, \
            aiohttp.ClientSession() as http:
        api = Api(service, http)
        await api.put(CODE, dossier_body())
        await subscribe_web_chat(service, CODE)
        status, _ = await api.event(CODE, {"status": "processing", "at": "2026-01-06T22:00:00"})
        assert status == 201
        rows = await outbox_rows(service)
    assert [r.not_before for r in rows] == [datetime(2026, 1, 7, 0, 0, tzinfo=UTC)]  # 07:00


# -- impossible data (issue 11, item 10) ----------------------------------------------------

NAME = "Nguyễn Văn An"
BAD_DOSSIERS = [  # (what, overrides, the field the 422 names)
    ("received 30 minutes ahead of our clock",
     {"received_at": "2026-02-01T07:30:00+07:00"}, "received_at"),
    ("received in 2099", {"received_at": "2099-01-01T00:00:00Z"}, "received_at"),
    ("received before 2000", {"received_at": "1999-12-31T09:00:00+07:00"}, "received_at"),
    ("received in year 1, east of UTC", {"received_at": "0001-01-01T00:00:00+14:00"},
     "received_at"),
    ("received in year 1, local time", {"received_at": "0001-01-01T00:00:00"}, "received_at"),
    ("due in 2099", {"due_at": "2099-01-20T17:00:00+07:00"}, "due_at"),
    ("due at the end of 9999, west of UTC", {"due_at": "9999-12-31T23:59:59-12:00"}, "due_at"),
    ("due on the last day of the calendar", {"due_at": "9999-12-31"}, "due_at"),
    ("NUL in the name", {"applicant_name": "Nguyễn\x00Văn An"}, "applicant_name"),
    ("escape sequence in the name", {"applicant_name": "\x1b[31mNguyễn Văn An"},
     "applicant_name"),
    ("right-to-left override in the name", {"applicant_name": "Nguyễn Văn \u202eAn"},
     "applicant_name"),
    ("bidi isolate in the name", {"applicant_name": "\u2067Nguyễn Văn An\u2069"},
     "applicant_name"),
    ("right-to-left mark in the name", {"applicant_name": "Nguyễn\u200f Văn An"},
     "applicant_name"),
    ("unpaired surrogate in the name", {"applicant_name": "Nguyễn \ud800"}, "applicant_name"),
    ("line break in the name", {"applicant_name": "Nguyễn\nVăn An"}, "applicant_name"),
    ("bell in the procedure name", {"procedure_name": "Đăng ký\x07 kết hôn"}, "procedure_name"),
    ("NUL in the note", {"note": "Đã đủ\x00"}, "note"),
    ("override in the note", {"note": "Hẹn trả \u202e1000"}, "note"),
    ("NUL in the code field", {"code": "000.00.01.H29-260105-0001\x00"}, "code"),
    ("Arabic-Indic digits as the phone", {"phone": "٠٩١٢٣٤٥٦٧٨"}, "phone"),
    ("fullwidth digits as the phone", {"phone": "０９１２３４５６７８"}, "phone"),
    ("Devanagari digits as the phone", {"phone": "०९१२३४५६७८"}, "phone"),
    ("superscript digits as the phone", {"phone": "⁰⁹¹²³⁴⁵⁶⁷⁸"}, "phone"),
]


@pytest.mark.parametrize(("what", "overrides", "field"), BAD_DOSSIERS,
                         ids=[case[0] for case in BAD_DOSSIERS])
async def test_an_impossible_dossier_is_422_naming_the_field(
        api: Api, caplog: pytest.LogCaptureFixture, what: str, overrides: dict[str, str],
        field: str) -> None:
    caplog.set_level(logging.INFO)
    status, answer = await api.put(CODE, dossier_body(**overrides))
    assert (status, set(answer["errors"])) == (422, {field}), answer
    assert await api.count(Dossier) == 0
    refused = [r.getMessage() for r in caplog.records if r.name == "bot.ingest"]
    assert refused == [f"ingest: PUT /api/v1/dossiers/{{code}} refused (422): {field}"]
    assert "Nguyễn" not in caplog.text and "0912" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


async def test_possible_data_is_still_accepted(api: Api) -> None:
    """The bounds leave room: a clock 5 minutes fast, an appointment 4 years ahead, line breaks
    in a note, phones with the usual separators, a Vietnamese name in decomposed form."""
    status, _ = await api.put(CODE, dossier_body(
        received_at="2026-02-01T07:05:00+07:00", due_at="2030-01-20",
        note="Đã đủ giấy tờ.\r\nChờ lãnh đạo ký.\tPhòng Tư pháp", phone="+84 (912) 345-678",
        applicant_name=unicodedata.normalize("NFD", NAME)))
    assert status == 201
    async with api.service.db.session() as session:
        dossier = await repo.get_dossier(session, CODE)
        assert dossier is not None
        assert dossier.applicant_name == NAME  # stored composed (NFC)
        assert dossier.phone == "0912345678"


BAD_EVENTS = [
    ("at in 2099", {"status": "returned", "at": "2099-01-01T00:00:00Z"}, "at"),
    ("at 30 minutes ahead", {"status": "processing", "at": "2026-02-01T00:30:00Z"}, "at"),
    ("at before the dossier was received",
     {"status": "processing", "at": "2026-01-05T08:59:00+07:00"}, "at"),
    ("at in year 1, east of UTC",
     {"status": "processing", "at": "0001-01-01T00:00:00+14:00"}, "at"),
    ("at at the end of 9999", {"status": "processing", "at": "9999-12-31T23:59:59-12:00"}, "at"),
    ("new date in 2099", {"status": "delayed", "at": "2026-01-19T09:00:00+07:00",
                          "new_due_at": "2099-01-27", "reason": "Chờ xác minh"}, "new_due_at"),
    ("new date at the end of 9999", {"status": "delayed", "at": "2026-01-19T09:00:00+07:00",
                                     "new_due_at": "9999-12-31T23:59:59-12:00",
                                     "reason": "Chờ xác minh"}, "new_due_at"),
    ("override in the reason", {"status": "delayed", "at": "2026-01-19T09:00:00+07:00",
                                "new_due_at": "2026-01-27", "reason": "Chờ \u202excác minh"},
     "reason"),
    ("NUL in the note", {"status": "processing", "at": "2026-01-06T09:00:00+07:00",
                         "note": "Chuyển\x00"}, "note"),
]


@pytest.mark.parametrize(("what", "event", "field"), BAD_EVENTS,
                         ids=[case[0] for case in BAD_EVENTS])
async def test_an_impossible_event_is_422_naming_the_field(
        api: Api, caplog: pytest.LogCaptureFixture, what: str, event: dict[str, str],
        field: str) -> None:
    assert (await api.put(CODE, dossier_body()))[0] == 201
    caplog.set_level(logging.INFO)
    status, answer = await api.event(CODE, event)
    assert (status, set(answer["errors"])) == (422, {field}), answer
    assert await api.count(DossierEvent) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "bot.ingest"] == [
        f"ingest: POST /api/v1/dossiers/{{code}}/events refused (422): {field}"]


async def test_an_event_dated_2099_cannot_freeze_a_dossier(api: Api) -> None:
    await api.put(CODE, dossier_body())
    status, _ = await api.event(CODE, {"status": "returned", "at": "2099-01-01T00:00:00Z"})
    assert status == 422
    status, body = await api.event(CODE, {"status": "processing",
                                          "at": "2026-01-06T09:00:00+07:00"})
    assert (status, body["status"]) == (201, "processing")


async def test_unknown_fields_are_not_logged_by_name(api: Api,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """An unknown key is the sender's text (it could be a name): the 422 echoes it to the
    sender, the log only says there was one."""
    status, answer = await api.put(CODE, dossier_body(**{NAME: "x"}))
    assert (status, set(answer["errors"])) == (422, {NAME})
    assert "Nguyễn" not in caplog.text
    assert "refused (422): (unknown field)" in caplog.text


async def test_nul_in_a_name_is_422_on_every_database_and_never_logged(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL refuses NUL in text: it used to be a 503 (retried for ever by the one-stop
    system) with the name in the logged SQL parameters."""
    caplog.set_level(logging.DEBUG)
    for _ in range(2):  # a retry gets the same answer
        status, answer = await api.put(CODE, dossier_body(applicant_name=f"{NAME}\x00"))
        assert (status, set(answer["errors"])) == (422, {"applicant_name"})
    assert "Nguyễn" not in caplog.text and "Văn" not in caplog.text


async def test_a_database_error_never_shows_the_values(database_url: str) -> None:
    """What `log.exception` prints of a failed statement: the SQL, not the parameters."""
    db = Database(database_url)
    try:
        async with db.session() as session:
            await session.execute(text("SELECT * FROM no_such_table WHERE name = :name"),
                                  {"name": NAME})
    except SQLAlchemyError as error:
        assert "no_such_table" in str(error) and "Nguyễn" not in str(error)
    else:
        pytest.fail("the statement should have failed")
    finally:
        await db.dispose()


# -- failed tokens (issue 11, item 13) ------------------------------------------------------


async def test_failed_tokens_are_logged_and_throttled_per_address(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """10 wrong tokens from one address (behind the trusted proxy), then 429 with Retry-After
    — even for the right token, so a right guess is not told apart from a wrong one. Another
    address is unaffected. When the window has passed the address is served again."""
    settings = make_settings(database_url, ingest_api_token=TOKEN, trusted_proxies="127.0.0.1")
    caplog.set_level(logging.INFO)
    async with Service(settings, clock=lambda: NOW) as service, \
            aiohttp.ClientSession() as http:
        api = Api(service, http)
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        for attempt in range(10):
            status, _ = await api.put(CODE, dossier_body(), headers={
                **guesser, "Authorization": f"Bearer guess-{attempt}"})
            assert status == 401
        for headers in ({**guesser, "Authorization": "Bearer guess-10"}, {**guesser, **AUTH},
                        guesser):
            async with http.put(f"{api.base}/{CODE}", json=dossier_body(),
                                headers=headers) as response:
                assert response.status == 429
                assert 1 <= int(response.headers["Retry-After"]) <= 60
        status, _ = await api.event(CODE, {"status": "processing", "at": "2026-01-06T09:00Z"},
                                    headers={**guesser, **AUTH})
        assert status == 429
        assert await api.count(Dossier) == 0

        other = {"X-Forwarded-For": "198.51.100.20"}
        assert (await api.put(CODE, dossier_body(), headers={
            **other, "Authorization": "Bearer wrong"}))[0] == 401
        assert (await api.put(CODE, dossier_body(), headers={**other, **AUTH}))[0] == 201

        await service.limiter.storage.reset()  # the minute has passed
        assert (await api.put(CODE, dossier_body(), headers={**guesser, **AUTH}))[0] == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "bot.ingest"]
    assert lines.count("ingest: wrong bearer token from '203.0.113.7'") == 9
    assert lines.count("ingest: wrong bearer token from '203.0.113.7'; 429 from now on "
                       "(10/minute)") == 1
    assert lines.count("ingest: wrong bearer token from '198.51.100.20'") == 1
    assert "guess-" not in caplog.text and TOKEN not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_forged_forwarded_for_does_not_escape_the_throttle(database_url: str) -> None:
    """Without TRUSTED_PROXIES the peer is the address, whatever X-Forwarded-For says."""
    settings = make_settings(database_url, ingest_api_token=TOKEN,
                             rate_limit_ingest_auth_failures="3/minute")
    async with Service(settings, clock=lambda: NOW) as service, \
            aiohttp.ClientSession() as http:
        api = Api(service, http)
        statuses = [(await api.put(CODE, dossier_body(), headers={
            "X-Forwarded-For": f"192.0.2.{n}", "Authorization": "Bearer wrong"}))[0]
            for n in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        assert (await api.put(CODE, dossier_body(), headers={**AUTH, "X-Forwarded-For":
                                                             "192.0.2.99"}))[0] == 429


@pytest.mark.parametrize("overrides", [
    {"rate_limit_ingest_auth_failures": "lots"}, {"rate_limit_ingest_auth_failures": "0/minute"},
    {"ingest_max_future_minutes": -1}, {"ingest_max_due_years": 0},
])
def test_ingest_limits_are_validated_at_start(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        make_settings("sqlite+aiosqlite:///x.db", **overrides)
    assert list(overrides)[0].upper() in describe_errors(raised.value)
