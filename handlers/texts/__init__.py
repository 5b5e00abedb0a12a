"""Every sentence a citizen reads, as Jinja2 macros: `text("start.greeting", name=…)` renders
macro `greeting` of `handlers/texts/start.j2`. Officials edit the .j2 files, not the code."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEXTS_DIR = Path(__file__).parent

_env = Environment(
    loader=FileSystemLoader(TEXTS_DIR),
    autoescape=False,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


@cache
def _module(name: str) -> Any:
    return _env.get_template(f"{name}.j2").module


def text(key: str, **values: Any) -> str:
    """Render the message `key` ("file.macro") with `values`, trimmed of outer whitespace."""
    return _render(key, values) if values else _fixed(key)


@cache
def _fixed(key: str) -> str:
    """A message without values (a button label, a prompt) is rendered once: the templates
    are read once per process and use nothing but their arguments."""
    return _render(key, {})


def _render(key: str, values: dict[str, Any]) -> str:
    file, _, macro = key.rpartition(".")
    rendered = str(getattr(_module(file), macro)(**values))
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    return "\n".join(lines)


def has_macro(file: str, macro: str) -> bool:
    return hasattr(_module(file), macro)


def macro_arguments(key: str) -> tuple[str, ...]:
    """The argument names the macro `key` ("file.macro") declares."""
    file, _, macro = key.rpartition(".")
    return tuple(getattr(_module(file), macro).arguments)
