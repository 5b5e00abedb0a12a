"""`motcua search`, `motcua import-procedures`, `motcua export-procedures` (catalogue tasks)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the catalogue commands to the `motcua` parser."""
