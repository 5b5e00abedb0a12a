"""The commune's counter: `motcua import-offices` / `export-offices` as an official runs them,
and the citizen's questions about hours, address, phone and the way there on every channel."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bot.app import Service, bundled_index
from bot.cli import main
from bot.config import Settings
from bot.db.offices import Office
from bot.db.session import Database
from bot.router import Core
from handlers import build_router
from tests.conftest import make_settings
from tests.dialog import Dialog, actions, core_with_dossier, labels, texts
from tests.fakes.telegram_api import FakeTelegram
from tests.test_console_and_cli import run_cli

HEADER = ["commune_code", "name", "address", "phone", "opening_hours", "map_url"]
AU_LAU = ["4543", "Trung tâm Phục vụ hành chính công phường Âu Lâu",
          "Số 1 đường Âu Cơ, phường Âu Lâu, Lào Cai", "0216 3 852 123",
          "Thứ Hai – Thứ Sáu: 7:30–11:30, 13:30–17:00; sáng thứ Bảy 7:30–11:30",
          "https://maps.example.vn/au-lau"]
NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def offices(database_url: str) -> list[tuple[str, ...]]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            return [(o.commune_code, o.name, o.address, o.phone, o.opening_hours, o.map_url)
                    for o in await session.scalars(select(Office).order_by(Office.id))]
    finally:
        await db.dispose()


async def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    return database_url


async def import_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await command(capsys, "import-offices",
                                   str(write_csv(tmp_path / "o.csv", [AU_LAU])))
    assert code == 0, out + err


# -- the official's side ---------------------------------------------------------------------


async def test_import_reports_each_row_and_is_idempotent(env: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    rows = [AU_LAU,
            ["99999", "Ủy ban nhân dân xã Không Có", "Số 2", "0216 3 852 000", "", ""],
            ["4543", "Điểm tiếp nhận số 2", "Tổ 5, phường Âu Lâu", "12", "", ""],
            ["4543", "Điểm tiếp nhận số 3", "", "", "", ""],
            ["70", "Trung tâm Phục vụ hành chính công phường Hoàn Kiếm", "", "024 3825 1234",
             "", "http://insecure.example/map"]]
    path = write_csv(tmp_path / "offices.csv", rows)
    code, out, _ = await command(capsys, "import-offices", str(path))
    assert code == 1
    assert "1 mới" in out and "4 dòng bị từ chối" in out
    assert "dòng 3: commune_code" in out and "99999" in out
    assert "dòng 4: phone" in out
    assert "dòng 5: cần ít nhất một" in out
    assert "dòng 6: map_url" in out
    assert await offices(env) == [tuple(AU_LAU)]

    code, out, _ = await command(capsys, "import-offices", str(path))
    assert "0 mới, 0 cập nhật, 1 không đổi" in out
    assert await offices(env) == [tuple(AU_LAU)]

    changed = [*AU_LAU[:3], "0216 3 999 999", *AU_LAU[4:]]
    code, out, _ = await command(capsys, "import-offices",
                                 str(write_csv(tmp_path / "b.csv", [changed])))
    assert code == 0 and "1 cập nhật" in out
    assert await offices(env) == [tuple(changed)]


async def test_a_malformed_file_changes_nothing(env: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    await import_sample(tmp_path, capsys)
    before = await offices(env)
    other = ["4543", "Ủy ban nhân dân phường Âu Lâu", "Số 9", "0216 3 000 000", "", ""]
    missing = write_csv(tmp_path / "missing.csv", [other[1:]], header=HEADER[1:])
    unknown = write_csv(tmp_path / "unknown.csv", [[*other, "x"]], header=[*HEADER, "fax"])
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(",".join(HEADER).encode() + b"\n4543,Ph\xf4\xf4ng,a,0216385212,,\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    for path, says in ((missing, "thiếu cột commune_code"), (unknown, "cột lạ fax"),
                       (latin1, "không đọc được"), (broken, "không đọc được"),
                       (tmp_path / "o.txt", "cần .csv hoặc .xlsx")):
        code, _, err = await command(capsys, "import-offices", str(path))
        assert code == 2 and says in err, (path, err)
    assert await offices(env) == before


async def test_export_then_import_round_trip_csv_and_xlsx(env: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mã xã", "Tên", "Địa chỉ", "Số điện thoại", "Giờ làm việc", "Bản đồ"])
    sheet.append([4543, *AU_LAU[1:]])
    workbook.save(tmp_path / "in.xlsx")
    code, out, _ = await command(capsys, "import-offices", str(tmp_path / "in.xlsx"))
    assert code == 0 and "1 mới" in out

    code, out, _ = await command(capsys, "export-offices", str(tmp_path / "out.xlsx"))
    assert code == 0 and "Đã xuất 1 điểm phục vụ" in out
    exported = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert exported == [tuple(HEADER), tuple(AU_LAU)]
    code, out, _ = await command(capsys, "export-offices", str(tmp_path / "out.csv"))
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [HEADER, AU_LAU]
    code, out, _ = await command(capsys, "import-offices", str(tmp_path / "out.csv"))
    assert code == 0 and "1 không đổi" in out
    code, out, _ = await command(capsys, "import-offices", "--dry-run",
                                 str(write_csv(tmp_path / "n.csv", [["70", *AU_LAU[1:]]])))
    assert "1 mới" in out and "--dry-run" in out
    assert await offices(env) == [tuple(AU_LAU)]


# -- the citizen's side ------------------------------------------------------------------------


def core_for(settings: Settings) -> Core:
    return Core(settings, Database(settings.database_url), build_router(),
                services={"catalogue": bundled_index()}, clock=lambda: NOW)


async def test_the_commune_is_learned_from_a_message_and_the_counter_answers(
        env: str, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await import_sample(tmp_path, capsys)
    chat = Dialog(core_for(settings))
    said = texts(await chat.say("tôi ở phường Âu Lâu"))
    assert "ghi nhớ anh/chị ở phường Âu Lâu (Lào Cai)" in said
    hours = await chat.say("ủy ban làm việc mấy giờ")
    assert "giờ làm việc" in texts(hours) and "sáng thứ Bảy 7:30–11:30" in texts(hours)
    assert "chưa tìm thấy thủ tục" not in texts(hours)
    phone = await chat.say("cho em xin số điện thoại một cửa")
    assert texts(phone).index("0216 3 852 123") < texts(phone).index("Số 1 đường Âu Cơ")
    way = await chat.say("đường đi đến ủy ban thế nào")
    assert "Số 1 đường Âu Cơ" in texts(way)
    assert [b.url for r in way for b in r.flat_buttons() if b.url] == [AU_LAU[5]]
    where = await chat.say("địa chỉ ủy ban xã ở đâu")
    assert "Số 1 đường Âu Cơ" in texts(where) and "giấy phép" not in texts(where).lower()


async def test_asked_once_then_remembered_and_changed_in_settings(
        env: str, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await import_sample(tmp_path, capsys)
    chat = Dialog(core_for(settings))
    asked = await chat.say("giờ làm việc")
    assert "đang ở xã/phường nào" in texts(asked)
    answer = await chat.say("Âu Lâu, Lào Cai")
    assert "ghi nhớ" in texts(answer) and "sáng thứ Bảy" in texts(answer)
    again = await chat.say("mấy giờ ủy ban mở cửa")
    assert "đang ở xã/phường nào" not in texts(again) and "sáng thứ Bảy" in texts(again)

    card = await chat.say("/caidat")
    assert "Xã/phường của anh/chị: Phường Âu Lâu." in texts(card)
    assert "office:ask" in actions(card)
    await chat.press("office:ask")
    choose = await chat.say("Tân Phong")  # a phường and a xã of that name: the citizen picks
    assert {"Phường Tân Phong (Lai Châu)"} <= set(labels(choose))
    picked = await chat.press("office:set:3408")
    assert "phường Tân Phong (Lai Châu)" in texts(picked)
    no_data = await chat.say("số điện thoại ủy ban")
    assert "chưa có thông tin" in texts(no_data) and "phường Tân Phong" in texts(no_data)
    assert any("google.com/maps" in (b.url or "") for r in no_data for b in r.flat_buttons())
    assert "office:ask" in actions(no_data)


async def test_where_section_shows_the_counter_of_a_followed_dossier_commune(
        env: str, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await import_sample(tmp_path, capsys)
    core, _ = await core_with_dossier(settings, "000.00.01.H29-240115-0001", NOW,
                                      commune_code="4543")
    chat = Dialog(core)
    unknown = await chat.press("proc:1.000894:where")
    assert "Chọn xã/phường của tôi" in labels(unknown)
    assert "Số 1 đường Âu Cơ" not in texts(unknown)
    await chat.say("/hoso 000.00.01.H29-240115-0001")
    card = await chat.say("5678")
    await chat.press(next(a for a in actions(card) if a.startswith("dossier:sub")))
    where = await chat.press("proc:1.000894:where")
    assert "Nơi tiếp nhận ở phường Âu Lâu" in texts(where)
    assert "Số 1 đường Âu Cơ" in texts(where)
    assert texts(where).index("Số 1 đường Âu Cơ") < texts(where).index("(Thông tin theo")


# -- every channel -------------------------------------------------------------------------


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with Service(settings) as svc:
        yield svc


async def test_counter_answer_on_the_web_chat(env: str, service: Service, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    await import_sample(tmp_path, capsys)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}", cookie_jar=jar) as http:
        async with http.post("/chat/api/messages", json={"text": "tôi ở phường Âu Lâu, "
                                                                 "ủy ban làm việc mấy giờ?"}) as r:
            body = await r.json()
    said = "\n".join(m["text"] for m in body["messages"])
    assert "phường Âu Lâu" in said and "sáng thứ Bảy 7:30–11:30" in said


async def test_counter_answer_on_telegram(database_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    await import_sample(tmp_path, capsys)
    async with FakeTelegram() as fake:
        settings = make_settings(database_url, telegram_bot_token="123456:TEST-token-abcdefghij",
                                 telegram_api_base_url=fake.base_url)
        async with Service(settings):
            fake.push_message(1001, "tôi ở phường Âu Lâu")
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=10)
            since = len(fake.calls)
            fake.push_message(1001, "số điện thoại ủy ban")
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, since=since,
                                timeout=10)
            answer = fake.sent_messages(1001)[-1]
    assert "0216 3 852 123" in answer["text"]
    urls = [b.get("url") for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    assert AU_LAU[5] in urls


def test_counter_answer_in_the_console(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db"}
    assert run_cli(["db", "upgrade"], env, cwd=tmp_path).returncode == 0
    path = write_csv(tmp_path / "o.csv", [["3408", "Ủy ban nhân dân phường Tân Phong",
                                           "Đường 30/4, Lai Châu", "0213 3 876 543",
                                           "Thứ Hai – Thứ Sáu, 7:00–17:00", ""]])
    imported = run_cli(["import-offices", str(path)], env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    result = run_cli(["chat"], env, stdin="tôi ở Tân Phong\n1\ngiờ làm việc\n",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1. Phường Tân Phong (Lai Châu)" in result.stdout
    assert "Thứ Hai – Thứ Sáu, 7:00–17:00" in result.stdout


async def test_a_longer_message_that_starts_with_where_one_lives_is_still_searched(
        env: str, settings: Settings) -> None:
    chat = Dialog(core_for(settings))
    replies = await chat.say("tôi ở xã Tân Phong muốn làm giấy khai sinh cho con")
    assert "chưa tìm thấy xã/phường" not in texts(replies)
    assert "khai sinh" in texts(replies).lower() and any(
        a.startswith("proc:1") for a in actions(replies))
    unknown = await chat.say("tôi ở phường Không Có Thật")
    assert "chưa tìm thấy xã/phường" in texts(unknown)
