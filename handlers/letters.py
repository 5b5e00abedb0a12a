"""Letters the commune sends: congratulations (marriage, birth), condolences, appointment
reminders and survey invitations — composed from `handlers/texts/letters.j2` and the
commune's letterhead (name, signature line of the chairman) in `handlers/data/letterheads.json`
or the file named by LETTERHEADS_FILE. A commune may rewrite a whole letter in
`handlers/texts/letters_<commune code>.j2` (same macro names); what it does not define comes
from the shared template.

Letters carry no name or phone number: outbox rows are kept for a while.
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
from handlers.texts import TEXTS_DIR, text
from handlers.units import get_commune

LETTERS = ("congratulation_marriage", "congratulation_birth", "condolence")
PREVIEW_NAMES = {
    "chucmung": "congratulation_marriage",
    "kethon": "congratulation_marriage",
    "khaisinh": "congratulation_birth",
    "chucmungsinh": "congratulation_birth",
    "chiabuon": "condolence",
    "nhachen": "reminder",
    "khaosat": "survey_invitation",
}
"""`/mau xem <name> [commune code]` in the staff group shows these."""


@dataclass(frozen=True)
class Letterhead:
    commune: str
    """"Phường Âu Lâu" (empty when the dossier names no commune)."""
    authority: str
    place: str
    signer_on_behalf: str
    signer_title: str
    signer_name: str


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
    data = _letterheads(settings.letterheads_file)
    unit = get_commune(commune_code)
    if unit is None:
        values = {"commune": "", "place": "", **data.get("_no_commune", {})}
    else:
        own = data.get(unit.code) or data.get(str(commune_code)) or {}
        name = own.get("commune") or unit.name
        place = name[len(unit.kind):].strip() if name.lower().startswith(unit.kind) else name
        values = {"place": place, **data.get("_default", {}), **own, "commune": name}
    values.setdefault("authority", "Bộ phận Một cửa")
    commune = values["commune"]
    values["authority"] = str(values["authority"]).format(
        commune=commune[:1].lower() + commune[1:])
    return Letterhead(
        commune=values["commune"], authority=values["authority"],
        place=values.get("place", ""), signer_on_behalf=values.get("signer_on_behalf", ""),
        signer_title=values.get("signer_title", ""), signer_name=values.get("signer_name", ""))


def _has_own(commune_code: str | None, macro: str) -> str | None:
    """The commune's own template file when it defines `macro`."""
    unit = get_commune(commune_code)
    if unit is None or not (TEXTS_DIR / f"letters_{unit.code}.j2").exists():
        return None
    from handlers.texts import _module

    return f"letters_{unit.code}" if hasattr(_module(f"letters_{unit.code}"), macro) else None


def render(macro: str, commune_code: str | None, **values: Any) -> str:
    file = _has_own(commune_code, macro) or "letters"
    return text(f"{file}.{macro}", **values)


def local_day(moment: datetime, settings: Settings) -> dict[str, int]:
    local = moment.astimezone(ZoneInfo(settings.timezone))
    return {"day": local.day, "month": local.month, "year": local.year}


def letter(kind: str, commune_code: str | None, settings: Settings,
           at: datetime) -> Outgoing:
    """A congratulation or condolence letter, dated `at`. A condolence is the letter alone:
    no buttons, no survey, nothing else."""
    assert kind in LETTERS, kind
    head = letterhead(commune_code, settings)
    body = render(kind, commune_code, h=head, d=local_day(at, settings))
    return Outgoing(body)


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
    if kind == "reminder":
        return reminder("000.00.01.H29-260105-0001", "Đăng ký kết hôn", "thứ Ba, 20/01/2026",
                        commune_code, settings)
    return survey_invitation("hồ sơ 000.00.01.H29-260105-0001 (Đăng ký kết hôn)", "d:0",
                             commune_code, settings)


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
