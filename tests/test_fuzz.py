"""Fuzzing with Hypothesis (RELIABILITY.md check 10): the normalisers are idempotent and never
raise; the parsers of platform and API input raise only what their routes turn into a
"rejected" record or a 4xx, so an authenticated sender never meets a 500 (which a platform
would retry for ever)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.channels.telegram import parse_update
from bot.channels.zalo_bot import incoming_from_zalo_bot, updates_in
from bot.channels.zalo_oa import incoming_from_zalo_oa
from bot.ingest import (
    EARLIEST,
    Bounds,
    DossierIn,
    EventIn,
    Invalid,
    event_fields,
    field_errors,
    text_problem,
)
from bot.messages import clean_text, split_text
from procedures import normalize

LETTERS = ("aăâbcdđeêghiklmnoôơpqrstuưvxy"
           "áàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
VIETNAMESE = st.sampled_from(LETTERS + LETTERS.upper() + " 0123456789.,?!\n\t/-")
vietnamese = st.text(VIETNAMESE, max_size=300)
text_like_citizens = st.text(VIETNAMESE | st.characters(), max_size=300)
"""Mostly Vietnamese letters (composed), with anything Unicode has mixed in."""

# JSON shaped like the platforms' payloads: their own keys, nested, with wrong types.
KEYS = ("update_id", "message", "edited_message", "callback_query", "message_id", "date", "chat",
        "id", "type", "from", "first_name", "text", "caption", "data", "photo", "file_id",
        "document", "sticker", "location", "latitude", "longitude", "reply_to_message",
        "message_thread_id", "is_topic_message", "chat_instance", "is_bot", "event_name",
        "sender", "recipient", "user_id_by_app", "msg_id", "attachments", "payload", "url",
        "timestamp", "app_id", "ok", "result", "display_name", "msg_ids", "thumbnail")
scalars = (st.none() | st.booleans() | st.integers(-2**40, 2**40)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["private", "group", "supergroup", "user_send_text",
                              "message.text.received", "user_send_image", "follow"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6),
    max_leaves=25)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(text_like_citizens)
def test_normalisers_are_idempotent_and_never_raise(text: str) -> None:
    for normaliser in (normalize.clean, normalize.fold, normalize.canonical, clean_text):
        once = normaliser(text)
        assert normaliser(once) == once, normaliser.__name__
    assert unicodedata.is_normalized("NFC", clean_text(text))
    assert not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t"
                   for ch in clean_text(text))


@FUZZ
@given(vietnamese, st.sampled_from(["NFC", "NFD"]))
def test_folding_removes_every_vietnamese_mark(text: str, form: str) -> None:
    folded = normalize.fold(unicodedata.normalize(form, text))
    assert not normalize.has_diacritics(folded)
    assert folded.isascii() and folded == normalize.fold(unicodedata.normalize("NFC", text))


@FUZZ
@given(text_like_citizens)
def test_a_procedure_code_is_found_or_not_never_an_error(text: str) -> None:
    code = normalize.find_code(text)
    assert code is None or re.fullmatch(r"\d\.\d{6}", code), code


@FUZZ
@given(st.text(max_size=3000), st.integers(min_value=20, max_value=1000))
def test_split_text_keeps_every_word_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert all(chunk.strip() for chunk in chunks) or len(chunks) == 1
    # Nothing is lost but the whitespace at the cuts (a word longer than the limit is cut).
    assert "".join("".join(chunks).split()) == "".join(unicodedata.normalize("NFC", text).split())


TELEGRAM_REJECTS = (ValueError, TypeError, KeyError, AttributeError)
"""What bot/web.py::telegram_webhook stores as rejected (and acknowledges)."""


@FUZZ
@given(json_objects, st.integers(min_value=1, max_value=2**31))
def test_telegram_updates_are_parsed_or_rejected(data: dict[str, Any], update_id: int) -> None:
    data["update_id"] = update_id
    try:
        update = parse_update(data, staff_chats={-100})  # as TelegramChannel.parse
    except TELEGRAM_REJECTS:
        return
    assert update.update_id == update_id
    assert update.incoming is None or update.incoming.update_key == f"telegram:{update_id}"


@FUZZ
@given(json_values)
def test_zalo_bot_bodies_are_parsed_or_rejected(body: Any) -> None:
    try:  # bot/channels/zalo_bot.py::zalo_bot_webhook rejects ValueError
        for item in updates_in(body):
            incoming_from_zalo_bot(item)
    except ValueError:
        pass


@FUZZ
@given(json_objects)
def test_zalo_oa_events_are_parsed_or_rejected(event: dict[str, Any]) -> None:
    try:  # bot/channels/zalo_oa.py::zalo_oa_webhook rejects ValueError and TypeError
        incoming_from_zalo_oa(event)
    except (ValueError, TypeError):
        pass


offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.dates().map(str),
                    st.datetimes(timezones=offsets).map(lambda d: d.isoformat()),
                    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                     "0001-01-01T00:00:00", "9999-12-31", "2099-01-01"]),
                    st.text(max_size=30), st.integers(), st.none())
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ingest_bodies = st.fixed_dictionaries({}, optional={
    "code": st.text(max_size=40) | st.integers(), "procedure_code": st.text(max_size=70),
    "applicant_name": st.text(max_size=210), "phone": st.text(max_size=35) | st.integers(),
    "received_at": moments, "due_at": moments, "at": moments, "new_due_at": moments,
    "status": st.sampled_from(["received", "processing", "delayed", "done", "returned",
                               "bogus", ""]) | st.integers(),
    "note": st.text(max_size=50), "reason": st.text(max_size=50) | st.none(),
    "extra": json_values,
})


@FUZZ
@given(ingest_bodies)
def test_ingest_bodies_are_accepted_or_get_field_errors(body: dict[str, Any]) -> None:
    for model in (DossierIn, EventIn):
        try:
            parsed = model.model_validate(body)
        except ValidationError as error:
            errors = field_errors(error)  # the 422 body
            assert errors and all(isinstance(v, str) for v in errors.values())
            continue
        for name, value in parsed:  # what is accepted can be stored and shown
            if isinstance(value, str):
                assert text_problem(value, multiline=name in ("note", "reason")) is None, name
        bounds = Bounds("Asia/Ho_Chi_Minh", NOW)
        if isinstance(parsed, EventIn):
            try:
                fields = event_fields(parsed, bounds)
            except Invalid as invalid:  # also a 422
                assert invalid.errors
                continue
            assert EARLIEST <= fields.at <= NOW + bounds.future
        else:
            errors: dict[str, str] = {}
            received = bounds.happened("received_at", parsed.received_at, errors)
            due = bounds.appointment("due_at", parsed.due_at, errors)
            if "received_at" not in errors:
                assert EARLIEST <= received <= NOW + bounds.future
            if "due_at" not in errors:
                assert EARLIEST <= due <= NOW + timedelta(days=366 * bounds.due_years)
