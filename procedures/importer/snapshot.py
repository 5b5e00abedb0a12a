"""The national snapshot (`.jsonl.gz`): one record → a `Procedure` with the problems met, and a
whole file → an `ImportResult`, never dropping anything silently."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from procedures.catalogue import (
    Procedure,
)
from procedures.importer.cells import (
    CODE_FORMAT,
    clean_text,
    none_if_no_info,
    one_line,
    split_outside_parens,
)
from procedures.importer.channels import parse_channels, parse_levels
from procedures.importer.result import ImportFailed, ImportResult, Problem
from procedures.importer.sections import (
    parse_documents,
    parse_legal_bases,
    parse_results,
    parse_steps,
)


def _online_level(name: str) -> str:
    lowered = name.lower()
    if "toàn trình" in lowered:
        return "toàn trình"
    if "một phần" in lowered:
        return "một phần"
    return ""


def _agencies(raw: dict[str, Any]) -> list[str]:
    agencies: list[str] = []
    for key in ("co_quan_thuc_hien", "co_quan_co_tham_quyen", "co_quan_duoc_uy_quyen"):
        value = one_line(none_if_no_info(raw.get(key, ""))).rstrip(".")
        if value and value not in agencies:
            agencies.append(value)
    return agencies


def _composed(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def parse_snapshot_record(
    raw: dict[str, Any], data_date: str = ""
) -> tuple[Procedure, list[Problem]]:
    """One record of the national snapshot → a :class:`Procedure` and its problems."""
    code = clean_text(str(raw.get("ma_thu_tuc", "")))
    where = code or "?"
    problems: list[Problem] = []
    # Composed accents (NFC) in what is searched and browsed: some records write "ấ" as "â"
    # and a combining mark ("Cấp, quản lý căn cước"), which no typed word would match.
    name = _composed(clean_text(str(raw.get("ten_thu_tuc", ""))).replace("\n", " "))
    name = re.sub(r"\s+", " ", name).strip()
    if not CODE_FORMAT.match(code):
        problems.append(Problem(where, f"mã thủ tục không đúng dạng d.dddddd: {code!r}"))
    levels = parse_levels(raw.get("cap_thuc_hien", ""))
    if not levels:
        problems.append(
            Problem(where, f"không đọc được cấp thực hiện: {raw.get('cap_thuc_hien')!r}")
        )
    context = " ".join(
        clean_text(str(raw.get(k, ""))) for k in ("cach_thuc_thuc_hien", "trinh_tu_thuc_hien")
    )
    procedure = Procedure(
        code=code,
        name=name,
        field=_composed(clean_text(raw.get("linh_vuc", ""))),
        levels=levels,
        agencies=_agencies(raw),
        audience=split_outside_parens(none_if_no_info(raw.get("doi_tuong_thuc_hien", ""))),
        channels=parse_channels(raw.get("cach_thuc_thuc_hien", ""), where, problems, context),
        documents=parse_documents(raw.get("thanh_phan_ho_so", ""), where, problems),
        steps=parse_steps(raw.get("trinh_tu_thuc_hien", "")),
        legal_bases=parse_legal_bases(raw.get("can_cu_phap_ly", ""), where, problems),
        results=parse_results(raw.get("ket_qua_xu_ly", "")),
        conditions=none_if_no_info(raw.get("yeu_cau_dieu_kien", "")),
        online_level=_online_level(name),
        detail_url=clean_text(raw.get("detail_url", "")),
        data_date=data_date,
        decision=none_if_no_info(raw.get("so_quyet_dinh", "")),
        ministry=clean_text(raw.get("bo", "")),
        kind=none_if_no_info(raw.get("loai_thu_tuc", "")),
        source="snapshot",
    )
    if "sổ hộ khẩu" in context.lower() or "sổ tạm trú" in context.lower():
        procedure.notes.append(
            "Sổ hộ khẩu, sổ tạm trú giấy không còn sử dụng từ 1/1/2023; nếu hướng dẫn còn nhắc "
            "đến thì anh/chị không cần mang, cán bộ tra cứu thông tin cư trú trong Cơ sở dữ liệu."
        )
    return procedure, problems


SNAPSHOT_KEYS = ("ma_thu_tuc", "ten_thu_tuc", "cap_thuc_hien", "cach_thuc_thuc_hien")


def _data_date_from_name(path: Path) -> str:
    match = re.search(r"(20\d{2})-(\d{2})(?:-(\d{2}))?", path.name)
    if not match:
        return ""
    return "-".join(g for g in match.groups() if g)


def read_snapshot(path: Path | str, data_date: str | None = None) -> ImportResult:
    """Read a national snapshot (``.jsonl.gz`` or ``.jsonl``)."""
    path = Path(path)
    date = data_date if data_date is not None else _data_date_from_name(path)
    try:
        raw_bytes = path.read_bytes()
        if path.suffix == ".gz":
            raw_bytes = gzip.decompress(raw_bytes)
        text = raw_bytes.decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFailed(f"Không tìm thấy tệp {path} (file not found).") from None
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ImportFailed(
            f"Tệp {path.name} không phải gzip hợp lệ hoặc bị hỏng; danh mục không thay đổi. "
            f"(Broken or invalid gzip file: {error}; the catalogue was not changed.)"
        ) from None
    except UnicodeDecodeError:
        raise ImportFailed(
            f"Tệp {path.name} không mã hoá UTF-8; danh mục không thay đổi. "
            "(The file is not UTF-8 text; the catalogue was not changed.)"
        ) from None
    return parse_snapshot_lines(text.splitlines(), source=str(path), data_date=date)


def parse_snapshot_lines(
    lines: Iterable[str], source: str = "snapshot", data_date: str = ""
) -> ImportResult:
    result = ImportResult(source=source, kind="snapshot")
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result.total += 1
        where = f"dòng {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            result.problems.append(Problem(where, f"JSON hỏng ({error.msg}); bỏ qua", "error"))
            continue
        if not isinstance(raw, dict) or not all(k in raw for k in SNAPSHOT_KEYS[:2]):
            if result.total == 1:
                raise ImportFailed(
                    "Tệp không đúng định dạng bản chụp CSDL thủ tục hành chính quốc gia: thiếu "
                    f"trường {', '.join(SNAPSHOT_KEYS[:2])}; danh mục không thay đổi. "
                    "(Not a national snapshot: records need ma_thu_tuc and ten_thu_tuc; "
                    "the catalogue was not changed.)"
                )
            result.problems.append(Problem(where, "thiếu ma_thu_tuc/ten_thu_tuc; bỏ qua", "error"))
            continue
        procedure, problems = parse_snapshot_record(raw, data_date)
        result.problems.extend(problems)
        if not procedure.code or not procedure.name:
            result.problems.append(Problem(where, "mã hoặc tên thủ tục trống; bỏ qua", "error"))
            continue
        if procedure.code in seen:
            result.problems.append(
                Problem(procedure.code, f"trùng mã với dòng {seen[procedure.code]}; lấy dòng sau")
            )
            result.procedures = [p for p in result.procedures if p.code != procedure.code]
        seen[procedure.code] = number
        result.procedures.append(procedure)
    if result.total and not result.procedures:
        raise ImportFailed(
            "Không đọc được thủ tục nào từ tệp; danh mục không thay đổi. "
            "(No procedure could be read from the file; the catalogue was not changed.)"
        )
    return result
