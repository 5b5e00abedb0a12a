"""The Telegram fake's text formatting: HTML, MarkdownV2 and Markdown parsed and refused as
Telegram refuses them, and inline keyboards checked."""

from __future__ import annotations

import copy
import html
import re

from tests.fakes.telegram_common import CALLBACK_DATA_LIMIT, JSON, ApiError

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "br",
    }
)
_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>")
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
}


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _render_html(text: str) -> str:
    """The text a user sees for `parse_mode=HTML`; ApiError for what Telegram refuses."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        if text[i] != "<":
            j = text.find("<", i)
            j = len(text) if j == -1 else j
            out.append(html.unescape(text[i:j]))
            i = j
            continue
        match = _HTML_TAG_RE.match(text, i)
        if match is None:
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Unsupported start tag at byte offset "
                f"{_byte_offset(text, i)}",
            )
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{name}" at byte '
                f"offset {_byte_offset(text, i)}",
            )
        if closing:
            if not stack or stack[-1][0] != name:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                    f'{_byte_offset(text, i)}, expected "</{stack[-1][0] if stack else ""}>", '
                    f'found "</{name}>"',
                )
            stack.pop()
        elif name == "br":
            out.append("\n")
        else:
            stack.append((name, i))
        i = match.end()
    if stack:
        name, at = stack[-1]
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{name}" at byte offset {_byte_offset(text, at)}',
        )
    return "".join(out)


def _render_markdown_v2(text: str) -> str:
    """The text a user sees for `parse_mode=MarkdownV2`; ApiError for unescaped characters."""
    out: list[str] = []
    open_markers: dict[str, int] = {}
    i, line_start = 0, True
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i, line_start = i + 2, False
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end == -1:
                raise ApiError(
                    400,
                    "Bad Request: can't parse entities: Can't find end of Code entity at byte "
                    f"offset {_byte_offset(text, i)}",
                )
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                first, _, rest = body.partition("\n")
                body = rest if first and " " not in first else body
            out.append(re.sub(r"\\(.)", r"\1", body))
            i, line_start = end + len(fence), False
            continue
        marker = text[i : i + 2] if text[i : i + 2] in ("__", "||") else char
        if marker in _MDV2_MARKERS:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i, line_start = i + len(marker), False
            continue
        if char == "[":
            i, line_start = i + 1, False
            continue
        if char == "]" and text.startswith("(", i + 1):
            end = text.find(")", i + 2)
            i = len(text) if end == -1 else end + 1
            continue
        if char == ">" and line_start:
            i += 1
            continue
        if char in _MDV2_RESERVED:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Character '{char}' is reserved and must be "
                "escaped with the preceding '\\'",
            )
        out.append(char)
        line_start = char == "\n"
        i += 1
    if open_markers:
        marker, at = min(open_markers.items(), key=lambda item: item[1])
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end of {_MDV2_MARKERS[marker]} "
            f"entity at byte offset {_byte_offset(text, at)}",
        )
    return "".join(out)


def _render_markdown(text: str) -> str:
    """Legacy Markdown, rendered leniently."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(?<!\\)[*_`]", "", text).replace("\\", "")


def _render(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    return text


def _check_markup(markup: object) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: Text buttons "
                    "are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _inline_markup(markup: object) -> JSON | None:
    """What a returned Message echoes: only inline keyboards are part of a Message."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return copy.deepcopy(markup)
    return None
