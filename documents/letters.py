"""Letters the commune sends: congratulations (marriage, birth), condolences, the apology slip
("Phiếu xin lỗi và hẹn lại ngày trả kết quả"), appointment reminders and survey invitations —
composed from `handlers/texts/letters.j2` and the commune's letterhead (issuing body, place,
signer) in `handlers/data/letterheads.json` or the file named by LETTERHEADS_FILE. A commune may
rewrite a whole letter in `handlers/texts/letters_<commune code>.j2` (same macro names); what it
does not define comes from the shared template.

Letters and the slip are administrative documents (Decree 30/2020/NĐ-CP): the national heading,
the issuing body, the place and date line, a title, the body, the signature block. `Document`
holds those parts; the chat shows them as text and `documents/printing.py` lays them out as a PDF.

What goes to a chat carries no name or phone number: outbox rows are kept for a while. Only a
copy printed by staff (`motcua letters print`) is addressed by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.messages import Button, Outgoing
from handlers.texts import TEXTS_DIR, has_macro, macro_arguments, text
from handlers.units import get_commune

LETTERS = ("congratulation_marriage", "congratulation_birth", "condolence")
LETTER_OF_FAMILY: dict[str | None, str] = {
    "marriage": "congratulation_marriage", "birth": "congratulation_birth", "death": "condolence"}
"""The letter that follows a returned result of each procedure family."""
SLIP = "apology"
PREVIEW_NAMES = {
    "chucmung": "congratulation_marriage",
    "kethon": "congratulation_marriage",
    "khaisinh": "congratulation_birth",
    "chucmungsinh": "congratulation_birth",
    "chiabuon": "condolence",
    "xinloi": SLIP,
    "nhachen": "reminder",
    "khaosat": "survey_invitation",
}
"""`/mau xem <name> [commune code]` in the staff group shows these."""
CENTRE = "Trung tâm Phục vụ hành chính công"
"""The issuing body when a dossier names no known commune and the data says nothing else."""


def in_family(procedure_code: str, codes: tuple[str, ...]) -> bool:
    """"1.000894" and its local variants ("1.000894.000.00.00.H29") belong to 1.000894."""
    code = procedure_code.strip()
    return any(code == c or code.startswith(c + ".") for c in codes)


def family_of(procedure_code: str, settings: Settings) -> str | None:
    """"marriage", "birth" or "death" (the settings' procedure codes), else None: which
    letter, if any, follows the result of this procedure."""
    for family in ("marriage", "birth", "death"):
        if in_family(procedure_code, settings.procedure_codes(family)):
            return family
    return None


@dataclass(frozen=True)
class Letterhead:
    commune: str
    """"Phường Âu Lâu" (empty when the dossier names no commune)."""
    agency: tuple[str, ...]
    """The issuing body as the heading writes it: ("ỦY BAN NHÂN DÂN", "PHƯỜNG ÂU LÂU")."""
    authority: str
    """The issuing body in a sentence: "Ủy ban nhân dân phường Âu Lâu"."""
    where: str
    """Where the procedure was done, in a sentence: "phường Âu Lâu" (or the centre)."""
    place: str
    """The place of the date line: "Âu Lâu"."""
    signer_on_behalf: str
    signer_title: str
    signer_name: str


@dataclass(frozen=True)
class Document:
    """A letter or slip in the form of an administrative document."""

    agency: tuple[str, ...]
    dateline: str
    body: str
    """The title on the first line, then paragraphs separated by blank lines."""
    signer: tuple[str, ...]
    """"TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH" (the non-empty ones)."""
    signer_name: str
    commune_code: str | None = None

    @property
    def title(self) -> str:
        return self.body.split("\n", 1)[0]

    @property
    def paragraphs(self) -> list[str]:
        rest = self.body.split("\n", 1)[1] if "\n" in self.body else ""
        return [p.strip() for p in rest.split("\n\n") if p.strip()]

    def chat_text(self) -> str:
        return render("document", self.commune_code, doc=self,
                      national=national_heading())


def national_heading() -> tuple[str, str]:
    first, second = text("letters.national_heading").splitlines()
    return first, second


@cache
def _letterheads(path: str | None) -> dict[str, Any]:
    if path:
        raw = Path(path).read_text("utf-8")
    else:
        raw = resources.files("handlers").joinpath("data/letterheads.json").read_text("utf-8")
    data = json.loads(raw)
    assert isinstance(data, dict), "letterheads must be a JSON object"
    return data


def letterhead(commune_code: str | None, settings: Settings) -> Letterhead:
    """The letterhead of a commune from the data; the deployment's public administration
    centre (`_no_commune`) when the code names no known commune."""
    data = _letterheads(settings.letterheads_file)
    unit = get_commune(commune_code)
    if unit is None:
        values = {"place": "", **data.get("_no_commune", {}), "commune": ""}
        in_sentence = ""
    else:
        own = data.get(unit.code) or data.get(str(commune_code)) or {}
        name = own.get("commune") or unit.name
        place = name[len(unit.kind):].strip() if name.lower().startswith(unit.kind) else name
        values = {"place": place, **data.get("_default", {}), **own, "commune": name}
        in_sentence = name[:1].lower() + name[1:]
    names = {"commune": in_sentence, "COMMUNE": in_sentence.upper()}
    authority = str(values.get("authority") or CENTRE).format(**names)
    agency = tuple(str(line).format(**names) for line in values.get("agency") or ())
    return Letterhead(
        commune=values["commune"], agency=agency or (authority.upper(),), authority=authority,
        where=in_sentence or authority, place=str(values.get("place", "")),
        signer_on_behalf=str(values.get("signer_on_behalf", "")),
        signer_title=str(values.get("signer_title", "")),
        signer_name=str(values.get("signer_name", "")))


def _has_own(commune_code: str | None, macro: str) -> str | None:
    """The commune's own template file when it defines `macro`."""
    unit = get_commune(commune_code)
    if unit is None or not (TEXTS_DIR / f"letters_{unit.code}.j2").exists():
        return None
    return f"letters_{unit.code}" if has_macro(f"letters_{unit.code}", macro) else None


def render(macro: str, commune_code: str | None, **values: Any) -> str:
    """The macro from the commune's own file or the shared one, given the values it takes
    (a commune's older macro need not declare every argument)."""
    file = _has_own(commune_code, macro) or "letters"
    declared = macro_arguments(f"{file}.{macro}")
    return text(f"{file}.{macro}", **{k: v for k, v in values.items() if k in declared})


def dateline(place: str, moment: datetime, settings: Settings) -> str:
    """"Âu Lâu, ngày 05 tháng 3 năm 2026" as Decree 30/2020 writes it: a leading zero for
    days under 10 and for months 1 and 2."""
    local = moment.astimezone(ZoneInfo(settings.timezone))
    day = f"{local.day:02d}"
    month = f"{local.month:02d}" if local.month < 3 else str(local.month)
    return text("letters.dateline", place=place, day=day, month=month, year=local.year)


def spoken_date(moment: datetime, settings: Settings) -> str:
    """"thứ Hai, ngày 05/01/2026", or "17 giờ 00, thứ Tư, ngày 25/03/2026" with a time."""
    local = moment.astimezone(ZoneInfo(settings.timezone))
    weekday = text("dossiers.weekday", index=local.weekday())
    day = f"{weekday[:1].lower()}{weekday[1:]}, ngày {local:%d/%m/%Y}"
    if (local.hour, local.minute) not in ((0, 0), (23, 59)):
        day = f"{local:%H} giờ {local:%M}, {day}"
    return day


def document(macro: str, commune_code: str | None, settings: Settings, at: datetime,
             **values: Any) -> Document:
    """The document `macro` renders the body of, signed with the commune's letterhead."""
    head = letterhead(commune_code, settings)
    body = render(macro, commune_code, h=head, **values)
    return Document(
        agency=head.agency, dateline=dateline(head.place, at, settings), body=body,
        signer=tuple(line for line in (head.signer_on_behalf, head.signer_title) if line),
        signer_name=head.signer_name, commune_code=commune_code)


def letter_document(kind: str, commune_code: str | None, settings: Settings, at: datetime,
                    to: str = "") -> Document:
    """A congratulation or condolence letter dated `at`; `to`: a name, for a printed copy."""
    assert kind in LETTERS, kind
    return document(kind, commune_code, settings, at, to=to)


def letter(kind: str, commune_code: str | None, settings: Settings,
           at: datetime) -> Outgoing:
    """A congratulation or condolence letter, dated `at`. A condolence is the letter alone:
    no buttons, no survey, nothing else."""
    return Outgoing(letter_document(kind, commune_code, settings, at).chat_text())


def apology_slip(commune_code: str | None, settings: Settings, *, at: datetime, code: str,
                 procedure: str, received_at: datetime, previous_due_at: datetime | None,
                 new_due_at: datetime, reason: str, note: str = "", to: str = "") -> Document:
    """The "Phiếu xin lỗi và hẹn lại ngày trả kết quả" of a late dossier, dated `at`."""
    slip = {"code": code, "procedure": procedure,
            "received": spoken_date(received_at, settings),
            "previous_due": spoken_date(previous_due_at, settings) if previous_due_at else "",
            "new_due": spoken_date(new_due_at, settings), "reason": reason.strip(),
            "note": note.strip()}
    return document(SLIP, commune_code, settings, at, v=slip, to=to)


def reminder(dossier_code: str, procedure: str, due: str, commune_code: str | None,
             settings: Settings, dossier_id: int | None = None) -> Outgoing:
    head = letterhead(commune_code, settings)
    buttons = [[Button(text("letters.button_view"), action=f"dossier:view:{dossier_id}")]] \
        if dossier_id is not None else []
    return Outgoing(render("reminder", commune_code, h=head, code=dossier_code,
                           procedure=procedure, due=due), buttons=buttons)


def survey_buttons(settings: Settings, subject: str) -> list[list[Button]]:
    """One button per answer of the scale, best first: `sv:o:<subject>:<score>`."""
    labels = settings.survey_labels
    return [[Button(label, action=f"sv:o:{subject}:{len(labels) - index}")]
            for index, label in enumerate(labels)]


def survey_invitation(what: str, subject: str, commune_code: str | None,
                      settings: Settings) -> Outgoing:
    """`what`: "hồ sơ 000.00.01.H29-…" or "phản ánh PA-2601-0001"; `subject`: "d:12" / "t:3"."""
    head = letterhead(commune_code, settings)
    return Outgoing(render("survey_invitation", commune_code, h=head, what=what),
                    buttons=survey_buttons(settings, subject))


def preview(name: str, commune_code: str | None, settings: Settings,
            now: datetime) -> Outgoing | None:
    """A sample of a letter for staff, with the commune's letterhead."""
    kind = PREVIEW_NAMES.get(name.lower())
    if kind is None:
        return None
    if kind in LETTERS:
        return letter(kind, commune_code, settings, now)
    if kind == SLIP:
        return Outgoing(sample_slip(commune_code, settings, now).chat_text())
    if kind == "reminder":
        return reminder("000.00.01.H29-260105-0001", "Đăng ký kết hôn", "thứ Ba, 20/01/2026",
                        commune_code, settings)
    return survey_invitation("hồ sơ 000.00.01.H29-260105-0001 (Đăng ký kết hôn)", "d:0",
                             commune_code, settings)


def sample_slip(commune_code: str | None, settings: Settings, now: datetime) -> Document:
    """An apology slip with made-up dates, for previews."""
    zone = ZoneInfo(settings.timezone)
    return apology_slip(
        commune_code, settings, at=now, code="000.00.01.H29-260105-0001",
        procedure="Đăng ký kết hôn", received_at=datetime(2026, 1, 5, 9, 0, tzinfo=zone),
        previous_due_at=datetime(2026, 1, 12, 17, 0, tzinfo=zone),
        new_due_at=datetime(2026, 1, 19, 17, 0, tzinfo=zone),
        reason="Cần xác minh thêm thông tin tại nơi cư trú trước đây.")


def preview_reply(args: str, settings: Settings, now: datetime) -> list[Outgoing]:
    """`/mau xem chucmung [commune code]` in the staff group: the letter as a resident would
    receive it, with that commune's letterhead."""
    name, _, commune = args.strip().partition(" ")
    sample = preview(name, commune.strip() or None, settings, now) if name else None
    if sample is None:
        return [Outgoing(text("letters.preview_usage", names=sorted(PREVIEW_NAMES)))]
    unit = get_commune(commune.strip() or None)
    header = Outgoing(text("letters.preview_header", name=name.lower(),
                           commune=unit.name if unit else ""))
    return [header, sample]
