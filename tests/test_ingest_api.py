"""The ingest API over real HTTP against the running service: authentication, every error
class, upsert and events, idempotency, and notifications through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.db import dossiers as repo
from bot.db.dossiers import Dossier, DossierEvent
from bot.db.models import Citizen, OutboxMessage
from tests.conftest import make_settings

TOKEN = "ingest-Token_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CODE = "000.00.01.H29-260105-0001"


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
    async with Service(settings) as service, aiohttp.ClientSession() as http:
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
